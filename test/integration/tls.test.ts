// TLS and mTLS on every listener (ext_authz gRPC, the HTTP port, the admin API), TLS to Redis and to a JWKS
// server with a private CA; all with real certificates made by openssl for the test. Clients without a
// certificate, with one from another CA or an expired one are refused; a renewed server certificate is served
// without a restart while open connections keep working; the client's principal reaches the policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { bearer, metric, mint, startTestServer, testKeys, ISSUER, AUDIENCE, type TestServer } from '../support/server.js';
import { makeCerts, type Pair, type TestCerts } from '../support/certs.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { envoyCheck } from '../support/envoy.js';
import { callAdmin } from '../../src/admin/api.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startJwksServer } from '../support/jwks-server.js';

let certs: TestCerts;
let t: TestServer;
let good: Pair; // SPIFFE URI SAN
let dnsOnly: Pair;
let subjectOnly: Pair;
let foreign: Pair;
let expired: Pair;
let live: { cert: string; key: string }; // the files the server reads (replaced to renew)

// A policy that shows the client's principal to the upstream, so the test can see what the policy saw.
const PEER_POLICY = `package tenantgate.authz

decision := {"allowed": true, "headers": {"x-peer": object.get(input, ["peer", "principal"], "none"), "x-source-principal": object.get(input.attributes.source, "principal", "none")}}
`;

beforeAll(async () => {
  certs = makeCerts();
  const first = certs.server('server-1', 'first');
  live = { cert: join(certs.dir, 'live.pem'), key: join(certs.dir, 'live.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  good = certs.client({ name: 'envoy', cn: 'envoy', san: 'URI:spiffe://mesh.test/ns/edge/sa/envoy,DNS:envoy.mesh.test' });
  dnsOnly = certs.client({ name: 'gw', cn: 'gw', san: 'DNS:gateway.test' });
  subjectOnly = certs.client({ name: 'plain', cn: 'plain-client' });
  foreign = certs.client({ name: 'foreign', cn: 'foreign', san: 'URI:spiffe://evil.test/x', ca: 'other' });
  expired = certs.client({ name: 'old', cn: 'old', san: 'URI:spiffe://mesh.test/ns/edge/sa/old', expired: true });
  const policies = join(certs.dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'peer.rego'), PEER_POLICY);
  const tls = { cert_file: live.cert, key_file: live.key, client_ca_file: certs.ca, reload_interval_ms: 200 };
  t = await startTestServer({
    config: {
      server: { tls, http_address: '127.0.0.1:0', http_tls: tls, admin_address: '127.0.0.1:0', admin_tls: tls },
      policies: { bundle_file: undefined, dir: policies, watch: false },
    },
    env: { TENANTGATE_ADMIN_TOKEN: 'admin-secret' },
  });
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const files = (p: Pair) => ({ tlsCa: certs.ca, tlsCert: p.cert, tlsKey: p.key });

async function check(creds: { tlsCa?: string; tlsCert?: string; tlsKey?: string }) {
  const client = createAuthClient(t.server.address, creds);
  try {
    return await envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] }, { timeoutMs: 3000 });
  } finally {
    client.close();
  }
}

describe('the ext_authz listener with mTLS', () => {
  it("serves a client with a certificate from the CA, and the policy sees its principal (SPIFFE URI, else DNS, else subject)", async () => {
    for (const [pair, principal] of [
      [good, 'spiffe://mesh.test/ns/edge/sa/envoy'],
      [dnsOnly, 'gateway.test'],
      [subjectOnly, 'CN=plain-client,O=Acme'],
    ] as const) {
      const r = await check(files(pair));
      if (r.outcome !== 'upstream') throw new Error(r.outcome);
      expect(r.headers['x-peer']).toEqual([principal]);
      // Over gRPC, attributes.source is what Envoy says about its own client: not overwritten by the transport.
      expect(r.headers['x-source-principal']).toEqual(['none']);
    }
  });

  it.each([
    ['no certificate', () => ({ tlsCa: certs.ca })],
    ['a certificate from another CA', () => files(foreign)],
    ['an expired certificate', () => files(expired)],
  ])('refuses a client with %s', async (_what, creds) => {
    const r = await check(creds());
    expect(r.outcome).toBe('error');
    if (r.outcome === 'error') expect(r.error.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses a plaintext client', async () => {
    const r = await check({});
    expect(r.outcome).toBe('error');
  });
});

describe('the ext_authz listener with TLS only (no client CA)', () => {
  it('serves a client that presents no certificate, and hands the policy no peer', async () => {
    const s = certs.server('plain-tls', 'plain-tls');
    const policies = join(certs.dir, 'policies');
    const r = await startTestServer({ config: { server: { tls: { cert_file: s.cert, key_file: s.key } }, policies: { bundle_file: undefined, dir: policies, watch: false } } });
    try {
      const client = createAuthClient(r.server.address, { tlsCa: certs.ca });
      const res = await envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] });
      client.close();
      if (res.outcome !== 'upstream') throw new Error(res.outcome);
      expect(res.headers['x-peer']).toEqual(['none']);
      const plain = createAuthClient(r.server.address);
      expect((await envoyCheck(plain, { method: 'GET', path: '/api/v1/items' }, { timeoutMs: 2000 })).outcome).toBe('error');
      plain.close();
    } finally {
      await r.close();
    }
  });
});

