// The denial codes tenantgate gives, each with its HTTP status, and how a denial travels: the gRPC code that goes
// with an HTTP status, and the www-authenticate a 401 carries. A policy may use codes of its own, with its status.
import { Denial } from './types.js';

export const DENIAL_STATUS = {
  bad_request: 400,
  invalid_request_body: 400,
  invalid_tenant_id: 400,
  unauthenticated: 401,
  invalid_token: 401,
  invalid_api_key: 401,
  missing_tenant: 403,
  unknown_tenant: 403,
  tenant_suspended: 403,
  tenant_mismatch: 403,
  federation_denied: 403,
  insufficient_permission: 403,
  route_not_allowed: 403,
  data_access_denied: 403,
  model_not_allowed: 403,
  token_limit_exceeded: 403,
  network_not_allowed: 403,
  outside_allowed_hours: 403,
  tenant_rule_denied: 403,
  tenant_policy_denied: 403,
  method_not_allowed: 405,
  quota_exceeded: 429,
  capacity_exceeded: 429,
  quota_unavailable: 503,
  store_unavailable: 503,
  jwks_unavailable: 503,
  policy_error: 503,
  tenant_policy_error: 503,
  internal_error: 503,
} as const;

export type DenialCode = keyof typeof DENIAL_STATUS;

/** The denial for a code of the catalogue, with its status. */
export function deny(code: DenialCode, reason: string, headers?: Record<string, string>): Denial {
  return new Denial(DENIAL_STATUS[code], code, reason, headers);
}

/** The codes of quota denials (counted apart in the metrics). */
export const QUOTA_DENIALS: ReadonlySet<string> = new Set<DenialCode>(['quota_exceeded', 'capacity_exceeded', 'quota_unavailable']);

const HTTP_TO_GRPC: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 429: 8, 500: 13, 501: 12, 503: 14, 504: 4 };

/** The gRPC code a denial's CheckResponse.status carries for its HTTP status. */
export function grpcCodeFor(httpStatus: number): number {
  return HTTP_TO_GRPC[httpStatus] ?? (httpStatus >= 500 ? 14 : 7);
}

const CHALLENGE = 'Bearer realm="tenantgate"';
const CHALLENGE_INVALID = 'Bearer realm="tenantgate", error="invalid_token"';

/** The www-authenticate of a 401: an invalid credential says so (RFC 6750), a missing one only asks for one. */
export function challengeFor(code: string): string {
  return code === 'invalid_token' || code === 'invalid_api_key' ? CHALLENGE_INVALID : CHALLENGE;
}
