// The one error type the store throws for bad input: the CLI and the admin API turn it into a clear message.
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    message: string,
    readonly kind: 'not_found' | 'conflict' | 'invalid',
  ) {
    super(message);
  }
}
