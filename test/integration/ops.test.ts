// Day two: metrics, health, decision logs, live policy reload, bundles from a real nginx, shadow mode, and the
// admin API driven by the CLI with --server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AUDIENCE, ISSUER, bearer, mint, startTestServer, testKeys, waitFor, type TestServer } from '../support/server.js';
import { startJwksServer } from '../support/jwks-server.js';
import { startNginx } from '../support/nginx.js';
import { spawnServe } from '../support/serve-process.js';
import { compilePolicies } from '../../src/policy/compile.js';

const ROOT = resolve(__dirname, '..', '..');
const until = async (what: () => Promise<boolean> | boolean, ms = 8000) => {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};
const metricValue = (text: string, line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop() ?? NaN);

describe('metrics and health', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, metrics: { tenant_labels: 1 } } });
  });
  afterAll(async () => t?.close());

  it('exposes checks by decision and code, sub-millisecond latency buckets, cache ratios, revision, per-tenant top-N', async () => {
    const token = await mint({ tenant: 'acme' });
    for (let i = 0; i < 3; i++) await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
    await t.envoy({ method: 'GET', path: '/api/v1/items' });
    await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'globex' }))] });
    const res = await fetch(`http://${t.server.httpAddress}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(metricValue(text, /^tenantgate_checks_total\{decision="allow",code="ok"\}/)).toBe(4);
    expect(metricValue(text, /^tenantgate_checks_total\{decision="deny",code="unauthenticated"\}/)).toBe(1);
    expect(text).toMatch(/^tenantgate_check_duration_seconds_bucket\{le="0.0001",transport="grpc"\} \d+/m);
    expect(text).toMatch(/^tenantgate_check_duration_seconds_bucket\{le="0.0005",transport="grpc"\} \d+/m);
    expect(metricValue(text, /^tenantgate_policy_eval_duration_seconds_count/)).toBe(5);
    expect(text).toContain(`tenantgate_policy_revision_info{revision="${t.server.policyRevision}",role="live"} 1`);
    expect(metricValue(text, /^tenantgate_cache_hit_ratio\{cache="jwt"\}/)).toBeGreaterThan(0);
    expect(metricValue(text, /^tenantgate_tenant_checks_total\{tenant="acme"\}/)).toBe(3);
    expect(metricValue(text, /^tenantgate_tenant_checks_total\{tenant="_other"\}/)).toBe(1);
  });

  it('counts quota denials by code', async () => {
    // acme is on the premium tier: a burst of 2 here.
    const s = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, tiers: { premium: { rate: 0.001, burst: 2 } } } });
    try {
      const token = await mint({ tenant: 'acme' });
      const seen: (number | string)[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await s.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
        seen.push(r.outcome === 'upstream' ? r.outcome : r.status);
      }
      expect(seen).toEqual(['upstream', 'upstream', 429, 429, 429]);
      const text = await (await fetch(`http://${s.server.httpAddress}/metrics`)).text();
      expect(metricValue(text, /^tenantgate_quota_denials_total\{code="quota_exceeded"\}/)).toBe(3);
      expect(metricValue(text, /^tenantgate_checks_total\{decision="deny",code="quota_exceeded"\}/)).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('/healthz is alive, /readyz is ready until shutdown starts', async () => {
    expect((await fetch(`http://${t.server.httpAddress}/healthz`)).status).toBe(200);
    expect(await (await fetch(`http://${t.server.httpAddress}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('/readyz answers 503 once shutdown has started, while a check is still in flight', async () => {
    // A check held in flight by a slow JWKS server keeps the server draining, with its HTTP port open.
    const jwks = await startJwksServer((await testKeys()).jwks, 1500);
    const s = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_url: jwks.url }] } } } });
    const ready = () => fetch(`http://${s.server.httpAddress}/readyz`).then(async (r) => [r.status, await r.json()]);
    expect(await ready()).toEqual([200, { status: 'ready' }]);
    const inFlight = s.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] }, { timeoutMs: 5000 });
    await waitFor(() => jwks.requests > 0, 'the check to reach the server');
    const stopping = s.server.shutdown();
    expect(await ready()).toEqual([503, { status: 'not ready' }]);
    expect((await inFlight).outcome).toBe('upstream');
    await stopping;
    await s.close();
    await jwks.close();
  });
});

