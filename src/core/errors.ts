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

/** The store could not be reached (PostgreSQL down): a check that needs it is denied 503 store_unavailable. */
export class StoreUnavailable extends Error {
  override name = 'StoreUnavailable';
}

// How an unreachable PostgreSQL shows itself: the socket's errors, the server's "shutting down" and connection
// failure codes, and node-postgres' own messages.
const STORE_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** Whether an error means that the store could not be reached (rather than that the request was wrong). */
export function isStoreDown(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return err instanceof StoreUnavailable || STORE_DOWN_CODES.has(String(e?.code)) || /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/.test(String(e?.message));
}
