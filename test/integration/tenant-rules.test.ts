// Tenants' own rules and Rego through the real server: each rule kind allowing and denying, the permission boundary
// (nothing a tenant uploads widens what the platform allows, nor sets a trusted header), tenant isolation (also
// under concurrency and with a broken module), upload validation, the tenant-admin credential and the audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';
import type { EnvoyResult } from '../support/envoy.js';
import type { HttpRequestSpec } from '../../src/check/envoy-request.js';
import { callAdmin } from '../../src/admin/api.js';

const TOKEN = 'tenant-rules-admin-token-0123456789';
let t: TestServer;
let adminAddress: string;

beforeAll(async () => {
  t = await startTestServer({
    tenants: [
      { id: 'acme', tier: 'premium' },
      { id: 'globex', tier: 'premium' },
      { id: 'hooli', tier: 'premium' },
    ],
    config: { server: { admin_address: '127.0.0.1:0' }, tenant_policies: { eval_timeout_ms: 20, max_memory_mb: 8 } },
    env: { TENANTGATE_ADMIN_TOKEN: TOKEN },
  });
  adminAddress = t.server.adminAddress!;
  t.admin((a) => {
    for (const tenant of ['acme', 'globex', 'hooli']) {
      a.memberAdd({ tenant_id: tenant, user_id: 'alice', group_id: 'admin', role: 'admin' });
      a.memberAdd({ tenant_id: tenant, user_id: 'bob', group_id: 'analyst' });
    }
    a.groupApply('acme', { id: 'interns', name: 'Interns', type: 'team', permissions: [{ resource: '*', actions: ['read'] }] });
    a.memberAdd({ tenant_id: 'acme', user_id: 'ivan', group_id: 'interns' });
  });
});
afterAll(async () => {
  await t?.close();
});

const admin = (op: string, req: Record<string, unknown>, token: string | { apiKey: string } = TOKEN) => callAdmin(adminAddress, token, op, req);
const setRules = (tenant: string, rules: unknown[], extra: Record<string, unknown> = {}, token?: string) => admin('SetTenantPolicy', { tenant, document: JSON.stringify({ rules }), ...extra }, token);
const clear = async (tenant: string) => {
  await admin('DeleteTenantPolicy', { tenant }).catch(() => undefined);
};

const call = async (tenant: string, spec: Partial<HttpRequestSpec> & { user?: string } = {}) =>
  t.envoy({
    method: spec.method ?? 'GET',
    path: spec.path ?? '/api/v1/items',
    headers: [bearer(await mint({ tenant, sub: spec.user ?? 'alice' })), ...(spec.headers ?? [])],
    body: spec.body,
    sourceAddress: spec.sourceAddress,
  });
const completion = (tenant: string, body: unknown, more: Partial<HttpRequestSpec> & { user?: string } = {}) =>
  call(tenant, { method: 'POST', path: '/api/v1/completions', headers: [['content-type', 'application/json']], body: JSON.stringify(body), ...more });

function denial(r: EnvoyResult) {
  if (r.outcome !== 'denied') throw new Error(`expected a denial, got ${r.outcome}`);
  const b = JSON.parse(r.body) as { error: string; reason: string };
  return { status: r.status, error: b.error, reason: b.reason };
}
function upstream(r: EnvoyResult): Record<string, string> {
  if (r.outcome !== 'upstream') throw new Error(`expected an allow, got ${r.outcome}: ${r.outcome === 'denied' ? r.body : ''}`);
  return Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.join(',')]));
}

const CHAT = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], user: 'u-1', max_tokens: 256 };