describe('decision logs', () => {
  it('writes JSON lines with the decision, revision and latency, redacting credentials; samples allows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-dlog-'));
    const file = join(dir, 'decisions.log');
    const t = await startTestServer({ config: { decision_log: { enabled: true, output: file, sample_allows: 1 } } });
    const token = await mint({ tenant: 'acme', sub: 'alice' });
    const { key } = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bob' }));
    await t.envoy({ method: 'GET', path: '/api/v1/items?x=1', headers: [bearer(token), ['cookie', 'session=secret-cookie'], ['x-federation-token', 'fed.tok.en']] });
    await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key]] });
    await t.envoy({ method: 'GET', path: '/tenants/globex/x', headers: [bearer(token)] });
    await t.close(); // flushes
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ msg: 'decision', tenant: 'acme', subject: 'alice', decision: 'allow', code: null, route: { method: 'GET', path: '/api/v1/items' } });
    expect(lines[0].policy_revision).toMatch(/^[0-9a-f]{12}$/);
    expect(typeof lines[0].latency_ms).toBe('number');
    expect(lines[0].headers.authorization).toBe('[redacted]');
    expect(lines[0].headers.cookie).toBe('[redacted]');
    expect(lines[0].headers['x-federation-token']).toBe('[redacted]');
    expect(lines[1].headers['x-api-key']).toBe('[redacted]');
    expect(lines[2]).toMatchObject({ decision: 'deny', code: 'tenant_mismatch', http_status: 403 });
    for (const secret of [token, 'secret-cookie', 'fed.tok.en', key]) expect(text).not.toContain(secret);
    rmSync(dir, { recursive: true, force: true });

    const dir2 = mkdtempSync(join(tmpdir(), 'tg-dlog-'));
    const t2 = await startTestServer({ config: { decision_log: { enabled: true, output: join(dir2, 'd.log'), sample_allows: 0 } } });
    await t2.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
    await t2.envoy({ method: 'GET', path: '/api/v1/items' });
    await t2.close();
    const only = readFileSync(join(dir2, 'd.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(only.map((e) => e.code)).toEqual(['unauthenticated']);
    rmSync(dir2, { recursive: true, force: true });
  });
});

