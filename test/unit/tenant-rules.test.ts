// The tenant-rules phase's parts on their own: the rule set's order and effects, schedules across time zones and
// midnight, networks, the schema subset, and a tenant module's time and memory budgets (real opa, real WASM).
import { describe, expect, it } from 'vitest';
import { RuleSet } from '../../src/tenant-rules/rule-set.js';
import { Schedule } from '../../src/tenant-rules/schedule.js';
import { inList, networkList } from '../../src/tenant-rules/networks.js';
import { compileBodySchema, schemaProblems } from '../../src/tenant-rules/body-schema.js';
import { parseTenantRules, reservedHeader } from '../../src/core/tenant-rules.js';
import { compileTenantRego, tenantPackage } from '../../src/tenant-rules/rego.js';
import { TenantModule } from '../../src/tenant-rules/module.js';

interface Req {
  method: string;
  path: string;
  sourceIp: string;
  groups: { id: string }[];
  body: unknown;
  bodyError: string | null;
  truncatedBody: boolean;
}
const req = (o: Partial<Req> = {}): Req => ({ method: 'GET', path: '/api/v1/items', sourceIp: '10.0.0.1', groups: [], body: null, bodyError: null, truncatedBody: false, ...o });
const NOW = Date.parse('2026-11-30T12:00:00Z');
/** A rule set, evaluated as the phase does. */
const rules = (doc: unknown[]) => {
  const set = new RuleSet(parseTenantRules({ rules: doc }));
  return { evaluate: (r: Req) => set.evaluate({ ...r, parsedBody: r.body }, r.sourceIp, r.groups, NOW) };
};

describe('rule set', () => {
  it('applies rules in order: the first failing condition denies, headers from the first rule naming them, one bucket per rule', () => {
    const set = rules([
      { name: 'a', headers: { 'x-one': 'a', 'x-two': 'a' }, quota: { per_minute: 5 } },
      { name: 'b', match: { methods: ['POST'] }, deny: true },
      { name: 'c', headers: { 'x-two': 'c', 'x-three': 'c' } },
      { name: 'd', match: { routes: ['/api/v1/items*'] }, quota: { per_day: 9 } },
    ]);
    expect(set.evaluate(req())).toEqual({ headers: { 'x-one': 'a', 'x-two': 'a', 'x-three': 'c' }, buckets: [{ rule: 'a', limits: { per_minute: 5 } }, { rule: 'd', limits: { per_day: 9 } }] });
    // The same rules applying give the very same object (the answer's encoding is kept per caller by identity).
    expect(set.evaluate(req())).toBe(set.evaluate(req({ sourceIp: '10.9.9.9' })));
    expect(set.evaluate(req({ path: '/other' }))).toEqual({ headers: { 'x-one': 'a', 'x-two': 'a', 'x-three': 'c' }, buckets: [{ rule: 'a', limits: { per_minute: 5 } }] });
    const r = set.evaluate(req({ method: 'POST' }));
    expect('denial' in r && { rule: r.rule, code: r.denial.code, status: r.denial.http_status }).toEqual({ rule: 'b', code: 'tenant_rule_denied', status: 403 });
  });

  it('keeps the effects of rules beyond the 31st too', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ name: `r${i}`, match: { routes: [i % 5 === 0 ? '/five' : '/other'] }, headers: { [`x-r${i}`]: String(i) }, ...(i === 35 ? { quota: { per_minute: 3 } } : {}) }));
    const set = rules(many);
    const five = set.evaluate(req({ path: '/five' }));
    expect(five).toEqual({ headers: Object.fromEntries([0, 5, 10, 15, 20, 25, 30, 35].map((i) => [`x-r${i}`, String(i)])), buckets: [{ rule: 'r35', limits: { per_minute: 3 } }] });
    expect(set.evaluate(req({ path: '/five' }))).toBe(five);
    expect(set.evaluate(req({ path: '/none' }))).toEqual({ headers: undefined, buckets: undefined });
  });

  it('matches groups by id, routes exactly or by prefix', () => {
    const set = rules([{ name: 'team', match: { groups: ['ml'], routes: ['/a', '/b/*'] }, deny: true }]);
    expect('denial' in set.evaluate(req({ path: '/a', groups: [{ id: 'ml' }] }))).toBe(true);
    expect('denial' in set.evaluate(req({ path: '/b/c/d', groups: [{ id: 'x' }, { id: 'ml' }] }))).toBe(true);
    expect('denial' in set.evaluate(req({ path: '/a/b', groups: [{ id: 'ml' }] }))).toBe(false);
    expect('denial' in set.evaluate(req({ path: '/a', groups: [{ id: 'other' }] }))).toBe(false);
  });

  it('judges a model only when the body names one; refuses a truncated or invalid body under a schema', () => {
    const set = rules([{ name: 'm', models: { allow: ['gpt-4o'] } }, { name: 's', match: { methods: ['POST'] }, body_schema: { type: 'object' } }]);
    expect('denial' in set.evaluate(req({ body: { model: 'gpt-4o' } }))).toBe(false);
    expect('denial' in set.evaluate(req({ body: { messages: [] } }))).toBe(false);
    expect(set.evaluate(req({ body: { model: 'o1' } }))).toMatchObject({ rule: 'm', denial: { code: 'model_not_allowed' } });
    expect(set.evaluate(req({ method: 'POST', truncatedBody: true }))).toMatchObject({ rule: 's', denial: { code: 'invalid_request_body', reason: expect.stringContaining('cut short') } });
    expect(set.evaluate(req({ method: 'POST', bodyError: 'the request body is not valid JSON' }))).toMatchObject({ denial: { http_status: 400, reason: 'tenant rule "s": the request body is not valid JSON' } });
  });
});

