#!/usr/bin/env node
// The bench runner: measures servers one after another in the same run, each pinned to core 0 with the load
// generator on core 1: the floors (grpc-js answering a pre-encoded OK with no decoding, and a no-op on the decoded
// protos), tenantgate (real policies, store, caches), tenantgate with
// quotas, and OPA-Envoy when its binary is available (OPA_ENVOY_BIN, built by you outside the repository). ghz at
// fixed arrival rates (open loop) with p95/p99 thresholds and a count of the requests it could not send on time, then
// a step test up to the rate where p99 passes 10 ms; saturation (CPU per check) with bench/loadgen, a closed loop
// cheap enough per call to keep a one-core server busy. Writes bench/results/<timestamp>.{json,md,svg}.
//
//   npm run bench                     all of it (a few minutes)
//   npm run bench -- --quick          fewer, shorter steps
//   npm run bench -- --check          exit non-zero if the default scenario misses its p95/p99 thresholds
//   npm run bench -- --tracing        also saturate tenantgate with OpenTelemetry on (unsampled, and every check
//                                     exported to a Jaeger from scripts/test-tools.sh)
//   npm run bench -- --tenant-rules   only what tenants' own rules cost per check (bench/tenant-rules.mjs)
//   npm run bench -- --token-budgets  only what LLM token budgets cost per check against request limits alone
//   npm run bench -- --targets        only issue 16's CPU-per-check ratios, side by side in rounds (median per ratio)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFixtures, ISSUER, AUDIENCE } from './fixtures.mjs';
import { ENVOY_PROTO_DIRS } from '../dist/check/protos.js';
import { renderChart } from './chart.mjs';
import { callCheck, createAuthClient } from '../dist/cli/check-client.js';
import { GENERATOR_ENV, writeGhzBinary } from './ghz-data.mjs';
import { httpModeRuns } from './http-mode.mjs';
import { tenantRulesRuns, tokenBudgetRuns } from './tenant-rules.mjs';
import { sideBySide } from './side-by-side.mjs';
import { TIER_DEFAULTS } from '../dist/core/config.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = join(ROOT, '.tools', 'bin');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
// The default scenario's fixed rates (ghz, open loop; its thresholds below), then the step test's.
const RATES = quick ? [100, 1000] : [100, 500, 1000];
const DURATION = quick ? '5s' : '10s';
// The step test's rates: fine steps where the servers' limits are, coarser above.
const STEP_RATES = quick ? [1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000] : [1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000, 20000];
// The targets of the default scenario (tenantgate at 1,000 rps): p95/p99 thresholds, and at most 1 % of the requests
// not sent on time (a generator that falls behind hides latency: what k6 calls dropped iterations).
const P95_MS = Number(process.env.BENCH_P95_MS ?? 2);
const P99_MS = Number(process.env.BENCH_P99_MS ?? 5);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Where tenantgate+tracing-all sends its spans (a Jaeger the runner starts with --tracing).
let tracingEndpoint = 'http://127.0.0.1:9/v1/traces';
const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

function ensureTool(name, module) {
  const bin = join(TOOLS, name);
  if (existsSync(bin)) return bin;
  console.log(`bench: installing ${name} (${module}) with go install`);
  const r = spawnSync('go', ['install', module], { env: { ...process.env, GOBIN: TOOLS }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`could not install ${name}`);
  return bin;
}

/** CPU seconds (user+sys) and peak RSS (MB) of a process and its children (cluster workers), from /proc. */
function procStats(pid) {
  const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  const all = [pid, ...kids].map(oneProcStats);
  return { cpu: all.reduce((a, s) => a + s.cpu, 0), peakRssMb: Math.max(...all.map((s) => s.peakRssMb)) };
}

function oneProcStats(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(stat[11]) + Number(stat[12]);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpu: ticks / 100, peakRssMb: hwm ? Number(hwm[1]) / 1024 : 0 };
  } catch {
    return { cpu: 0, peakRssMb: 0 };
  }
}

/** OPA_ENVOY_BIN: the OPA-Envoy plugin, which you build outside the repository (bench/README.md); else undefined. */
function opaEnvoyBin() {
  const bin = process.env.OPA_ENVOY_BIN;
  if (bin && existsSync(bin)) return bin;
  if (bin) console.log(`bench: OPA_ENVOY_BIN=${bin} does not exist`);
  console.log('bench: no OPA-Envoy plugin (OPA_ENVOY_BIN); measuring opa-standin instead');
  return undefined;
}

/** Builds bench/<dir> (a Go program: opa-standin, loadgen) into .tools/bin/<name> once; its path, or undefined. */
function goBuild(name, dir) {
  const bin = join(TOOLS, name);
  if (existsSync(bin)) return bin;
  console.log(`bench: building ${name} (go build)`);
  const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: join(ROOT, 'bench', dir), stdio: 'inherit' });
  return r.status === 0 ? bin : undefined;
}

/** bench/opa-standin: OPA v1.22.2's Go evaluator behind ext_authz. */
const buildStandin = () => goBuild('opa-standin', 'opa-standin') !== undefined;

