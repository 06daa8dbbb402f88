// CheckRequests built from Envoy's own protos, field by field as Envoy's CheckRequestUtils fills them, encoded to
// bytes and sent raw; the answer decoded with Envoy's CheckResponse. Nothing of tenantgate's request builder or
// client is used, so a mistake in those cannot hide one in the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';

const require = createRequire(import.meta.url);
const xds = join(require.resolve('@grpc/grpc-js-xds/package.json'), '..', 'deps');
const root = new protobuf.Root();
root.resolvePath = (_o, target) => ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(xds, d, target)).find(existsSync) ?? target;
root.loadSync('envoy/service/auth/v3/external_auth.proto');
const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponse = root.lookupType('envoy.service.auth.v3.CheckResponse');

interface Answer {
  status?: { code?: number };
  okResponse?: { headers?: { header: { key: string; value: string }; append?: { value: boolean } }[]; headersToRemove?: string[] };
  deniedResponse?: { status?: { code?: number }; headers?: { header: { key: string; value: string } }[]; body?: string };
}

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => t?.close());

function send(message: Record<string, unknown>): Promise<Answer> {
  const err = CheckRequest.verify(message);
  if (err) throw new Error(err);
  const bytes = Buffer.from(CheckRequest.encode(CheckRequest.fromObject(message)).finish());
  return new Promise((resolve, reject) =>
    t.client.makeUnaryRequest('/envoy.service.auth.v3.Authorization/Check', (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, res) =>
      e ? reject(e) : resolve(CheckResponse.toObject(CheckResponse.decode(res!), { enums: Number }) as Answer),
    ),
  );
}

/** An HTTP/1.1 GET as Envoy describes it: pseudo-headers in the map, the path with its query, a stream id. */
function envoyGet(path: string, extra: Record<string, string>, useHeaderMap = false): Record<string, unknown> {
  const headers: Record<string, string> = { ':authority': 'api.example.com', ':method': 'GET', ':path': path, ':scheme': 'https', 'x-request-id': '1b4e28ba-2fa1-11d2-883f-0016d3cca427', 'user-agent': 'curl/8.5.0', ...extra };
  const http: Record<string, unknown> = { id: '14695981039346656037', method: 'GET', path, host: 'api.example.com', scheme: 'https', size: 0, protocol: 'HTTP/1.1' };
  if (useHeaderMap) http.headerMap = { headers: Object.entries(headers).map(([key, value]) => ({ key, rawValue: Buffer.from(value) })) };
  else http.headers = headers;
  return {
    attributes: {
      source: { address: { socketAddress: { address: '203.0.113.7', portValue: 51234 } } },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8443 } } },
      request: { time: { seconds: Math.floor(Date.now() / 1000), nanos: 0 }, http },
      contextExtensions: { route: 'api' },
    },
  };
}

describe('CheckRequests built from Envoy protos', () => {
  it.each([false, true])('allow (header_map: %s): status OK, trusted headers set with append false, the others removed', async (useHeaderMap) => {
    const [, auth] = bearer(await mint({ tenant: 'acme', sub: 'alice' }));
    const a = await send(envoyGet('/api/v1/items?page=2', { authorization: auth, 'x-user-id': 'mallory' }, useHeaderMap));
    expect(a.status?.code ?? 0).toBe(0);
    const set = Object.fromEntries((a.okResponse?.headers ?? []).map((h) => [h.header.key, h.header.value]));
    expect(set['x-tenant-id']).toBe('acme');
    expect(set['x-user-id']).toBe('alice');
    expect(set['x-tenant-partition']).toBe('TENANT#acme');
    for (const h of a.okResponse?.headers ?? []) expect(h.append).toEqual({ value: false });
    expect(a.okResponse?.headersToRemove).toEqual(expect.arrayContaining(['x-tenant-upstream', 'x-api-key-id', 'x-federation-source']));
    expect(a.okResponse?.headersToRemove).not.toContain('x-tenant-id');
  });

  it('deny: 401 in status (UNAUTHENTICATED) and denied_response, JSON body and www-authenticate', async () => {
    const a = await send(envoyGet('/api/v1/items', {}));
    expect(a.status?.code).toBe(16);
    expect(a.deniedResponse?.status?.code).toBe(401);
    const headers = Object.fromEntries((a.deniedResponse?.headers ?? []).map((h) => [h.header.key, h.header.value]));
    expect(headers['content-type']).toBe('application/json');
    expect(headers['www-authenticate']).toBe('Bearer realm="tenantgate"');
    expect(JSON.parse(a.deniedResponse!.body!)).toMatchObject({ error: 'unauthenticated', reason: 'credentials are required' });
  });

  it('a tenant named by the path that is not the credential\'s: 403 PERMISSION_DENIED tenant_mismatch', async () => {
    const [, auth] = bearer(await mint({ tenant: 'acme' }));
    const a = await send(envoyGet('/tenants/globex/items', { authorization: auth }));
    expect([a.status?.code, a.deniedResponse?.status?.code, JSON.parse(a.deniedResponse!.body!).error]).toEqual([7, 403, 'tenant_mismatch']);
  });
});
