// Documented promises (docs/model.md) that had no test of their own, each through the real server: multi-group aggregation, the
// policy-named quota bucket, the API key's --tier, the billing anchor day, server.max_request_bytes,
// server.shutdown_timeout_ms, decision_log.redact_headers.
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, bearer, mint, startTestServer, testKeys, waitFor } from '../support/server.js';
import { startJwksServer } from '../support/jwks-server.js';
import type { EnvoyResult } from '../support/envoy.js';

const denial = (r: EnvoyResult) => (r.outcome === 'denied' ? JSON.parse(r.body) : { error: r.outcome });
const policyHeader = (r: EnvoyResult) =>
  r.outcome === 'upstream' ? r.responseHeadersToAdd.find((h) => h.header?.key === 'ratelimit-policy')?.header?.value ?? '' : (r.outcome === 'denied' ? r.headers['ratelimit-policy']?.[0] : '') ?? '';

describe('a user in several groups', () => {
  it('gets the strictest routing strategy, the largest numeric limits, and the union of models and providers', async () => {
    const t = await startTestServer({ tenants: [{ id: 'acme', tier: 'enterprise' }] });
    try {
      await t.change((a) => {
        a.groupApply('acme', {
          id: 'fast', name: 'Fast', type: 'team', permissions: [{ resource: 'completions', actions: ['read'] }],
          resource_limits: { max_tokens_per_request: 1000, requests_per_minute: 50, allowed_models: ['gpt-4o-mini'], allowed_providers: ['azure-openai'] },
          routing: { strategy: 'performance', preferred_providers: ['azure-openai'] },
        });
        a.groupApply('acme', {
          id: 'regulated', name: 'Regulated', type: 'team', permissions: [{ resource: 'models', actions: ['read'] }],
          resource_limits: { max_tokens_per_request: 4000, requests_per_minute: 80, allowed_models: ['claude-3-5-sonnet'], allowed_providers: ['bedrock'] },
          routing: { strategy: 'compliance', preferred_providers: ['bedrock'] },
        });
        a.memberAdd({ tenant_id: 'acme', user_id: 'dana', group_id: 'fast' });
        a.memberAdd({ tenant_id: 'acme', user_id: 'dana', group_id: 'regulated' });
      });
      const token = await mint({ sub: 'dana' });
      const complete = (body: unknown) =>
        t.envoy({ method: 'POST', path: '/api/v1/completions', headers: [bearer(token), ['content-type', 'application/json']], body: JSON.stringify(body) });
      const ok = await complete({ model: 'gpt-4o-mini', max_tokens: 4000 });
      if (ok.outcome !== 'upstream') throw new Error(ok.outcome === 'denied' ? ok.body : ok.outcome);
      // compliance > performance; providers united ([azure-openai, bedrock]): the first compliant one is fast's own.
      expect(ok.headers['x-routing-strategy']).toEqual(['compliance']);
      expect(ok.headers['x-upstream-provider']).toEqual(['azure-openai']);
      expect(ok.headers['x-user-groups']).toEqual(['fast,regulated']);
      // The larger requests_per_minute (80) is the user's.
      expect(policyHeader(ok)).toContain('"user-minute";q=80;w=60');
      expect((await complete({ model: 'claude-3-5-sonnet', max_tokens: 10 })).outcome).toBe('upstream');
      expect(denial(await complete({ model: 'llama-3.1-8b', max_tokens: 10 })).error).toBe('model_not_allowed');
      expect(denial(await complete({ model: 'gpt-4o-mini', max_tokens: 4001 }))).toMatchObject({ error: 'token_limit_exceeded', reason: 'max_tokens 4001 exceeds the limit of 4000' });
    } finally {
      await t.close();
    }
  });
});

