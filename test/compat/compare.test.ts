// The compatibility suite on the OPA-Envoy plugin itself, beside tenantgate: runs only when OPA_ENVOY_BIN names a
// plugin binary you built (the project never builds or installs it). `npm run compat:opa-envoy` prints every case
// where the two answer differently, as Envoy would observe it, and fails if there is one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.js';
import { descriptorSet, runCase, suite, type Observed, type Policy } from './opa-envoy-suite.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.OPA_ENVOY_BIN;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The plugin serving `dir` at `path`, as its docs configure it, with its logs kept for a failure. */
async function startPlugin(dir: string, path: string, proto: string | undefined, options: Policy['options']): Promise<{ address: string; child: ChildProcess; log: () => string }> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  let log = '';
  const child = spawn(BIN!, ['run', '--server', `--addr=127.0.0.1:${httpPort}`, '--log-level=error', `--set=plugins.envoy_ext_authz_grpc.addr=127.0.0.1:${grpcPort}`, `--set=plugins.envoy_ext_authz_grpc.path=${path}`, '--set=decision_logs.console=false', ...(proto ? [`--set=plugins.envoy_ext_authz_grpc.proto-descriptor=${proto}`] : []), ...(options?.dry_run ? ['--set=plugins.envoy_ext_authz_grpc.dry-run=true'] : []), ...(options?.skip_request_body_parse ? ['--set=plugins.envoy_ext_authz_grpc.skip-request-body-parse=true'] : []), dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${httpPort}/health?plugins`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the plugin did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `127.0.0.1:${grpcPort}`, child, log: () => log };
}

/** Object keys in order: the metadata is a map, and its order is nobody's to observe. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

describe.skipIf(!BIN)('the compatibility suite on the OPA-Envoy plugin and on tenantgate', () => {
  const differences: { policy: string; case: string; plugin: Observed; tenantgate: Observed }[] = [];
  let total = 0;

  for (const policy of suite()) {
    describe(policy.name, () => {
      let t: TestServer;
      let plugin: Awaited<ReturnType<typeof startPlugin>>;
      beforeAll(async () => {
        const proto = await descriptorSet(policy, mkdtempSync(join(tmpdir(), 'tg-pb-')));
        t = await startTestServer({ config: { policies: { bundle_file: undefined, dir: policy.dir, entrypoint: policy.path, watch: false, proto_descriptor: proto, ...policy.options } } });
        plugin = await startPlugin(policy.dir, policy.path, proto, policy.options);
      }, 60_000);
      afterAll(async () => {
        plugin?.child.kill();
        await t?.close();
      });

      it('answers every case as the plugin does', async () => {
        for (const c of policy.cases) {
          total++;
          const theirs = await runCase(plugin.address, c);
          const ours = await runCase(t.server.address, c);
          if (JSON.stringify(canonical(theirs)) !== JSON.stringify(canonical(ours))) differences.push({ policy: policy.name, case: c.name, plugin: theirs, tenantgate: ours });
        }
      });
    });
  }

  it('differs in no case', () => {
    for (const d of differences) console.log(`DIFFERENT ${d.policy} / ${d.case}\n  plugin:     ${JSON.stringify(d.plugin)}\n  tenantgate: ${JSON.stringify(d.tenantgate)}`);
    console.log(`${total - differences.length} of ${total} cases answered the same`);
    expect(differences).toEqual([]);
  });
});
