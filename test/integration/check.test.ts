// Request in, decision, headers and status out: through the real gRPC server, as Envoy calls and reads it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';
import { DOCUMENTED_TRUSTED_HEADERS as TRUSTED_HEADERS } from '../support/documented.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.close();
});

const get = (path: string, headers: [string, string][] = [], extra: Partial<Parameters<TestServer['envoy']>[0]> = {}) =>
  t.envoy({ method: 'GET', path, headers, ...extra });

describe('allow', () => {
  it('passes a valid token of an active tenant with the enriched headers, each set once', async () => {
    const r = await get('/api/v1/items?tag=a&tag=b', [bearer(await mint({ tenant: 'acme', sub: 'alice' }))]);
    expect(r.outcome).toBe('upstream');
    if (r.outcome !== 'upstream') return;
    expect(r.headers['x-tenant-id']).toEqual(['acme']);
    expect(r.headers['x-tenant-tier']).toEqual(['premium']);
    expect(r.headers['x-user-id']).toEqual(['alice']);
    expect(r.headers['x-tenant-partition']).toEqual(['TENANT#acme']);
    expect(r.headers['x-tenant-storage-prefix']).toEqual(['tenant-acme/']);
    expect(r.headers['x-decision-id']![0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.dynamicMetadata.decision_id).toBe(r.headers['x-decision-id']![0]);
    expect(r.dynamicMetadata.tenant_id).toBe('acme');
    expect(r.dynamicMetadata.allowed).toBe(true);
    expect(typeof r.dynamicMetadata.policy_revision).toBe('string');
    expect((r.dynamicMetadata.policy_revision as string).length).toBeGreaterThan(0);
  });

  it('sets append explicitly to false on every upstream header', async () => {
    const r = await get('/api/v1/items', [bearer(await mint())]);
    if (r.outcome !== 'upstream') throw new Error(r.outcome);
    for (const h of r.response.okResponse!.headers!) expect(h.append).toEqual({ value: false });
  });

  it('strips client-supplied copies of tenantgate headers and overwrites the ones it sets', async () => {
    const spoofed: [string, string][] = TRUSTED_HEADERS.map((h) => [h, 'spoofed']);
    const r = await get('/api/v1/items', [bearer(await mint({ tenant: 'globex', sub: 'bob' })), ...spoofed.filter(([h]) => h !== 'x-tenant-id'), ['x-tenant-id', 'globex']]);
    if (r.outcome !== 'upstream') throw new Error(r.outcome);
    for (const h of TRUSTED_HEADERS) expect(r.headers[h] ?? [], h).not.toContain('spoofed');
    expect(r.headers['x-tenant-id']).toEqual(['globex']);
    expect(r.headers['x-user-id']).toEqual(['bob']);
    // Never names a header that is also set (Envoy removes after setting).
    const setNames = new Set(r.response.okResponse!.headers!.map((h) => h.header!.key));
    for (const name of r.response.okResponse!.headersToRemove!) expect(setNames.has(name)).toBe(false);
  });

  it('accepts RS256 and EdDSA tokens from the JWKS too', async () => {
    for (const alg of ['RS256', 'EdDSA'] as const) {
      const r = await get('/api/v1/items', [bearer(await mint({ alg }))]);
      expect(r.outcome, alg).toBe('upstream');
    }
  });

  it('lets anonymous callers reach public paths, with no tenant headers', async () => {
    const r = await get('/healthz', [['x-tenant-id', 'spoofed-id'], ['x-user-id', 'mallory']]);
    if (r.outcome !== 'upstream') throw new Error(r.outcome);
    expect(r.headers['x-tenant-id']).toBeUndefined();
    expect(r.headers['x-user-id']).toBeUndefined();
    expect(r.headers['x-decision-id']).toHaveLength(1);
  });

  it('lets anonymous callers through on a route Envoy marks public', async () => {
    const r = await get('/docs', [], { contextExtensions: { public: 'true' } });
    expect(r.outcome).toBe('upstream');
  });

  it('keeps a header-safe x-user-id whatever the subject claim holds', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ sub: 'eve\r\nx-tenant-id: evil' }))]);
    if (r.outcome !== 'upstream') throw new Error(r.outcome);
    expect(r.headers['x-user-id']![0]).toBe('eve%0D%0Ax-tenant-id: evil');
    expect(r.headers['x-tenant-id']).toEqual(['acme']);
  });
});