describe('quota buckets', () => {
  it('a bucket the policy names is counted on top of the tenant and caller limits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-bucket-'));
    writeFileSync(
      join(dir, 'p.rego'),
      'package tenantgate.authz\n\ndecision := {"allowed": true, "quota": {"bucket": "expensive", "limits": {"per_minute": 2}}} if input.parsed_path[2] == "expensive"\n\nelse := {"allowed": true}\n',
    );
    const t = await startTestServer({ tenants: [{ id: 'acme', tier: 'enterprise' }], config: { policies: { bundle_file: undefined, dir, watch: false } } });
    try {
      const token = await mint();
      const call = (path: string) => t.envoy({ method: 'GET', path, headers: [bearer(token)] });
      const first = await call('/api/v1/expensive');
      expect(policyHeader(first)).toContain('"expensive-minute";q=2;w=60');
      expect((await call('/api/v1/expensive')).outcome).toBe('upstream');
      expect(denial(await call('/api/v1/expensive'))).toMatchObject({ error: 'quota_exceeded', reason: 'quota exceeded: the expensive-minute limit of 2 requests per minute' });
      // Other routes are not in the bucket.
      expect((await call('/api/v1/cheap')).outcome).toBe('upstream');
    } finally {
      await t.close();
    }
  });

  it("an API key created with --tier takes that tier's limits instead of its user's", async () => {
    const t = await startTestServer({ tenants: [{ id: 'acme', tier: 'enterprise' }] });
    try {
      const free = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bot', tier: 'free' })).key;
      const plain = t.admin((a) => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'bot' })).key;
      const call = (key: string) => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key]] });
      // free: 60 a minute; the enterprise user's: 5000.
      expect(policyHeader(await call(free))).toContain('"key-minute";q=60;w=60');
      expect(policyHeader(await call(plain))).toContain('"key-minute";q=5000;w=60');
    } finally {
      await t.close();
    }
  });

  it('the billing anchor day moves the month window end to end: limit, reset and retry-after', async () => {
    const now = Date.UTC(2026, 2, 20, 12, 0, 0); // 2026-03-20 12:00 UTC
    const t = await startTestServer({ tenants: [{ id: 'acme', tier: 'enterprise' }, { id: 'globex', tier: 'enterprise' }], clock: () => now });
    try {
      await t.change((a) => {
        a.tenantUpdate('acme', { billing_anchor_day: 15 });
        a.quotaSet('acme', 'tenant', 'acme', { per_month: 2 });
        a.quotaSet('globex', 'tenant', 'globex', { per_month: 2 });
      });
      const call = async (tenant: string) => t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant }))] });
      // acme's month runs 2026-03-15 → 2026-04-15 (31 days); globex's is March (31 days), ending 2026-04-01.
      expect(policyHeader(await call('acme'))).toContain('"tenant-month";q=2;w=2678400');
      await call('acme');
      const acme = await call('acme');
      expect(denial(acme).error).toBe('quota_exceeded');
      expect(acme.outcome === 'denied' && acme.headers['retry-after']).toEqual([String((Date.UTC(2026, 3, 15) - now) / 1000)]);
      await call('globex');
      await call('globex');
      const globex = await call('globex');
      expect(globex.outcome === 'denied' && globex.headers['retry-after']).toEqual([String((Date.UTC(2026, 3, 1) - now) / 1000)]);
    } finally {
      await t.close();
    }
  });
});

describe('server settings', () => {
  it('server.max_request_bytes: a larger CheckRequest is refused (RESOURCE_EXHAUSTED), a smaller one decided', async () => {
    const t = await startTestServer({ config: { server: { max_request_bytes: 65_536 } } });
    try {
      const token = await mint();
      const post = (size: number) => t.envoy({ method: 'POST', path: '/api/v1/items', headers: [bearer(token), ['content-type', 'text/plain']], body: 'x'.repeat(size) }, { timeoutMs: 5000 });
      expect((await post(10_000)).outcome).toBe('upstream');
      const big = await post(100_000);
      expect(big.outcome).toBe('error');
      if (big.outcome === 'error') expect(big.error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      await t.close();
    }
  });

  it('server.shutdown_timeout_ms: a call still in flight after it is answered UNAVAILABLE, and shutdown completes', async () => {
    const jwks = await startJwksServer((await testKeys()).jwks, 3000);
    const t = await startTestServer({ config: { server: { shutdown_timeout_ms: 200 }, auth: { jwt: { issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks_url: jwks.url }] } } } });
    try {
      const inFlight = t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint())] }, { timeoutMs: 10_000 });
      await waitFor(() => jwks.requests > 0, 'the call to reach the server');
      await t.server.shutdown();
      // Shutdown did not wait for the 3 s key fetch: the call was answered UNAVAILABLE (Envoy's error path).
      const r = await inFlight;
      expect(r.outcome).toBe('error');
      if (r.outcome === 'error') expect([r.error.code, r.error.details]).toEqual([grpc.status.UNAVAILABLE, 'tenantgate is shutting down']);
    } finally {
      await t.close();
      await jwks.close();
    }
  });

  it('decision_log.redact_headers: the named headers are redacted as well as the credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-redact-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'decisions.log');
    const t = await startTestServer({ config: { decision_log: { enabled: true, output: file, redact_headers: ['X-Internal-Secret'] } } });
    const token = await mint();
    await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token), ['x-internal-secret', 's3cret'], ['x-visible', 'shown']] });
    await t.close();
    const text = readFileSync(file, 'utf8');
    const entry = JSON.parse(text.trim().split('\n')[0]!);
    expect(entry.headers['x-internal-secret']).toBe('[redacted]');
    expect(entry.headers.authorization).toBe('[redacted]');
    expect(entry.headers['x-visible']).toBe('shown');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(token);
  });
});
