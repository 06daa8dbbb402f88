// Fleet mode: three replicas on one real PostgreSQL and one real Redis. A change through one replica's admin API is
// enforced by the others within a second; quota limits are exact across them; usage sums what they admitted; an
// outage of PostgreSQL is survived (cached checks answered, misses 503 store_unavailable, admin writes refused
// clearly) and recovered from without restarts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parseConfig } from '../../src/core/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { callAdmin } from '../../src/admin/api.js';
import { AUDIENCE, ISSUER, bearer, mint, testKeys, waitFor } from '../support/server.js';
import { envoyCheck, type EnvoyResult } from '../support/envoy.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import type { HttpRequestSpec } from '../../src/check/envoy-request.js';
import { spawnServe } from '../support/serve-process.js';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { HealthClient } from '../support/health.js';
import { openDatabase } from '../../src/store/database.js';
import { Admin } from '../../src/admin/operations.js';
import { prepareTenantPolicy } from '../../src/tenant-rules/upload.js';
import { completionBody, extProcClient, processed } from '../support/ext-proc.js';

const TOKEN = 'fleet-admin-token';

interface Replica {
  server: RunningServer;
  check(spec: HttpRequestSpec): Promise<EnvoyResult>;
  admin(op: string, req: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

let pg: PostgresServer;
let redis: RedisServer;
let url: string;
let dir: string;
const replicas: Replica[] = [];

async function startReplica(extra: Record<string, unknown> = {}): Promise<Replica> {
  const config = parseConfig(
    {
      server: { address: '127.0.0.1:0', admin_address: '127.0.0.1:0', shutdown_timeout_ms: 2000 },
      store: { url, poll_interval_ms: 100 },
      auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_file: join(dir, 'jwks.json') }] } },
      policies: { bundle_file: inject('bundleFile') },
      federation: { signing_key_file: join(dir, 'federation-key.json') },
      quota: { store: 'redis', redis_url: redis.url, redis_prefix: `tg:fleet:`, flush_interval_ms: 100 },
      log: { level: 'silent' },
      ...extra,
    },
    dir,
  );
  const server = await startServer(config, { logger: createLogger('silent'), env: { TENANTGATE_ADMIN_TOKEN: TOKEN } });
  const client = createAuthClient(server.address);
  return {
    server,
    check: (spec) => envoyCheck(client, spec),
    admin: (op, req) => callAdmin(server.adminAddress!, TOKEN, op, req),
    async close() {
      client.close();
      await server.shutdown();
    },
  };
}

const outcome = (r: EnvoyResult) => (r.outcome === 'upstream' ? 'allow' : r.outcome === 'denied' ? (JSON.parse(r.body) as { error: string }).error : r.outcome);

