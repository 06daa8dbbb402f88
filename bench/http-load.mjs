// An HTTP load generator for the bench (autocannon, MIT): the request mix as plain HTTP requests, closed loop
// (saturation) or at a fixed rate. Run pinned to the generator's core; prints autocannon's result as JSON.
//   node bench/http-load.mjs <requests.json> <url base> <duration s> [rate]
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [file, base, duration, rate] = process.argv.slice(2);
const requests = JSON.parse(readFileSync(file, 'utf8'));
const result = await autocannon({
  url: base,
  connections: 20,
  duration: Number(duration),
  ...(rate ? { overallRate: Number(rate) } : {}),
  requests,
});
process.stdout.write(JSON.stringify({ requests: result.requests.total, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx, statusCodes: result.statusCodeStats ?? null }));