describe('schedule', () => {
  it('reads the local day and time of its zone', () => {
    // 2026-11-30T23:30Z is Tuesday 08:30 in Tokyo, Monday 18:30 in New York.
    const at = Date.parse('2026-11-30T23:30:00Z');
    expect(new Schedule({ time_zone: 'Asia/Tokyo', days: ['tue'], from: '08:00', to: '09:00' }).allows(at)).toBe(true);
    expect(new Schedule({ time_zone: 'Asia/Tokyo', days: ['mon'] }).allows(at)).toBe(false);
    expect(new Schedule({ time_zone: 'America/New_York', days: ['mon'], from: '09:00', to: '18:30' }).allows(at)).toBe(false);
    expect(new Schedule({ time_zone: 'America/New_York', from: '18:30', to: '18:31' }).allows(at)).toBe(true);
  });

  it('a window whose end is before its start spans midnight', () => {
    const night = new Schedule({ time_zone: 'UTC', from: '22:00', to: '06:00' });
    expect(night.allows(Date.parse('2026-11-30T23:59:00Z'))).toBe(true);
    expect(night.allows(Date.parse('2026-12-01T05:59:00Z'))).toBe(true);
    expect(night.allows(Date.parse('2026-12-01T06:00:00Z'))).toBe(false);
    expect(night.allows(Date.parse('2026-12-01T12:00:00Z'))).toBe(false);
  });

  it('refuses an unknown time zone', () => {
    expect(() => new Schedule({ time_zone: 'Mars/Olympus' })).toThrow(/time zone/i);
  });
});

describe('networks, schemas and headers', () => {
  it('matches IPv4 and IPv6 networks and single addresses; an unparsable address is in no list', () => {
    const l = networkList(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    expect(['10.255.0.1', '2001:db8:1::1', '192.0.2.7'].map((a) => inList(l, a))).toEqual([true, true, true]);
    expect(['11.0.0.1', '2001:db9::1', '192.0.2.8', '', 'nonsense'].map((a) => inList(l, a))).toEqual([false, false, false, false, false]);
    expect(() => networkList(['10.0.0.0/8/1'])).toThrow(/not an IP address/);
    expect(() => networkList(['::/129'])).toThrow(/0-128/);
    expect(() => networkList(['10.0.0.0/33'])).toThrow(/0-32/);
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '1.2.3.4.5', '10.0.0.0/x', 'fe80::zz']) expect(() => networkList([bad]), bad).toThrow(/not an IP address/);
  });

  it('reads IPv4-mapped IPv6 as IPv4, a zero prefix as everything, and compressed IPv6 in every form', () => {
    const l = networkList(['10.1.0.0/16', '2001:db8:0:1::/64', 'fe80::1']);
    expect(['::ffff:10.1.2.3', '::FFFF:10.1.2.3', '::ffff:10.2.0.1'].map((a) => inList(l, a))).toEqual([true, true, false]);
    expect(['2001:db8:0:1:ffff::1', '2001:0db8:0000:0001:0000:0000:0000:0009', '2001:db8:0:2::1', 'fe80::1', 'fe80::2', '::1'].map((a) => inList(l, a))).toEqual([true, true, false, true, false, false]);
    expect(inList(networkList(['0.0.0.0/0']), '203.0.113.9')).toBe(true);
    expect(inList(networkList(['0.0.0.0/0']), '2001:db8::1')).toBe(false);
    expect(inList(networkList(['::/0']), '2001:db8::1')).toBe(true);
    expect(inList(networkList(['::ffff:0:0/96']), '::ffff:1.2.3.4')).toBe(false);
    expect(inList(networkList(['192.0.2.0/25']), '192.0.2.127')).toBe(true);
    expect(inList(networkList(['192.0.2.0/25']), '192.0.2.128')).toBe(false);
  });

  it('compiles a schema once: tenants with the same schema share one validator', () => {
    const a = compileBodySchema({ type: 'object', required: ['user'], properties: { user: { type: 'string' } } });
    const b = compileBodySchema(JSON.parse(JSON.stringify({ type: 'object', required: ['user'], properties: { user: { type: 'string' } } })));
    expect(b).toBe(a);
    expect([a({ user: 'x' }), a({})]).toEqual([true, false]);
    expect(compileBodySchema({ type: 'object', required: ['other'] })).not.toBe(a);
  });

  it('refuses schema keywords outside the subset, wherever they are nested', () => {
    expect(schemaProblems({ type: 'object', properties: { a: { type: 'array', items: { type: 'string', format: 'email' } } } })).toEqual([
      expect.stringMatching(/^properties\.a\.items\.format: the keyword "format" is not supported/),
    ]);
    expect(schemaProblems({ anyOf: [{ type: 'string' }, { $ref: '#/x' }] })).toEqual([expect.stringMatching(/^anyOf\.1\.\$ref/)]);
    expect(schemaProblems({ type: 'object', required: ['a'], additionalProperties: false })).toEqual([]);
  });

  it('reserves the trusted headers, credentials and the prefixes of tenantgate and Envoy', () => {
    for (const h of ['x-tenant-id', 'X-Decision-Id', 'x-tenant-anything', 'x-tenantgate-x', 'x-envoy-upstream-rq-timeout-ms', 'cookie', 'content-length', 'bad header']) expect(reservedHeader(h), h).not.toBeNull();
    for (const h of ['x-acme-cost-center', 'x-custom', 'priority']) expect(reservedHeader(h), h).toBeNull();
  });
});