describe('deny', () => {
  it('asks for credentials with 401/16, JSON body and www-authenticate', async () => {
    const r = await get('/api/v1/items');
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect(r.status).toBe(401);
    expect(r.grpcStatus).toBe(16);
    expect(r.headers['content-type']).toEqual(['application/json']);
    expect(r.headers['www-authenticate']).toEqual(['Bearer realm="tenantgate"']);
    const body = JSON.parse(r.body);
    expect(body).toEqual({ error: 'unauthenticated', reason: 'credentials are required', decision_id: r.dynamicMetadata.decision_id });
    expect(r.dynamicMetadata.code).toBe('unauthenticated');
  });

  it.each([
    ['expired', { exp: -3600 }, 'the token has expired'],
    ['not yet valid', { nbf: 3600 }, 'the token is not valid yet'],
    ['wrong audience', { aud: 'someone-else' }, 'the token\'s "aud" claim is not accepted'],
    ['unknown issuer', { iss: 'https://evil.example/' }, 'the token was not issued by a trusted issuer'],
    ['without exp', { noExp: true }, 'the token\'s "exp" claim is not accepted'],
  ])('refuses a token that is %s with 401 invalid_token', async (_name, opts, reason) => {
    const token = await mint(opts);
    const r = await get('/api/v1/items', [bearer(token)]);
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect(r.status).toBe(401);
    expect(r.grpcStatus).toBe(16);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_token', reason });
    expect(r.headers['www-authenticate']).toEqual(['Bearer realm="tenantgate", error="invalid_token"']);
    expect(r.body).not.toContain(token.split('.')[1]);
    expect(r.response.status!.message).not.toContain(token.split('.')[1]);
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ exp: -10 }))]);
    expect(r.outcome).toBe('upstream');
  });

  it('refuses a token with a tampered signature and never caches it as good', async () => {
    const good = await mint({ sub: 'tamper' });
    const [h, p, s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), tenant_id: 'globex' })).toString('base64url')}.${s}`;
    for (let i = 0; i < 2; i++) {
      const r = await get('/api/v1/items', [bearer(forged)]);
      if (r.outcome !== 'denied') throw new Error(r.outcome);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_token', reason: 'the token signature is not valid' });
    }
    expect((await get('/api/v1/items', [bearer(good)])).outcome).toBe('upstream');
  });

  it('refuses a valid token without a tenant claim: 403 missing_tenant', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ tenant: null }))]);
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect([r.status, r.grpcStatus, JSON.parse(r.body).error]).toEqual([403, 7, 'missing_tenant']);
  });

  it('refuses a malformed tenant id: 400/3 invalid_tenant_id', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ tenant: 'Acme_Corp' }))]);
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect([r.status, r.grpcStatus, JSON.parse(r.body).error]).toEqual([400, 3, 'invalid_tenant_id']);
  });

  it('refuses an unknown tenant: 403 unknown_tenant', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ tenant: 'nosuch' }))]);
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect([r.status, JSON.parse(r.body).error, JSON.parse(r.body).reason]).toEqual([403, 'unknown_tenant', 'tenant nosuch is not known']);
  });

  it('refuses a suspended tenant: 403 tenant_suspended', async () => {
    const r = await get('/api/v1/items', [bearer(await mint({ tenant: 'initech' }))]);
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect([r.status, JSON.parse(r.body).error]).toEqual([403, 'tenant_suspended']);
  });

  it.each([
    ['the x-tenant-id header', { headers: [['x-tenant-id', 'globex']] }],
    ['a /tenants/{id}/ path', { path: '/tenants/globex/items' }],
    ['a nested /api/v1/tenants/{id} path', { path: '/api/v1/tenants/globex' }],
    ['context_extensions.tenant_id', { contextExtensions: { tenant_id: 'globex' } }],
  ])('refuses another tenant named in %s: 403 tenant_mismatch', async (_name, spec) => {
    const s = spec as { headers?: [string, string][]; path?: string; contextExtensions?: Record<string, string> };
    const r = await t.envoy({
      method: 'GET',
      path: s.path ?? '/api/v1/items',
      headers: [bearer(await mint({ tenant: 'acme' })), ...(s.headers ?? [])],
      contextExtensions: s.contextExtensions,
    });
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    expect([r.status, r.grpcStatus, JSON.parse(r.body).error]).toEqual([403, 7, 'tenant_mismatch']);
  });

  it('allows the same tenant named in the header, path and context extensions', async () => {
    const r = await t.envoy({
      method: 'GET',
      path: '/tenants/acme/items',
      headers: [bearer(await mint({ tenant: 'acme' })), ['x-tenant-id', 'acme']],
      contextExtensions: { tenant_id: 'acme' },
    });
    expect(r.outcome).toBe('upstream');
  });

  it('sets append false on every denied header (Envoy drops append:true there)', async () => {
    const r = await get('/api/v1/items');
    if (r.outcome !== 'denied') throw new Error(r.outcome);
    for (const h of r.response.deniedResponse!.headers!) expect(h.append).toEqual({ value: false });
  });
});

describe('store changes reach a running server', () => {
  it('sees a tenant suspended, resumed, created and deleted by another process within one second', async () => {
    const token = await mint({ tenant: 'acme' });
    const call = async () => {
      const r = await get('/api/v1/items', [bearer(token)]);
      return r.outcome === 'upstream' ? 'allow' : r.outcome === 'denied' ? JSON.parse(r.body).error : 'error';
    };
    const eventually = async (want: string) => {
      const start = Date.now();
      while (Date.now() - start < 1000) {
        if ((await call()) === want) return Date.now() - start;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`not ${want} within 1 s (last: ${await call()})`);
    };
    expect(await call()).toBe('allow');
    t.withRepo((r) => r.setStatus('acme', 'suspended'));
    await eventually('tenant_suspended');
    t.withRepo((r) => r.setStatus('acme', 'active'));
    await eventually('allow');

    const newcomer = await mint({ tenant: 'newco' });
    const first = await get('/api/v1/items', [bearer(newcomer)]);
    expect(first.outcome === 'denied' && JSON.parse(first.body).error).toBe('unknown_tenant');
    t.withRepo((r) => r.create({ id: 'newco', name: 'New Co', tier: 'enterprise' }));
    const start = Date.now();
    let r = await get('/api/v1/items', [bearer(newcomer)]);
    while (r.outcome !== 'upstream' && Date.now() - start < 1000) r = await get('/api/v1/items', [bearer(newcomer)]);
    if (r.outcome !== 'upstream') throw new Error('new tenant not seen within 1 s');
    expect(r.headers['x-tenant-tier']).toEqual(['enterprise']);

    t.withRepo((repo) => repo.delete('newco'));
    const start2 = Date.now();
    let d = await get('/api/v1/items', [bearer(newcomer)]);
    while (d.outcome === 'upstream' && Date.now() - start2 < 1000) d = await get('/api/v1/items', [bearer(newcomer)]);
    expect(d.outcome === 'denied' && JSON.parse(d.body).error).toBe('unknown_tenant');
  });
});
