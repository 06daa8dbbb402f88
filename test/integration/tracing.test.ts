// OpenTelemetry traces, read back from a real Jaeger: a span per check continuing the caller's traceparent, with
// the tenant, decision, denial code, policy revision and phase times; child spans for store misses, the JWKS fetch
// and Redis; nothing from a check that is not sampled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { AUDIENCE, bearer, mint, startTestServer, testKeys, type TestServer } from '../support/server.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startJaeger, tagsOf, type Jaeger, type JaegerSpan } from '../support/jaeger.js';

const REMOTE_ISSUER = 'https://remote-idp.test/';

let jaeger: Jaeger;
let jwks: JwksServer;
let redis: RedisServer;
let t: TestServer;

beforeAll(async () => {
  jaeger = await startJaeger();
  jwks = await startJwksServer((await testKeys()).jwks);
  redis = await startRedis();
  t = await startTestServer({
    config: {
      tracing: { enabled: true, endpoint: jaeger.otlpEndpoint, sample_ratio: 0, export_interval_ms: 50, service_name: 'tenantgate-test' },
      auth: { jwt: { issuers: [{ issuer: REMOTE_ISSUER, audiences: [AUDIENCE], jwks_url: jwks.url }] } },
      quota: { enabled: true, store: 'redis', redis_url: redis.url },
    },
  });
}, 60_000);
afterAll(async () => {
  await t?.close();
  await jaeger?.close();
  await jwks?.close();
  await redis?.stop();
});

/** A caller's W3C traceparent: a new trace and parent span id, sampled or not. */
function traceparent(sampled = true) {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: ['traceparent', `00-${traceId}-${parentId}-${sampled ? '01' : '00'}`] as [string, string] };
}

const named = (spans: JaegerSpan[], name: string) => spans.filter((s) => s.operationName === name);

describe('a traced check', () => {
  it("continues the caller's trace: the check's span has the caller's span as parent, the outcome and each phase's time", async () => {
    const tp = traceparent();
    const token = await mint({ tenant: 'acme', iss: REMOTE_ISSUER, sub: 'alice' });
    const r = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token), tp.header] });
    expect(r.outcome).toBe('upstream');
    const decisionId = r.outcome === 'upstream' ? r.headers['x-decision-id']![0] : '';
    // The check, its store misses (the tenant, the user's groups), the key fetch and the Redis call.
    const spans = await jaeger.trace(tp.traceId, 5);
    const [check] = named(spans, 'tenantgate.check');
    expect(check!.references).toEqual([{ refType: 'CHILD_OF', traceID: tp.traceId, spanID: tp.parentId }]);
    const tags = tagsOf(check!);
    expect(tags).toMatchObject({
      'tenantgate.decision': 'allow',
      'tenantgate.tenant': 'acme',
      'tenantgate.policy_revision': t.server.policyRevision,
      'tenantgate.decision_id': decisionId,
      'tenantgate.identity.kind': 'jwt',
      'http.request.method': 'GET',
      'url.path': '/api/v1/items',
      'span.kind': 'server',
    });
    for (const phase of ['normalize', 'identify', 'tenancy', 'policy', 'quota']) expect(tags[`tenantgate.phase.${phase}_ms`]).toEqual(expect.any(Number));
    expect(tags['tenantgate.denial_code']).toBeUndefined();
    for (const child of ['tenantgate.jwks.fetch', 'tenantgate.store.tenant', 'tenantgate.store.groups', 'tenantgate.redis.quota']) {
      const [span] = named(spans, child);
      expect(span, child).toBeDefined();
      expect(span!.references).toEqual([{ refType: 'CHILD_OF', traceID: tp.traceId, spanID: check!.spanID }]);
    }
  });

  it('a denial: its code on the span; a second check of the same caller hits the caches, so no child spans', async () => {
    const token = await mint({ tenant: 'acme', iss: REMOTE_ISSUER, sub: 'alice' });
    const tp = traceparent();
    const r = await t.envoy({ method: 'GET', path: '/api/v1/admin/users', headers: [bearer(token), tp.header] });
    expect(r.outcome === 'denied' && r.status).toBe(403);
    const spans = await jaeger.trace(tp.traceId, 1);
    await new Promise((res) => setTimeout(res, 300)); // anything else of this trace would have arrived by now
    const again = await jaeger.trace(tp.traceId, 1);
    expect(again.map((s) => s.operationName)).toEqual(['tenantgate.check']);
    expect(tagsOf(spans[0]!)).toMatchObject({ 'tenantgate.decision': 'deny', 'tenantgate.denial_code': 'insufficient_permission', 'tenantgate.tenant': 'acme' });
  });

  it('a check the caller did not sample, with sample_ratio 0, sends nothing', async () => {
    const tp = traceparent(false);
    const r = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'acme', iss: REMOTE_ISSUER })), tp.header] });
    expect(r.outcome).toBe('upstream');
    // Then a sampled one, to know the exporter has sent what it had.
    const sampled = traceparent();
    await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [sampled.header] });
    await jaeger.trace(sampled.traceId, 1);
    await expect(jaeger.trace(tp.traceId, 1, 1000)).rejects.toThrow(/not found/);
  });
});
