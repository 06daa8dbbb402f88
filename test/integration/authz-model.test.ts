// The multi-tenant authorization model through the real gRPC server: groups, memberships, permissions, data
// access, GenAI body limits, API keys, federation; each denial code and the headers of each allow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { bearer, mint, startTestServer, storeChanges, waitFor, type TestServer } from '../support/server.js';
import type { EnvoyResult } from '../support/envoy.js';
import { DOCUMENTED_TRUSTED_HEADERS as TRUSTED_HEADERS } from '../support/documented.js';
import type { HttpRequestSpec } from '../../src/check/envoy-request.js';

let t: TestServer;
const ML_TEAM = {
  id: 'ml-team',
  name: 'ML team',
  type: 'team',
  permissions: [
    { resource: 'completions', actions: ['read'] },
    { resource: 'models', actions: ['read'] },
  ],
  data_access_level: 'internal',
  data_access_rules: { region: ['eu'], project: ['atlas', 'zephyr'] },
  resource_limits: { max_tokens_per_request: 2048, allowed_models: ['gpt-4o', 'claude-3-5-sonnet'], allowed_providers: ['anthropic', 'openai', 'local'] },
  routing: { strategy: 'performance', preferred_providers: ['local', 'anthropic', 'openai'] },
};

beforeAll(async () => {
  t = await startTestServer({
    tenants: [
      { id: 'acme', tier: 'premium' },
      { id: 'globex', tier: 'basic' },
      { id: 'silo', tier: 'enterprise' },
    ],
    config: { auth: { jwt: { groups_claim: 'groups' } } },
  });
  t.admin((a) => {
    a.groupApply('acme', ML_TEAM);
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'ml-team', role: 'owner' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'viewer' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'bob', group_id: 'viewer' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'dave', group_id: 'analyst', expires_at: '2020-01-01T00:00:00Z' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'erin', group_id: 'admin', role: 'admin' });
    a.memberAdd({ tenant_id: 'globex', user_id: 'gina', group_id: 'analyst' });
    a.tenantUpdate('silo', { upstream: 'silo-cluster' });
    a.memberAdd({ tenant_id: 'silo', user_id: 'sam', group_id: 'viewer' });
  });
});
afterAll(async () => {
  await t?.close();
});

