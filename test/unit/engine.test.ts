// The policy engine on real WASM: the project's compiled policies, and small ones built here with opa.
import { describe, expect, it, inject } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, validateDecision } from '../../src/policy/engine.js';
import { readBundle } from '../../src/policy/bundle.js';
import { compilePolicies, PolicyCompileError } from '../../src/policy/compile.js';

const ENTRY = 'tenantgate/authz/decision';

async function engineFor(rego: string, cacheSize = 0): Promise<PolicyEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-pol-'));
  writeFileSync(join(dir, 'p.rego'), rego);
  const e = new PolicyEngine(ENTRY, cacheSize);
  await e.load(await readBundle(await compilePolicies(dir, ENTRY)));
  return e;
}

describe('PolicyEngine', () => {
  it('evaluates the project policy compiled to WASM, with its bundle data', async () => {
    const bundle = await readBundle(readFileSync(inject('bundleFile')));
    expect(bundle.data).toMatchObject({ tenantgate: { settings: { public_paths: ['/healthz', '/.well-known'] } } });
    const e = new PolicyEngine(ENTRY);
    await e.load(bundle);
    expect(e.revision).toBe(bundle.revision);
    expect(e.evaluate({ identity: { kind: 'anonymous' }, parsed_path: ['healthz'], attributes: {} })).toEqual({ allowed: true });
    expect(e.evaluate({ identity: { kind: 'anonymous' }, parsed_path: ['x'], attributes: {} })).toMatchObject({ allowed: false, http_status: 401 });
  });

  it('fails closed (503 policy_error) when the decision is undefined or malformed', async () => {
    const undef = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": true} if input.never\n');
    expect(undef.evaluate({})).toMatchObject({ http_status: 503, code: 'policy_error' });
    const noBool = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": "yes"}\n');
    expect(noBool.evaluate({})).toMatchObject({ http_status: 503, code: 'policy_error' });
  });

  it('fails closed on a runtime error in the policy', async () => {
    const e = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": x} if { x := input.a / input.b }\n');
    expect(e.evaluate({ a: 1, b: 0 })).toMatchObject({ http_status: 503, code: 'policy_error' });
  });

  it('refuses a bundle without the entrypoint and keeps the loaded one', async () => {
    const e = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": true}\n');
    const other = mkdtempSync(join(tmpdir(), 'tg-pol-'));
    writeFileSync(join(other, 'p.rego'), 'package other\n\nx := 1\n');
    const wrong = await readBundle(await compilePolicies(other, 'other/x'));
    await expect(e.load(wrong)).rejects.toThrow('has no entrypoint tenantgate/authz/decision');
    expect(e.evaluate({})).toEqual({ allowed: true });
  });

  it('reports opa\'s own compile error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-pol-'));
    writeFileSync(join(dir, 'p.rego'), 'package tenantgate.authz\n\ndecision := {\n');
    await expect(compilePolicies(dir, ENTRY)).rejects.toThrow(PolicyCompileError);
    await expect(compilePolicies(dir, ENTRY)).rejects.toThrow(/rego_parse_error/);
  });
});

describe('the decision cache', () => {
  const POLICY = 'package tenantgate.authz\n\ndecision := {"allowed": input.identity.kind == "jwt", "reason": input.tenant.id}\n';

  it('answers an input the policy cannot tell apart from an earlier one from the cache, and only that', async () => {
    const e = await engineFor(POLICY, 100);
    expect(e.caching).toBe(true);
    const input = (kind: string, tenant: string, requestId: string) => ({ identity: { kind, subject: requestId }, tenant: { id: tenant }, attributes: { request: { http: { id: requestId } } } });
    const first = e.evaluate(input('jwt', 'acme', 'r-1'));
    expect(first).toEqual({ allowed: true, reason: 'acme' });
    // Differs only where the policy does not read: the same (cached) decision.
    expect(e.evaluate(input('jwt', 'acme', 'r-2'))).toBe(first);
    expect(e.cacheStats).toEqual({ hits: 1, misses: 1 });
    // Differs where it reads: evaluated.
    expect(e.evaluate(input('api_key', 'acme', 'r-3'))).toEqual({ allowed: false, reason: 'acme' });
    expect(e.evaluate(input('jwt', 'globex', 'r-4'))).toEqual({ allowed: true, reason: 'globex' });
    expect(e.cacheStats).toEqual({ hits: 1, misses: 3 });
  });

  it('starts empty with each bundle', async () => {
    const e = await engineFor(POLICY, 100);
    const i = { identity: { kind: 'jwt' }, tenant: { id: 'acme' } };
    expect(e.evaluate(i)).toMatchObject({ allowed: true });
    const dir = mkdtempSync(join(tmpdir(), 'tg-pol-'));
    writeFileSync(join(dir, 'p.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": false, "reason": input.tenant.id} if input.identity.kind\n');
    await e.load(await readBundle(await compilePolicies(dir, ENTRY)));
    expect(e.evaluate(i)).toMatchObject({ allowed: false });
  });

  it('is off for a policy that calls a builtin whose answer changes, for a bundle without projection, and at size 0', async () => {
    const impure = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": true, "reason": uuid.rfc4122(input.tenant.id)}\n', 100);
    expect(impure.caching).toBe(false);
    const whole = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": count(input) > 0}\n', 100);
    expect(whole.caching).toBe(false);
    expect((await engineFor(POLICY, 0)).caching).toBe(false);
  });

  it('does not keep a failure to evaluate', async () => {
    const e = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": x} if { x := input.a / input.b }\n', 100);
    expect(e.evaluate({ a: 1, b: 0 })).toMatchObject({ code: 'policy_error' });
    expect(e.evaluate({ a: 1, b: 0 })).toMatchObject({ code: 'policy_error' });
    expect(e.cacheStats.hits).toBe(0);
  });
});

describe('validateDecision', () => {
  it.each([
    [true, { allowed: true }],
    [{ allowed: false, http_status: 429, code: 'q', headers: { 'Retry-After': 3 } }, { allowed: false, http_status: 429, code: 'q', headers: { 'retry-after': '3' } }],
    [{ allowed: true, request_headers_to_remove: ['X-A'] }, { allowed: true, request_headers_to_remove: ['x-a'] }],
  ])('accepts %j', (input, want) => {
    expect(validateDecision(input)).toEqual(want);
  });

  it.each([[null], [{}], [{ allowed: 1 }], [{ allowed: false, http_status: 9999 }], [{ allowed: true, headers: { a: {} } }], [{ allowed: true, headers: [] }], [{ allowed: true, request_headers_to_remove: [1] }]])(
    'refuses %j with 503',
    (input) => {
      expect(validateDecision(input)).toMatchObject({ http_status: 503, code: 'policy_error' });
    },
  );
});

describe('PolicyEngine with a large policy', () => {
  it('loads a module whose constants do not fit the customary initial memory, and evaluates it', async () => {
    // 15,000 string constants in the Rego itself: the module's data is larger than 5 pages (320 KB), the memory an
    // SDK customarily starts with.
    const names = Array.from({ length: 15_000 }, (_, i) => `"user-${i.toString(36).padStart(6, '0')}"`);
    const e = await engineFor(`package tenantgate.authz\n\nknown := {${names.join(', ')}}\n\ndecision := {"allowed": input.user in known}\n`);
    expect(e.evaluate({ user: 'user-0000zz' })).toEqual({ allowed: true });
    expect(e.evaluate({ user: 'nobody' })).toEqual({ allowed: false });
  });
});
