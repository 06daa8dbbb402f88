// Input projection: the policy gets only the parts of the input it reads (opa deps), and decides exactly as it
// would on the whole input.
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { bundleProjection, project, projectionFromRefs, type Projection } from '../../src/policy/deps.js';
import { readBundle } from '../../src/policy/bundle.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';
import { internalsOf } from '../../src/server.js';

const ref = (...parts: (string | number | { var: string })[]) => [
  { type: 'var', value: 'input' },
  ...parts.map((p) => (typeof p === 'string' ? { type: 'string', value: p } : typeof p === 'number' ? { type: 'number', value: p } : { type: 'var', value: p.var })),
];

describe('projectionFromRefs and project', () => {
  it('keeps exactly the read paths, whole subtrees where a path ends or a key is computed', () => {
    const tree = projectionFromRefs([ref('identity', 'kind'), ref('identity', 'scopes'), ref('tenant'), ref('tenant', 'status'), ref('attributes', 'request', 'http', 'headers', { var: 'h' })])!;
    expect(tree).toEqual({ identity: { kind: true, scopes: true }, tenant: true, attributes: { request: { http: { headers: true } } } });
    const input = { identity: { kind: 'jwt', scopes: [], claims: { big: 1 } }, tenant: { id: 'a', status: 'active' }, attributes: { request: { http: { headers: { a: '1' }, path: '/x' } } }, groups: [1, 2] };
    expect(project(input, tree)).toEqual({ identity: { kind: 'jwt', scopes: [] }, tenant: { id: 'a', status: 'active' }, attributes: { request: { http: { headers: { a: '1' } } } } });
  });

  it('gives up (no projection) when the policy reads the whole input', () => {
    expect(projectionFromRefs([ref('tenant'), [{ type: 'var', value: 'input' }]])).toBeUndefined();
  });
  it('a key "__proto__" is data, read and written as an own property', () => {
    const input = JSON.parse('{"headers": {"__proto__": "x", "a": "1"}, "other": 1}');
    expect(JSON.stringify(project(input, JSON.parse('{"headers": {"__proto__": true, "a": true}}') as Projection))).toBe('{"headers":{"__proto__":"x","a":"1"}}');
    // An object without its own "__proto__" gets none from Object.prototype.
    expect(JSON.stringify(project({ headers: { a: '1' } }, JSON.parse('{"headers": {"__proto__": true}}')))).toBe('{"headers":{}}');
  });
});

describe('the project policy decides the same with and without projection', () => {
  let t: TestServer;
  let full: PolicyEngine;
  beforeAll(async () => {
    t = await startTestServer();
    // The same bundle without its projection: the policy sees the whole input.
    const bundle = await readBundle(readFileSync(inject('bundleFile')));
    const { tenantgate_meta: _meta, ...data } = bundle.data;
    full = new PolicyEngine('tenantgate/authz/decision');
    await full.load({ ...bundle, data });
    t.admin((a) => {
      a.groupApply('acme', { id: 'ml', name: 'ML', type: 'team', permissions: [{ resource: 'completions', actions: ['read'] }], data_access_level: 'internal', resource_limits: { allowed_models: ['gpt-4o'], max_tokens_per_request: 100 }, routing: { strategy: 'cost', preferred_providers: ['openai', 'local'] } });
      a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'ml' });
    });
  });
  afterAll(async () => t?.close());

  it('computes a projection for the shipped policies, much smaller than the input', async () => {
    const p = bundleProjection((await readBundle(readFileSync(inject('bundleFile')))).data);
    expect(p).toBeDefined();
    expect(p!.attributes).toEqual({ contextExtensions: { public: true }, request: { http: { headers: { 'x-data-classification': true }, method: true } } });
  });

  it('over random requests', async () => {
    const tokens = { alice: await mint({ tenant: 'acme', sub: 'alice' }), bob: await mint({ tenant: 'acme', sub: 'bob' }), gina: await mint({ tenant: 'globex', sub: 'gina' }), ini: await mint({ tenant: 'initech' }) };
    const arb = fc.record({
      who: fc.constantFrom(...(Object.keys(tokens) as (keyof typeof tokens)[]), 'nobody'),
      method: fc.constantFrom('GET', 'POST', 'DELETE'),
      path: fc.constantFrom('/api/v1/completions', '/api/v1/models', '/api/v1/models/x', '/api/v1/admin/u', '/healthz', '/tenants/globex/x', '/api/v1/documents/1', '/other'),
      level: fc.option(fc.constantFrom('public', 'internal', 'confidential', 'bogus'), { nil: undefined }),
      hint: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
      body: fc.option(fc.constantFrom('{"model":"gpt-4o","max_tokens":50}', '{"model":"gpt-4o","max_tokens":500}', '{"model":"o1"}', '{bad', '{"max_tokens":"x"}'), { nil: undefined }),
      pub: fc.boolean(),
    });
    let compared = 0;
    // Twice over the same requests: the second pass is answered from the decision cache.
    for (let pass = 0; pass < 2; pass++) await fc.assert(
      fc.asyncProperty(arb, async (r) => {
        const headers: [string, string][] = [];
        if (r.who !== 'nobody') headers.push(bearer(tokens[r.who]));
        if (r.level) headers.push(['x-data-classification', r.level]);
        if (r.hint) headers.push(['x-tenant-id', r.hint]);
        if (r.body) headers.push(['content-type', 'application/json']);
        const raw = buildCheckRequest({ method: r.method, path: r.path, headers, body: r.body, contextExtensions: r.pub ? { public: 'true' } : {} });
        const o = await internalsOf(t.server).pipeline.check(raw);
        if (!o.policyInput) return;
        compared++;
        expect(o.policyDecision).toEqual(full.evaluate(o.policyInput));
      }),
      { numRuns: 300, seed: 11 },
    );
    expect(compared).toBeGreaterThan(300);
    const policy = internalsOf(t.server).policies.live;
    expect(policy.caching).toBe(true);
    expect(policy.cacheStats.hits).toBeGreaterThanOrEqual(compared / 2);
  });
});