const call = async (spec: Partial<HttpRequestSpec> & { token?: string; key?: string }) => {
  const headers: [string, string][] = [...(spec.headers ?? [])];
  if (spec.token) headers.unshift(bearer(spec.token));
  if (spec.key) headers.unshift(['x-api-key', spec.key]);
  return t.envoy({ method: spec.method ?? 'GET', path: spec.path ?? '/api/v1/items', headers, body: spec.body, contextExtensions: spec.contextExtensions });
};
const as = (user: string, tenant = 'acme', claims?: Record<string, unknown>) => mint({ tenant, sub: user, claims });
function denial(r: EnvoyResult) {
  if (r.outcome !== 'denied') throw new Error(`expected a denial, got ${r.outcome}`);
  const b = JSON.parse(r.body);
  return { status: r.status, error: b.error, reason: b.reason };
}
function upstream(r: EnvoyResult) {
  if (r.outcome !== 'upstream') throw new Error(`expected an allow, got ${r.outcome}: ${r.outcome === 'denied' ? r.body : ''}`);
  const one: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    expect(v, `${k} set once`).toHaveLength(1);
    one[k] = v[0]!;
  }
  return one;
}
const completion = (body: unknown, extra: [string, string][] = []) => ({
  method: 'POST',
  path: '/api/v1/completions',
  headers: [['content-type', 'application/json'] as [string, string], ...extra],
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('groups and the effective context', () => {
  it('every new tenant starts with the admin, analyst and viewer groups', () => {
    const groups = t.admin((a) => a.groups.list('globex'));
    expect(groups.map((g) => [g.id, g.data_access_level, g.permissions])).toEqual([
      ['admin', 'confidential', [{ resource: '*', actions: ['*'] }]],
      ['analyst', 'internal', [{ resource: '*', actions: ['read', 'query'] }]],
      ['viewer', 'public', [{ resource: '*', actions: ['read'] }]],
    ]);
  });

  it('an allowed completion carries the aggregated context, each header once, spoofed copies gone', async () => {
    const spoof: [string, string][] = TRUSTED_HEADERS.filter((h) => h !== 'x-tenant-id').map((h) => [h, 'spoofed']);
    const h = upstream(await call({ token: await as('alice'), ...completion({ model: 'gpt-4o', max_tokens: 2048 }, spoof) }));
    expect(h['x-tenant-id']).toBe('acme');
    expect(h['x-user-id']).toBe('alice');
    expect(h['x-user-groups']).toBe('ml-team,viewer');
    expect(h['x-primary-group']).toBe('ml-team');
    expect(h['x-data-access-level']).toBe('internal');
    expect(h['x-routing-strategy']).toBe('performance');
    // performance among local(4), anthropic(2), openai(1) → openai
    expect(h['x-upstream-provider']).toBe('openai');
    // viewer has no row rules, so its rows are not restricted beyond the levels
    expect(JSON.parse(h['x-data-filters']!)).toEqual({ accessLevel: { in: ['public', 'internal'] } });
    for (const name of TRUSTED_HEADERS) expect(h[name]).not.toBe('spoofed');
    expect(h['x-tenant-upstream']).toBeUndefined();
  });

  it('row-level data filters combine every group\'s rules', async () => {
    t.admin((a) => a.groupApply('acme', { ...ML_TEAM, id: 'eu-ops', name: 'EU ops', type: 'region', data_access_rules: { region: ['eu'] }, routing: {} }));
    t.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'mia', group_id: 'ml-team' }));
    t.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'mia', group_id: 'eu-ops' }));
    const h = upstream(await call({ token: await as('mia'), path: '/api/v1/models' }));
    expect(JSON.parse(h['x-data-filters']!)).toEqual({
      accessLevel: { in: ['public', 'internal'] },
      // In the order mia joined: ml-team, then eu-ops.
      anyOf: [{ region: { in: ['eu'] }, project: { in: ['atlas', 'zephyr'] } }, { region: { in: ['eu'] } }],
    });
  });

  it('a user without memberships gets the default context (public, read:public, tier limits)', async () => {
    const h = upstream(await call({ token: await as('carol') }));
    expect([h['x-user-groups'], h['x-primary-group'], h['x-data-access-level'], h['x-routing-strategy']]).toEqual(['public', 'public', 'public', 'cost']);
    expect(denial(await call({ token: await as('carol'), path: '/api/v1/models' }))).toEqual({ status: 403, error: 'insufficient_permission', reason: 'missing permission read:models' });
  });

  it('an expired membership counts as absent', async () => {
    const h = upstream(await call({ token: await as('dave') }));
    expect(h['x-user-groups']).toBe('public');
  });

  it('the primary group is the administered one over plain memberships', async () => {
    t.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'erin', group_id: 'viewer' }));
    const h = upstream(await call({ token: await as('erin'), path: '/api/v1/admin/users' }));
    expect([h['x-primary-group'], h['x-data-access-level']]).toEqual(['admin', 'confidential']);
  });

  it('groups from the token claim count only if they exist in the tenant', async () => {
    const h = upstream(await call({ token: await as('zed', 'acme', { groups: ['analyst', 'no-such-group', 'ml-team-of-globex'] }), path: '/api/v1/models' }));
    expect(h['x-user-groups']).toBe('analyst');
    expect(h['x-data-access-level']).toBe('internal');
    // A group name of another tenant grants nothing here.
    const g = upstream(await call({ token: await as('zed', 'globex', { groups: ['ml-team'] }) }));
    expect(g['x-user-groups']).toBe('public');
  });

  it('a membership added by another process is seen within one second', async () => {
    expect(denial(await call({ token: await as('newbie'), path: '/api/v1/models' })).error).toBe('insufficient_permission');
    t.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'newbie', group_id: 'analyst' }));
    const start = Date.now();
    let r = await call({ token: await as('newbie'), path: '/api/v1/models' });
    while (r.outcome !== 'upstream' && Date.now() - start < 1000) r = await call({ token: await as('newbie'), path: '/api/v1/models' });
    expect(r.outcome).toBe('upstream');
  });

  it('a silo tenant names its upstream', async () => {
    const h = upstream(await call({ token: await as('sam', 'silo') }));
    expect(h['x-tenant-upstream']).toBe('silo-cluster');
    expect(h['x-tenant-tier']).toBe('enterprise');
  });
});