describe('each rule kind, allowing and denying', () => {
  it('a body schema: a request without a required field is denied 400 naming the field; a valid one passes', async () => {
    await setRules('acme', [
      {
        name: 'chat-needs-user',
        match: { routes: ['/api/v1/completions'], methods: ['POST'] },
        body_schema: {
          type: 'object',
          required: ['user', 'model'],
          properties: { user: { type: 'string', maxLength: 64 }, model: { enum: ['gpt-4o', 'claude-3-5-sonnet'] }, max_tokens: { type: 'integer', maximum: 4096 } },
        },
      },
    ]);
    upstream(await completion('acme', CHAT));
    expect(denial(await completion('acme', { ...CHAT, user: undefined }))).toEqual({ status: 400, error: 'invalid_request_body', reason: 'tenant rule "chat-needs-user": body field /user is required' });
    expect(denial(await completion('acme', { ...CHAT, model: 'llama' }))).toMatchObject({ status: 400, error: 'invalid_request_body', reason: expect.stringContaining('body field /model must be equal to one of the allowed values: "gpt-4o", "claude-3-5-sonnet"') });
    expect(denial(await completion('acme', { ...CHAT, max_tokens: 5000 }))).toMatchObject({ status: 400, reason: 'tenant rule "chat-needs-user": body field /max_tokens must be <= 4096' });
    expect(denial(await completion('acme', { ...CHAT, user: 'x'.repeat(65) }))).toMatchObject({ status: 400, reason: expect.stringContaining('/user must NOT have more than 64 characters') });
    // Another route is not matched by the rule.
    upstream(await call('acme'));
    // Other tenants are untouched.
    upstream(await completion('globex', { ...CHAT, user: undefined }));
  });

  it('CIDR allow and deny lists per route', async () => {
    await setRules('acme', [
      { name: 'office-only', match: { routes: ['/api/v1/items*'] }, source_ips: { allow: ['10.1.0.0/16', '2001:db8::/32'], deny: ['10.1.99.0/24'] } },
    ]);
    upstream(await call('acme', { sourceAddress: '10.1.2.3' }));
    upstream(await call('acme', { sourceAddress: '2001:db8::7' }));
    expect(denial(await call('acme', { sourceAddress: '192.0.2.10' }))).toEqual({ status: 403, error: 'network_not_allowed', reason: 'tenant rule "office-only": the source address 192.0.2.10 is not in the allowed networks' });
    expect(denial(await call('acme', { sourceAddress: '10.1.99.5' }))).toEqual({ status: 403, error: 'network_not_allowed', reason: 'tenant rule "office-only": the source address 10.1.99.5 is denied' });
    // The rule's route only.
    upstream(await completion('acme', CHAT, { sourceAddress: '192.0.2.10' }));
  });

  it('allowed days and hours in a time zone', async () => {
    const now = new Date();
    const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    const today = days[now.getUTCDay()]!;
    const hhmm = (h: number) => `${String(((h % 24) + 24) % 24).padStart(2, '0')}:00`;
    const h = now.getUTCHours();
    await setRules('acme', [{ name: 'working-hours', schedule: { time_zone: 'UTC', days: [today], from: hhmm(h - 1), to: hhmm(h + 2) } }]);
    upstream(await call('acme'));
    await setRules('acme', [{ name: 'working-hours', schedule: { time_zone: 'UTC', days: days.filter((d) => d !== today) } }]);
    expect(denial(await call('acme'))).toMatchObject({ status: 403, error: 'outside_allowed_hours', reason: expect.stringMatching(/^tenant rule "working-hours": requests are allowed only .* UTC$/) });
    await setRules('acme', [{ name: 'night-shift', schedule: { time_zone: 'Asia/Tokyo', from: hhmm(h + 9 + 2), to: hhmm(h + 9 + 3) } }]);
    expect(denial(await call('acme'))).toMatchObject({ error: 'outside_allowed_hours' });
  });

  it('route, method and model restrictions narrower than the platform, for a team', async () => {
    await setRules('acme', [
      { name: 'read-only', allow_methods: ['GET', 'HEAD', 'POST'] },
      { name: 'interns-items-only', match: { groups: ['interns'] }, allow_routes: ['/api/v1/items'] },
      { name: 'no-claude-for-analysts', match: { groups: ['analyst'] }, models: { deny: ['claude-3-5-sonnet'] } },
      { name: 'no-reports', match: { routes: ['/api/v1/reports*'] }, deny: true, reason: 'reports are disabled for acme' },
    ]);
    upstream(await call('acme', { user: 'ivan' }));
    expect(denial(await call('acme', { user: 'ivan', path: '/api/v1/documents' }))).toEqual({ status: 403, error: 'route_not_allowed', reason: 'tenant rule "interns-items-only": the route /api/v1/documents is not allowed' });
    expect(denial(await call('acme', { method: 'DELETE', path: '/api/v1/items/1' }))).toEqual({ status: 405, error: 'method_not_allowed', reason: 'tenant rule "read-only": the method DELETE is not allowed here' });
    upstream(await completion('acme', CHAT, { user: 'bob' }));
    expect(denial(await completion('acme', { ...CHAT, model: 'claude-3-5-sonnet' }, { user: 'bob' }))).toEqual({ status: 403, error: 'model_not_allowed', reason: 'tenant rule "no-claude-for-analysts": the model "claude-3-5-sonnet" is not allowed' });
    upstream(await completion('acme', { ...CHAT, model: 'claude-3-5-sonnet' }, { user: 'alice' }));
    expect(denial(await call('acme', { path: '/api/v1/reports/q3' }))).toEqual({ status: 403, error: 'tenant_rule_denied', reason: 'tenant rule "no-reports": reports are disabled for acme' });
  });

  it('headers for the upstream (under the platform policy\'s own), and a tighter quota', async () => {
    await setRules('acme', [
      { name: 'tag', headers: { 'x-acme-cost-center': 'cc-42', 'x-acme-region': 'eu' } },
      { name: 'tag-again', headers: { 'x-acme-region': 'us', 'x-acme-extra': '1' } },
      { name: 'completions-slowly', match: { routes: ['/api/v1/completions'] }, quota: { per_minute: 2 } },
    ]);
    const h = upstream(await call('acme'));
    expect(h).toMatchObject({ 'x-acme-cost-center': 'cc-42', 'x-acme-region': 'eu', 'x-acme-extra': '1', 'x-tenant-id': 'acme' });
    upstream(await completion('acme', CHAT));
    upstream(await completion('acme', CHAT));
    expect(denial(await completion('acme', CHAT))).toMatchObject({ status: 429, error: 'quota_exceeded', reason: 'quota exceeded: the rule.completions-slowly-minute limit of 2 requests per minute' });
    // The tenant's other routes keep their own limits.
    upstream(await call('acme'));
    upstream(await completion('globex', CHAT));
  });
});

