// Quotas across replicas with a real redis-server: two tenantgate processes never admit more than the limit
// together; Redis going away is handled by fail_open (local limits) or fail_closed (503), and reconnects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AUDIENCE, ISSUER, bearer, metric, mint, startTestServer, type TestServer } from '../support/server.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { spawnServe } from '../support/serve-process.js';
import { expectExactlyLimit } from '../support/quota.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { envoyCheck, type EnvoyResult } from '../support/envoy.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger.js';

const ROOT = resolve(__dirname, '..', '..');
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis?.stop());

const code = (r: EnvoyResult) => (r.outcome === 'upstream' ? 'allow' : r.outcome === 'denied' ? JSON.parse(r.body).error : 'error');

describe('two replicas sharing one Redis', () => {
  let t: TestServer;
  let child: ChildProcess;
  let otherAddress: string;
  beforeAll(async () => {
    t = await startTestServer({
      tenants: [{ id: 'acme', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:two:' } },
    });
    await t.change((a) => a.quotaSet('acme', 'tenant', 'acme', { per_minute: 10 }));
    const cfg = join(t.dir, 'replica.yaml');
    writeFileSync(
      cfg,
      `server: {address: "127.0.0.1:0"}\nstore: {path: "${t.dbPath}"}\nauth: {jwt: {issuers: [{issuer: "${ISSUER}", audiences: [${AUDIENCE}], jwks_file: "${join(t.dir, 'jwks.json')}"}]}}\npolicies: {dir: "${join(ROOT, 'policies')}"}\nquota: {store: redis, redis_url: "${redis.url}", redis_prefix: "tg:two:"}\n`,
    );
    const served = await spawnServe(['--config', cfg]);
    child = served.child;
    otherAddress = served.address;
  });
  afterAll(async () => {
    child?.kill('SIGTERM');
    await t?.close();
  });

  it('admit exactly the limit together, whichever replica gets the request', async () => {
    const token = await mint({ tenant: 'acme', sub: 'many' });
    const other = createAuthClient(otherAddress);
    const calls: Promise<EnvoyResult>[] = [];
    for (let i = 0; i < 30; i++) {
      const spec = { method: 'GET', path: '/api/v1/items', headers: [bearer(token)] };
      calls.push(i % 2 ? envoyCheck(other, spec, { timeoutMs: 3000 }) : t.envoy(spec, { timeoutMs: 3000 }));
    }
    const results = (await Promise.all(calls)).map(code);
    other.close();
    expect(results.filter((c) => c === 'allow')).toHaveLength(10);
    expect(results.filter((c) => c === 'quota_exceeded')).toHaveLength(20);
    const keys = await redis.client().keys('tg:two:*');
    expect(keys.length).toBeGreaterThan(0);
  });
});

describe('tenants on one Redis', () => {
  it("one tenant's traffic never spends another's quota", async () => {
    const t = await startTestServer({
      tenants: [{ id: 'initech', tier: 'premium' }, { id: 'umbrella', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:iso:' } },
    });
    try {
      await t.change((a) => {
        a.quotaSet('initech', 'tenant', 'initech', { per_minute: 2 });
        a.quotaSet('umbrella', 'tenant', 'umbrella', { per_minute: 2 });
      });
      await expectExactlyLimit(t, ['initech', 'umbrella'], 'same-subject', 2);
      expect(await metric(t.server, 'tenantgate_quota_redis_failures')).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('Redis down', () => {
  it('fail_open: falls back to local limits, counts it, keeps serving, and goes back to Redis when it returns', async () => {
    const t = await startTestServer({
      tenants: [{ id: 'acme', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:open:', redis_failure: 'fail_open' } },
    });
    await t.change((a) => a.quotaSet('acme', 'tenant', 'acme', { per_minute: 3 }));
    const token = await mint({ tenant: 'acme', sub: 'o' });
    const call = async () => code(await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }));
    expect(await call()).toBe('allow');
    expect(await redis.client().keys('tg:open:*')).not.toHaveLength(0);

    await redis.stop();
    // Local limits still hold: 3 per minute, counted locally from here on.
    expect([await call(), await call(), await call(), await call()]).toEqual(['allow', 'allow', 'allow', 'quota_exceeded']);
    expect(await metric(t.server, 'tenantgate_quota_redis_failures')).toBeGreaterThanOrEqual(4);

    // Back: the limiter reconnects by itself and counts in Redis again (new keys appear there).
    await redis.start();
    const start = Date.now();
    while (Date.now() - start < 5000 && (await redis.client().keys('tg:open:*')).length === 0) {
      await call();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await redis.client().keys('tg:open:*')).not.toHaveLength(0);
    await t.close();
  });

  it('fail_closed: denies 503/14 quota_unavailable while Redis is down, serves again after', async () => {
    const t = await startTestServer({
      tenants: [{ id: 'acme', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:closed:', redis_failure: 'fail_closed' } },
    });
    const token = await mint({ tenant: 'acme', sub: 'c' });
    const call = () => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
    expect(code(await call())).toBe('allow');
    await redis.stop();
    const down = await call();
    if (down.outcome !== 'denied') throw new Error(down.outcome);
    expect([down.status, down.grpcStatus, JSON.parse(down.body).error]).toEqual([503, 14, 'quota_unavailable']);
    // Not a quota-free zone for anyone, but the server answers everything else.
    expect(code(await t.envoy({ method: 'GET', path: '/healthz' }))).toBe('allow');
    await redis.start();
    const start = Date.now();
    let c = code(await call());
    while (c !== 'allow' && Date.now() - start < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      c = code(await call());
    }
    expect(c).toBe('allow');
    await t.close();
  });
});

describe('a hung Redis (connections open, no answers)', () => {
  it.each(['fail_open', 'fail_closed'] as const)('%s: after 5 timeouts the breaker answers at once from the failure mode; a probe closes it when Redis answers', async (mode) => {
    const lines: { msg: string }[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb(); } });
    const t = await startTestServer({
      logger: createLogger('info', sink as never),
      tenants: [{ id: 'acme', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: `tg:hung:${mode}:`, redis_failure: mode, redis_timeout_ms: 100, redis_breaker_failures: 5, redis_breaker_probe_ms: 50 } },
    });
    const token = await mint({ tenant: 'acme', sub: 'h' });
    const call = async () => code(await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }, { timeoutMs: 2000 }));
    expect(await call()).toBe('allow');
    const failures = () => metric(t.server, 'tenantgate_quota_redis_failures');
    const shortCircuited = () => metric(t.server, 'tenantgate_quota_redis_short_circuited');
    const open = async () => (await metric(t.server, 'tenantgate_quota_redis_circuit_open')) === 1;
    const expected = mode === 'fail_open' ? 'allow' : 'quota_unavailable';
    redis.pause();
    try {
      const answers: string[] = [];
      for (let i = 0; i < 40; i++) answers.push(await call());
      expect(answers).toEqual(Array(40).fill(expected));
      // Five checks waited for Redis and timed out; the other 35 never asked it.
      expect(await failures()).toBe(5);
      expect(await shortCircuited()).toBe(35);
      expect(await open()).toBe(true);
      // One warning for the failures, not one per check, and one for the breaker.
      expect(lines.filter((l) => l.msg === 'redis quota store failed')).toHaveLength(1);
      expect(lines.filter((l) => l.msg.startsWith('redis quota store circuit open'))).toHaveLength(1);
    } finally {
      redis.resume();
    }
    const start = Date.now();
    while ((await open()) && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(await open()).toBe(false);
    expect(await call()).toBe('allow');
    expect(await shortCircuited()).toBe(35);
    await t.close();
  });

  it('quota.redis_timeout_ms is the wait: longer than Envoy\'s deadline, a hung Redis costs the call its deadline', async () => {
    const t = await startTestServer({
      tenants: [{ id: 'acme', tier: 'premium' }],
      config: { quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:wait:', redis_failure: 'fail_open', redis_timeout_ms: 1500 } },
    });
    const token = await mint({ tenant: 'acme', sub: 'w' });
    const call = (timeoutMs: number) => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }, { timeoutMs });
    expect((await call(2000)).outcome).toBe('upstream');
    redis.pause();
    try {
      // Envoy gives up after 500 ms; the default 100 ms would have answered from the local limits in time.
      expect((await call(500)).outcome).toBe('error');
      // With a deadline longer than the wait, the fail-open answer comes after it.
      expect((await call(3000)).outcome).toBe('upstream');
    } finally {
      redis.resume();
    }
    await t.close();
  });
});