describe('permissions and data access', () => {
  it('denies a missing permission naming it (403 insufficient_permission)', async () => {
    expect(denial(await call({ token: await as('bob'), method: 'POST', path: '/api/v1/models' }))).toEqual({
      status: 403,
      error: 'insufficient_permission',
      reason: 'missing permission write:models',
    });
    expect(denial(await call({ token: await as('bob'), path: '/api/v1/admin/x' })).reason).toBe('missing permission admin:*');
  });

  it('allows through wildcard permissions', async () => {
    upstream(await call({ token: await as('bob'), path: '/api/v1/models/gpt-4o' }));
    upstream(await call({ token: await as('erin'), method: 'DELETE', path: '/api/v1/admin/users/1' }));
  });

  it('denies data classified above the user\'s level (403 data_access_denied)', async () => {
    const r = denial(await call({ token: await as('bob'), headers: [['x-data-classification', 'internal']] }));
    expect(r).toEqual({ status: 403, error: 'data_access_denied', reason: 'data classified internal needs access level internal; the user has public' });
    upstream(await call({ token: await as('alice'), headers: [['x-data-classification', 'internal']] }));
    expect(denial(await call({ token: await as('alice'), headers: [['x-data-classification', 'top-secret']] }))).toMatchObject({ status: 400, error: 'bad_request' });
  });

  it('public routes admit anonymous callers, but a bad credential is still 401', async () => {
    upstream(await call({ path: '/docs', contextExtensions: { public: 'true' } }));
    expect(denial(await call({ path: '/docs', contextExtensions: { public: 'true' }, token: 'x.y.z' })).status).toBe(401);
    expect(denial(await call({ path: '/healthz', key: 'tgk_bogus' })).error).toBe('invalid_api_key');
  });
});

describe('GenAI request limits', () => {
  it('denies a model outside the allowed list (403 model_not_allowed)', async () => {
    expect(denial(await call({ token: await as('alice'), ...completion({ model: 'gpt-4o-mini', max_tokens: 10 }) }))).toEqual({
      status: 403,
      error: 'model_not_allowed',
      reason: 'model gpt-4o-mini is not allowed',
    });
  });

  it('denies max_tokens above the limit (403 token_limit_exceeded)', async () => {
    expect(denial(await call({ token: await as('alice'), ...completion({ model: 'gpt-4o', max_tokens: 2049 }) }))).toEqual({
      status: 403,
      error: 'token_limit_exceeded',
      reason: 'max_tokens 2049 exceeds the limit of 2048',
    });
  });

  it('denies a truncated body and invalid JSON with 400 bad_request, never allows them', async () => {
    const partial = await call({ token: await as('alice'), ...completion('{"model":"gpt-4o","max_tokens":10}', [['content-length', '4096']]) });
    expect(denial(partial)).toEqual({ status: 400, error: 'bad_request', reason: 'the request body is truncated; the completion limits cannot be checked' });
    expect(denial(await call({ token: await as('alice'), ...completion('{"model": "gpt-4o", ') }))).toMatchObject({ status: 400, error: 'bad_request' });
    expect(denial(await call({ token: await as('alice'), method: 'POST', path: '/api/v1/completions' }))).toMatchObject({ status: 400, error: 'bad_request' });
  });

  it('uses the tier limits when no group sets them', async () => {
    // gina (globex, basic tier): analyst has no resource limits → basic: 4096 tokens, a model list.
    expect(denial(await call({ token: await as('gina', 'globex'), ...completion({ model: 'gpt-4o', max_tokens: 5000 }) })).error).toBe('token_limit_exceeded');
    expect(denial(await call({ token: await as('gina', 'globex'), ...completion({ model: 'o1-pro', max_tokens: 10 }) })).error).toBe('model_not_allowed');
    upstream(await call({ token: await as('gina', 'globex'), ...completion({ model: 'gpt-4o', max_tokens: 4096 }) }));
  });
});