describe('the ext_authz listener with optional client certificates (require_client_cert: false)', () => {
  it('hands the policy the principal of a verified certificate only: one from another CA is served as no peer', async () => {
    const s = certs.server('optional-mtls', 'optional-mtls');
    const policies = join(certs.dir, 'policies');
    const tls = { cert_file: s.cert, key_file: s.key, client_ca_file: certs.ca, require_client_cert: false };
    const r = await startTestServer({ config: { server: { tls }, policies: { bundle_file: undefined, dir: policies, watch: false } } });
    try {
      const peerSeen = async (creds: { tlsCa?: string; tlsCert?: string; tlsKey?: string }) => {
        const client = createAuthClient(r.server.address, creds);
        const res = await envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] }, { timeoutMs: 3000 });
        client.close();
        if (res.outcome !== 'upstream') throw new Error(res.outcome);
        return res.headers['x-peer'];
      };
      expect(await peerSeen(files(good))).toEqual(['spiffe://mesh.test/ns/edge/sa/envoy']);
      expect(await peerSeen(files(foreign))).toEqual(['none']);
      expect(await peerSeen({ tlsCa: certs.ca })).toEqual(['none']);
    } finally {
      await r.close();
    }
  });
});

describe('the HTTP port with mTLS', () => {
  const get = (pair: Pair | null) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined> } | Error>((resolve) => {
      const req = httpsRequest(
        `https://${t.server.httpAddress}/authz/api/v1/items`,
        { ca: readFileSync(certs.ca), ...(pair ? { cert: readFileSync(pair.cert), key: readFileSync(pair.key) } : {}), headers: {} },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
        },
      );
      req.on('error', (err) => resolve(err));
      req.end();
    });

  it('serves a client with a certificate; the principal is attributes.source.principal too (the client is the source)', async () => {
    const r = await get(good);
    if (r instanceof Error) throw r;
    expect(r.status).toBe(200);
    expect(r.headers['x-peer']).toBe('spiffe://mesh.test/ns/edge/sa/envoy');
    expect(r.headers['x-source-principal']).toBe('spiffe://mesh.test/ns/edge/sa/envoy');
  });

  it.each([
    ['no certificate', () => null],
    ['a certificate from another CA', () => foreign],
    ['an expired certificate', () => expired],
  ])('refuses a client with %s', async (_what, pair) => {
    const r = await get(pair());
    expect(r).toBeInstanceOf(Error);
  });
});

describe('the admin API with mTLS', () => {
  it('answers a client with a certificate and refuses one without', async () => {
    const tenants = (await callAdmin(t.server.adminAddress!, 'admin-secret', 'ListTenants', {}, files(good))) as { id: string }[];
    expect(tenants.map((x) => x.id).sort()).toEqual(['acme', 'globex', 'initech']);
    await expect(callAdmin(t.server.adminAddress!, 'admin-secret', 'ListTenants', {}, { tlsCa: certs.ca })).rejects.toThrow();
    await expect(callAdmin(t.server.adminAddress!, 'admin-secret', 'ListTenants', {}, files(expired))).rejects.toThrow();
  });
});

describe('certificate renewal', () => {
  const servedCn = () =>
    new Promise<string>((resolve, reject) => {
      const [host, port] = t.server.address.split(':');
      const s = connect({ host, port: Number(port), ca: readFileSync(certs.ca), cert: readFileSync(good.cert), key: readFileSync(good.key), ALPNProtocols: ['h2'], servername: 'localhost' }, () => {
        const cn = s.getPeerCertificate().subject.CN;
        s.end();
        resolve(String(Array.isArray(cn) ? cn[0] : cn));
      });
      s.on('error', reject);
    });

  it('serves a renewed certificate to new connections without a restart; open connections keep working', async () => {
    expect(await servedCn()).toBe('first');
    const open = createAuthClient(t.server.address, files(good));
    const before = await envoyCheck(open, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] });
    expect(before.outcome).toBe('upstream');

    const renewed = certs.server('server-2', 'second');
    copyFileSync(renewed.key, live.key);
    copyFileSync(renewed.cert, live.cert);
    const start = Date.now();
    let cn = await servedCn();
    while (cn !== 'second' && Date.now() - start < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      cn = await servedCn();
    }
    expect(cn).toBe('second');
    // The connection opened before the renewal still answers.
    const after = await envoyCheck(open, { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] });
    expect(after.outcome).toBe('upstream');
    open.close();
  });
});

describe('TLS to Redis and to a JWKS server with a private CA', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    const s = certs.server('redis', 'redis');
    redis = await startRedis({ tls: { cert: s.cert, key: s.key, ca: certs.ca } });
  });
  afterAll(async () => redis?.stop());

  it('counts quotas in a rediss:// Redis trusted through quota.redis_tls.ca_file', async () => {
    const r = await startTestServer({ tenants: [{ id: 'acme', tier: 'premium' }], config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:tls:', redis_tls: { ca_file: certs.ca } } } });
    try {
      const res = await r.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] });
      expect(res.outcome).toBe('upstream');
      expect(await metric(r.server, 'tenantgate_quota_redis_failures')).toBe(0);
      expect((await redis.client().keys('tg:tls:*')).length).toBeGreaterThan(0);
    } finally {
      await r.close();
    }
  });

  it('verifies tokens against an https JWKS with jwks_ca_file, and fails closed (503) without it', async () => {
    const s = certs.server('jwks', 'jwks');
    const jwks = await startJwksServer((await testKeys()).jwks, 0, s);
    const issuer = (extra: Record<string, unknown>) => ({ auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_url: jwks.url, ...extra }] } } });
    const trusted = await startTestServer({ config: issuer({ jwks_ca_file: certs.ca }) });
    const untrusted = await startTestServer({ config: issuer({}) });
    try {
      const token = await mint();
      expect((await trusted.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] })).outcome).toBe('upstream');
      const r = await untrusted.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
      if (r.outcome !== 'denied') throw new Error(r.outcome);
      expect([r.status, JSON.parse(r.body).error]).toEqual([503, 'jwks_unavailable']);
    } finally {
      await Promise.all([trusted.close(), untrusted.close(), jwks.close()]);
    }
  });
});
