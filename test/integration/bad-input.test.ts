// Hostile and broken CheckRequests: each gets a clear 400/401/403 decision in `status` (never an RPC error,
// a hang or a crash), and the server keeps serving after all of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { internalsOf } from '../../src/server.js';
import { AUDIENCE, ISSUER, bearer, mint, startTestServer, testKeys, waitFor, type TestServer } from '../support/server.js';
import { startJwksServer } from '../support/jwks-server.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import type { EnvoyResult } from '../support/envoy.js';
import { createLogger } from '../../src/telemetry/logger.js';

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer();
  token = await mint({ tenant: 'acme' });
});
afterAll(async () => {
  await t?.close();
});

function denied(r: EnvoyResult): { status: number; grpc: number; error: string; reason: string } {
  if (r.outcome !== 'denied') throw new Error(`expected a denial, got ${r.outcome}`);
  const body = JSON.parse(r.body);
  return { status: r.status, grpc: r.grpcStatus, error: body.error, reason: body.reason };
}

const raw = (rawRequest: unknown) => t.envoy({ method: 'GET', path: '/' }, { rawRequest });

describe('malformed requests', () => {
  it('an empty CheckRequest: 400 bad_request', async () => {
    expect(denied(await raw({}))).toMatchObject({ status: 400, grpc: 3, error: 'bad_request' });
  });

  it('a CheckRequest without request.http (network filter shape): 400 bad_request', async () => {
    const r = denied(await raw({ attributes: { source: { address: { socketAddress: { address: '10.0.0.1', portValue: 1 } } } } }));
    expect(r).toMatchObject({ status: 400, error: 'bad_request', reason: 'the check request carries no HTTP request attributes' });
  });

  it('empty method and path fall back to the :method and :path pseudo-headers', async () => {
    const req = buildCheckRequest({ method: 'GET', path: '/tenants/acme/items', headers: [bearer(token)] }) as any;
    req.attributes.request.http.method = '';
    req.attributes.request.http.path = '';
    const r = await raw(req);
    expect(r.outcome).toBe('upstream');
    // And the path from the pseudo-header is what the rules see: another tenant's path is a mismatch.
    const other = buildCheckRequest({ method: 'GET', path: '/tenants/globex/items', headers: [bearer(token)] }) as any;
    other.attributes.request.http.path = '';
    expect(denied(await raw(other)).error).toBe('tenant_mismatch');
  });

  it('a query parameter named like an Object.prototype member is a parameter like any other', async () => {
    for (const q of ['constructor=1', '__proto__=1', 'toString=x&hasOwnProperty=y']) {
      const r = await t.envoy({ method: 'GET', path: `/tenants/acme/items?${q}`, headers: [bearer(token)] });
      expect(r.outcome, q).toBe('upstream');
    }
  });

  it('no method and no path anywhere: 400', async () => {
    const req = { attributes: { request: { http: { headers: { authorization: `Bearer ${token}` } } } } };
    expect(denied(await raw(req))).toMatchObject({ status: 400, error: 'bad_request', reason: 'the request has no method' });
  });

  it('x-tenant-id sent twice (joined "acme,evil") is never read as acme', async () => {
    const r = denied(await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token), ['x-tenant-id', 'acme'], ['x-tenant-id', 'evil']] }));
    expect(r).toMatchObject({ status: 400, grpc: 3, error: 'invalid_tenant_id' });
  });

  it('two bearer tokens (comma-joined authorization): 401 invalid_token', async () => {
    const r = denied(await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token), bearer(await mint({ tenant: 'globex' }))] }));
    expect(r).toMatchObject({ status: 401, grpc: 16, error: 'invalid_token', reason: 'more than one credential in the authorization header' });
  });

  it('a 16 KiB junk token: 401 invalid_token, not echoed', async () => {
    const junk = 'A'.repeat(16 * 1024);
    const res = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['authorization', `Bearer ${junk}`]] });
    expect(denied(res)).toMatchObject({ status: 401, error: 'invalid_token', reason: 'the bearer token is too large' });
    if (res.outcome === 'denied') expect(res.body.length).toBeLessThan(300);
  });

  it('a junk token of normal size: 401 invalid_token', async () => {
    expect(denied(await t.envoy({ method: 'GET', path: '/x', headers: [['authorization', 'Bearer not-a-jwt']] }))).toMatchObject({
      status: 401,
      error: 'invalid_token',
      reason: 'the bearer token is malformed',
    });
    expect(denied(await t.envoy({ method: 'GET', path: '/x', headers: [['authorization', 'Bearer e30.e30.']] }))).toMatchObject({
      status: 401,
      error: 'invalid_token',
    });
    expect(denied(await t.envoy({ method: 'GET', path: '/x', headers: [['authorization', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l']] }))).toMatchObject({
      status: 401,
      error: 'invalid_token',
      reason: 'the authorization scheme must be Bearer',
    });
  });

  it('a malformed bearer token beside an API key: the token is refused first; a good one beside a key: 400', async () => {
    expect(denied(await t.envoy({ method: 'GET', path: '/x', headers: [['authorization', 'Bearer not-a-jwt'], ['x-api-key', 'tg_anything']] }))).toMatchObject({
      status: 401,
      error: 'invalid_token',
      reason: 'the bearer token is malformed',
    });
    expect(denied(await t.envoy({ method: 'GET', path: '/x', headers: [bearer(token), ['x-api-key', 'tg_anything']] }))).toMatchObject({
      status: 400,
      error: 'bad_request',
      reason: 'send either a bearer token or an API key, not both',
    });
  });

  it('non-UTF-8 bytes in raw header values and the path are refused, not crashed on', async () => {
    const req = buildCheckRequest({ method: 'GET', path: '/api/v1/items' }) as any;
    delete req.attributes.request.http.headers;
    req.attributes.request.http.headerMap = {
      headers: [
        { key: ':path', rawValue: Buffer.from('/api/v1/items') },
        { key: 'authorization', rawValue: Buffer.concat([Buffer.from('Bearer '), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]) },
      ],
    };
    expect(denied(await raw(req))).toMatchObject({ status: 401, error: 'invalid_token' });
    const badPath = buildCheckRequest({ method: 'GET', path: '/api/%C3%28/items', headers: [bearer(token)] });
    expect(denied(await raw(badPath))).toMatchObject({ status: 400, error: 'bad_request', reason: 'the request path has an invalid percent-encoding' });
  });

  it('1,000 headers: 400 bad_request', async () => {
    const headers: [string, string][] = [bearer(token)];
    for (let i = 0; i < 1000; i++) headers.push([`x-h-${i}`, 'v']);
    expect(denied(await t.envoy({ method: 'GET', path: '/api/v1/items', headers }))).toMatchObject({
      status: 400,
      error: 'bad_request',
      reason: 'the request has more than 256 headers',
    });
  });

  it('a 10 KiB path: 400 bad_request', async () => {
    const r = denied(await t.envoy({ method: 'GET', path: '/api/' + 'a'.repeat(10 * 1024), headers: [bearer(token)] }));
    expect(r).toMatchObject({ status: 400, error: 'bad_request', reason: 'the request path is longer than 8192 bytes' });
  });

  it.each([
    ['//tenants//globex/items', 'an empty segment'],
    ['/api/../tenants/globex/items', 'a dot segment'],
    ['/api/./v1/%2E%2E/%2E%2E/tenants/globex', 'a dot segment'],
    ['/tenants%2Fglobex%2Fitems', 'an encoded separator'],
    ['/../../tenants/globex', 'a dot segment'],
    ['/api/v1/admin/.', 'a dot segment'],
    ['/api/v1/admin;/users', '";" path parameters'],
    ['/healthz/..;/api/v1/admin/users', '";" path parameters'],
  ])('refuses the ambiguous path %s (%s) with 400, for its own tenant too', async (path, what) => {
    for (const p of [path, path.replace('globex', 'acme')]) {
      expect(denied(await t.envoy({ method: 'GET', path: p, headers: [bearer(token)] }))).toMatchObject({
        status: 400,
        error: 'bad_request',
        reason: `the request path is ambiguous (${what}): upstream servers read such paths differently, so it is refused`,
      });
    }
  });

  it('decodes letters before any rule sees them: /%74enants/globex is /tenants/globex', async () => {
    expect(denied(await t.envoy({ method: 'GET', path: '/%74enants/globex', headers: [bearer(token)] })).error).toBe('tenant_mismatch');
    expect((await t.envoy({ method: 'GET', path: '/%74enants/acme', headers: [bearer(token)] })).outcome).toBe('upstream');
  });

  it('a control character smuggled in by percent-encoding: 400', async () => {
    expect(denied(await t.envoy({ method: 'GET', path: '/api/v1/items%00.json', headers: [bearer(token)] }))).toMatchObject({
      status: 400,
      error: 'bad_request',
    });
  });

  it('a content-length without a forwarded body is no body, not a truncated one', async () => {
    const r = denied(await t.envoy({ method: 'POST', path: '/api/v1/completions', headers: [bearer(token), ['content-type', 'application/json'], ['content-length', '120']] }));
    expect(r).toMatchObject({ status: 403, error: 'insufficient_permission' });
    await t.change((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'analyst' }));
    const r2 = denied(await t.envoy({ method: 'POST', path: '/api/v1/completions', headers: [bearer(token), ['content-type', 'application/json'], ['content-length', '120']] }));
    expect(r2).toMatchObject({ status: 400, error: 'bad_request', reason: 'the request body must be a JSON object' });
    // A body that is not JSON at all says so.
    const r3 = denied(await t.envoy({ method: 'POST', path: '/api/v1/completions', headers: [bearer(token), ['content-type', 'application/json']], body: '{"model": "gpt-4o-mini",' }));
    expect(r3).toMatchObject({ status: 400, error: 'bad_request', reason: 'the request body is not valid JSON' });
  });

  it('a relative path: 400', async () => {
    expect(denied(await t.envoy({ method: 'GET', path: 'api/v1/items', headers: [bearer(token)] }))).toMatchObject({ status: 400 });
  });

  it('a call cancelled while the server holds it leaves the server serving', async () => {
    // A slow JWKS server holds the calls in the server (verifying the token) while they are cancelled.
    const jwks = await startJwksServer((await testKeys()).jwks, 800);
    const s = await startTestServer({ config: { auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_url: jwks.url }] } } } });
    try {
      const check = (s.client as any).Check.bind(s.client);
      const slowToken = await mint();
      const errors: grpc.ServiceError[] = [];
      const calls: grpc.ClientUnaryCall[] = [];
      const done = Promise.all(
        Array.from({ length: 20 }, () =>
          new Promise<void>((resolve) => {
            calls.push(check(buildCheckRequest({ method: 'GET', path: '/api/v1/items', headers: [bearer(slowToken)] }), (err: grpc.ServiceError | null) => {
              if (err) errors.push(err);
              resolve();
            }));
          }),
        ),
      );
      await waitFor(() => jwks.requests > 0, 'a call to be held by the server');
      for (const c of calls) c.cancel();
      await done;
      expect(errors).toHaveLength(20);
      expect(errors.every((e) => e.code === grpc.status.CANCELLED)).toBe(true);
      expect((await s.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(slowToken)] }, { timeoutMs: 5000 })).outcome).toBe('upstream');
    } finally {
      await s.close();
      await jwks.close();
    }
  });
});

