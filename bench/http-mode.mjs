// The HTTP authorization mode in the bench: tenantgate's /authz asked directly, and nginx auth_request in front of
// it, beside gRPC mode. The same request mix as plain HTTP requests from the generator's core: autocannon
// (bench/http-load.mjs) in a closed loop for saturation, vegeta at a fixed rate (open loop; autocannon's rate
// limiter queued a mix of distinct requests for up to a second); tenantgate (and nginx) on core 0. Used by run.mjs.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx } from '../scripts/nginx.mjs';

/** A CheckRequest of the mix as the HTTP request it stands for (pseudo-headers out, :authority as host). */
function httpRequestOf(check) {
  const http = check.attributes.request.http;
  const headers = {};
  for (const [k, v] of Object.entries(http.headers)) if (!k.startsWith(':')) headers[k] = v;
  headers.host = http.headers[':authority'] ?? http.host;
  return { method: http.method, path: http.path, headers };
}

function load(root, file, base, seconds, rate) {
  const r = spawnSync('taskset', ['-c', '1', process.execPath, join(root, 'bench', 'http-load.mjs'), file, base, String(seconds), ...(rate ? [String(rate)] : [])], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`http load failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** vegeta's targets: one JSON object per line. */
function vegetaTargets(file, requests, base) {
  writeFileSync(file, requests.map((r) => JSON.stringify({ method: r.method, url: base + r.path, header: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, [v]])) })).join('\n') + '\n');
}

/** p99 in ms of `seconds` at `rate` requests a second (vegeta, open loop, keep-alive). */
function fixedRate(vegeta, targets, rate, seconds) {
  const r = spawnSync('taskset', ['-c', '1', 'bash', '-c', `"$0" attack -format=json -targets="$1" -rate=${rate}/s -duration=${seconds}s -max-workers=64 | "$0" report -type=json`, vegeta, targets], { encoding: 'utf8', env: { ...process.env, GOGC: 'off', GOMEMLIMIT: '4GiB' } });
  if (r.status !== 0) throw new Error(`vegeta failed: ${r.stderr}`);
  const report = JSON.parse(r.stdout);
  return { p99: report.latencies['99th'] / 1e6, p50: report.latencies['50th'] / 1e6, rate: report.rate, errors: report.errors?.length ?? 0 };
}

/** auth_request to tenantgate's /authz as envoy/nginx-auth-request.conf asks it, then an upstream that answers 200. */
function authRequestBlock(port, upstreamPort, tenantgateHttp) {
  return `
  upstream tenantgate_http { server 127.0.0.1:${tenantgateHttp}; keepalive 32; }
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 32; }
  server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "ok"; } }
  server {
    listen 127.0.0.1:${port};
    location = /_tenantgate_authz {
      internal;
      proxy_pass http://tenantgate_http/authz;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-Host $host;
    }
    location / {
      auth_request /_tenantgate_authz;
      auth_request_set $tg_tenant_id $upstream_http_x_tenant_id;
      auth_request_set $tg_user_id $upstream_http_x_user_id;
      proxy_set_header x-tenant-id $tg_tenant_id;
      proxy_set_header x-user-id $tg_user_id;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }`;
}

/**
 * gRPC mode's figure comes from the saturation runs; here: /authz asked directly and through nginx, each at
 * saturation (closed loop, 20 connections) and at 1,000 rps (three runs, the median p99).
 */
export async function httpModeRuns({ root, fx, work, quick, freePort, procStats, startServer, vegeta }) {
  const mix = JSON.parse(readFileSync(fx.requestsFile, 'utf8')).map(httpRequestOf);
  const direct = join(work, 'http-direct.json');
  writeFileSync(direct, JSON.stringify(mix.map((r) => ({ ...r, path: `/authz${r.path}` }))));
  const proxied = join(work, 'http-nginx.json');
  writeFileSync(proxied, JSON.stringify(mix));
  const seconds = quick ? 5 : 10;
  const out = [];
  const httpPort = await freePort();
  const server = await startServer('tenantgate', await freePort(), fx, work, { httpPort });
  const pids = (extra) => [server.pid, ...extra];
  const cpuOf = (list) => list.reduce((a, pid) => a + procStats(pid).cpu, 0);
  try {
    for (const [name, file, base, extra] of [
      ['tenantgate HTTP mode (/authz)', direct, `http://127.0.0.1:${httpPort}`, null],
      ['nginx auth_request → tenantgate', proxied, null, 'nginx'],
    ]) {
      let nginx;
      let url = base;
      if (extra === 'nginx') {
        const upstreamPort = await freePort();
        nginx = await startNginx((port) => authRequestBlock(port, upstreamPort, httpPort), { core: 0 });
        url = `http://127.0.0.1:${nginx.port}`;
      }
      try {
        load(root, file, url, 3); // warm-up
        const nginxPids = nginx ? [nginx.pid, ...spawnSync('pgrep', ['-P', String(nginx.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number)] : [];
        const tgBefore = cpuOf(pids([]));
        const ngBefore = cpuOf(nginxPids);
        const sat = load(root, file, url, seconds);
        const tgCpu = cpuOf(pids([])) - tgBefore;
        const ngCpu = cpuOf(nginxPids) - ngBefore;
        const targets = `${file}.targets`;
        vegetaTargets(targets, JSON.parse(readFileSync(file, 'utf8')), url);
        const at1000 = [1, 2, 3].map(() => fixedRate(vegeta, targets, 1000, quick ? 4 : 6)).sort((a, b) => a.p99 - b.p99);
        out.push({ server: name, rps: sat.rps, requests: sat.requests, p99: sat.p99, errors: sat.errors, tenantgateCpuUsPerCheck: (tgCpu * 1e6) / sat.requests, nginxCpuUsPerRequest: nginx ? (ngCpu * 1e6) / sat.requests : null, p99At1000: at1000.map((r) => Number(r.p99.toFixed(2))), peakRssMb: procStats(server.pid).peakRssMb });
        console.log(`  ${name}: ${sat.rps.toFixed(0)} rps, tenantgate ${((tgCpu * 1e6) / sat.requests).toFixed(0)} µs CPU per check${nginx ? `, nginx ${((ngCpu * 1e6) / sat.requests).toFixed(0)} µs per request` : ''}, p99 at 1,000 rps ${at1000.map((r) => r.p99.toFixed(2)).join(' / ')} ms`);
      } finally {
        await nginx?.stop();
      }
    }
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  return out;
}