describe('the permission boundary', () => {
  it('a rule cannot allow what the platform denied', async () => {
    // bob (analyst) may not use the admin routes on the platform, and alice may not reach another tenant.
    const deleting = { user: 'bob', method: 'DELETE', path: '/api/v1/admin/users/1' };
    const otherTenant = { path: '/tenants/globex/items' };
    const before = [denial(await call('acme', deleting)), denial(await call('acme', otherTenant))];
    expect(before.map((d) => d.error)).toEqual(['insufficient_permission', 'tenant_mismatch']);
    await setRules('acme', [
      { name: 'try-to-open', match: { groups: ['analyst'] }, allow_methods: ['DELETE', 'GET'], allow_routes: ['/*'], headers: { 'x-open': 'yes' } },
      { name: 'try-globex', match: { routes: ['/tenants/*'] }, allow_routes: ['/tenants/*'] },
    ]);
    expect([denial(await call('acme', deleting)), denial(await call('acme', otherTenant))]).toEqual(before);
  });

  it('a rule that sets a trusted or reserved header is refused at upload, and nothing is stored', async () => {
    await setRules('acme', [{ name: 'fine', headers: { 'x-fine': '1' } }]);
    for (const name of ['x-tenant-id', 'X-User-Groups', 'x-data-access-level', 'authorization', 'x-tenant-whatever', 'x-envoy-original-path']) {
      await expect(setRules('acme', [{ name: 'spoof', headers: { [name]: 'globex' } }])).rejects.toThrow(/tenant rules: rules\.0\.headers: .*(tenantgate or the proxy|reserves)/);
    }
    expect(upstream(await call('acme'))).toMatchObject({ 'x-fine': '1', 'x-tenant-id': 'acme' });
  });

  it('a module that tries to allow has no effect; one that names a trusted header is refused; one that makes one at run time has it dropped', async () => {
    const opener = `package tenants["acme"]

allow := true
allowed := true
decision := {"allowed": true}
headers["x-from-rego"] := "1"
headers[name] := "globex" if name := concat("-", ["x", "tenant", "id"])
`;
    await admin('SetTenantPolicy', { tenant: 'acme', rego_module: opener, rego_tests: [{ file: 'opener_test.rego', text: 'package tenants_test\n\ntest_allow if data.tenants.acme.allow\n' }] });
    const before = denial(await call('acme', { path: '/not/a/route' }));
    expect(before.status).toBe(403);
    const h = upstream(await call('acme'));
    expect(h['x-from-rego']).toBe('1');
    expect(h['x-tenant-id']).toBe('acme');

    const literal = `package tenants["acme"]\n\nheaders["x-tenant-id"] := "globex"\n`;
    await expect(admin('SetTenantPolicy', { tenant: 'acme', rego_module: literal, rego_tests: [{ file: 'l_test.rego', text: 'package t\n\ntest_x if true\n' }] })).rejects.toThrow(/headers rule names headers a tenant may not set: "x-tenant-id"/);
  });
});

