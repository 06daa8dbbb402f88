// The HTTP mode through a fake CheckService: how each gateway's request becomes a check, and how the answer goes
// back (allow headers and removals, nginx's status mapping and replay).
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { HttpAuthz } from '../../src/http/authz.js';
import type { CheckService } from '../../src/check/service.js';

type Seen = { method: string; path: string; host: string; headers: Record<string, string>; source: unknown };

function fake(response: Record<string, unknown>, clientAddressHeader?: string) {
  const seen: Seen[] = [];
  const service = {
    checkParts: async (p: { method: string; path: string; host: string; headers: Record<string, string>; source: unknown }) => {
      seen.push({ method: p.method, path: p.path, host: p.host, headers: p.headers, source: p.source });
      return { response, outcome: { decisionId: 'd-1' } };
    },
  } as unknown as CheckService;
  return { authz: new HttpAuthz(service, '/authz', clientAddressHeader), seen };
}

const req = (url: string, headers: Record<string, string>, method = 'GET') => ({ url, method, headers, httpVersion: '1.1', socket: { remoteAddress: '127.0.0.1', remotePort: 1 } }) as unknown as IncomingMessage;
const ALLOW = { status: { code: 0 }, okResponse: { headers: [{ header: { key: 'x-tenant-id', value: 'acme' } }], headersToRemove: ['x-api-key-id', 'x-tenant-upstream'], responseHeadersToAdd: [{ header: { key: 'ratelimit', value: 'r=1' } }] } };
const DENY = (status: number) => ({ status: { code: 7 }, deniedResponse: { status: { code: status }, headers: [{ header: { key: 'content-type', value: 'application/json' } }], body: '{"error":"x"}' } });

describe('HttpAuthz', () => {
  it('Envoy http_service: the original method and the path after /authz', async () => {
    const { authz, seen } = fake(ALLOW);
    await authz.handle(req('/authz/api/v1/items?q=1', { host: 'api.example.com', authorization: 'Bearer t' }, 'POST'), undefined);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/api/v1/items?q=1', host: 'api.example.com' });
    expect(seen[0]!.headers.authorization).toBe('Bearer t');
  });

  it('a header named "__proto__" is passed on as a header like any other', async () => {
    const { authz, seen } = fake(ALLOW);
    await authz.handle(req('/authz/x', JSON.parse('{"__proto__": "a", "constructor": "b"}') as Record<string, string>), undefined);
    expect(Object.hasOwn(seen[0]!.headers, '__proto__')).toBe(true);
    expect([seen[0]!.headers['__proto__'], seen[0]!.headers['constructor']]).toEqual(['a', 'b']);
  });

  it('forward auth: x-forwarded-method, -uri and -host, which are not passed on as request headers', async () => {
    const { authz, seen } = fake(ALLOW);
    await authz.handle(req('/authz', { 'x-forwarded-method': 'delete', 'x-forwarded-uri': '/api/v1/x', 'x-forwarded-host': 'acme.example.com' }), undefined);
    expect(seen[0]).toMatchObject({ method: 'DELETE', path: '/api/v1/x', host: 'acme.example.com' });
    expect(seen[0]!.headers['x-forwarded-uri']).toBeUndefined();
  });

  it('an allow sets the upstream headers, and sends the removed ones empty and named in x-envoy-auth-headers-to-remove', async () => {
    const { authz } = fake(ALLOW);
    const a = await authz.handle(req('/authz/x', {}), undefined);
    expect(a).toEqual({ status: 200, body: '', headers: { 'x-tenant-id': 'acme', ratelimit: 'r=1', 'x-api-key-id': '', 'x-tenant-upstream': '', 'x-envoy-auth-headers-to-remove': 'x-api-key-id,x-tenant-upstream' } });
  });

  it('nginx: 401/403 pass, others become 403 with x-authz-status, and the full answer is kept for /decisions', async () => {
    const { authz } = fake(DENY(429));
    const a = await authz.handle(req('/authz', { 'x-original-uri': '/api/v1/x' }), undefined);
    expect([a.status, a.headers['x-authz-status']]).toEqual([403, '429']);
    expect(authz.replay('d-1')).toMatchObject({ status: 429, body: '{"error":"x"}' });
    const { authz: other } = fake(DENY(401));
    expect((await other.handle(req('/authz', { 'x-original-uri': '/api/v1/x' }), undefined)).status).toBe(401);
  });

  it('refuses a request that names no original request', async () => {
    const { authz, seen } = fake(ALLOW);
    expect((await authz.handle(req('/authz', {}), undefined)).status).toBe(400);
    expect(seen).toHaveLength(0);
  });

  it("takes the client's address from the gateway's header when configured, else from the connection", async () => {
    const address = (x: Seen) => (x.source as { address: { socketAddress: { address: string } } }).address.socketAddress.address;
    const plain = fake(ALLOW);
    await plain.authz.handle(req('/authz/x', { 'x-real-ip': '203.0.113.9' }), undefined);
    expect(address(plain.seen[0]!)).toBe('127.0.0.1');
    const named = fake(ALLOW, 'x-real-ip');
    for (const v of ['203.0.113.9', ' 2001:db8::1 ', '203.0.113.9, 10.0.0.1', 'unknown']) await named.authz.handle(req('/authz/x', { 'x-real-ip': v }), undefined);
    await named.authz.handle(req('/authz/x', {}), undefined);
    expect(named.seen.map(address)).toEqual(['203.0.113.9', '2001:db8::1', '', '', '']);
  });
});