describe('a failing store', () => {
  it('fails closed with 503/14 internal_error, logs it with the tenant, and the server keeps answering', async () => {
    const lines: string[] = [];
    const logger = createLogger('error', { write: (s: string) => void lines.push(s) });
    const s = await startTestServer({ logger });
    const newcomer = await mint({ tenant: 'globex', sub: 'gus' });
    internalsOf(s.server).db.close(); // the store goes away under the server
    const r = denied(await s.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(newcomer)] }));
    expect(r).toMatchObject({ status: 503, grpc: 14, error: 'internal_error' });
    const entry = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'check failed');
    expect(entry).toMatchObject({ tenant: 'globex', subject: 'gus', decision_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(JSON.stringify(lines)).not.toContain(newcomer);
    // Requests that need no store still get their decision.
    expect(denied(await s.envoy({ method: 'GET', path: '/api/v1/items' })).status).toBe(401);
    await s.server.shutdown().catch(() => undefined);
    s.client.close();
  });
});

describe('after all of the above', () => {
  it('the server still serves, health included', async () => {
    const r = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
    expect(r.outcome).toBe('upstream');
  });
});

const wrap = (field: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, body.length]), body]);

describe('bytes that are not a CheckRequest', () => {
  // A client that sends raw bytes, bypassing the protobuf encoder.
  const rawCall = (bytes: Buffer) =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      t.client.makeUnaryRequest(
        '/envoy.service.auth.v3.Authorization/Check',
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        (err) => resolve(err),
      );
    });

  it.each([
    ['a truncated length', Buffer.from([0x0a, 0x7f, 0x01])],
    ['an invalid wire type', Buffer.from([0x0f, 0x01])],
    // An entry whose length runs 6 bytes past HttpRequest's end, into bytes that follow at the top level.
    ['a header entry longer than its message', Buffer.concat([wrap(1, wrap(4, wrap(2, Buffer.from([0x1a, 0x0a, 0x0a, 0x01, 0x61])))), Buffer.from([0x12, 0x04, 0x2f, 0x68, 0x69, 0x21])])],
  ])('%s: INVALID_ARGUMENT, and the server keeps serving', async (_what, bytes) => {
    const err = await rawCall(bytes);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^the CheckRequest is not a valid protobuf message: /);
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] })).outcome).toBe('upstream');
  });
});