async function startServer(kind, port, fx, work, { httpPort } = {}) {
  let cmd;
  if (kind === 'floor') {
    cmd = [process.execPath, join(ROOT, 'bench', 'floor-server.mjs'), `127.0.0.1:${port}`];
  } else if (kind === 'floor-raw') {
    cmd = [process.execPath, join(ROOT, 'bench', 'floor-raw.mjs'), `127.0.0.1:${port}`];
  } else if (kind === 'opa-standin') {
    cmd = [join(TOOLS, 'opa-standin'), '-addr', `127.0.0.1:${port}`, '-policy', join(ROOT, 'bench', 'opa-envoy'), '-data', join(dirname(fx.dbPath), 'opa-data.json'), '-query', 'data.tenantgate_bench.allow'];
  } else if (kind.startsWith('opa-envoy-compat-') || kind.startsWith('opa-standin-compat-')) {
    // The compatibility policies (bench/opa-envoy-compat): the plugin, or the stand-in, on the same policy.
    const dir = join(ROOT, 'bench', 'opa-envoy-compat', kind.split('-').at(-1));
    cmd = kind.startsWith('opa-envoy')
      ? [process.env.OPA_ENVOY_BIN, 'run', '--server', '--addr', '127.0.0.1:0', '--set', `plugins.envoy_ext_authz_grpc.addr=127.0.0.1:${port}`, '--set', 'plugins.envoy_ext_authz_grpc.path=envoy/authz/allow', '--set', 'decision_logs.console=false', dir]
      : [join(TOOLS, 'opa-standin'), '-addr', `127.0.0.1:${port}`, '-policy', dir, '-query', 'data.envoy.authz.allow'];
  } else if (kind === 'opa-envoy') {
    cmd = [process.env.OPA_ENVOY_BIN, 'run', '--server', '--addr', '127.0.0.1:0', '--set', `plugins.envoy_ext_authz_grpc.addr=127.0.0.1:${port}`, '--set', 'plugins.envoy_ext_authz_grpc.path=tenantgate_bench/allow', '--set', 'decision_logs.console=false', '--ignore', '*_test.rego', join(ROOT, 'bench', 'opa-envoy'), join(dirname(fx.dbPath), 'opa-data.json')];
  } else {
    const cfg = join(work, `${kind}.yaml`);
    writeFileSync(
      cfg,
      [
        `server: {address: "127.0.0.1:${port}", reflection: false, workers: ${kind === 'tenantgate-2w' ? 2 : 1}${httpPort ? `, http_address: "127.0.0.1:${httpPort}"` : ''}}`,
        `store: {path: "${fx.dbPath}"}`,
        `auth: {jwt: {issuers: [{issuer: "${ISSUER}", audiences: [${AUDIENCE}], jwks_file: "${fx.jwksFile}"}]}}`,
        kind.startsWith('tenantgate-compat-')
          ? `policies: {dir: "${join(ROOT, 'bench', 'opa-envoy-compat', kind.split('-').at(-1))}", entrypoint: envoy/authz/allow, watch: false}`
          : `policies: {dir: "${join(ROOT, 'policies')}", watch: false}`,
        `quota: {enabled: ${['tenantgate+quota', 'tenantgate+limits', 'tenantgate+tokens'].includes(kind)}}`,
        // Request limits (and for +tokens token budgets) on every tier, too high to deny: every check spends, and each
        // LLM check reserves (bench/tenant-rules.mjs, tokenBudgetRuns).
        ...(kind === 'tenantgate+limits' || kind === 'tenantgate+tokens' ? [`tiers: ${JSON.stringify(Object.fromEntries(Object.keys(TIER_DEFAULTS).map((t) => [t, { rate: 1e9, burst: 1e9, requests_per_minute: 1e12, requests_per_day: 1e12, requests_per_month: 1e12, max_tokens_per_request: 100_000, ...(kind === 'tenantgate+tokens' ? { tokens_per_minute: 1e12, input_tokens_per_day: 1e12, output_tokens_per_month: 1e12, cost_per_month: 1e9 } : {}) }])))}`, 'genai: {models: {gpt-4o-mini: {input_per_million: 0.15, output_per_million: 0.6}}, reservation_ttl_seconds: 5}'] : []),
        `tenant_policies: {enabled: ${kind !== 'tenantgate+rules-off'}}`,
        'log: {level: warn}',
        ...(kind.startsWith('tenantgate+tracing') ? [`tracing: {enabled: true, sample_ratio: ${kind === 'tenantgate+tracing-all' ? 1 : 0}, endpoint: "${tracingEndpoint}"}`] : []),
      ].join('\n'),
    );
    // As it is run (npx tenantgate, the Docker image): the launcher's own node flags apply.
    cmd = [join(ROOT, 'bin', 'tenantgate.js'), 'serve', '--config', cfg];
  }
  const child = spawn('taskset', ['-c', kind === 'tenantgate-2w' ? '0,1' : '0', ...cmd], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, GOMAXPROCS: '1' } });
  // Ready when a Check answers (any decision).
  for (let i = 0; i < 150; i++) {
    await sleep(200);
    const client = createAuthClient(`127.0.0.1:${port}`);
    const ok = await callCheck(client, {}, 1000).then(() => true, () => false);
    client.close();
    if (ok) return child;
  }
  child.kill('SIGKILL');
  throw new Error(`${kind} did not start`);
}

