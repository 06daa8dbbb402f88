#!/usr/bin/env node
// The cost of a check that misses every cache, in-process (no gRPC, no generator): the scale scenario's store and
// requests, every other one with a key, tenant and user never seen, timed one by one, with the time spent in the
// key lookup, the tenant lookup, the context and the policy. Usage, after `node bench/scale.mjs`:
//   taskset -c 0 node --single-threaded-gc --max-semi-space-size=4 bench/miss-path.mjs bench/results/scale-<ts>
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { parseConfig } from '../dist/core/config.js';
import { startServer, internalsOf } from '../dist/server.js';
import { createLogger } from '../dist/telemetry/logger.js';
import { authServiceDefinition } from '../dist/check/protos.js';
import { ApiKeyRepository } from '../dist/store/apikeys.js';
import { TenantRepository } from '../dist/store/tenants.js';
import { ContextLoader } from '../dist/tenancy/context.js';
import { PolicyEngine } from '../dist/policy/engine.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/miss-path.mjs bench/results/scale-<timestamp>');
  process.exit(2);
}

// Time per phase of the current check, by wrapping the methods that do each part.
const phase = {};
const timed = (cls, method, name) => {
  const f = cls.prototype[method];
  cls.prototype[method] = function (...args) {
    const t = process.hrtime.bigint();
    try {
      return f.apply(this, args);
    } finally {
      phase[name] += Number(process.hrtime.bigint() - t) / 1000;
    }
  };
};
timed(ApiKeyRepository, 'get', 'key');
timed(TenantRepository, 'get', 'tenant');
timed(ContextLoader, 'user', 'context');
timed(PolicyEngine, 'evaluate', 'policy');

const work = mkdtempSync(join(tmpdir(), 'tenantgate-miss-'));
copyFileSync(join(dir, 'tenantgate.db'), join(work, 'tenantgate.db'));
const config = parseConfig({ server: { address: '127.0.0.1:0' }, store: { path: join(work, 'tenantgate.db') }, policies: { dir: join(ROOT, 'policies'), watch: false }, quota: { enabled: false }, log: { level: 'silent' } });
const server = await startServer(config, { logger: createLogger('silent') });
const check = authServiceDefinition().Check;
const read = (file) => {
  const r = protobuf.Reader.create(readFileSync(join(dir, file)));
  const out = [];
  while (r.pos < r.len) out.push(r.bytes());
  return out;
};
const hot = read('hot.bin');
const mixed = read('mixed.bin');
for (let i = 0; i < 3000; i++) await internalsOf(server).service.checkEncoded(check.requestDeserialize(Buffer.from(hot[i])));

const miss = [];
const hit = [];
const sums = { key: 0, tenant: 0, context: 0, policy: 0 };
for (let i = 0; i < mixed.length; i++) {
  const request = check.requestDeserialize(Buffer.from(mixed[i]));
  for (const k in sums) phase[k] = 0;
  const t = process.hrtime.bigint();
  await internalsOf(server).service.checkEncoded(request);
  const us = Number(process.hrtime.bigint() - t) / 1000;
  if (i % 2) {
    miss.push(us);
    for (const k in sums) sums[k] += phase[k];
  } else hit.push(us);
  // Let the background work (last-use batches, timers) run as it would between requests.
  if (i % 50 === 49) await new Promise((r) => setImmediate(r));
}
await server.shutdown();

const q = (a, p) => a.slice().sort((x, y) => x - y)[Math.floor(a.length * p)].toFixed(0);
const mean = (a) => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(0);
console.log(`miss: p50 ${q(miss, 0.5)} µs, p90 ${q(miss, 0.9)}, p99 ${q(miss, 0.99)}, mean ${mean(miss)} | hit: p50 ${q(hit, 0.5)} µs, p99 ${q(hit, 0.99)}`);
console.log(`per miss, mean: ${Object.entries(sums).map(([k, v]) => `${k} ${(v / miss.length).toFixed(0)} µs`).join(', ')}`);
process.exit(0);