describe('tenant Rego', () => {
  const MODULE = `package tenants["hooli"]

import rego.v1

deny contains "hooli accepts JSON only" if {
  input.attributes.request.http.method == "POST"
  not startswith(object.get(input.attributes.request.http.headers, "content-type", ""), "application/json")
}

deny contains sprintf("user %s is blocked", [input.identity.subject]) if input.identity.subject == "mallory"

headers["x-hooli-user"] := input.identity.subject
`;
  const TESTS = [{ file: 'hooli_test.rego', text: `package tenants_test

import rego.v1

test_json_only if {
  "hooli accepts JSON only" in data.tenants.hooli.deny with input as {"attributes": {"request": {"http": {"method": "POST", "headers": {}}}}, "identity": {"subject": "a"}}
}

test_header if data.tenants.hooli.headers["x-hooli-user"] == "a" with input as {"attributes": {"request": {"http": {"method": "GET", "headers": {}}}}, "identity": {"subject": "a"}}
` }];

  it('denies with its reason and adds its headers; compiled at upload and tested with its own tests', async () => {
    const stored = (await admin('SetTenantPolicy', { tenant: 'hooli', rego_module: MODULE, rego_tests: TESTS })) as { revision: number; compiled: boolean };
    expect(stored.compiled).toBe(true);
    expect(upstream(await call('hooli'))).toMatchObject({ 'x-hooli-user': 'alice', 'x-tenant-id': 'hooli' });
    expect(denial(await call('hooli', { user: 'mallory' }))).toEqual({ status: 403, error: 'tenant_policy_denied', reason: 'tenant policy: user mallory is blocked' });
    expect(denial(await call('hooli', { method: 'POST', path: '/api/v1/items', body: 'x', headers: [['content-type', 'text/plain']] }))).toMatchObject({ status: 403, error: 'tenant_policy_denied', reason: 'tenant policy: hooli accepts JSON only' });
    upstream(await completion('hooli', CHAT));
  });

  it('refuses a module that does not compile, fails its tests, has none, names another package, calls a builtin tenantgate lacks or one it cannot bound', async () => {
    const tests = [{ file: 'x_test.rego', text: 'package x_test\n\ntest_ok if true\n' }];
    const up = (module: string, t = tests) => admin('SetTenantPolicy', { tenant: 'hooli', rego_module: module, rego_tests: t });
    await expect(up('package tenants["hooli"]\n\ndeny contains "x" if {\n')).rejects.toThrow(/rego_parse_error|does not parse/);
    await expect(up('package tenants["hooli"]\n\ndeny contains "x" if input.y == 1\n', [{ file: 'x_test.rego', text: 'package x_test\n\ntest_fails if data.tenants.hooli.deny["x"] with input as {"y": 2}\n' }])).rejects.toThrow(/tests did not pass:[\s\S]*test_fails/);
    await expect(up('package tenants["hooli"]\n\ndeny contains "x" if false\n', [])).rejects.toThrow(/only with its tests/);
    await expect(up('package tenants["acme"]\n\ndeny contains "x" if false\n')).rejects.toThrow(/must declare "package tenants\["hooli"\]"/);
    await expect(up('package tenants["hooli"]\n\ndeny contains "x" if { r := http.send({"method": "GET", "url": "http://127.0.0.1:1"}); r.status_code == 1 }\n')).rejects.toThrow(/builtins tenantgate does not provide|http.send/);
    await expect(up('package tenants["hooli"]\n\ndeny contains "x" if regex.replace(input.x, "(a+)+$", "") == ""\n')).rejects.toThrow(/may not call regex\.replace: its backtracking regular expressions/);
    // The stored module is still the last accepted one.
    expect(denial(await call('hooli', { user: 'mallory' }))).toMatchObject({ error: 'tenant_policy_denied' });
  });
});

