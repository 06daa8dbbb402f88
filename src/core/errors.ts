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

/** Nothing answers at an address the CLI was told to call: said in plain words, with what to do about it. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly address: string,
    what: string,
  ) {
    super(`nothing is listening for ${what} at ${address}: is tenantgate running there (npx tenantgate serve, npm run demo)${what === 'the admin API' ? ', with an admin token set (admin.token_file or TENANTGATE_ADMIN_TOKEN; without one the admin API is off)' : ''}?`);
  }
}

/** Whether a gRPC error means that the address could not be reached at all. */
export const isUnreachable = (err: unknown): boolean => (err as { code?: unknown }).code === 14;
