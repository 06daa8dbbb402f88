// End to end through a real nginx with auth_request (envoy/nginx-auth-request.conf, as shipped) in front of a
// small upstream: allowed requests reach it with the enriched headers, spoofed tenant headers never do, and
// denied requests get the right status and JSON body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mint, startTestServer, type TestServer } from '../support/server.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { DOCUMENTED_TRUSTED_HEADERS as TRUSTED_HEADERS } from '../support/documented.js';
import { prepareTenantPolicy } from '../../src/tenant-rules/upload.js';

const ROOT = resolve(__dirname, '..', '..');
let t: TestServer;
let nginx: Nginx;
let upstream: Server;
let base: string;
const seen: Record<string, string | string[] | undefined>[] = [];

beforeAll(async () => {
  t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0', http_client_address_header: 'x-real-ip' } } });
  t.admin((a) => {
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'analyst' });
    a.quotaSet('globex', 'tenant', 'globex', { per_minute: 1 });
  });
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const appPort = (upstream.address() as { port: number }).port;
  const conf = readFileSync(join(ROOT, 'envoy', 'nginx-auth-request.conf'), 'utf8')
    .replace('server 127.0.0.1:9192;', `server ${t.server.httpAddress};`)
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${appPort};`);
  nginx = await startNginx((port) => conf.replace('listen 8000;', `listen 127.0.0.1:${port};`));
  base = `http://127.0.0.1:${nginx.port}`;
});
afterAll(async () => {
  await nginx?.stop();
  upstream?.close();
  await t?.close();
});