describe('tenant isolation', () => {
  const SLOW = `package tenants["acme"]

deny contains "never" if {
  input.identity.subject != ""
  xs := numbers.range(1, 3000)
  some i, j
  xs[i] * xs[j] == -1
}
`;
  const SLOW_TEST = [{ file: 'slow_test.rego', text: 'package slow_test\n\ntest_nobody if { count(data.tenants.acme.deny) == 0 with input as {"identity": {"subject": ""}} }\n' }];

  it("one tenant's module that runs past its budget fails only that tenant's requests (503), also under concurrency", async () => {
    await clear('globex');
    await setRules('globex', [{ name: 'tag', headers: { 'x-globex': '1' } }]);
    // Its own test passes with opa (no budget there); at run time it exceeds 20 ms.
    await admin('SetTenantPolicy', { tenant: 'acme', rego_module: SLOW, rego_tests: SLOW_TEST });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 3 === 0 ? 'acme' : i % 3 === 1 ? 'globex' : 'hooli')));
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(denial(r)).toMatchObject({ status: 503, error: 'tenant_policy_error', reason: expect.stringMatching(/^the policy of tenant acme failed: it (ran longer than its budget of 20 ms|needed more memory than its budget of 8 MiB)$/) });
      else if (i % 3 === 1) expect(upstream(r)).toMatchObject({ 'x-globex': '1', 'x-tenant-id': 'globex' });
      else expect(upstream(r)).toMatchObject({ 'x-hooli-user': 'alice', 'x-tenant-id': 'hooli' });
    });
    // Fixed by its admin, the tenant is served again at once.
    await clear('acme');
    upstream(await call('acme'));
  });

  it("a tenant's rules never apply to another tenant's requests, with many tenants' rules changing concurrently", async () => {
    await Promise.all([setRules('acme', [{ name: 'deny-all', deny: true }]), setRules('globex', [{ name: 'mark', headers: { 'x-mark': 'globex' } }])]);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2 ? 'acme' : 'globex')));
    results.forEach((r, i) => {
      if (i % 2) expect(denial(r)).toMatchObject({ error: 'tenant_rule_denied' });
      else expect(upstream(r)['x-mark']).toBe('globex');
    });
    await clear('acme');
    await clear('globex');
  });
});

describe('upload validation', () => {
  it.each([
    [[{ name: 'a', body_schema: { type: 'object', properties: { x: { type: 'string', pattern: '^(a+)+$' } } } }], /the keyword "pattern" is not supported/],
    [[{ name: 'a', body_schema: { $ref: 'http://example.com/s.json' } }], /the keyword "\$ref" is not supported/],
    [[{ name: 'a', body_schema: { type: 'objekt' } }], /rule "a": .*type/],
    [[{ name: 'a', source_ips: { allow: ['10.0.0.0/33'] } }], /rule "a": "10.0.0.0\/33": the prefix length must be 0-32/],
    [[{ name: 'a', source_ips: { allow: ['example.com'] } }], /"example.com" is not an IP address or CIDR network/],
    [[{ name: 'a', schedule: { time_zone: 'Mars/Olympus' } }], /rule "a": .*time ?zone/i],
    [[{ name: 'a', schedule: { time_zone: 'UTC', from: '09:00' } }], /give both from and to/],
    [[{ name: 'a', deny: true }, { name: 'a', deny: true }], /"a" is used twice/],
    [[{ name: 'a' }], /neither denies nor adds anything/],
    [[{ name: 'a', allow_methods: ['get'] }], /upper-case HTTP method/],
    [[{ name: 'a', quota: { per_minute: -1 } }], /quota\.per_minute/],
    [[{ name: 'a', deny: true, surprise: 1 }], /unknown key surprise/],
  ])('refuses %j', async (rules, message) => {
    await expect(setRules('globex', rules as unknown[])).rejects.toThrow(message);
  });

  it('an unknown tenant, and a document that is not YAML, are refused', async () => {
    await expect(setRules('nope', [{ name: 'a', deny: true }])).rejects.toThrow(/unknown tenant nope/);
    await expect(admin('SetTenantPolicy', { tenant: 'globex', document: 'rules: [' })).rejects.toThrow(/not valid YAML\/JSON/);
  });
});

