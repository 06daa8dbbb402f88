// Jaeger (v2, all-in-one with its in-memory store) for the tests and the bench, built by scripts/test-tools.sh into
// .tools/bin, on free loopback ports: an OTLP/HTTP receiver for tenantgate's spans, and the query API to read them.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.mjs';

const JAEGER = resolve(dirname(fileURLToPath(import.meta.url)), '..', '.tools', 'bin', 'jaeger');

export async function startJaeger() {
  if (!existsSync(JAEGER)) throw new Error(`${JAEGER} is missing: run bash scripts/test-tools.sh (npm test does)`);
  const [otlp, query, queryGrpc] = [await freePort(), await freePort(), await freePort()];
  const config = join(mkdtempSync(join(tmpdir(), 'tg-jaeger-')), 'jaeger.yaml');
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter]}
  telemetry: {metrics: {level: none}, logs: {level: warn}}
extensions:
  jaeger_query: {storage: {traces: mem}, http: {endpoint: "127.0.0.1:${query}"}, grpc: {endpoint: "127.0.0.1:${queryGrpc}"}}
  jaeger_storage: {backends: {mem: {memory: {max_traces: 10000}}}}
receivers:
  otlp: {protocols: {http: {endpoint: "127.0.0.1:${otlp}"}}}
processors:
  batch: {timeout: 50ms}
exporters:
  jaeger_storage_exporter: {trace_storage: mem}
`,
  );
  const child = spawn(JAEGER, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const api = `http://127.0.0.1:${query}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${api}/api/services`).then((r) => r.ok, () => false);
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`jaeger did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${otlp}/v1/traces`,
    async trace(traceId, min = 1, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await fetch(`${api}/api/traces/${traceId}`);
        if (res.ok) {
          const spans = (await res.json()).data?.[0]?.spans ?? [];
          if (spans.length >= min) return spans;
        }
        if (Date.now() > until) throw new Error(`trace ${traceId} not found in Jaeger with ${min} span(s)`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
