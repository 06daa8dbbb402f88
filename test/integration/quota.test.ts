// Quotas through the real gRPC server: 429 with the right fields, stacking, isolation between tenants, live
// limit changes, persistence across graceful restarts and kill -9, and the usage report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bearer, mint, startTestServer, waitFor, ISSUER, AUDIENCE, type TestServer } from '../support/server.js';
import { openDatabase } from '../../src/store/database.js';
import { spawnServe } from '../support/serve-process.js';
import { expectExactlyLimit } from '../support/quota.js';
import { type EnvoyResult, envoyCheck } from '../support/envoy.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { dayWindow } from '../../src/quota/windows.js';

const ROOT = resolve(__dirname, '..', '..');
const get = (t: TestServer, token: string, extra: [string, string][] = []) => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token), ...extra] });
const body = (r: EnvoyResult) => (r.outcome === 'denied' ? JSON.parse(r.body) : null);
const respHeaders = (r: EnvoyResult) =>
  r.outcome === 'upstream' ? Object.fromEntries(r.responseHeadersToAdd.map((h) => [h.header!.key, h.header!.value])) : {};

describe('quota enforcement', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ tenants: [{ id: 'acme', tier: 'premium' }, { id: 'globex', tier: 'premium' }] });
  });
  afterAll(async () => t?.close());

  it('denies over the limit with 429/8, quota_exceeded, retry-after and the RateLimit fields', async () => {
    await t.change((a) => a.quotaSet('acme', 'tenant', 'acme', { per_minute: 3 }));
    const token = await mint({ tenant: 'acme', sub: 'u1' });
    const allowed = [await get(t, token), await get(t, token), await get(t, token)];
    for (const r of allowed) expect(r.outcome).toBe('upstream');
    const h = respHeaders(allowed[0]!);
    expect(h['ratelimit-policy']).toMatch(/^"tenant-burst";q=200;w=4, "tenant-minute";q=3;w=60, "tenant-day";q=200000;w=86400, "tenant-month";q=5000000;w=\d+, "user-burst";q=200;w=4, "user-minute";q=1000;w=60/);
    expect(h.ratelimit).toMatch(/"tenant-minute";r=2;t=\d+/);
    expect(respHeaders(allowed[2]!).ratelimit).toMatch(/"tenant-minute";r=0;t=\d+/);

    const denied = await get(t, token);
    if (denied.outcome !== 'denied') throw new Error(denied.outcome);
    expect([denied.status, denied.grpcStatus]).toEqual([429, 8]);
    expect(body(denied)).toMatchObject({ error: 'quota_exceeded', reason: 'quota exceeded: the tenant-minute limit of 3 requests per minute' });
    const retry = Number(denied.headers['retry-after']![0]);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect(denied.headers['ratelimit-policy']![0]).toContain('"tenant-minute";q=3;w=60');
    expect(denied.headers['ratelimit']![0]).toContain('"tenant-minute";r=0;');
  });

  it('one tenant\'s traffic never spends another\'s quota', async () => {
    // The same small limit for both, and the same subject: a counter keyed without the tenant would be shared.
    const own = await startTestServer({ tenants: [{ id: 'initech', tier: 'premium' }, { id: 'umbrella', tier: 'premium' }] });
    try {
      await own.change((a) => {
        a.quotaSet('initech', 'tenant', 'initech', { per_minute: 2 });
        a.quotaSet('umbrella', 'tenant', 'umbrella', { per_minute: 2 });
      });
      await expectExactlyLimit(own, ['initech', 'umbrella'], 'same-subject', 2);
    } finally {
      await own.close();
    }
  });

  it('per-key limits stack on the tenant\'s, and the strictest wins', async () => {
    const { record, key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'globex', user_id: 'svc' }));
    await t.change((a) => a.quotaSet('globex', 'key', record.id, { burst: 2, rate: 0.1 }));
    const call = () => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key]] });
    expect([(await call()).outcome, (await call()).outcome]).toEqual(['upstream', 'upstream']);
    const d = await call();
    expect(body(d)).toMatchObject({ error: 'quota_exceeded', reason: 'quota exceeded: the key-burst burst limit of 2 (0.1/s)' });
    expect(d.outcome === 'denied' && Number(d.headers['retry-after']![0])).toBe(10);
    // The key's user with a JWT has their own bucket.
    expect((await get(t, await mint({ tenant: 'globex', sub: 'svc' }))).outcome).toBe('upstream');
  });

  it('group limits apply to members', async () => {
    await t.change((a) => {
      a.groupApply('globex', { id: 'trial', name: 'Trial', type: 'tier', permissions: [{ resource: '*', actions: ['read'] }] });
      a.memberAdd({ tenant_id: 'globex', user_id: 'tina', group_id: 'trial' });
      a.quotaSet('globex', 'group', 'trial', { per_minute: 2 });
    });
    const token = await mint({ tenant: 'globex', sub: 'tina' });
    expect([(await get(t, token)).outcome, (await get(t, token)).outcome, (await get(t, token)).outcome]).toEqual(['upstream', 'upstream', 'denied']);
  });

  it('a limit changed by another process applies within one second', async () => {
    const token = await mint({ tenant: 'globex', sub: 'changer' });
    expect((await get(t, token)).outcome).toBe('upstream');
    t.admin((a) => a.quotaSet('globex', 'tenant', 'globex', { per_day: 1 }));
    const start = Date.now();
    let r = await get(t, token);
    while (r.outcome === 'upstream' && Date.now() - start < 1000) r = await get(t, token);
    expect(body(r)?.reason).toMatch(/tenant-day limit of 1 requests per day/);
    t.admin((a) => a.quotaSet('globex', 'tenant', 'globex', { per_day: null }));
  });
});