const ghzArgs = (port, data) => ['--insecure', '--proto', 'envoy/service/auth/v3/external_auth.proto', '-i', ENVOY_PROTO_DIRS.join(','), '--call', 'envoy.service.auth.v3.Authorization/Check', '-B', data, '--format', 'json', `127.0.0.1:${port}`];

/** The whole request mix as ghz binary call data, so every server gets the same requests. */
function ghzData(fx, work) {
  const file = join(work, 'ghz-requests.bin');
  if (!existsSync(file)) writeGhzBinary(JSON.parse(readFileSync(fx.requestsFile, 'utf8')), file);
  return file;
}

function ghzFigures(stdout) {
  const j = JSON.parse(stdout);
  const lat = Object.fromEntries((j.latencyDistribution ?? []).map((x) => [x.percentage, x.latency / 1e6]));
  // Calls cut off when the run's time is up ("closing") are not errors of the server.
  const errors = Object.entries(j.errorDistribution ?? {}).filter(([k]) => !/closing/.test(k)).reduce((a, [, n]) => a + n, 0);
  return { achieved: j.rps, requests: j.count, p50: lat[50], p95: lat[95], p99: lat[99], max: j.slowest / 1e6, errors };
}

/**
 * Runs a generator pinned to `cores`, its standard output to a file; returns that output and the CPU seconds it
 * used (from bash's `times`), and its exit status.
 */
function generator(cores, bin, args) {
  const out = join(tmpdir(), `tg-generator-${process.pid}.json`);
  const r = spawnSync('bash', ['-c', 'taskset -c "$0" "$@" > "$GENERATOR_OUT"; s=$?; times >&2; exit $s', cores, bin, ...args], { encoding: 'utf8', env: { ...process.env, ...GENERATOR_ENV, GENERATOR_OUT: out } });
  // `times` prints the shell's and then its children's user and system time, e.g. "0m1.234s 0m0.100s".
  const t = r.stderr.trim().split('\n').pop().match(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/);
  const cpu = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : 0;
  return { out: readFileSync(out, 'utf8'), cpu, status: r.status };
}

const ghz = (cores, args) => generator(cores, join(TOOLS, 'ghz'), args);

/** One ghz run at a fixed rate (open loop, --async); returns the figures. */
function ghzRun(port, rate, fx, work, duration = quick ? '4s' : '6s') {
  const t0 = Date.now();
  const r = ghz('1', ['--async', '--rps', String(rate), '-c', '64', '--connections', '2', '-z', duration, ...ghzArgs(port, ghzData(fx, work))]);
  return { rate, ...ghzFigures(r.out), wall: (Date.now() - t0) / 1000, generatorCpuPct: (100 * r.cpu) / ((Date.now() - t0) / 1000) };
}

/** The default scenario at one fixed rate (ghz, open loop): the figures and whether the thresholds hold. */
function fixedRateRun(port, rate, fx, work) {
  const r = ghzRun(port, rate, fx, work, DURATION);
  // Requests the generator did not send on time: the schedule's count minus what was sent.
  const seconds = Number(DURATION.replace('s', ''));
  const dropped = Math.max(0, Math.round(rate * seconds - r.requests));
  return { ...r, dropped, thresholdsOk: r.p95 <= P95_MS && r.p99 <= P99_MS && r.errors === 0 && dropped <= rate * seconds * 0.01 };
}

