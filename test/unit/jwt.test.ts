import { describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtVerifier } from '../../src/identity/jwt.js';
import { parseConfig } from '../../src/core/config.js';
import { Denial, type Identity } from '../../src/core/types.js';
import { readClaim } from '../../src/core/claims.js';
import { ISSUER, mint, testKeys } from '../support/server.js';
import { startJwksServer } from '../support/jwks-server.js';

const SECRET = 'a-very-long-shared-secret-for-hs256-tests-0123456789';

async function verifierWith(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-jwt-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify((await testKeys()).jwks));
  const cfg = parseConfig({
    auth: {
      jwt: {
        issuers: [
          { issuer: ISSUER, audiences: ['tenantgate'], jwks_file: 'jwks.json' },
          { issuer: 'https://hs.test/', secret_env: 'TG_TEST_SECRET' },
        ],
        ...extra,
      },
    },
  }, dir);
  return new JwtVerifier(cfg.auth.jwt, { TG_TEST_SECRET: SECRET, ...env });
}

const asIdentity = (v: Identity | Denial): Identity => {
  if (v instanceof Denial) throw new Error(v.reason);
  return v;
};

describe('JwtVerifier', () => {
  it('verifies ES256, RS256 and EdDSA from the JWKS into an identity', async () => {
    const v = await verifierWith();
    for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
      const id = asIdentity(await v.verify(await mint({ alg, sub: 'alice', claims: { scope: 'read write' } })));
      expect(id).toMatchObject({ kind: 'jwt', subject: 'alice', issuer: ISSUER, tenant_id: 'acme', scopes: ['read', 'write'] });
    }
  });

  it('verifies HS256 with the secret from the environment, and refuses a wrong secret', async () => {
    const v = await verifierWith();
    const sign = (secret: string) =>
      new jose.SignJWT({ tenant_id: 'globex' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://hs.test/').setSubject('svc').setExpirationTime('5m').sign(new TextEncoder().encode(secret));
    expect(asIdentity(await v.verify(await sign(SECRET))).tenant_id).toBe('globex');
    expect(await v.verify(await sign('another-secret-of-enough-length-0123456789'))).toMatchObject({ code: 'invalid_token', reason: 'the token signature is not valid' });
  });

  it('refuses an HS256 token claiming a JWKS issuer (algorithm confusion)', async () => {
    const v = await verifierWith();
    const forged = await new jose.SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'HS256', kid: 'es-1' }).setIssuer(ISSUER).setAudience('tenantgate').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
    expect(await v.verify(forged)).toMatchObject({ code: 'invalid_token', reason: 'the token algorithm is not allowed' });
  });

  it('fails when the secret variable is missing, naming it', async () => {
    await expect(verifierWith({}, { TG_TEST_SECRET: '' })).rejects.toThrow('environment variable TG_TEST_SECRET is not set');
  });

  it('reads the tenant from a claim with ":" or a dotted path', async () => {
    const colon = await verifierWith({ tenant_claim: 'custom:tenant_id' });
    expect(asIdentity(await colon.verify(await mint({ tenant: null, claims: { 'custom:tenant_id': 'initech' } }))).tenant_id).toBe('initech');
    const dotted = await verifierWith({ tenant_claim: 'org.tenant' });
    expect(asIdentity(await dotted.verify(await mint({ tenant: null, claims: { org: { tenant: 'globex' } } }))).tenant_id).toBe('globex');
    expect(asIdentity(await dotted.verify(await mint({ tenant: null }))).tenant_id).toBeNull();
  });

  it('refuses a token issued in the future (beyond the clock tolerance)', async () => {
    const v = await verifierWith();
    const keys = await testKeys();
    const at = (iat: number) =>
      new jose.SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: keys.es256.kid }).setIssuer(ISSUER).setAudience('tenantgate').setSubject('alice')
        .setIssuedAt(Math.floor(Date.now() / 1000) + iat).setExpirationTime('2h').sign(keys.es256.privateKey);
    expect(await v.verify(await at(3600))).toMatchObject({ code: 'invalid_token', reason: 'the token was issued in the future' });
    expect(asIdentity(await v.verify(await at(10))).subject).toBe('alice');
  });

  it('refuses a tenant claim that is not a string: 42 is not tenant "42"', async () => {
    const v = await verifierWith();
    for (const tenant of [42, true, ['acme'], { id: 'acme' }]) {
      expect(await v.verify(await mint({ tenant: null, claims: { tenant_id: tenant } })), JSON.stringify(tenant)).toMatchObject({
        http_status: 401,
        code: 'invalid_token',
        reason: 'the token\'s "tenant_id" claim must be a string',
      });
    }
  });

  it('caches a verified token (same object back) but never a failed one', async () => {
    const v = await verifierWith();
    const token = await mint();
    const first = await v.verify(token);
    expect(v.cached(token)).toBe(first);
    const expired = await mint({ exp: -3600 });
    expect(await v.verify(expired)).toBeInstanceOf(Denial);
    expect(v.cached(expired)).toBeUndefined();
  });

  it('refuses an expired token before checking its signature, and accepts one inside the clock tolerance', async () => {
    const v = await verifierWith();
    const expired = await mint({ exp: -3600 });
    // The same expired token with a broken signature: still "expired" (no signature check was needed).
    const forged = expired.slice(0, expired.lastIndexOf('.') + 1) + 'AAAA';
    expect(await v.verify(forged)).toMatchObject({ code: 'invalid_token', reason: 'the token has expired' });
    expect(await v.verify(expired)).toMatchObject({ code: 'invalid_token', reason: 'the token has expired' });
    // Expired 10 s ago, within the default 30 s tolerance: accepted, as jose would.
    expect(asIdentity(await v.verify(await mint({ exp: -10 }))).subject).toBe('alice');
    // A valid expiry with a broken signature is a signature failure.
    const good = await mint();
    expect(await v.verify(good.slice(0, good.lastIndexOf('.') + 1) + 'AAAA')).toMatchObject({ reason: 'the token signature is not valid' });
  });

  it('fetches a JWKS URL once and refetches on an unknown kid, but not within the cooldown', async () => {
    const keys = await testKeys();
    const jwks = await startJwksServer({ keys: [keys.jwks.keys[0]!] });
    try {
      const cfg = parseConfig({ auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: ['tenantgate'], jwks_url: jwks.url, jwks_cooldown_seconds: 1 }] } } });
      const v = new JwtVerifier(cfg.auth.jwt, {});
      expect(asIdentity(await v.verify(await mint({ alg: 'ES256' }))).tenant_id).toBe('acme');
      expect(asIdentity(await v.verify(await mint({ alg: 'ES256', sub: 'bob' }))).subject).toBe('bob');
      expect(jwks.requests).toBe(1);
      // The IdP rotates in an RSA key. Within the cooldown an unknown kid does not refetch: refused, no request.
      jwks.jwks = keys.jwks;
      expect(await v.verify(await mint({ alg: 'RS256' }))).toMatchObject({ code: 'invalid_token', reason: 'no trusted key matches the token' });
      expect(jwks.requests).toBe(1);
      // After the cooldown, an unknown kid triggers one refetch.
      await new Promise((r) => setTimeout(r, 1100));
      expect(asIdentity(await v.verify(await mint({ alg: 'RS256' }))).tenant_id).toBe('acme');
      expect(jwks.requests).toBe(2);
    } finally {
      await jwks.close();
    }
  });

  it('answers 503 jwks_unavailable when the key set cannot be fetched', async () => {
    const cfg = parseConfig({ auth: { jwt: { issuers: [{ issuer: ISSUER, jwks_url: 'http://127.0.0.1:1/jwks.json' }] } } });
    const v = new JwtVerifier(cfg.auth.jwt, {});
    expect(await v.verify(await mint())).toMatchObject({ http_status: 503, code: 'jwks_unavailable' });
  });
});

describe('readClaim', () => {
  it('prefers the exact name, then a dotted path', () => {
    expect(readClaim({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(readClaim({ a: { b: 2 } }, 'a.b')).toBe(2);
    expect(readClaim({ a: [1] }, 'a.0')).toBeUndefined();
    expect(readClaim({}, 'x')).toBeUndefined();
  });
});