describe('live policy reload', () => {
  it('rebuilds on a change under policies/, swaps atomically, keeps the last good policy on a broken change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-pol-'));
    cpSync(join(ROOT, 'policies'), dir, { recursive: true });
    const t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, policies: { bundle_file: undefined, dir, debounce_ms: 50 } } });
    const before = t.server.policyRevision;
    const anon = () => t.envoy({ method: 'GET', path: '/status' });
    expect((await anon()).outcome).toBe('denied');

    // Make /status public: the running server picks it up.
    const data = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8'));
    data.tenantgate.settings.public_paths.push('/status');
    writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
    expect(await until(async () => (await anon()).outcome === 'upstream')).toBe(true);
    const after = t.server.policyRevision;
    expect(after).not.toBe(before);
    const r = await anon();
    expect(r.outcome === 'upstream' && r.dynamicMetadata.policy_revision).toBe(after);

    // A broken policy: logged, counted, and the last good one keeps serving.
    writeFileSync(join(dir, 'main.rego'), readFileSync(join(dir, 'main.rego'), 'utf8') + '\nthis is not rego\n');
    const metrics = () => fetch(`http://${t.server.httpAddress}/metrics`).then((x) => x.text());
    expect(await until(async () => metricValue(await metrics(), /^tenantgate_policy_reloads_total\{result="failure",source="watch"\}/) >= 1)).toBe(true);
    expect(t.server.policyRevision).toBe(after);
    expect((await anon()).outcome).toBe('upstream');

    // Fixed, then reloaded on demand (what SIGHUP does).
    cpSync(join(ROOT, 'policies', 'main.rego'), join(dir, 'main.rego'));
    await t.server.reloadPolicy();
    expect((await anon()).outcome).toBe('upstream');
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP rebuilds the policy of a running serve process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-hup-'));
    cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [] }));
    writeFileSync(
      join(dir, 'tg.yaml'),
      `server: {address: "127.0.0.1:0", http_address: "127.0.0.1:0"}\nstore: {path: "${join(dir, 'tg.db')}"}\npolicies: {dir: "${join(dir, 'policies')}", watch: false}\n`,
    );
    const served = await spawnServe(['--config', join(dir, 'tg.yaml')]);
    const child = served.child;
    const http = String(served.lines.find((l) => l.msg === 'tenantgate serving')!.http);
    const metrics = () => fetch(`http://${http}/metrics`).then((x) => x.text()).catch(() => '');
    const rev = /revision="([0-9a-f]+)",role="live"/.exec(await metrics())![1];
    const data = JSON.parse(readFileSync(join(dir, 'policies', 'data.json'), 'utf8'));
    data.tenantgate.settings.public_paths.push('/hup');
    writeFileSync(join(dir, 'policies', 'data.json'), JSON.stringify(data));
    child.kill('SIGHUP');
    expect(await until(async () => !(await metrics()).includes(`revision="${rev}"`))).toBe(true);
    expect(metricValue(await metrics(), /^tenantgate_policy_reloads_total\{result="success",source="sighup"\}/)).toBe(1);
    await served.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('bundles from an HTTP bundle server (real nginx)', () => {
  it('loads the bundle, polls with ETags (304), swaps on change, keeps the last good one on a bad bundle and goes on polling', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-bundles-'));
    const bundles = join(dir, 'bundles');
    cpSync(join(ROOT, 'policies'), join(dir, 'src'), { recursive: true });
    const { mkdirSync, chmodSync } = await import('node:fs');
    mkdirSync(bundles);
    chmodSync(dir, 0o755); // readable by nginx's unprivileged workers
    const build = async (publicPath?: string) => {
      const data = JSON.parse(readFileSync(join(dir, 'src', 'data.json'), 'utf8'));
      if (publicPath) data.tenantgate.settings.public_paths.push(publicPath);
      writeFileSync(join(dir, 'src', 'data.json'), JSON.stringify(data));
      writeFileSync(join(bundles, 'bundle.tar.gz'), await compilePolicies(join(dir, 'src'), 'tenantgate/authz/decision'));
    };
    await build();
    const nginx = await startNginx((port) => `log_format polls '$status "$http_if_none_match"'; server { listen 127.0.0.1:${port}; root ${bundles}; etag on; access_log ${bundles}/../polls.log polls; }`);
    const port = nginx.port;
    const polls = () => readFileSync(join(dir, 'polls.log'), 'utf8').split('\n').filter(Boolean);
    const failures = async () => (await t.server.metrics.getSingleMetric('tenantgate_policy_reloads_total')!.get()).values.find((v) => v.labels.result === 'failure')?.value ?? 0;
    const t = await startTestServer({ config: { policies: { bundle_file: undefined, bundle_url: `http://127.0.0.1:${port}/bundle.tar.gz`, bundle_poll_seconds: 0.1 } } });
    const first = t.server.policyRevision;
    expect(first).toMatch(/^[0-9a-f]{12}$/);
    expect((await t.envoy({ method: 'GET', path: '/status' })).outcome).toBe('denied');
    // Unchanged: conditional requests answered 304 (the first poll had no ETag to send).
    expect(await until(() => polls().filter((l) => /^304 "\S+"$/.test(l)).length >= 3)).toBe(true);
    expect(polls()[0]).toBe('200 "-"');

    await build('/status');
    expect(await until(() => t.server.policyRevision !== first)).toBe(true);
    expect((await t.envoy({ method: 'GET', path: '/status' })).outcome).toBe('upstream');

    const good = t.server.policyRevision;
    writeFileSync(join(bundles, 'bundle.tar.gz'), 'not a bundle');
    expect(await until(async () => (await failures()) >= 2)).toBe(true);
    expect(t.server.policyRevision).toBe(good);
    expect((await t.envoy({ method: 'GET', path: '/status' })).outcome).toBe('upstream');
    // Polling goes on after a failure: a good bundle again is picked up.
    await build('/status2');
    expect(await until(() => t.server.policyRevision !== good)).toBe(true);
    expect((await t.envoy({ method: 'GET', path: '/status2' })).outcome).toBe('upstream');
    await t.close();
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('atomic policy swap', () => {
  it('under concurrent checks, every answer is wholly the old policy or wholly the new one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-swap-'));
    cpSync(join(ROOT, 'policies'), dir, { recursive: true });
    const t = await startTestServer({ config: { policies: { bundle_file: undefined, dir, watch: false } } });
    const before = t.server.policyRevision;
    // The new policy opens /swapped to anonymous callers; the old one refuses it (401).
    const data = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8'));
    data.tenantgate.settings.public_paths.push('/swapped');
    writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
    const answers: { revision: unknown; allowed: boolean }[] = [];
    let swappedAt = -1;
    const load = Array.from({ length: 8 }, async () => {
      // Until 200 answers have come after the swap (and at most 20,000 in all).
      while ((swappedAt < 0 || answers.length < swappedAt + 200) && answers.length < 20_000) {
        const r = await t.envoy({ method: 'GET', path: '/swapped' });
        if (r.outcome === 'error') throw r.error;
        answers.push({ revision: r.dynamicMetadata.policy_revision, allowed: r.outcome === 'upstream' });
      }
    });
    await waitFor(() => answers.length >= 100, 'answers from the old policy');
    await t.server.reloadPolicy();
    const after = t.server.policyRevision;
    swappedAt = answers.length;
    await Promise.all(load);
    expect(after).not.toBe(before);
    const revisions = new Set(answers.map((a) => a.revision));
    expect([...revisions].sort()).toEqual([before, after].sort());
    for (const a of answers) expect(a.allowed, String(a.revision)).toBe(a.revision === after);
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('shadow mode', () => {
  it('evaluates a candidate beside the live policy, counts divergences, never changes a decision', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-shadow-'));
    writeFileSync(join(dir, 'p.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": false, "code": "candidate_says_no"}\n');
    const t = await startTestServer({ config: { server: { http_address: '127.0.0.1:0' }, policies: { shadow: { dir } } } });
    const token = await mint({ tenant: 'acme' });
    for (let i = 0; i < 3; i++) expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] })).outcome).toBe('upstream');
    await new Promise((r) => setTimeout(r, 50));
    const text = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
    expect(metricValue(text, /^tenantgate_shadow_divergences_total/)).toBe(3);
    expect(text).toMatch(/tenantgate_policy_revision_info\{revision="[0-9a-f]+",role="shadow"\} 1/);
    // A reload of the live policy keeps the shadow's series.
    await t.server.reloadPolicy();
    const after = await (await fetch(`http://${t.server.httpAddress}/metrics`)).text();
    expect(after.match(/^tenantgate_policy_revision_info\{.*\} 1$/gm)).toHaveLength(2);
    expect(after).toMatch(/role="shadow"/);
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('admin API', () => {
  const TOKEN = 'admin-secret-for-tests';
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { server: { admin_address: '127.0.0.1:0' } }, env: { TENANTGATE_ADMIN_TOKEN: TOKEN } });
  });
  afterAll(async () => t?.close());
  // Asynchronous: the server under test lives in this process and must keep answering meanwhile.
  const cli = (args: string[], token = TOKEN) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), ...args, '--server', t.server.adminAddress!, '--json'], {
        env: { ...process.env, TENANTGATE_ADMIN_TOKEN: token },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  it('the CLI with --server runs every change through the running server, audited, applied at once', async () => {
    expect(JSON.parse((await cli(['tenant', 'create', 'newco', '--name', 'New Co', '--tier', 'basic'])).stdout)).toMatchObject({ id: 'newco', tier: 'basic' });
    // No polling needed: the server's own caches were dropped.
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'newco', sub: 'n' }))] })).outcome).toBe('upstream');
    const key = JSON.parse((await cli(['apikey', 'create', '--tenant', 'newco', '--user', 'n'])).stdout);
    expect(key.key).toMatch(/^tgk_/);
    expect((await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key.key]] })).outcome).toBe('upstream');
    expect(JSON.parse((await cli(['quota', 'set', '--tenant', 'newco', '--per-minute', '50'])).stdout).per_minute).toBe(50);
    expect(JSON.parse((await cli(['tenant', 'suspend', 'newco'])).stdout).status).toBe('suspended');
    const r = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key.key]] });
    expect(r.outcome === 'denied' && JSON.parse(r.body).error).toBe('tenant_suspended');
    const audit = JSON.parse((await cli(['audit', 'list', '--tenant', 'newco'])).stdout);
    expect(audit.map((e: { action: string; actor: string; target: string }) => [e.action, e.actor, e.target])).toEqual([
      ['tenant.suspend', 'admin-api:admin', 'newco'],
      ['quota.set', 'admin-api:admin', 'tenant:newco'],
      ['apikey.create', 'admin-api:admin', key.id],
      ['tenant.create', 'admin-api:admin', 'newco'],
    ]);
    const del = await cli(['tenant', 'delete', 'newco']);
    expect(JSON.parse(del.stdout)).toEqual({ deleted: 'newco' });
  });

  it('names the holder of each admin token in the audit log (admin.tokens, one label per token)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-admin-tokens-'));
    writeFileSync(join(dir, 'ci.token'), 'ci-token-0123456789\n');
    const two = await startTestServer({ config: { server: { admin_address: '127.0.0.1:0' }, admin: { label: 'ops-team', tokens: [{ label: 'ci', token_file: join(dir, 'ci.token') }] } }, env: { TENANTGATE_ADMIN_TOKEN: TOKEN } });
    try {
      const { callAdmin } = await import('../../src/admin/api.js');
      await callAdmin(two.server.adminAddress!, 'ci-token-0123456789', 'CreateTenant', { id: 'byci', name: 'By CI', tier: 'free' });
      await callAdmin(two.server.adminAddress!, TOKEN, 'SuspendTenant', { id: 'byci' });
      const audit = (await callAdmin(two.server.adminAddress!, TOKEN, 'ListAudit', { tenant: 'byci' })) as { action: string; actor: string }[];
      expect(audit.map((e) => [e.action, e.actor])).toEqual([
        ['tenant.suspend', 'admin-api:ops-team'],
        ['tenant.create', 'admin-api:ci'],
      ]);
    } finally {
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a wrong token, and reports bad input clearly', async () => {
    const wrong = await cli(['tenant', 'list'], 'nope');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toBe('error: a valid admin bearer token is required\n');
    const bad = await cli(['tenant', 'create', 'Bad_Id', '--name', 'x']);
    expect([bad.status, bad.stderr]).toEqual([1, 'error: invalid tenant id "Bad_Id": must match ^[a-z0-9][a-z0-9-]{0,35}$\n']);
    expect((await cli(['group', 'list', '--tenant', 'nosuch'])).stderr).toBe('error: unknown tenant nosuch\n');
  });

  it('is off without a token', async () => {
    const off = await startTestServer({ config: { server: { admin_address: '127.0.0.1:0' } }, env: {} });
    expect(off.server.adminAddress).toBeUndefined();
    await off.close();
  });
});
