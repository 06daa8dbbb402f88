// The defects an attack run found (issue "Security"), each through the real server, in gRPC and HTTP mode:
// request in, exact decision out. Each case failed on the code before the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';
import type { EnvoyResult } from '../support/envoy.js';

let t: TestServer;
let viewer: string; // acme, group viewer (read:*-ish, no admin, internal level)
let nobody: string; // acme, in no group
let scopedKey: string; // acme alice, scopes read:models
let adminToken: string; // acme, group admin
beforeAll(async () => {
  t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, tenancy: { host_suffixes: ['.api.example.com'] } } });
  t.admin((a) => {
    a.memberAdd({ tenant_id: 'acme', user_id: 'vera', group_id: 'viewer' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'analyst' });
    a.memberAdd({ tenant_id: 'acme', user_id: 'erin', group_id: 'admin', role: 'admin' });
  });
  scopedKey = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'alice', scopes: ['read:models'] })).key;
  [viewer, nobody, adminToken] = await Promise.all([mint({ sub: 'vera' }), mint({ sub: 'nemo' }), mint({ sub: 'erin' })]);
});
afterAll(async () => {
  await t?.close();
});

function denial(r: EnvoyResult): [number, string, string] {
  if (r.outcome !== 'denied') throw new Error(`expected a denial, got ${r.outcome}`);
  const b = JSON.parse(r.body);
  return [r.status, b.error, b.reason];
}

const grpcCall = (method: string, path: string, headers: [string, string][], host?: string) => t.envoy({ method, path, headers, host });

const httpCall = async (method: string, path: string, headers: [string, string][], host?: string): Promise<[number, string, string] | 'allowed'> => {
  const h: Record<string, string> = { 'x-forwarded-method': method, 'x-forwarded-uri': path };
  if (host) h['x-forwarded-host'] = host;
  for (const [k, v] of headers) h[k] = v;
  const res = await fetch(`http://${t.server.httpAddress}/authz`, { headers: h });
  if (res.status === 200) return 'allowed';
  const b = (await res.json()) as { error: string; reason: string };
  return [res.status, b.error, b.reason];
};

const callers = () => [
  ['a viewer', bearer(viewer)],
  ['a user in no group', bearer(nobody)],
  ['a key scoped to read:models', ['x-api-key', scopedKey]],
] as [string, [string, string]][];

const AMBIGUOUS = 'the request path is ambiguous';

describe('defect 1: a trailing slash or dot segment does not get around a protected route', () => {
  it.each(['/api/v1/admin/?op=delete&user=alice', '/api/v1/admin', '/api/v1/ADMIN/'])('%s needs admin:* (gRPC and HTTP)', async (path) => {
    for (const [who, cred] of callers()) {
      const g = denial(await grpcCall('POST', path, [cred]));
      expect(g.slice(0, 2), who).toEqual([403, 'insufficient_permission']);
      const h = await httpCall('POST', path, [cred]);
      expect(h, who).not.toBe('allowed');
      expect((h as [number, string, string]).slice(0, 2), who).toEqual([403, 'insufficient_permission']);
    }
    // ...and the admin gets through, so the route really is the admin route.
    expect((await grpcCall('POST', path, [bearer(adminToken)])).outcome).toBe('upstream');
  });

  it.each(['/api/v1/admin/.', '/api/v1/admin/x/..', '/api/v1/admin/%2e', '/api/v1/admin//users'])('%s is refused as ambiguous (gRPC and HTTP)', async (path) => {
    for (const [who, cred] of callers()) {
      const [status, error, reason] = denial(await grpcCall('POST', path, [cred]));
      expect([status, error], who).toEqual([400, 'bad_request']);
      expect(reason.startsWith(AMBIGUOUS)).toBe(true);
      expect(((await httpCall('POST', path, [cred])) as string[]).slice(0, 2)).toEqual([400, 'bad_request']);
    }
  });
});

