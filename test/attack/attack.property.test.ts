// The attack suite: properties that must hold for any request an attacker can send, checked with fast-check
// against the real server on loopback (gRPC and HTTP mode). Bounded: about half a minute in `npm test`;
// TENANTGATE_ATTACK_SCALE=20 (`npm run test:soak`) runs twenty times as many cases.
//
// What must hold:
// - no crash, no hang: every CheckRequest gets a CheckResponse with a status, except bytes that are not a
//   CheckRequest, which get INVALID_ARGUMENT (never INTERNAL or UNKNOWN);
// - no allow without a valid credential, except on public paths;
// - no forged credential is accepted (alg none, HS/RS confusion, kid and jku tricks, expiry, nbf, iss, aud);
// - no route is reached without its permission, however the path is spelled (case, dots, slashes, ";",
//   percent-encoding), whichever way an upstream would read it;
// - no cross-tenant allow, and no spoofed trusted header reaches the upstream, in either mode;
// - deep and huge bodies get a 4xx, never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import * as jose from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import protobuf from 'protobufjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, bearer, mint, startTestServer, testKeys, type TestServer } from '../support/server.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { ENVOY_PROTO_DIRS } from '../../src/check/protos.js';
import { DOCUMENTED_TRUSTED_HEADERS } from '../support/documented.js';

const SCALE = Math.max(1, Number(process.env.TENANTGATE_ATTACK_SCALE ?? 1));
const runs = (n: number) => ({ numRuns: n * SCALE });

const TRUSTED = DOCUMENTED_TRUSTED_HEADERS;
const PUBLIC_PREFIXES = ['/healthz', '/.well-known'];

let t: TestServer;
let viewer: string; // acme, viewer: read only, no admin
let globexToken: string;
beforeAll(async () => {
  t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, tenancy: { host_suffixes: ['.api.example.com'] }, quota: { enabled: false } } });
  t.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'vera', group_id: 'viewer' }));
  [viewer, globexToken] = await Promise.all([mint({ sub: 'vera' }), mint({ tenant: 'globex', sub: 'gil' })]);
});
afterAll(async () => {
  await t?.close();
});

const text = (max = 16) => fc.string({ maxLength: max, unit: fc.constantFrom(...'abcAZ09-_./;%:?&=#\\ \u00e9\u0000\r\n'.split('')) });

/** Every way an upstream might read a raw path: as sent, decoded, without ;params, dots resolved, lower case. */
function readings(raw: string): string[] {
  const path = raw.split('?')[0]!.split('#')[0]!;
  const out = new Set<string>();
  const variants = [path];
  try {
    variants.push(decodeURIComponent(path));
  } catch {
    // not decodable: the upstream sees it as is
  }
  for (const v of variants) {
    for (const w of [v, v.replace(/;[^/]*/g, ''), v.replace(/\\/g, '/')]) {
      const segs: string[] = [];
      for (const s of w.split('/')) {
        if (s === '' || s === '.') continue;
        if (s === '..') segs.pop();
        else segs.push(s);
      }
      for (const x of [w, '/' + segs.join('/')]) {
        out.add(x);
        out.add(x.toLowerCase());
      }
    }
  }
  return [...out];
}

const reachesAdmin = (raw: string) => readings(raw).some((p) => /^\/+api\/+v1\/+admin(\/|$)/.test(p));

