import { describe, expect, it } from 'vitest';
import { extractCredential } from '../../src/identity/credentials.js';

describe('extractCredential', () => {
  it('finds a bearer token, scheme case-insensitive', () => {
    expect(extractCredential({ authorization: 'bearer a.b.c' }, 8192)).toEqual({ kind: 'bearer', token: 'a.b.c' });
    expect(extractCredential({}, 8192)).toEqual({ kind: 'none' });
  });

  it.each([
    ['Bearer a.b.c,Bearer d.e.f', 'more than one credential in the authorization header'],
    ['Basic abc', 'the authorization scheme must be Bearer'],
    ['Bearer', 'the bearer token is malformed'],
    ['Bearer a.b', 'the bearer token is malformed'],
    ['Bearer a.b.c d', 'the bearer token is malformed'],
    [`Bearer ${'x'.repeat(9000)}`, 'the bearer token is too large'],
  ])('refuses %s', (header, reason) => {
    expect(extractCredential({ authorization: header }, 8192)).toMatchObject({ http_status: 401, code: 'invalid_token', reason });
  });
});