describe('bytes that are not gRPC on the ext_authz port', () => {
  const port = () => Number(t.server.address.split(':').pop());

  /** Raw bytes on a TCP connection; resolves when the server has closed it or after 500 ms. */
  const raw = (bytes: Buffer | string) =>
    new Promise<void>((resolve) => {
      const s = connect(port(), '127.0.0.1', () => s.write(bytes));
      s.on('data', () => undefined);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      setTimeout(() => (s.destroy(), resolve()), 500);
    });

  /** One HTTP/2 request; the response's status and headers. */
  const h2 = (headers: Record<string, string>, body: Buffer) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${port()}`);
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ...headers });
      let head: Record<string, unknown> = {};
      req.on('response', (h) => (head = { ...h }));
      req.on('trailers', (tr) => (head = { ...head, ...tr }));
      req.on('data', () => undefined);
      req.on('end', () => (session.close(), resolve(head)));
      req.end(body);
    });

  it('HTTP/1.1, random bytes, a broken HTTP/2 preface: the connection goes, the server keeps serving', async () => {
    await raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw(randomBytes(4096));
    await raw(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), randomBytes(2048)]));
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] })).outcome).toBe('upstream');
  });

  it("an answer's headers and trailers are gRPC's own, without the date node:http2 would add", async () => {
    // An empty CheckRequest: a denial (400 bad_request) in an OK call; an unknown method: a status alone.
    const answer = await h2({ ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc' }, Buffer.from([0, 0, 0, 0, 0]));
    expect(Object.keys(answer).sort()).toEqual([':status', 'content-type', 'grpc-accept-encoding', 'grpc-message', 'grpc-status']);
    expect([answer[':status'], answer['grpc-status']]).toEqual([200, '0']);
    const unknown = await h2({ ':path': '/no.Such/Method', 'content-type': 'application/grpc' }, Buffer.from([0, 0, 0, 0, 0]));
    expect(Object.keys(unknown).sort()).toEqual([':status', 'content-type', 'grpc-accept-encoding', 'grpc-message', 'grpc-status']);
  });

  it('a request that is not gRPC: 415; a gRPC frame cut short: INTERNAL, saying so; an unknown method: UNIMPLEMENTED', async () => {
    expect((await h2({ ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'text/plain' }, Buffer.from('x')))[':status']).toBe(415);
    const cut = await h2({ ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc' }, Buffer.from([0, 0, 0, 0, 9, 1, 2]));
    expect([cut['grpc-status'], cut['grpc-message']]).toEqual(['13', 'a unary call takes one whole request message; it sent 0 and part of another']);
    const unknown = await h2({ ':path': '/no.Such/Method', 'content-type': 'application/grpc' }, Buffer.from([0, 0, 0, 0, 0]));
    expect(unknown['grpc-status']).toBe('12');
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] })).outcome).toBe('upstream');
  });
});