describe('defect 2: what the route table does not allow is refused', () => {
  it('HEAD is GET: it needs read:models', async () => {
    const r = denial(await grpcCall('HEAD', '/api/v1/models', [bearer(nobody)]));
    expect(r).toEqual([403, 'insufficient_permission', 'missing permission read:models']);
    expect((await grpcCall('HEAD', '/api/v1/models', [bearer(viewer)])).outcome).toBe('upstream');
  });

  it.each([
    ['PUT', '/api/v1/models'],
    ['PUT', '/api/v1/completions'],
    ['DELETE', '/api/v1/completions'],
  ])('%s %s: 405 method_not_allowed', async (method, path) => {
    for (const [who, cred] of callers()) {
      expect(denial(await grpcCall(method, path, [cred])), who).toEqual([405, 'method_not_allowed', `${method} is not allowed on this path`]);
    }
  });

  it('case does not escape a route: /API/V1/ADMIN/users needs admin:*', async () => {
    expect(denial(await grpcCall('GET', '/API/V1/ADMIN/users', [bearer(viewer)]))).toEqual([403, 'insufficient_permission', 'missing permission admin:*']);
  });

  it('a ";" path parameter is refused', async () => {
    expect(denial(await grpcCall('GET', '/api/v1/admin;/users', [bearer(viewer)]))[0]).toBe(400);
    // Encoded, as the attack suite found: "admin;" was another resource to the route table, under /api/v1/*.
    expect(denial(await grpcCall('GET', '/api/v1/admin%3b/users', [bearer(viewer)]))[0]).toBe(400);
  });

  it('/api/v1/Completions gets the GenAI model and token limits', async () => {
    const r = await t.envoy({ method: 'POST', path: '/api/v1/Completions', headers: [bearer(await mint({ sub: 'alice' })), ['content-type', 'application/json']], body: '{"model":"gpt-4o","max_tokens":999999}' });
    expect(denial(r)[1]).toMatch(/^(model_not_allowed|token_limit_exceeded|insufficient_permission)$/);
  });

  it('a path outside the table is refused to every caller', async () => {
    for (const [who, cred] of [...callers(), ['the admin', bearer(adminToken)] as [string, [string, string]]]) {
      expect(denial(await grpcCall('GET', '/internal/debug', [cred])), who).toEqual([403, 'route_not_allowed', 'this route is not open to tenants']);
    }
  });

  it('a key scoped to read:models reaches /api/v1/models and nothing the table leaves open to any identity', async () => {
    expect((await grpcCall('GET', '/api/v1/models', [['x-api-key', scopedKey]])).outcome).toBe('upstream');
    expect(denial(await grpcCall('GET', '/api/v1/items', [['x-api-key', scopedKey]]))).toEqual([403, 'insufficient_permission', "the API key's scopes do not cover this route"]);
  });
});

describe('defect 3: a trailing dot in the host does not skip the tenant check', () => {
  it.each(['globex.api.example.com.', 'globex.api.example.com.:8443', 'GLOBEX.API.EXAMPLE.COM'])('%s with an acme token: 403 tenant_mismatch', async (host) => {
    const r = denial(await grpcCall('GET', '/api/v1/items', [bearer(viewer)], host));
    expect(r[0] + ' ' + r[1]).toBe('403 tenant_mismatch');
    expect(((await httpCall('GET', '/api/v1/items', [bearer(viewer)], host)) as string[]).slice(0, 2)).toEqual([403, 'tenant_mismatch']);
    expect((await grpcCall('GET', '/api/v1/items', [bearer(viewer)], host.replace(/globex/i, 'acme'))).outcome).toBe('upstream');
  });
});

describe('defects 6, 9, 10: bodies', () => {
  const post = (token: string | null, body: string) =>
    t.envoy({ method: 'POST', path: '/api/v1/completions', headers: [...(token ? [bearer(token)] : []), ['content-type', 'application/json']], body });

  it('a deeply nested body gets 400 bad_request, not 503', async () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(denial(await post(viewer, deep))).toEqual([400, 'bad_request', 'the request body is nested deeper than 64 levels']);
    // ...and the server still serves.
    expect((await grpcCall('GET', '/api/v1/items', [bearer(viewer)])).outcome).toBe('upstream');
  });

  it("an anonymous caller's body is never parsed: a public path passes whatever the body, a protected one is 401", async () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const pub = await t.envoy({ method: 'POST', path: '/healthz', headers: [['content-type', 'application/json']], body: deep });
    expect(pub.outcome).toBe('upstream');
    expect(denial(await post(null, deep))[0]).toBe(401);
    expect(denial(await post(null, '{"model":"a","model":"b"}'))[0]).toBe(401);
  });

  it('a repeated key is refused: parsers disagree on which copy wins', async () => {
    expect(denial(await post(await mint({ sub: 'alice' }), '{"model":"gpt-4o-mini","max_tokens":10,"model":"gpt-4o"}'))).toEqual([
      400,
      'bad_request',
      'the request body repeats the key "model" in one object',
    ]);
  });

  it('a completion without max_tokens under a token limit is refused', async () => {
    const r = denial(await post(await mint({ sub: 'alice' }), '{"model":"gpt-4o-mini"}'));
    expect(r[0]).toBe(400);
    expect(r[2]).toMatch(/^max_tokens is required: the token limit is \d+$/);
  });
});
