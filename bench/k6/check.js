// k6 load test of an ext_authz Check server at a constant arrival rate. Optional: `npm run bench -- --k6` runs it
// with a k6 you put on PATH; the project never installs k6 (its Go module is AGPL-licensed).
// Env: TARGET host:port, RATE rps, DURATION (e.g. 10s), REQUESTS (JSON file of CheckRequests), PROTO_DIRS
// (comma-separated include dirs), SUMMARY (output file), P95_MS / P99_MS (thresholds, the targets).
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const requests = new SharedArray('requests', () => JSON.parse(open(__ENV.REQUESTS)));
const client = new grpc.Client();
client.load(__ENV.PROTO_DIRS.split(','), 'envoy/service/auth/v3/external_auth.proto');

const rate = Number(__ENV.RATE || 1000);
export const options = {
  discardResponseBodies: true,
  scenarios: {
    check: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '10s',
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 200)),
      maxVUs: Math.max(50, Math.ceil(rate / 20)),
    },
  },
  thresholds: {
    grpc_req_duration: [`p(95)<${__ENV.P95_MS || 2}`, `p(99)<${__ENV.P99_MS || 5}`],
    dropped_iterations: ['count==0'],
    checks: ['rate==1'],
  },
  summaryTrendStats: ['min', 'med', 'avg', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

let connected = false;
let i = Math.floor(Math.random() * 100000);

export default function () {
  if (!connected) {
    client.connect(__ENV.TARGET, { plaintext: true, timeout: '5s' });
    connected = true;
  }
  const req = requests[i++ % requests.length];
  const res = client.invoke('envoy.service.auth.v3.Authorization/Check', req, { timeout: '2s' });
  check(res, { 'rpc ok': (r) => r && r.status === grpc.StatusOK });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