describe('tenant module budgets', () => {
  const tests = [{ name: 'm_test.rego', text: 'package m_test\n\ntest_quiet if count(data.tenants.t1.deny) == 0 with input as {}\n' }];
  const load = async (body: string, budget: { timeMs: number; memoryMb: number }) => {
    const c = await compileTenantRego('t1', { module: `package tenants["t1"]\n\n${body}\n`, tests });
    return TenantModule.load(c.wasm, c.projection, tenantPackage('t1').entrypoint, budget);
  };

  it('stops a module that runs past its time, and serves the next request with a fresh instance', async () => {
    const m = await load('deny contains "never" if {\n  input.go\n  xs := numbers.range(1, 4000)\n  some i, j\n  xs[i] + xs[j] == -1\n}\ndeny contains "stop" if input.stop', { timeMs: 5, memoryMb: 512 });
    const t0 = performance.now();
    expect(m.evaluate({ go: true })).toEqual({ error: 'it ran longer than its budget of 5 ms' });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await m.evaluate({ stop: true })).toEqual({ deny: ['stop'], headers: {} });
  });

  it('stops a module that needs more than its memory', async () => {
    const m = await load('deny contains "big" if {\n  input.go\n  count(numbers.range(1, 2000000)) == -1\n}', { timeMs: 10_000, memoryMb: 4 });
    expect(m.evaluate({ go: true })).toEqual({ error: 'it needed more memory than its budget of 4 MiB' });
    expect(await m.evaluate({ go: false })).toEqual({ deny: [], headers: {} });
  });

  it('a run-time error of the module is its failure, not an answer', async () => {
    const m = await load('x := 1 if input.a\nx := 2 if input.b\ndeny contains "x" if x', { timeMs: 50, memoryMb: 16 });
    expect(m.evaluate({ a: true, b: true })).toMatchObject({ error: expect.stringMatching(/^it failed: /) });
    expect(await m.evaluate({ a: true })).toEqual({ deny: ['x'], headers: {} });
  });
});

describe('explanations', () => {
  it('name the tenant rule that denied, in the report and as check --explain prints it', async () => {
    const { explainOutcome } = await import('../../src/check/explain.js');
    const { formatExplanation } = await import('../../src/cli/explain-format.js');
    const { deny } = await import('../../src/core/denials.js');
    const tenant = { id: 'acme', name: 'Acme', tier: 'premium', status: 'active', upstream: null, billing_anchor_day: null, created_at: '', updated_at: '' } as const;
    const report = explainOutcome({
      identity: { kind: 'jwt', subject: 'alice', issuer: 'i', tenant_id: 'acme', claims: {}, api_key_id: null, scopes: [] },
      tenant,
      effective: null,
      hints: [],
      federation: null,
      targetTenant: null,
      decisionId: 'd-1',
      decision: deny('network_not_allowed', 'tenant rule "office": the source address 192.0.2.1 is not in the allowed networks'),
      request: { method: 'GET', path: '/api/v1/items', host: 'h' } as never,
      policyRevision: 'r',
      policyDecision: { allowed: true },
      tenantRule: 'office',
    });
    expect(report.first_failure).toMatchObject({ phase: 'tenant_rules', code: 'network_not_allowed', tenant_rule: 'office' });
    expect(report.phases.map((p) => [p.phase, p.ok])).toEqual([['request', true], ['credential', true], ['tenant', true], ['policy', true], ['tenant_rules', false]]);
    const text = formatExplanation(report).split('\n');
    expect(text).toContain('  tenant_rules FAIL tenant acme: rule "office" denied');
    expect(text).toContain('first failure: tenant_rules: network_not_allowed [tenant rule office] (tenant rule "office": the source address 192.0.2.1 is not in the allowed networks)');
  });
});

describe('uploads are bounded', () => {
  it('a step of the upload that runs too long is stopped (opa on the server never held by a tenant)', async () => {
    const { run } = await import('../../src/policy/compile.js');
    const t0 = Date.now();
    const r = await run('sleep', ['10'], 200);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('(stopped after 0.2 s)');
    expect(await run('sh', ['-c', 'echo ok'], 5000)).toEqual({ code: 0, output: 'ok\n' });
  });
});