/** Polls the replica until the request gives `want`; returns how long that took (ms). */
async function until(r: Replica, spec: HttpRequestSpec, want: string, ms = 1000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const got = outcome(await r.check(spec));
    if (got === want) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`after ${ms} ms the replica still answers ${got}, not ${want}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-fleet-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify((await testKeys()).jwks));
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  url = await pg.createDatabase('fleet');
  for (let i = 0; i < 3; i++) replicas.push(await startReplica());
  const [a] = replicas;
  await a!.admin('CreateTenant', { id: 'acme', name: 'Acme', tier: 'premium' });
  await a!.admin('CreateTenant', { id: 'globex', name: 'Globex', tier: 'basic' });
  await a!.admin('AddMember', { tenant: 'acme', user: 'alice', group: 'analyst' });
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.close().catch(() => undefined);
  await redis?.stop();
  pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fleet mode: three replicas, one PostgreSQL, one Redis', () => {
  it('a change through replica 1 is enforced by replicas 2 and 3 within a second: suspend, revoke, remove a member, a quota', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const alice = bearer(await mint({ tenant: 'acme', sub: 'alice' }));
    const read = { method: 'GET', path: '/api/v1/items', headers: [alice] };
    // Reading models needs read:models: the analyst group has it, a user in no group has read:public only.
    const query = { method: 'GET', path: '/api/v1/models', headers: [alice] };
    // Warm every replica's caches first: the change must reach them, not a cold miss.
    for (const r of [b, c]) {
      expect(outcome(await r.check(read))).toBe('allow');
      expect(outcome(await r.check(query))).toBe('allow');
    }

    await a.admin('RemoveMember', { tenant: 'acme', user: 'alice', group: 'analyst' });
    for (const r of [b, c]) expect(await until(r, query, 'insufficient_permission')).toBeLessThan(1000);

    const key = (await a.admin('CreateApiKey', { tenant: 'acme', user: 'svc' })) as { id: string; key: string };
    const withKey = { method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key.key] as [string, string]] };
    for (const r of [b, c]) expect(outcome(await r.check(withKey))).toBe('allow');
    await a.admin('RevokeApiKey', { tenant: 'acme', id: key.id });
    for (const r of [b, c]) expect(await until(r, withKey, 'invalid_api_key')).toBeLessThan(1000);

    await a.admin('SetQuota', { tenant: 'acme', per_minute: 1 });
    for (const r of [b, c]) expect(await until(r, read, 'quota_exceeded')).toBeLessThan(1000);
    await a.admin('SetQuota', { tenant: 'acme', clear: ['per_minute'] });

    await a.admin('SuspendTenant', { id: 'acme' });
    for (const r of [b, c]) expect(await until(r, read, 'tenant_suspended')).toBeLessThan(1000);
    await a.admin('ResumeTenant', { id: 'acme' });
    for (const r of [b, c]) expect(await until(r, read, 'allow')).toBeLessThan(1000);
    // Every change is in the one audit log, named by the replica's admin token holder.
    const audit = (await c.admin('ListAudit', { tenant: 'acme', limit: 6 })) as { action: string; actor: string }[];
    expect(audit.map((e) => e.action)).toEqual(['tenant.resume', 'tenant.suspend', 'quota.set', 'quota.set', 'apikey.revoke', 'apikey.create']);
  });

  it("a tenant's own rules (and Rego) set through replica 1 are enforced by replicas 2 and 3 within a second, and dropped as fast", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    await a.admin('CreateTenant', { id: 'ruled', name: 'Ruled', tier: 'premium' });
    const spec = { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'ruled', sub: 'u' }))] };
    for (const r of [b, c]) expect(outcome(await r.check(spec))).toBe('allow');
    await a.admin('SetTenantPolicy', { tenant: 'ruled', document: 'rules: [{name: office, source_ips: {allow: [10.0.0.0/8]}}]' });
    for (const r of [b, c]) expect(await until(r, spec, 'network_not_allowed')).toBeLessThan(1000);
    await a.admin('SetTenantPolicy', {
      tenant: 'ruled',
      rego_module: 'package tenants["ruled"]\n\ndeny contains "closed" if input.identity.subject == "u"\n',
      rego_tests: [{ file: 'r_test.rego', text: 'package r_test\n\ntest_u if data.tenants.ruled.deny["closed"] with input as {"identity": {"subject": "u"}}\n' }],
    });
    for (const r of [b, c]) expect(await until(r, spec, 'tenant_policy_denied')).toBeLessThan(1000);
    await a.admin('DeleteTenantPolicy', { tenant: 'ruled' });
    for (const r of [b, c]) expect(await until(r, spec, 'allow')).toBeLessThan(1000);
  });

  it('the tokens the responses used, counted by two replicas, are summed exactly in usage show (each batch once)', async () => {
    const [a] = replicas as [Replica];
    await a.admin('CreateTenant', { id: 'tokened', name: 'Tokened', tier: 'premium' });
    const genai = { genai: { ext_proc_address: '127.0.0.1:0', models: { 'gpt-4o-mini': { input_per_million: 0.15, output_per_million: 0.6 } } } };
    const procs = [await startReplica(genai), await startReplica(genai)];
    const clients = procs.map((r) => extProcClient(r.server.extProcAddress!));
    try {
      const request = { 'x-decision-id': 'd-1', 'x-tenant-id': 'tokened', 'x-user-id': 'u1' };
      await Promise.all(Array.from({ length: 20 }, (_, i) => processed(clients[i % 2]!, { ...request, 'x-decision-id': `d-${i}` }, 'application/json', [completionBody('gpt-4o-mini', 100 + i, 10)])));
      // Shutdown flushes what each replica counted.
      await Promise.all(procs.map((r) => r.close()));
      const usage = (await a.admin('ShowUsage', { tenant: 'tokened' })) as { token_totals: { window: string; input_tokens: number; output_tokens: number; cost_usd: number; responses: number }[] };
      const input = Array.from({ length: 20 }, (_, i) => 100 + i).reduce((x, y) => x + y, 0);
      for (const w of ['day', 'month']) expect(usage.token_totals.find((x) => x.window === w)).toEqual({ window: w, window_start: expect.any(String), input_tokens: input, output_tokens: 200, cost_usd: (input * 150 + 200 * 600) / 1e9, responses: 20 });
    } finally {
      clients.forEach((c) => c.close());
      await Promise.all(procs.map((r) => r.close().catch(() => undefined)));
    }
  });

  it('quota limits are exact across the three, and usage show is the sum of what they admitted', async () => {
    const [a] = replicas as [Replica];
    await a.admin('CreateTenant', { id: 'metered', name: 'Metered', tier: 'premium' });
    await a.admin('SetQuota', { tenant: 'metered', per_minute: 30 });
    const token = bearer(await mint({ tenant: 'metered', sub: 'm' }));
    const spec = { method: 'GET', path: '/api/v1/items', headers: [token] };
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => replicas[i % 3]!.check(spec)));
    const allowed = results.filter((r) => r.outcome === 'upstream').length;
    expect(allowed).toBe(30);
    expect(results.filter((r) => outcome(r) === 'quota_exceeded')).toHaveLength(30);
    // Each replica flushes what it admitted; the fleet's day total is the sum, counted once.
    const dayTotal = async () => ((await a.admin('ShowUsage', { tenant: 'metered' })) as { totals: { day: { count: number }[] } }).totals.day[0]?.count ?? 0;
    await waitFor(async () => (await dayTotal()) === 30, 'the usage of all three replicas in the store');
    await new Promise((r) => setTimeout(r, 300));
    expect(await dayTotal()).toBe(30);
  });

  it('PostgreSQL stopped mid-load: cached checks answered, misses 503 store_unavailable, admin writes refused; all recover by themselves', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const known = { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'globex', sub: 'known' }))] };
    for (const r of replicas) expect(outcome(await r.check(known))).toBe('allow');
    const usageOf = async () => ((await a.admin('ShowUsage', { tenant: 'globex' })) as { totals: { day: { count: number }[] } }).totals.day[0]?.count ?? 0;
    await waitFor(async () => (await usageOf()) === 3, 'the three checks in the usage');
    pg.stop();
    try {
      // Counted while the store is down: flushed when it is back, none lost.
      for (const r of replicas) expect(outcome(await r.check(known))).toBe('allow');
      const unknown = { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'globex', sub: 'stranger' }))] };
      const miss = await b.check(unknown);
      expect(miss.outcome === 'denied' && [miss.status, JSON.parse(miss.body).error]).toEqual([503, 'store_unavailable']);
      await expect(a.admin('SuspendTenant', { id: 'globex' })).rejects.toThrow('the store is unavailable; nothing was changed');
    } finally {
      pg.start();
    }
    // Back: misses are answered, and a change through replica 1 reaches the others, none restarted.
    const after = { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'globex', sub: 'newcomer' }))] };
    for (const r of [b, c]) await until(r, after, 'allow', 5000);
    await waitFor(async () => (await usageOf()) >= 8, 'the counts made during the outage in the usage', 10_000);
    expect(await usageOf()).toBe(8); // 3 before, 3 during, one 'newcomer' each on b and c
    await waitFor(async () => {
      try {
        await a.admin('SuspendTenant', { id: 'globex' });
        return true;
      } catch {
        return false;
      }
    }, 'the admin API to write again');
    for (const r of [b, c]) expect(await until(r, known, 'tenant_suspended', 3000)).toBeLessThan(3000);
  }, 30_000);

  it('kill -9 of one replica mid-load: the others keep serving, and the usage it had flushed is intact', async () => {
    const [a, b] = replicas as [Replica, Replica];
    await a.admin('CreateTenant', { id: 'crashy', name: 'Crashy', tier: 'premium' });
    const cfg = join(dir, 'replica.yaml');
    writeFileSync(
      cfg,
      [
        'server: {address: 127.0.0.1:0}',
        `store: {url: "${url}", poll_interval_ms: 100}`,
        `auth: {jwt: {issuers: [{issuer: "${ISSUER}", audiences: [${AUDIENCE}], jwks_file: ${join(dir, 'jwks.json')}}]}}`,
        `policies: {bundle_file: ${inject('bundleFile')}}`,
        `quota: {store: redis, redis_url: "${redis.url}", redis_prefix: "tg:fleet:", flush_interval_ms: 100}`,
      ].join('\n'),
    );
    const proc = await spawnServe(['--config', cfg]);
    const client = createAuthClient(proc.address);
    const spec = { method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'crashy', sub: 'c' }))] };
    let admitted = 0;
    for (let i = 0; i < 40; i++) if ((await envoyCheck(client, spec)).outcome === 'upstream') admitted++;
    expect(admitted).toBe(40);
    const dayTotal = async () => ((await a.admin('ShowUsage', { tenant: 'crashy' })) as { totals: { day: { count: number }[] } }).totals.day[0]?.count ?? 0;
    await waitFor(async () => (await dayTotal()) === 40, 'the replica to flush its usage');
    // Mid-load: requests in flight on the replica, and on the others.
    const load = Array.from({ length: 20 }, () => envoyCheck(client, spec).catch(() => undefined));
    proc.child.kill('SIGKILL');
    await Promise.all(load);
    client.close();
    expect(outcome(await b.check(spec))).toBe('allow');
    // What it had flushed is there, and stays: the crash lost at most its last interval's counts, never a flushed one.
    expect(await dayTotal()).toBeGreaterThanOrEqual(40);
    await new Promise((r) => setTimeout(r, 300));
    const settled = await dayTotal();
    expect(settled).toBeGreaterThanOrEqual(40);
    expect(settled).toBeLessThanOrEqual(60 + 1); // never more than was admitted (40 + the 20 in flight + b's one)
  });

  it('a replica started while PostgreSQL is down reports NOT_SERVING, and serves once it is up', async () => {
    pg.stop();
    let late: Replica | undefined;
    try {
      late = await startReplica({ server: { address: '127.0.0.1:0', admin_address: '127.0.0.1:0', http_address: '127.0.0.1:0', shutdown_timeout_ms: 2000 } });
      const health = new HealthClient(late.server.address);
      expect(await health.status('envoy.service.auth.v3.Authorization')).toBe('NOT_SERVING');
      expect((await fetch(`http://${late.server.httpAddress}/readyz`)).status).toBe(503);
      health.close();
      // One that is stopped before PostgreSQL ever answered stops at once (its retries do not hold it).
      const never = await startReplica();
      const t0 = Date.now();
      await never.close();
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      pg.start();
    }
    const health = new HealthClient(late.server.address);
    await waitFor(async () => (await health.status('envoy.service.auth.v3.Authorization')) === 'SERVING', 'the late replica to serve', 10_000);
    expect((await fetch(`http://${late.server.httpAddress}/readyz`)).status).toBe(200);
    health.close();
    expect(outcome(await late.check({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'acme', sub: 'late' }))] }))).toBe('allow');
    // Stopped while PostgreSQL is down, with counts still to flush: it tries once more, says so, and stops.
    pg.stop();
    try {
      expect(outcome(await late.check({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'acme', sub: 'late' }))] }))).toBe('allow');
      const t0 = Date.now();
      await late.close();
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      pg.start();
    }
  }, 30_000);

  it('store migrate and store copy: a SQLite store moved into an empty PostgreSQL one, served by a replica', async () => {
    const bin = resolve(__dirname, '..', '..', 'bin', 'tenantgate.js');
    const sqlite = join(dir, 'old.db');
    const old = openDatabase(sqlite);
    const admin = new Admin(old, parseConfig({}, dir), 'test');
    admin.tenantCreate({ id: 'moved', name: 'Moved', tier: 'basic' });
    admin.memberAdd({ tenant_id: 'moved', user_id: 'mia', group_id: 'analyst' });
    const key = admin.apiKeyCreate({ tenant_id: 'moved', user_id: 'svc' });
    admin.tenantPolicySet('moved', await prepareTenantPolicy('moved', { rules: [{ name: 'no-docs', match: { routes: ['/api/v1/documents*'] }, deny: true }] }));
    old.close();
    const target = await pg.createDatabase('copy');
    const cfg = join(dir, 'copy.yaml');
    writeFileSync(cfg, `store: {url: "${target}"}\n`);
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    expect(run('store', 'migrate', '--config', cfg).stdout).toBe('store: schema migrated from version 0 to 8\n');
    expect(run('store', 'migrate', '--config', cfg).stdout).toBe('store: schema at version 8, nothing to do\n');
    const copied = run('store', 'copy', '--from', sqlite, '--to', target);
    expect([copied.status, copied.stdout]).toEqual([0, expect.stringMatching(/^copied 1 tenants, 3 groups, 1 memberships, 1 api_keys, 0 federation_grants, 4 audit_log, 0 quota_overrides, 0 quota_usage, 0 token_usage, 0 token_overrides, 1 tenant_policies\n$/)]);
    // Copying into a store that has tenants is refused.
    expect(run('store', 'copy', '--from', sqlite, '--to', target).stderr).toBe('error: the target store already has tenants: store copy fills an empty store only\n');
    // The CLI reads and writes the PostgreSQL store as it did the file.
    expect(JSON.parse(run('tenant', 'list', '--json', '--config', cfg).stdout).map((t: { id: string }) => t.id)).toEqual(['moved']);
    const served = await startReplica({ store: { url: target, poll_interval_ms: 100 } });
    try {
      expect(outcome(await served.check({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key.key]] }))).toBe('allow');
      expect(outcome(await served.check({ method: 'GET', path: '/api/v1/models', headers: [bearer(await mint({ tenant: 'moved', sub: 'mia' }))] }))).toBe('allow');
      expect(outcome(await served.check({ method: 'GET', path: '/api/v1/documents/1', headers: [['x-api-key', key.key]] }))).toBe('tenant_rule_denied');
    } finally {
      await served.close();
    }
  });
});