describe('API keys', () => {
  it('authenticates with x-api-key, as its user, and records the last use off the hot path', async () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice', name: 'ci' }));
    const h = upstream(await call({ key, path: '/api/v1/models' }));
    expect([h['x-tenant-id'], h['x-user-id'], h['x-api-key-id'], h['x-user-groups']]).toEqual(['acme', 'alice', record.id, 'ml-team,viewer']);
    const start = Date.now();
    while (!t.admin((a) => a.apiKeys.get(record.id))!.last_used_at && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 100));
    expect(t.admin((a) => a.apiKeys.get(record.id))!.last_used_at).not.toBeNull();
  });

  it("a key's last use, written by the store thread, drops no cache; a change to a key does", async () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice', name: 'quiet' }));
    const seen = await storeChanges(t.server);
    await waitFor(async () => (await storeChanges(t.server)) > seen, 'the new key to be seen');
    const before = await storeChanges(t.server);
    upstream(await call({ key, path: '/api/v1/models' }));
    await waitFor(() => t.admin((a) => a.apiKeys.get(record.id))!.last_used_at !== null, 'the last use to be written');
    await new Promise((r) => setTimeout(r, 400)); // four poll intervals
    expect(await storeChanges(t.server)).toBe(before);
    t.admin((a) => a.apiKeyRevoke('acme', record.id));
    await waitFor(async () => (await storeChanges(t.server)) > before, 'the revocation to be seen');
    expect(denial(await call({ key, path: '/api/v1/models' })).error).toBe('invalid_api_key');
  });

  it('stores only a hash of the key', () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bob' }));
    const stored = t.admin((a) => a.apiKeys.get(record.id))!;
    const secret = key.split('_').slice(2).join('_');
    expect(stored.secret_hash).toBe(createHash('sha256').update(secret).digest('hex'));
    const db = new Database(t.dbPath, { readonly: true });
    const raw = db.prepare('SELECT secret_hash FROM api_keys WHERE id = ?').get(record.id) as { secret_hash: Buffer };
    db.close();
    expect(raw.secret_hash).toEqual(createHash('sha256').update(secret).digest());
    expect(raw.secret_hash.toString('hex')).not.toContain(Buffer.from(secret).toString('hex'));
    expect(JSON.stringify(t.admin((a) => a.apiKeys.list('acme')))).not.toContain(secret);
    expect(JSON.stringify(t.admin((a) => a.audit.list({ tenant: 'acme' })))).not.toContain(secret);
  });

  it('limits the key to its scopes', async () => {
    const { key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice', scopes: ['read:completions'] }));
    expect(denial(await call({ key, path: '/api/v1/models' })).error).toBe('insufficient_permission');
    upstream(await call({ key, ...completion({ model: 'gpt-4o', max_tokens: 5 }) }));
  });

  it('refuses unknown, malformed, wrong-secret, expired and revoked keys (401 invalid_api_key); a revoke applies within 1 s', async () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bob' }));
    upstream(await call({ key }));
    expect(denial(await call({ key: 'tgk_0000000000000000_' + 'A'.repeat(43) }))).toEqual({ status: 401, error: 'invalid_api_key', reason: 'the API key is not valid' });
    expect(denial(await call({ key: 'nope' }))).toEqual({ status: 401, error: 'invalid_api_key', reason: 'the API key is malformed' });
    expect(denial(await call({ key: key.slice(0, -2) + (key.endsWith('AA') ? 'BB' : 'AA') })).reason).toBe('the API key is not valid');
    const expired = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bob', expires_at: new Date(Date.now() - 1000).toISOString() }));
    expect(denial(await call({ key: expired.key })).reason).toBe('the API key has expired');

    t.admin((a) => a.apiKeyRevoke('acme', record.id));
    const start = Date.now();
    let r = await call({ key });
    while (r.outcome === 'upstream' && Date.now() - start < 1000) r = await call({ key });
    expect(denial(r)).toEqual({ status: 401, error: 'invalid_api_key', reason: 'the API key has been revoked' });
    expect(r.outcome === 'denied' && r.headers['www-authenticate']).toEqual(['Bearer realm="tenantgate", error="invalid_token"']);
  });

  it('rotation: the new key works at once, the old one until its grace period ends', async () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice' }));
    const rotated = t.admin((a) => a.apiKeyRotate('acme', record.id, 1));
    upstream(await call({ key: rotated.key }));
    upstream(await call({ key }));
    // The grace period (1 s) has to pass: the key's expiry is stored to the second.
    await waitFor(async () => (await call({ key })).outcome === 'denied', 'the grace period to end', 5000);
    expect(denial(await call({ key })).reason).toBe('the API key has expired');
    upstream(await call({ key: rotated.key }));
  });

  it('refuses a request with both a bearer token and an API key', async () => {
    const { key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice' }));
    expect(denial(await call({ key, token: await as('alice') }))).toMatchObject({ status: 400, error: 'bad_request' });
  });

  it('a key of one tenant cannot act for another', async () => {
    const { key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'globex', user_id: 'gina' }));
    expect(denial(await call({ key, headers: [['x-tenant-id', 'acme']] })).error).toBe('tenant_mismatch');
    expect(upstream(await call({ key }))['x-tenant-id']).toBe('globex');
  });
});

