import { readFileSync } from 'node:fs';
import { parseConfig } from '../dist/core/config.js';
import { startServer, internalsOf } from '../dist/server.js';
import { createLogger } from '../dist/telemetry/logger.js';
const dir = process.argv[2];
const reqs = JSON.parse(readFileSync(dir + '/requests.json', 'utf8'));
const config = parseConfig({ server: { address: '127.0.0.1:0' }, store: { path: dir + '/tenantgate.db' }, auth: { jwt: { issuers: [{ issuer: 'https://idp.bench.local/', audiences: ['tenantgate'], jwks_file: dir + '/jwks.json' }] } }, policies: { dir: new URL('../policies', import.meta.url).pathname, watch: false }, quota: { enabled: process.env.Q === '1' }, log: { level: 'silent' } });
const running = await startServer(config, { logger: createLogger('silent') });
const s = internalsOf(running);
// decode as grpc would: protobufjs roundtrip through the service's serializers
import { authServiceDefinition } from '../dist/check/protos.js';
const def = authServiceDefinition().Check;
const bufs = reqs.map((r) => { const t = Date.parse(r.attributes.request.time); r.attributes.request.time = { seconds: String(Math.floor(t / 1000)), nanos: 0 }; return def.requestSerialize(r); });
const N = 20000;
for (let i = 0; i < 3000; i++) { const raw = def.requestDeserialize(bufs[i % bufs.length]); const r = await s.service.check(raw, 'grpc'); def.responseSerialize(r.response); }
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) def.requestDeserialize(bufs[i % bufs.length]);
const dec = Number(process.hrtime.bigint() - t) / N / 1000;
const raws = bufs.map((b) => def.requestDeserialize(b));
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) await s.pipeline.check(raws[i % raws.length]);
const pipe = Number(process.hrtime.bigint() - t) / N / 1000;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) { await s.service.checkEncoded(raws[i % raws.length]); }
const full = Number(process.hrtime.bigint() - t) / N / 1000;
let pol = 0, n = 0, inputBytes = 0;
for (let i = 0; i < 5000; i++) { const o = await s.pipeline.check(raws[i % raws.length]); if (o.policySeconds) { pol += o.policySeconds; n++; inputBytes += JSON.stringify(o.policyInput).length; } }
console.log(`policy ${(pol / n * 1e6).toFixed(1)}µs per evaluation, input ${(inputBytes / n).toFixed(0)} bytes`);
console.log(`decode ${dec.toFixed(1)}µs  pipeline ${pipe.toFixed(1)}µs  service+encode ${full.toFixed(1)}µs`);
await running.shutdown();
process.exit(0);