describe('fair shares of the platform capacity', () => {
  it('holds a tenant to its cap of the capacity: 429 capacity_exceeded, exactly', async () => {
    let now = Date.UTC(2026, 0, 5, 12, 0, 0, 250);
    const t = await startTestServer({
      tenants: [{ id: 'acme', tier: 'enterprise' }, { id: 'globex', tier: 'free' }],
      config: { quota: { capacity: { requests_per_second: 10, tenant_cap: 0.2 } } },
      clock: () => now,
    });
    const token = await mint({ tenant: 'acme', sub: 'x' });
    const codes = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await get(t, token);
        out.push(r.outcome === 'upstream' ? 'allow' : `${body(r)?.error} ${r.outcome === 'denied' ? r.headers['retry-after']![0] : ''}`);
      }
      return out;
    };
    // A cap of 20 % of 10 per second: 2 in this second, then 429 with retry-after 1 (0.75 s left, rounded up).
    expect(await codes(4)).toEqual(['allow', 'allow', 'capacity_exceeded 1', 'capacity_exceeded 1']);
    // Another tenant has its own share in the same second.
    expect((await get(t, await mint({ tenant: 'globex', sub: 'y' }))).outcome).toBe('upstream');
    // The next second: 2 again.
    now += 1000;
    expect(await codes(3)).toEqual(['allow', 'allow', 'capacity_exceeded 1']);
    await t.close();
  });
});

describe('usage survives restarts', () => {
  it('a graceful stop loses nothing: day and month usage continue after a restart', async () => {
    const first = await startTestServer({ tenants: [{ id: 'acme', tier: 'basic' }] });
    const dir = first.dir;
    await first.change((a) => a.quotaSet('acme', 'tenant', 'acme', { per_day: 5, burst: 100, rate: 100 }));
    const token = await mint({ tenant: 'acme', sub: 'u' });
    for (let i = 0; i < 3; i++) expect((await get(first, token)).outcome).toBe('upstream');
    await first.server.shutdown(); // flushes
    first.client.close();

    // A second server on the same SQLite file.
    const { startServer } = await import('../../src/server.js');
    const { parseConfig } = await import('../../src/core/config.js');
    const { createLogger } = await import('../../src/telemetry/logger.js');
    const { inject } = await import('vitest');
    const config = parseConfig({
      server: { address: '127.0.0.1:0' },
      store: { path: first.dbPath },
      auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }] } },
      policies: { bundle_file: inject('bundleFile') },
    });
    const second = await startServer(config, { logger: createLogger('silent') });
    const client = createAuthClient(second.address);
    const call = () => envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
    expect([(await call()).outcome, (await call()).outcome, (await call()).outcome]).toEqual(['upstream', 'upstream', 'denied']);
    client.close();
    await second.shutdown();
    await first.close();
  });

  it('after kill -9 at most the last flush interval is lost, and usage show reports it', async () => {
    const t = await startTestServer({ tenants: [{ id: 'acme', tier: 'premium' }] });
    const dbPath = t.dbPath;
    const cfg = join(t.dir, 'kill.yaml');
    writeFileSync(
      cfg,
      `server: {address: "127.0.0.1:0"}\nstore: {path: "${dbPath}"}\nauth: {jwt: {issuers: [{issuer: "${ISSUER}", audiences: [${AUDIENCE}], jwks_file: "${join(t.dir, 'jwks.json')}"}]}}\npolicies: {dir: "${join(ROOT, 'policies')}"}\nquota: {flush_interval_ms: 200}\n`,
    );
    // Stop the in-process server (its files stay) and run the real CLI server on the same store.
    await t.server.shutdown();
    const served = await spawnServe(['--config', cfg]);
    const child = served.child;
    const client = createAuthClient(served.address);
    const token = await mint({ tenant: 'acme', sub: 'k9' });
    const call = () => envoyCheck(client, { method: 'GET', path: '/api/v1/items', headers: [bearer(token)] }, { timeoutMs: 2000 });
    for (let i = 0; i < 10; i++) expect((await call()).outcome).toBe('upstream');
    // Wait until a flush has put all 10 on disk (read through a connection of our own, as `usage show` does).
    const onDisk = () => {
      const db = openDatabase(dbPath);
      try {
        return (db.prepare("SELECT COALESCE(MAX(count), 0) FROM quota_usage WHERE tenant_id = 'acme' AND subject = '*' AND window = 'day'").pluck().get() as number) >= 10;
      } finally {
        db.close();
      }
    };
    await waitFor(onDisk, 'the usage flush');
    for (let i = 0; i < 5; i++) expect((await call()).outcome).toBe('upstream'); // these may be lost
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    client.close();

    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), 'usage', 'show', '--tenant', 'acme', '--json', '--config', cfg], { encoding: 'utf8' });
    const report = JSON.parse(r.stdout);
    const day = new Date(dayWindow(Date.now()).start).toISOString();
    const tenantDay = report.totals.day.find((x: { window_start: string }) => x.window_start === day).count;
    expect(tenantDay).toBeGreaterThanOrEqual(10);
    expect(tenantDay).toBeLessThanOrEqual(15);
    expect(report.rows.some((x: { subject: string; window: string }) => x.subject === 'user:k9' && x.window === 'month')).toBe(true);
    const csv = spawnSync(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), 'usage', 'show', '--tenant', 'acme', '--csv', '--config', cfg], { encoding: 'utf8' }).stdout;
    expect(csv.split('\n')[0]).toBe('tenant,subject,window,window_start,count');
    expect(csv).toContain(`acme,*,day,${day},${tenantDay}`);
    await t.close();
  });
});