describe('federation', () => {
  let grant: { id: string; token: string };
  beforeAll(async () => {
    const r = await t.adminAsync((a) => a.federationGrant({ source: 'acme', target: 'globex', resource_type: 'documents', access: 'read', expires_at: new Date(Date.now() + 3600_000).toISOString() }));
    grant = { id: r.grant.id, token: r.token };
  });
  const fed = (spec: Partial<HttpRequestSpec> & { token?: string; fedToken?: string }) =>
    call({ ...spec, headers: [['x-tenant-id', 'globex'], ['x-federation-token', spec.fedToken ?? grant.token], ...(spec.headers ?? [])] });

  it('allows a covered read as the target tenant, and audits it', async () => {
    const h = upstream(await fed({ token: await as('bob'), path: '/api/v1/documents/42' }));
    expect([h['x-tenant-id'], h['x-tenant-partition'], h['x-federation-source'], h['x-federation-access'], h['x-user-id']]).toEqual(['globex', 'TENANT#globex', 'acme', 'read', 'bob']);
    const start = Date.now();
    const audited = () => t.admin((a) => a.audit.list({ tenant: 'globex' })).filter((e) => e.action === 'federation.access');
    while (audited().length === 0 && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 100));
    expect(audited()[0]).toMatchObject({ tenant_id: 'globex', target: grant.id, actor: 'jwt:bob (tenant acme)', after: { source: 'acme', access: 'read', method: 'GET', path: '/api/v1/documents/42' } });
    // The grant's own audit entry names it.
    expect(t.admin((a) => a.audit.list({ tenant: 'globex' })).find((e) => e.action === 'federation.grant')).toMatchObject({ target: grant.id });
  });

  it('denies what the grant does not cover (403 federation_denied)', async () => {
    expect(denial(await fed({ token: await as('bob'), method: 'PUT', path: '/api/v1/documents/42' }))).toEqual({ status: 403, error: 'federation_denied', reason: 'the grant allows read, not write' });
    expect(denial(await fed({ token: await as('bob'), path: '/api/v1/invoices/1' })).reason).toBe('the grant does not cover invoices 1');
  });

  it('binds the token to its source tenant', async () => {
    expect(denial(await fed({ token: await as('sam', 'silo'), path: '/api/v1/documents/1' }))).toEqual({
      status: 403,
      error: 'federation_denied',
      reason: 'the federation token belongs to another tenant',
    });
  });

  it('without a token naming another tenant is a tenant_mismatch; a forged token is refused', async () => {
    expect(denial(await call({ token: await as('bob'), path: '/api/v1/documents/1', headers: [['x-tenant-id', 'globex']] })).error).toBe('tenant_mismatch');
    expect(denial(await fed({ token: await as('bob'), path: '/api/v1/documents/1', fedToken: await mint({ tenant: 'acme' }) })).reason).toBe('the federation token is not valid');
  });

  it('a revoked or expired grant denies', async () => {
    const r = await t.adminAsync((a) => a.federationGrant({ source: 'acme', target: 'globex', resource_type: '*', access: 'read', expires_at: new Date(Date.now() + 1500).toISOString() }));
    upstream(await fed({ token: await as('bob'), path: '/api/v1/reports/1', fedToken: r.token }));
    await new Promise((res) => setTimeout(res, 1600));
    expect(denial(await fed({ token: await as('bob'), path: '/api/v1/reports/1', fedToken: r.token })).reason).toBe('the federation grant has expired');

    const r2 = await t.adminAsync((a) => a.federationGrant({ source: 'acme', target: 'globex', resource_type: 'documents', resource_id: '7', access: 'write', expires_at: '2099-01-01T00:00:00Z' }));
    upstream(await fed({ token: await as('erin'), method: 'POST', path: '/api/v1/documents/7', fedToken: r2.token }));
    t.admin((a) => a.federationRevoke('globex', r2.grant.id));
    expect(denial(await fed({ token: await as('erin'), method: 'POST', path: '/api/v1/documents/7', fedToken: r2.token })).reason).toBe('the federation grant has been revoked');
  });

  it('still requires the user\'s own permission for the route', async () => {
    const r = await t.adminAsync((a) => a.federationGrant({ source: 'acme', target: 'globex', resource_type: 'models', access: 'write', expires_at: '2099-01-01T00:00:00Z' }));
    expect(denial(await fed({ token: await as('bob'), method: 'POST', path: '/api/v1/models', fedToken: r.token })).error).toBe('insufficient_permission');
  });
});