describe('nginx auth_request', () => {
  it('lets an allowed request reach the upstream with the enriched headers, and no spoofed ones', async () => {
    const spoof = Object.fromEntries(TRUSTED_HEADERS.map((h) => [h, 'spoofed']));
    const res = await fetch(`${base}/api/v1/items?x=1`, { headers: { ...spoof, authorization: `Bearer ${await mint({ tenant: 'acme', sub: 'alice' })}`, 'x-tenant-id': 'acme' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, path: '/api/v1/items?x=1' });
    const h = seen.at(-1)!;
    expect([h['x-tenant-id'], h['x-tenant-tier'], h['x-user-id'], h['x-user-groups'], h['x-data-access-level'], h['x-tenant-partition']]).toEqual([
      'acme', 'premium', 'alice', 'analyst', 'internal', 'TENANT#acme',
    ]);
    for (const name of TRUSTED_HEADERS) expect(h[name], name).not.toBe('spoofed');
    expect(res.headers.get('ratelimit')).toMatch(/"tenant-burst";r=\d+/);
  });

  it('never lets a spoofed tenant header through, even on a public path', async () => {
    const res = await fetch(`${base}/healthz`, { headers: { 'x-tenant-id': 'globex', 'x-user-id': 'root' } });
    expect(res.status).toBe(200);
    const h = seen.at(-1)!;
    expect(h['x-tenant-id']).toBeUndefined();
    expect(h['x-user-id']).toBeUndefined();
  });

  it('answers 401 with the JSON body and www-authenticate', async () => {
    const before = seen.length;
    const res = await fetch(`${base}/api/v1/items`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tenantgate"');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({ error: 'unauthenticated', reason: 'credentials are required' });
    expect(seen.length).toBe(before);
  });

  it('answers 403 tenant_mismatch', async () => {
    const res = await fetch(`${base}/tenants/globex/items`, { headers: { authorization: `Bearer ${await mint({ tenant: 'acme' })}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('tenant_mismatch');
  });

  it('answers 429 with retry-after, not nginx\'s 500, and 400 for a bad request', async () => {
    const token = await mint({ tenant: 'globex', sub: 'g' });
    expect((await fetch(`${base}/api/v1/items`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const res = await fetch(`${base}/api/v1/items`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: string }).error).toBe('quota_exceeded');
    const bad = await fetch(`${base}/api/v1/items`, { headers: { authorization: `Bearer ${await mint({ tenant: 'acme' })}`, 'x-tenant-id': 'Not_Valid' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_tenant_id');
  });
});

describe('other gateways over HTTP', () => {
  const authz = (path: string, headers: Record<string, string>, method = 'GET') => fetch(`http://${t.server.httpAddress}${path}`, { method, headers });

  it('Envoy http_service: the original path after /authz, the original method', async () => {
    const ok = await authz('/authz/api/v1/items?q=1', { authorization: `Bearer ${await mint({ tenant: 'acme', sub: 'alice' })}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-tenant-id')).toBe('acme');
    expect(ok.headers.get('x-user-groups')).toBe('analyst');
    const denied = await authz('/authz/api/v1/models', { authorization: `Bearer ${await mint({ tenant: 'acme', sub: 'carol' })}` }, 'POST');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: 'insufficient_permission', reason: 'missing permission write:models' });
  });

  it('Traefik / APISIX forward auth: x-forwarded-method and x-forwarded-uri; statuses pass as they are', async () => {
    const ok = await authz('/authz', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/models', 'x-forwarded-host': 'api.example.com', authorization: `Bearer ${await mint({ tenant: 'acme', sub: 'alice' })}` });
    expect(ok.status).toBe(200);
    const token = await mint({ tenant: 'globex', sub: 'quota-user' });
    await authz('/authz', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/x', authorization: `Bearer ${token}` });
    const limited = await authz('/authz', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/x', authorization: `Bearer ${token}` });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toContain('"tenant-minute";q=1;w=60');
  });


  it('sets or removes every trusted header on an allow, so no spoofed copy reaches the upstream', async () => {
    const spoof = Object.fromEntries(TRUSTED_HEADERS.map((h) => [h, 'spoofed']));
    const ok = await authz('/authz', { ...spoof, 'x-tenant-id': 'acme', 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/items', authorization: `Bearer ${await mint({ tenant: 'acme', sub: 'alice' })}` });
    expect(ok.status).toBe(200);
    const removed = ok.headers.get('x-envoy-auth-headers-to-remove')!.split(',');
    for (const h of TRUSTED_HEADERS) {
      const value = ok.headers.get(h);
      // Set by tenantgate (a real value), or sent empty and named for removal.
      expect(value, h).not.toBe('spoofed');
      expect(value !== null && (value !== '' || removed.includes(h)), h).toBe(true);
    }
    for (const h of ['x-tenant-upstream', 'x-federation-source', 'x-federation-access', 'x-api-key-id', 'x-upstream-provider', 'x-policy-revision']) {
      expect(ok.headers.get(h), h).toBe('');
      expect(removed, h).toContain(h);
    }
    expect(ok.headers.get('x-tenant-id')).toBe('acme');
    expect(removed).not.toContain('x-tenant-id');
  });

  it('refuses /authz without the original request', async () => {
    const r = await authz('/authz', {});
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe('bad_request');
  });

  it("tenant rules' networks see the client's address as nginx sets it (X-Real-IP), never a client's copy", async () => {
    const office = await prepareTenantPolicy('acme', { rules: [{ name: 'office', source_ips: { allow: ['10.0.0.0/8'] } }] });
    await t.change((a) => a.tenantPolicySet('acme', office));
    const token = await mint({ tenant: 'acme', sub: 'alice' });
    const res = await fetch(`${base}/api/v1/items`, { headers: { authorization: `Bearer ${token}`, 'x-real-ip': '10.9.9.9' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'network_not_allowed', reason: 'tenant rule "office": the source address 127.0.0.1 is not in the allowed networks' });
    const local = await prepareTenantPolicy('acme', { rules: [{ name: 'office', source_ips: { allow: ['127.0.0.0/8'] } }] });
    await t.change((a) => a.tenantPolicySet('acme', local));
    expect((await fetch(`${base}/api/v1/items`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await t.change((a) => a.tenantPolicyDelete('acme'));
  });
});