async function measure(kind, fx, work, stepTest) {
  const port = await freePort();
  const server = await startServer(kind, port, fx, work);
  const res = { server: kind, rates: [], step: [] };
  try {
    ghzRun(port, 500, fx, work);
    for (const rate of RATES) {
      const before = procStats(server.pid);
      const r = fixedRateRun(port, rate, fx, work);
      const after = procStats(server.pid);
      r.serverCpuPct = (100 * (after.cpu - before.cpu)) / r.wall;
      r.peakRssMb = after.peakRssMb;
      res.rates.push(r);
      console.log(`  ${kind.padEnd(18)} ${String(rate).padStart(5)} rps: p50 ${r.p50.toFixed(3)} p95 ${r.p95.toFixed(3)} p99 ${r.p99.toFixed(3)} ms, ${r.achieved.toFixed(0)} rps, dropped ${r.dropped}, cpu ${r.serverCpuPct.toFixed(0)}%${r.thresholdsOk ? '' : ' (thresholds missed)'}`);
    }
    if (stepTest) {
      // The step test: raise the rate until p99 passes 10 ms or the rate is no longer achieved.
      // The 1,000 rps comparison: three runs, the median p99 (one p99 on shared cores is noisy).
      res.at1000 = at1000(port, fx, work);
      console.log(`  ${kind.padEnd(18)} loadgen 1000 rps x5: p99 ${res.at1000.map((r) => r.p99.toFixed(2)).join(' / ')} ms`);
      // A rate that fails is tried once more before the test stops: a single p99 on these shared cores can be
      // thrown by a hiccup of the machine or the generator (the same rule for every server).
      const passes = (r) => r.p99 <= 10 && r.achieved >= r.rate * 0.95 && r.errors === 0;
      for (const rate of STEP_RATES) {
        let r;
        for (let attempt = 1; attempt <= 2; attempt++) {
          const before = procStats(server.pid);
          r = ghzRun(port, rate, fx, work);
          r.serverCpuPct = (100 * (procStats(server.pid).cpu - before.cpu)) / r.wall;
          r.attempt = attempt;
          res.step.push(r);
          console.log(`  ${kind.padEnd(18)} ghz ${String(rate).padStart(5)} rps: p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(2)} ms, achieved ${r.achieved.toFixed(0)}, errors ${r.errors}, server cpu ${r.serverCpuPct.toFixed(0)}%, ghz cpu ${r.generatorCpuPct.toFixed(0)}%${attempt > 1 ? ' (second try)' : ''}`);
          if (passes(r)) break;
        }
        if (!passes(r)) break;
      }
      const ok = res.step.filter(passes);
      res.sustainable = ok.length ? Math.max(...ok.map((r) => r.rate)) : 0;
    }
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  return res;
}

/** Five runs at 1,000 rps, sorted by p99: the median (index 2) is the one compared. */
function at1000(port, fx, work) {
  return [1, 2, 3, 4, 5].map(() => openLoop(port, fx, work)).sort((a, b) => a.p99 - b.p99);
}

/**
 * One open-loop run at `rate` with bench/loadgen on core 1: a call started every 1/rate s, answered or not. Not ghz
 * (`--async --rps`), whose latency includes its decoding of each answer into a dynamic message: 220 µs of its core
 * for tenantgate's answer against 90 µs for the raw floor's empty one, so its p99 at 1,000 rps measured the answer's
 * size as much as the server (bench/README.md). The ghz runs stay in the fixed-rate table.
 */
function openLoop(port, fx, work, rate = 1000) {
  const f = loadgen('1', port, fx, work, ['-rps', String(rate), '-duration', quick ? '4s' : '6s', '-conns', '2']).figures;
  return { rate, requests: f.count, p50: f.p50_ms, p95: f.p95_ms, p99: f.p99_ms, max: f.max_ms, late: f.late, errors: f.errors };
}

/** The raw floor at 1,000 rps only (no step test): what tenantgate's p99 is compared with. */
async function rawFloorAt1000(fx, work) {
  const port = await freePort();
  const server = await startServer('floor-raw', port, fx, work);
  try {
    ghzRun(port, 500, fx, work);
    const res = { server: 'floor-raw', rates: [], step: [], at1000: at1000(port, fx, work) };
    console.log(`  floor-raw          loadgen 1000 rps x5: p99 ${res.at1000.map((r) => r.p99.toFixed(2)).join(' / ')} ms`);
    return res;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

/**
 * The closed-loop generator of the saturation runs, pinned to `cores`: its JSON figures and its CPU seconds. Not ghz:
 * ghz spent 90 µs of its core per call on the raw floor's empty answer and 220 µs on tenantgate's (decoding each
 * into a dynamic message), so it, not the server, set the rate, and a server at 70 % of its core pays more per
 * check than one at saturation (bench/README.md).
 */
function loadgen(cores, port, fx, work, args) {
  const bin = goBuild('tg-loadgen', 'loadgen');
  if (!bin) throw new Error('could not build bench/loadgen');
  const r = generator(cores, bin, ['-addr', `127.0.0.1:${port}`, '-data', ghzData(fx, work), ...args]);
  if (r.status !== 0) throw new Error(`loadgen failed (exit ${r.status})`);
  return { figures: JSON.parse(r.out), cpu: r.cpu };
}

/**
 * Saturation, with bench/loadgen: a closed loop of concurrent calls. One-core servers run on core 0 with the
 * generator on core 1; `tenantgate-2w` (server.workers: 2) shares both cores with it, whose CPU is measured so that
 * the scaling can be read against what the generator took.
 */
async function saturation(kind, fx, work, { withAt1000 = false } = {}) {
  const port = await freePort();
  const server = await startServer(kind, port, fx, work);
  const both = kind === 'tenantgate-2w';
  const cores = both ? '0,1' : '1';
  const shape = ['-concurrency', both ? '40' : '20', '-conns', both ? '4' : '2'];
  try {
    // Warm the caches with two passes over the mix.
    loadgen(cores, port, fx, work, ['-n', '8000', ...shape]);
    // The targets' p99 at 1,000 rps, in the same rounds as the CPU figures (--targets).
    const at1000 = withAt1000 ? openLoop(port, fx, work) : undefined;
    const before = procStats(server.pid);
    const t0 = Date.now();
    const r = loadgen(cores, port, fx, work, ['-duration', quick ? '5s' : '10s', ...shape]);
    const wall = (Date.now() - t0) / 1000;
    const after = procStats(server.pid);
    const f = r.figures;
    return { server: kind, rps: f.rps, p50: f.p50_ms, p99: f.p99_ms, serverCpuPct: (100 * (after.cpu - before.cpu)) / wall, generatorCpuPct: (100 * r.cpu) / wall, errors: f.errors, peakRssMb: after.peakRssMb, ...(at1000 ? { at1000 } : {}) };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

/** tenantgate with tracing off, on but never sampled, and on with every check exported to Jaeger, side by side. */
async function tracingRuns(fx, work) {
  const { startJaeger } = await import('../scripts/jaeger.mjs');
  const jaeger = await startJaeger();
  tracingEndpoint = jaeger.otlpEndpoint;
  try {
    const out = [];
    for (const kind of ['tenantgate', 'tenantgate+tracing-unsampled', 'tenantgate+tracing-all']) out.push({ ...(await saturation(kind, fx, work)), server: kind === 'tenantgate' ? 'tenantgate (tracing off)' : kind });
    return out;
  } finally {
    await jaeger.close();
  }
}

function markdown(results, sat, meta, http = []) {
  const lines = [`# tenantgate bench, ${meta.when}`, '', `Machine: ${meta.cpus} × ${meta.cpu}; servers on core 0, generator on core 1. Request mix: ${JSON.stringify(meta.kinds)}.`, ''];
  lines.push('| server | rate (rps) | p50 ms | p95 ms | p99 ms | max ms | achieved rps | errors | dropped | server CPU % | peak RSS MB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) for (const x of r.rates) lines.push(`| ${r.server} | ${x.rate} | ${x.p50.toFixed(3)} | ${x.p95.toFixed(3)} | ${x.p99.toFixed(3)} | ${x.max.toFixed(2)} | ${x.achieved.toFixed(0)} | ${x.errors} | ${x.dropped} | ${x.serverCpuPct.toFixed(0)} | ${x.peakRssMb.toFixed(0)} |`);
  lines.push('', `Fixed rates (above): ghz \`--async --rps\` (open loop) for ${meta.duration}; thresholds p95 ≤ ${meta.p95Ms} ms, p99 ≤ ${meta.p99Ms} ms, no errors, at most 1 % dropped (not sent on time). The step test (below) raises the rate until p99 passes 10 ms.`, '');
  lines.push('| server | rate (rps) | p50 ms | p95 ms | p99 ms | achieved rps | errors | server CPU % |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) for (const x of r.step) lines.push(`| ${r.server} | ${x.rate}${x.attempt > 1 ? " (2nd try)" : ""} | ${x.p50.toFixed(3)} | ${x.p95.toFixed(3)} | ${x.p99.toFixed(3)} | ${x.achieved.toFixed(0)} | ${x.errors} | ${x.serverCpuPct.toFixed(0)} |`);
  lines.push('', '**Sustainable throughput (ghz step test, p99 < 10 ms):** ' + results.filter((r) => r.sustainable !== undefined).map((r) => `${r.server} ${r.sustainable.toFixed(0)} rps`).join(', '));
  if (sat.length) {
    lines.push('', '**Saturation (bench/loadgen, closed loop over the mix; one-core servers on core 0 with the generator on core 1, `tenantgate-2w` = 2 workers sharing both cores with it):**', '', '| server | rps | p50 ms | p99 ms | server CPU % | generator CPU % | server CPU µs per request | peak RSS MB | errors |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of sat) lines.push(`| ${s.server} | ${s.rps.toFixed(0)} | ${s.p50?.toFixed(3)} | ${s.p99?.toFixed(3)} | ${s.serverCpuPct.toFixed(0)} | ${s.generatorCpuPct.toFixed(0)} | ${((s.serverCpuPct * 1e4) / s.rps).toFixed(0)} | ${s.peakRssMb.toFixed(0)} | ${s.errors} |`);
    const cpu = (name) => { const x = sat.find((s) => s.server === name); return x ? (x.serverCpuPct * 1e4) / x.rps : undefined; };
    const raw = cpu('floor-raw');
    if (raw && cpu('tenantgate')) lines.push('', `Server CPU per check against the raw floor (gRPC alone): tenantgate ${(cpu('tenantgate') / raw).toFixed(2)} × (target ≤ 1.5), the floor with decoding ${(cpu('floor') / raw).toFixed(2)} ×.`);
    const one = sat.find((s) => s.server === 'tenantgate');
    const two = sat.find((s) => s.server === 'tenantgate-2w');
    if (one && two) {
      // Throughput per server core with two workers, times two cores, against one worker on its one core: what two
      // cores give when the generator does not take half of them.
      const perCore = two.rps / (two.serverCpuPct / 100);
      lines.push('', `Workers: 2 workers ${two.rps.toFixed(0)} rps / 1 worker ${one.rps.toFixed(0)} rps = ${(two.rps / one.rps).toFixed(2)} × measured, with the generator taking ${two.generatorCpuPct.toFixed(0)} % of the two cores; per server core ${perCore.toFixed(0)} rps, so two free cores give ${((2 * perCore) / one.rps).toFixed(2)} × one worker (target ≥ 1.7).`);
    }
  }
  const at = (name, rate) => results.find((r) => r.server === name)?.rates.find((x) => x.rate === rate);
  // The median of five runs at 1,000 rps.
  const ghzAt = (name) => results.find((r) => r.server === name)?.at1000?.[2];
  const floor = ghzAt('floor');
  const tg = ghzAt('tenantgate');
  const tq = ghzAt('tenantgate+quota');
  lines.push('', '**At 1,000 rps (bench/loadgen open loop, the mix, five runs each; the median run):**', '', '| server | p50 ms | p95 ms | p99 ms (median) | p99 of the five runs |', '|---|---:|---:|---:|---|');
  for (const r of results) if (r.at1000) lines.push(`| ${r.server} | ${r.at1000[2].p50.toFixed(3)} | ${r.at1000[2].p95.toFixed(3)} | ${r.at1000[2].p99.toFixed(3)} | ${r.at1000.map((x) => x.p99.toFixed(2)).join(', ')} |`);
  if (floor && tg) lines.push('', `At 1,000 rps (loadgen): tenantgate p99 / floor p99 = ${(tg.p99 / floor.p99).toFixed(2)} (target ≤ 1.5); the default scenario's run (ghz): ${(at('tenantgate', 1000).p99 / at('floor', 1000).p99).toFixed(2)}.`);
  if (tg && tq) lines.push(`Quota enforcement at 1,000 rps (loadgen, same run): p50 ${tg.p50.toFixed(3)} → ${tq.p50.toFixed(3)} ms, p99 ${tg.p99.toFixed(3)} → ${tq.p99.toFixed(3)} ms.`);
  const sf = results.find((r) => r.server === 'floor')?.sustainable;
  const st = results.find((r) => r.server === 'tenantgate')?.sustainable;
  if (sf) lines.push(`Sustainable throughput: tenantgate / floor = ${((st ?? 0) / sf).toFixed(2)} (target ≥ 0.6).`);
  const opa = results.find((r) => r.server === 'opa-envoy' || r.server === 'opa-standin');
  if (opa) {
    const label = opa.server === 'opa-envoy' ? 'OPA-Envoy' : 'OPA (opa-standin, the plugin\'s hot path; the plugin itself could not be installed)';
    const o = opa.at1000?.[2];
    if (o && tg) lines.push(`Against ${label}: p99 at 1,000 rps tenantgate / OPA = ${(tg.p99 / o.p99).toFixed(2)} (target ≤ 0.8); sustainable tenantgate / OPA = ${opa.sustainable ? (st / opa.sustainable).toFixed(2) : `n/a (OPA passed no rate; tenantgate ${st})`} (target ≥ 1.25).`);
    const so = sat.find((x) => x.server === opa.server);
    const stg = sat.find((x) => x.server === 'tenantgate');
    if (so && stg) lines.push(`Saturation tenantgate / OPA = ${(stg.rps / so.rps).toFixed(2)}.`);
  } else lines.push('', 'OPA-Envoy: not measured (no OPA_ENVOY_BIN and no Go toolchain for opa-standin; see bench/README.md).');
  if (http.length) {
    lines.push('', '**HTTP mode (the same mix as HTTP requests: autocannon, 20 connections, for saturation; vegeta for 1,000 rps; tenantgate and nginx on core 0):**', '', '| path | rps | tenantgate CPU µs per check | nginx CPU µs per request | p99 ms at saturation | p99 ms at 1,000 rps (three runs) |', '|---|---:|---:|---:|---:|---|');
    for (const h of http) lines.push(`| ${h.server} | ${h.rps.toFixed(0)} | ${h.tenantgateCpuUsPerCheck.toFixed(0)} | ${h.nginxCpuUsPerRequest === null ? '' : h.nginxCpuUsPerRequest.toFixed(0)} | ${h.p99} | ${h.p99At1000.join(', ')} |`);
  }
  lines.push('', ...targets(results, sat, http));
  return lines.join('\n') + '\n';
}

/** Issue 16's targets, each as measured in this run. */
function targets(results, sat, http) {
  const cpu = (name) => { const x = sat.find((s) => s.server === name); return x ? (x.serverCpuPct * 1e4) / x.rps : undefined; };
  const rss = (name) => sat.find((s) => s.server === name)?.peakRssMb;
  const p99 = (name) => results.find((r) => r.server === name)?.at1000?.[2]?.p99;
  const peer = sat.some((s) => s.server.startsWith('opa-envoy')) ? 'opa-envoy' : 'opa-standin';
  const ratio = (a, b) => (a !== undefined && b !== undefined ? (a / b).toFixed(2) : 'n/a');
  const httpCpu = http.find((h) => h.server.startsWith('tenantgate HTTP'))?.tenantgateCpuUsPerCheck;
  const rows = [
    ['CPU per check, tenantgate / raw floor', ratio(cpu('tenantgate'), cpu('floor-raw')), '≤ 1.5'],
    ['CPU per check, tenantgate with quotas / raw floor', ratio(cpu('tenantgate+quota'), cpu('floor-raw')), '≤ 1.7'],
    [`CPU per check, tenantgate / ${peer} (the bench mix)`, ratio(cpu('tenantgate'), cpu(peer)), '≤ 0.3'],
    [`CPU per check, trivial policy, tenantgate / ${peer}`, ratio(cpu('tenantgate-compat-trivial'), cpu(`${peer}-compat-trivial`)), '≤ 1.0'],
    [`CPU per check, object decision, tenantgate / ${peer}`, ratio(cpu('tenantgate-compat-object'), cpu(`${peer}-compat-object`)), '≤ 1.0'],
    ['p99 at 1,000 rps (median of five), tenantgate / raw floor', ratio(p99('tenantgate'), p99('floor-raw')), '≤ 1.3'],
    ['CPU per check, HTTP mode / gRPC mode', ratio(httpCpu, cpu('tenantgate')), '≤ 1.2'],
    ['peak RSS at saturation, tenantgate / raw floor', ratio(rss('tenantgate'), rss('floor-raw')), '≤ 1.1'],
  ];
  return ['**Issue 16\'s targets, this run:**', '', '| figure | measured | target |', '|---|---:|---:|', ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

async function main() {
  spawnSync('bash', [join(ROOT, 'scripts', 'setup.sh')], { stdio: 'inherit' });
  ensureTool('ghz', 'github.com/bojand/ghz/cmd/ghz@v0.93.0');
  const when = new Date().toISOString().replace(/[:.]/g, '-');
  const work = join(ROOT, 'bench', 'results', when);
  mkdirSync(work, { recursive: true });
  if (args.has('--tenant-rules')) return tenantRulesOnly(work);
  if (args.has('--token-budgets')) return tokenBudgetsOnly(work);
  if (args.has('--targets')) return targetsOnly(work);
  console.log('bench: building fixtures');
  const fx = await makeFixtures(join(work, 'data'));
  const servers = ['floor', 'tenantgate', 'tenantgate+quota'];
  // OPA-Envoy itself when it can be had; otherwise the stand-in built from OPA's Go packages (bench/opa-standin).
  const opaEnvoy = opaEnvoyBin();
  if (opaEnvoy) process.env.OPA_ENVOY_BIN = opaEnvoy;
  if (opaEnvoy) servers.push('opa-envoy');
  else if (buildStandin()) servers.push('opa-standin');
  const results = [await rawFloorAt1000(fx, work)];
  for (const kind of servers) {
    console.log(`bench: ${kind}`);
    results.push(await measure(kind, fx, work, true));
  }
  const sat = [];
  // The raw floor (gRPC alone, no decoding) beside the floor (proto-loader's decoding too): the true transport cost.
  for (const kind of ['floor-raw', 'floor', 'tenantgate', 'tenantgate+quota', 'tenantgate-2w', ...servers.filter((k) => k.startsWith('opa'))]) sat.push(await saturation(kind, fx, work));
  // The compatibility policies in OPA-Envoy mode, beside the plugin (or its stand-in) on the same policy.
  const peer = opaEnvoy ? 'opa-envoy' : servers.includes('opa-standin') ? 'opa-standin' : undefined;
  for (const policy of ['trivial', 'object']) for (const kind of [`tenantgate-compat-${policy}`, ...(peer ? [`${peer}-compat-${policy}`] : [])]) sat.push(await saturation(kind, fx, work));
  if (args.has('--tracing')) sat.push(...(await tracingRuns(fx, work)));
  const vegeta = ensureTool('vegeta', 'github.com/tsenart/vegeta/v12@v12.13.0');
  const http = await httpModeRuns({ root: ROOT, fx, work, quick, freePort, procStats, startServer, vegeta });
  const meta = { when, cpus: (await import('node:os')).cpus().length, cpu: (await import('node:os')).cpus()[0].model, kinds: fx.kinds, duration: DURATION, p95Ms: P95_MS, p99Ms: P99_MS };
  const out = join(ROOT, 'bench', 'results', `${when}`);
  writeFileSync(`${out}.json`, JSON.stringify({ meta, results, saturation: sat, http }, null, 2));
  const md = markdown(results, sat, meta, http);
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.svg`, renderChart(results));
  console.log('\n' + md);
  console.log(`bench: wrote ${out}.json, .md and .svg`);
  const def = results.find((r) => r.server === 'tenantgate')?.rates.find((x) => x.rate === 1000);
  if (args.has('--check') && def && !def.thresholdsOk) {
    console.error(`bench: the default scenario missed its thresholds (p95 ≤ ${P95_MS} ms, p99 ≤ ${P99_MS} ms, no errors, ≤ 1 % dropped)`);
    process.exit(1);
  }
}

/**
 * --targets: issue 16's CPU-per-check ratios alone, every server measured at saturation once per round, each round
 * starting with another; each ratio taken within a round, and its median over the rounds reported (one server's
 * figure moves by 10-15 % between runs on these shared cores, more than the ratios' margins).
 */
async function targetsOnly(work, rounds = Number(process.env.BENCH_ROUNDS ?? 5)) {
  const fx = await makeFixtures(join(work, 'data'));
  const opaEnvoy = opaEnvoyBin();
  const peer = opaEnvoy ? 'opa-envoy' : buildStandin() ? 'opa-standin' : undefined;
  const kinds = ['floor-raw', 'tenantgate', 'tenantgate+quota', 'tenantgate-compat-trivial', 'tenantgate-compat-object', ...(peer ? [peer, `${peer}-compat-trivial`, `${peer}-compat-object`] : [])];
  console.log(`bench: ${kinds.join(', ')}; ${rounds} rounds, side by side`);
  // p99 at 1,000 rps too (one open-loop run per server and round) for the raw floor and tenantgate.
  const timed = new Set(['floor-raw', 'tenantgate', 'tenantgate+quota']);
  const sat = (kind, f, w) => saturation(kind, f, w, { withAt1000: timed.has(kind) });
  const r = await sideBySide({ kinds: Object.fromEntries(kinds.map((k) => [k, fx])), work, saturation: sat, rounds });
  const ratio = (a, b, of = (x) => x.cpuUsPerCheck) => {
    if (!r.runs[a] || !r.runs[b]) return undefined;
    const xs = r.runs[a].map((x, i) => of(x) / of(r.runs[b][i])).sort((p, q) => p - q);
    return { median: xs[Math.floor(xs.length / 2)], all: xs };
  };
  const rows = [
    ['CPU per check, tenantgate / raw floor', ratio('tenantgate', 'floor-raw'), '≤ 1.5'],
    ['CPU per check, tenantgate with quotas / raw floor', ratio('tenantgate+quota', 'floor-raw'), '≤ 1.7'],
    [`CPU per check, tenantgate / ${peer} (the bench mix)`, peer && ratio('tenantgate', peer), '≤ 0.3'],
    [`CPU per check, trivial policy, tenantgate / ${peer}`, peer && ratio('tenantgate-compat-trivial', `${peer}-compat-trivial`), '≤ 1.0'],
    [`CPU per check, object decision, tenantgate / ${peer}`, peer && ratio('tenantgate-compat-object', `${peer}-compat-object`), '≤ 1.0'],
    ['p99 at 1,000 rps (loadgen, open loop), tenantgate / raw floor', ratio('tenantgate', 'floor-raw', (x) => x.at1000.p99), '≤ 1.3'],
  ];
  const lines = ['| figure | median of the rounds | each round, sorted | target |', '|---|---:|---|---:|'];
  for (const [name, x, target] of rows) if (x) lines.push(`| ${name} | ${x.median.toFixed(2)} | ${x.all.map((v) => v.toFixed(2)).join(', ')} | ${target} |`);
  lines.push('', '| server | median CPU µs per check | median rps |', '|---|---:|---:|');
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const k of kinds) lines.push(`| ${k} | ${r.medianCpuUsPerCheck[k].toFixed(1)} | ${med(r.runs[k].map((x) => x.rps)).toFixed(0)} |`);
  lines.push('', '| server | p99 ms at 1,000 rps, each round | median |', '|---|---|---:|');
  for (const k of kinds.filter((x) => timed.has(x))) lines.push(`| ${k} | ${r.runs[k].map((x) => x.at1000.p99.toFixed(2)).join(', ')} | ${med(r.runs[k].map((x) => x.at1000.p99)).toFixed(2)} |`);
  writeFileSync(`${work}-targets.json`, JSON.stringify({ kinds: fx.kinds, runs: r.runs, rows: rows.map(([name, x, target]) => ({ name, ...x, target })) }, null, 2));
  writeFileSync(`${work}-targets.md`, lines.join('\n') + '\n');
  console.log('\n' + lines.join('\n'));
  console.log(`bench: wrote ${work}-targets.json and .md`);
}

/** --tenant-rules: the tenant-rules comparison alone, written to bench/results/<timestamp>-tenant-rules.json. */
async function tenantRulesOnly(work) {
  console.log('bench: tenant rules (off / on without rules / a typical rule set), side by side');
  const r = await tenantRulesRuns({ work, saturation });
  writeFileSync(`${work}-tenant-rules.json`, JSON.stringify(r, null, 2));
  const m = r.medianCpuUsPerCheck;
  const sign = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  console.log(`\nserver CPU per check (median of ${r.runs['tenantgate+rules'].length} rounds): off ${m['tenantgate+rules-off'].toFixed(1)} µs, on without rules ${m['tenantgate+rules-none'].toFixed(1)} µs, typical rule set ${m['tenantgate+rules'].toFixed(1)} µs`);
  console.log(`median difference within a round: no rules vs off ${sign(r.noRulesExtraUs)} µs (target: nothing extra); typical rule set vs no rules ${sign(r.typicalRulesExtraUs)} µs (target ≤ +20)`);
  console.log(`bench: wrote ${work}-tenant-rules.json`);
}

/** --token-budgets: a check with token budgets against request limits only, written to <timestamp>-token-budgets.json. */
async function tokenBudgetsOnly(work) {
  console.log('bench: token budgets (quotas with request limits only / with token budgets too), side by side');
  const r = await tokenBudgetRuns({ work, saturation });
  writeFileSync(`${work}-token-budgets.json`, JSON.stringify(r, null, 2));
  const m = r.medianCpuUsPerCheck;
  console.log(`\nserver CPU per check (median of ${r.runs['tenantgate+tokens'].length} rounds): request limits ${m['tenantgate+limits'].toFixed(1)} µs, with token budgets ${m['tenantgate+tokens'].toFixed(1)} µs`);
  console.log(`median difference within a round: ${r.tokenBudgetsExtraUs >= 0 ? '+' : ''}${r.tokenBudgetsExtraUs.toFixed(1)} µs (target ≤ +15)`);
  console.log(`bench: wrote ${work}-token-budgets.json`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
