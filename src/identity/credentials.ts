// Finds the credential in the request headers. It never echoes a token in a reason.
import { Denial } from '../core/types.js';
import { deny } from '../core/denials.js';

export type Credential = { kind: 'none' } | { kind: 'bearer'; token: string };

const NONE: Credential = { kind: 'none' };
// Compact JWS: three base64url parts. Anything else is not a token we can verify.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function extractCredential(headers: Record<string, string>, maxTokenBytes: number): Credential | Denial {
  const auth = headers['authorization'];
  if (auth === undefined || auth === '') return NONE;
  if (auth.length > maxTokenBytes + 7) return invalidToken('the bearer token is too large');
  const space = auth.indexOf(' ');
  const scheme = space < 0 ? auth : auth.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return invalidToken('the authorization scheme must be Bearer');
  const token = auth.slice(space + 1).trim();
  // Envoy joins repeated headers with ","; two credentials in one request are ambiguous and refused.
  if (token.includes(',')) return invalidToken('more than one credential in the authorization header');
  // Its shape is checked by malformed(), which JwtVerifier.verify calls: a token the cache holds passed it when it was
  // verified, so a cached token is not scanned again (a regular expression over some 300 characters per check).
  return { kind: 'bearer', token };
}

/** A bearer token that is not a compact JWS: its denial; else undefined. */
export function malformed(token: string): Denial | undefined {
  return COMPACT_JWS.test(token) ? undefined : invalidToken('the bearer token is malformed');
}

export function invalidToken(reason: string): Denial {
  return deny('invalid_token', reason);
}