describe('who may change what', () => {
  it("a tenant admin manages its own tenant's rules with its own JWT or API key, audited with before and after", async () => {
    await clear('globex');
    const jwt = await mint({ tenant: 'globex', sub: 'alice' });
    const stored = (await setRules('globex', [{ name: 'by-alice', headers: { 'x-by': 'alice' } }], {}, jwt)) as { updated_by: string; revision: number };
    expect(stored.updated_by).toBe('tenant-admin:globex/alice');
    expect(((await admin('GetTenantPolicy', { tenant: 'globex' }, jwt)) as { rules: { name: string }[] }).rules.map((r) => r.name)).toEqual(['by-alice']);
    const key = t.admin((a) => a.apiKeyCreate({ tenant_id: 'globex', user_id: 'alice' })).key;
    await callAdmin(adminAddress, { apiKey: key }, 'SetTenantPolicy', { tenant: 'globex', document: 'rules: [{name: by-key, headers: {x-by: key}}]' });
    expect(upstream(await call('globex'))['x-by']).toBe('key');
    const audit = (await admin('ListAudit', { tenant: 'globex', limit: 5 })) as { actor: string; action: string; before: { rules: { name: string }[] } | null; after: { rules: { name: string }[] } | null }[];
    const last = audit.find((e) => e.action === 'tenant_policy.set')!;
    expect(last.actor).toBe('tenant-admin:globex/alice');
    expect(last.before!.rules[0]!.name).toBe('by-alice');
    expect(last.after!.rules[0]!.name).toBe('by-key');
    await admin('DeleteTenantPolicy', { tenant: 'globex' }, jwt);
    const deleted = ((await admin('ListAudit', { tenant: 'globex', limit: 1 })) as { action: string; before: unknown; after: unknown }[])[0]!;
    expect(deleted).toMatchObject({ action: 'tenant_policy.delete', after: null });
  });

  it("a tenant admin cannot touch another tenant's rules nor any other operation; a member cannot manage rules", async () => {
    const acmeAdmin = await mint({ tenant: 'acme', sub: 'alice' });
    await expect(setRules('globex', [{ name: 'x', deny: true }], {}, acmeAdmin)).rejects.toThrow(/manages only its own tenant \(acme\)/);
    await expect(admin('ListTenants', {}, acmeAdmin)).rejects.toThrow(/admin bearer token is required/);
    await expect(admin('SetQuota', { tenant: 'acme', per_minute: 1 }, acmeAdmin)).rejects.toThrow(/admin bearer token is required/);
    const member = await mint({ tenant: 'acme', sub: 'bob' });
    await expect(setRules('acme', [{ name: 'x', deny: true }], {}, member)).rejects.toThrow(/credential of an admin or owner of the tenant/);
    await expect(setRules('acme', [{ name: 'x', deny: true }], {}, 'not-a-token')).rejects.toThrow(/credential of an admin or owner/);
    upstream(await call('acme'));
  });
});

describe('explanations and caching', () => {
  it('check --explain names the tenant rule that denied', async () => {
    await setRules('acme', [{ name: 'tag', headers: { 'x-a': '1' } }, { name: 'office-only', source_ips: { allow: ['10.0.0.0/8'] } }]);
    const jwt = await mint({ tenant: 'acme', sub: 'alice' });
    const report = (await admin('ExplainCheck', { method: 'GET', path: '/api/v1/items', headers: [{ name: 'authorization', value: `Bearer ${jwt}` }], source_address: '192.0.2.1' })) as {
      decision: { allowed: boolean; code: string };
      first_failure: { phase: string; tenant_rule: string; code: string };
      phases: { phase: string; ok: boolean; detail: { rule?: string } }[];
    };
    expect(report.decision).toMatchObject({ allowed: false, code: 'network_not_allowed' });
    expect(report.first_failure).toMatchObject({ phase: 'tenant_rules', tenant_rule: 'office-only', code: 'network_not_allowed' });
    expect(report.phases.find((p) => p.phase === 'tenant_rules')).toMatchObject({ ok: false, detail: { rule: 'office-only' } });
    const ok = (await admin('ExplainCheck', { method: 'GET', path: '/api/v1/items', headers: [{ name: 'authorization', value: `Bearer ${jwt}` }], source_address: '10.2.3.4' })) as { decision: { allowed: boolean } };
    expect(ok.decision.allowed).toBe(true);
    await clear('acme');
  });

  it('a change made through another connection (the CLI) is seen within a second', async () => {
    upstream(await call('acme'));
    const { prepareTenantPolicy } = await import('../../src/tenant-rules/upload.js');
    const p = await prepareTenantPolicy('acme', { rules: [{ name: 'closed', deny: true }] });
    await t.change((a) => a.tenantPolicySet('acme', p));
    expect(denial(await call('acme'))).toMatchObject({ error: 'tenant_rule_denied' });
    await t.change((a) => a.tenantPolicyDelete('acme'));
    upstream(await call('acme'));
  });
});
