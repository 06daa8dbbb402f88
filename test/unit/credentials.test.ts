import { describe, expect, it } from 'vitest';
import { extractCredential, malformed } from '../../src/identity/credentials.js';

describe('extractCredential', () => {
  it('finds a bearer token, scheme case-insensitive', () => {
    expect(extractCredential({ authorization: 'bearer a.b.c' }, 8192)).toEqual({ kind: 'bearer', token: 'a.b.c' });
    expect(extractCredential({}, 8192)).toEqual({ kind: 'none' });
  });

  it.each([
    ['Bearer a.b.c,Bearer d.e.f', 'more than one credential in the authorization header'],
    ['Basic abc', 'the authorization scheme must be Bearer'],
    [`Bearer ${'x'.repeat(9000)}`, 'the bearer token is too large'],
  ])('refuses %s', (header, reason) => {
    expect(extractCredential({ authorization: header }, 8192)).toMatchObject({ http_status: 401, code: 'invalid_token', reason });
  });

  // The shape is checked when a token is verified (JwtVerifier.verify), not again for a token the cache holds.
  it.each([['Bearer'], ['a.b'], ['a.b.c d'], ['a.b.c\n']])('finds %j malformed', (token) => {
    expect(malformed(token)).toMatchObject({ http_status: 401, code: 'invalid_token', reason: 'the bearer token is malformed' });
  });

  it('finds a compact JWS well formed (an empty signature too)', () => {
    expect(malformed('a.b.c')).toBeUndefined();
    expect(malformed('eyJ0.eyJ0.')).toBeUndefined();
  });
});