describe('attack suite', () => {
  it('fuzzed CheckRequests: always a CheckResponse, never an allow without a credential but on public paths', async () => {
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'G ET', ''),
      path: fc.oneof(text(30).map((s) => '/' + s), text(30), fc.constantFrom('/healthz', '/api/v1/admin/', '/api/v1/models', '*')),
      host: fc.oneof(text(20), fc.constantFrom('globex.api.example.com.', 'acme.api.example.com:443')),
      headers: fc.array(fc.tuple(fc.oneof(text(10), fc.constantFrom(...TRUSTED, 'authorization', 'x-api-key', 'content-type', 'content-length', 'x-federation-token')), text(40)), { maxLength: 8 }),
      body: fc.option(fc.oneof(text(60), fc.json()), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(request, async (spec) => {
        const r = await t.envoy({ ...spec, headers: spec.headers }, { timeoutMs: 5000 });
        expect(r.outcome).not.toBe('error');
        if (r.outcome === 'denied') {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(JSON.parse(r.body).error).toMatch(/^[a-z_]+$/);
        }
        if (r.outcome === 'upstream') {
          const path = spec.path.split('?')[0]!;
          expect(PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(p + '/')), `allowed ${spec.method} ${spec.path} without a credential`).toBe(true);
          for (const h of TRUSTED) if (h !== 'x-decision-id') expect(r.headers[h], h).toBeUndefined();
        }
      }),
      runs(600),
    );
  });

  it('raw protobuf mutations: a CheckResponse or INVALID_ARGUMENT, nothing else, and the server keeps serving', async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_o, target) => ENVOY_PROTO_DIRS.map((d) => join(d, target)).find(existsSync) ?? target;
    root.loadSync('envoy/service/auth/v3/external_auth.proto');
    const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
    const seed = Buffer.from(CheckRequest.encode(CheckRequest.fromObject(buildCheckRequest({ method: 'GET', path: '/api/v1/admin/users', headers: [bearer(viewer)] }))).finish());
    const call = (bytes: Buffer) =>
      new Promise<{ err: grpc.ServiceError | null; res: Buffer | undefined }>((resolve) =>
        t.client.makeUnaryRequest('/envoy.service.auth.v3.Authorization/Check', (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => resolve({ err, res })),
      );
    const CheckResponse = root.lookupType('envoy.service.auth.v3.CheckResponse');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), async (flips, cut) => {
        const bytes = Buffer.from(seed);
        for (const [at, b] of flips) bytes[at % bytes.length] = b;
        const { err, res } = await call(bytes.subarray(0, cut % 3 === 0 ? bytes.length : cut % bytes.length));
        if (err) expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
        else {
          const msg = CheckResponse.decode(res!) as unknown as { status?: { code?: number }; okResponse?: { headers?: { header?: { key?: string; value?: string } }[] } };
          // A mutated admin request is never allowed onto the admin route for a viewer.
          if ((msg.status?.code ?? 0) === 0) {
            const tenant = msg.okResponse?.headers?.find((h) => h.header?.key === 'x-tenant-id')?.header?.value;
            expect(tenant === undefined || tenant === 'acme').toBe(true);
          }
        }
      }),
      runs(1000),
    );
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(viewer)] })).outcome).toBe('upstream');
  });

  it('forged credentials: every one is refused 401', async () => {
    const keys = await testKeys();
    const now = Math.floor(Date.now() / 1000);
    const claims = { tenant_id: 'acme', sub: 'vera', iss: ISSUER, aud: AUDIENCE, exp: now + 3600, iat: now };
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const rsaPublicJwk = keys.jwks.keys.find((k) => k.kid === 'rs-1')!;
    const rsaPublicPem = (await jose.exportSPKI(await jose.importJWK(rsaPublicJwk, 'RS256') as import('node:crypto').webcrypto.CryptoKey));
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signEs = (header: Record<string, unknown>, body: Record<string, unknown>, key: import('node:crypto').webcrypto.CryptoKey | import('node:crypto').KeyObject = keys.es256.privateKey) =>
      new jose.SignJWT(body).setProtectedHeader({ alg: 'ES256', ...header }).sign(key);
    const forged: [string, Promise<string> | string][] = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
      ['alg none, kid of a real key', `${b64({ alg: 'none', kid: 'es-1' })}.${b64(claims)}.`],
      ['HS256 signed with the RSA public key', new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rs-1' }).sign(new TextEncoder().encode(rsaPublicPem))],
      ['an attacker key, kid of a real key', signEs({ kid: 'es-1' }, claims, attacker.privateKey)],
      ['an attacker key, jku to its own JWKS', signEs({ kid: 'evil', jku: 'http://127.0.0.1:1/jwks.json' }, claims, attacker.privateKey)],
      ['kid path traversal', signEs({ kid: '../../../../dev/null' }, claims, attacker.privateKey)],
      ['embedded jwk of the attacker', signEs({ jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }, claims, attacker.privateKey)],
      ['expired', signEs({ kid: 'es-1' }, { ...claims, exp: now - 3600 })],
      ['not valid yet (nbf)', signEs({ kid: 'es-1' }, { ...claims, nbf: now + 3600 })],
      ['issued in the future (iat)', signEs({ kid: 'es-1' }, { ...claims, iat: now + 3600, exp: now + 7200 })],
      ['wrong issuer', signEs({ kid: 'es-1' }, { ...claims, iss: 'https://evil.test/' })],
      ['wrong audience', signEs({ kid: 'es-1' }, { ...claims, aud: 'someone-else' })],
      ['no exp', signEs({ kid: 'es-1' }, { tenant_id: 'acme', sub: 'vera', iss: ISSUER, aud: AUDIENCE })],
      ['a numeric tenant', signEs({ kid: 'es-1' }, { ...claims, tenant_id: 1 })],
      ['a truncated signature', mint().then((tk) => tk.slice(0, -5))],
      ['a swapped payload', mint({ tenant: 'globex' }).then(async (g) => { const a = await mint(); return `${a.split('.')[0]}.${g.split('.')[1]}.${a.split('.')[2]}`; })],
    ];
    for (const [what, tokenP] of forged) {
      const token = await tokenP;
      for (const path of ['/api/v1/items', '/api/v1/models']) {
        const r = await t.envoy({ method: 'GET', path, headers: [bearer(token)] });
        expect(r.outcome, what).toBe('denied');
        if (r.outcome === 'denied') expect(r.status, what).toBe(401);
      }
    }
  });

  it('path and host tricks: a viewer never reaches the admin route, however the path is spelled', async () => {
    const piece = fc.constantFrom('api', 'v1', 'admin', 'ADMIN', 'Admin', 'users', '.', '..', '', '%2e', '%2E%2E', '%2f', 'admin;', ';x', 'admin%3b', '%61dmin', 'models', 'healthz', '.well-known', '\\', 'x');
    const path = fc.array(piece, { minLength: 1, maxLength: 7 }).map((ps) => '/' + ps.join('/'));
    const trailer = fc.constantFrom('', '/', '?op=delete', '/.', '#x', '/..;/');
    await fc.assert(
      fc.asyncProperty(fc.oneof(path, fc.constant('/api/v1/admin')), trailer, fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'), async (p, tail, method) => {
        const raw = p + tail;
        for (const mode of ['grpc', 'http'] as const) {
          const allowed =
            mode === 'grpc'
              ? (await t.envoy({ method, path: raw, headers: [bearer(viewer)] })).outcome === 'upstream'
              : (await fetch(`http://${t.server.httpAddress}/authz`, { headers: { 'x-forwarded-method': method, 'x-forwarded-uri': raw, authorization: `Bearer ${viewer}` } })).status === 200;
          if (allowed) expect(reachesAdmin(raw), `${mode} allowed ${method} ${raw}`).toBe(false);
        }
      }),
      runs(800),
    );
  });

  it('cross-tenant: an acme credential never gets globex headers, whatever the request names', async () => {
    const hint = fc.record({
      header: fc.option(fc.constantFrom('globex', 'GLOBEX', 'globex,acme', 'acme,globex', ' globex'), { nil: undefined }),
      path: fc.constantFrom('/tenants/globex/items', '/tenants/acme/items', '/api/v1/items', '/tenants/Globex/x', '/%74enants/globex/x'),
      host: fc.constantFrom('globex.api.example.com', 'globex.api.example.com.', 'GLOBEX.api.example.com:8443', 'acme.api.example.com', 'localhost'),
      ext: fc.option(fc.constantFrom('globex', 'acme'), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(hint, async (h) => {
        const headers: [string, string][] = [bearer(viewer)];
        if (h.header !== undefined) headers.push(['x-tenant-id', h.header]);
        const r = await t.envoy({ method: 'GET', path: h.path, host: h.host, headers, contextExtensions: h.ext ? { tenant_id: h.ext } : {} });
        if (r.outcome === 'upstream') {
          expect(r.headers['x-tenant-id']).toEqual(['acme']);
          const named = [h.header, h.ext, h.path, h.host].join(' ').toLowerCase();
          expect(named.includes('globex') && !/^(acme|localhost)/.test(h.host) && h.path !== '/api/v1/items', `allowed ${JSON.stringify(h)}`).toBe(false);
        }
      }),
      runs(300),
    );
    // And the other way round: a globex token on acme's host.
    const r = await t.envoy({ method: 'GET', path: '/api/v1/items', host: 'acme.api.example.com.', headers: [bearer(globexToken)] });
    expect(r.outcome).toBe('denied');
  });

  it('spoofed trusted headers: none reaches the upstream, in gRPC or HTTP mode', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(TRUSTED, { minLength: 1 }), fc.constantFrom('/api/v1/items', '/api/v1/models', '/healthz'), async (names, path) => {
        const spoof = names.map((n) => [n, 'spoofed'] as [string, string]);
        const g = await t.envoy({ method: 'GET', path, headers: [bearer(viewer), ...spoof] });
        if (g.outcome === 'upstream') for (const n of TRUSTED) expect(g.headers[n] ?? [], n).not.toContain('spoofed');
        const res = await fetch(`http://${t.server.httpAddress}/authz${path}`, { headers: { authorization: `Bearer ${viewer}`, ...Object.fromEntries(spoof) } });
        if (res.status === 200) {
          const removed = (res.headers.get('x-envoy-auth-headers-to-remove') ?? '').split(',');
          for (const n of TRUSTED) {
            const v = res.headers.get(n);
            expect(v, n).not.toBe('spoofed');
            // Every trusted header is answered: set by tenantgate, or sent empty and named for removal.
            expect(v !== null && (v !== '' || removed.includes(n)), n).toBe(true);
          }
        }
      }),
      runs(150),
    );
  });

  it('deep and huge bodies: never a 5xx or an RPC error, for anonymous and authenticated callers', async () => {
    const body = fc.oneof(
      fc.integer({ min: 1, max: 100_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.integer({ min: 1, max: 50_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
      fc.integer({ min: 1, max: 4 }).map((mb) => `{"model":"${'x'.repeat(mb * 1024 * 1024)}","max_tokens":1}`),
      fc.json({ maxDepth: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (b, authenticated) => {
        const headers: [string, string][] = [['content-type', 'application/json']];
        if (authenticated) headers.push(bearer(viewer));
        const r = await t.envoy({ method: 'POST', path: '/api/v1/completions', headers, body: b }, { timeoutMs: 10_000 });
        // An allow is possible (a viewer may use completions); an RPC error or a 5xx is not.
        expect(r.outcome).not.toBe('error');
        if (!authenticated) expect(r.outcome).toBe('denied');
        if (r.outcome === 'denied') {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
        }
      }),
      runs(40),
    );
  });
});
