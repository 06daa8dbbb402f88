// The policy engine on real WASM: the project's compiled policies, and small ones built here with opa.
import { describe, expect, it, inject } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, validateDecision } from '../../src/policy/engine.js';
import { readBundle } from '../../src/policy/bundle.js';
import { compilePolicies, PolicyCompileError } from '../../src/policy/compile.js';

const ENTRY = 'tenantgate/authz/decision';

async function engineFor(rego: string): Promise<PolicyEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-pol-'));
  writeFileSync(join(dir, 'p.rego'), rego);
  const e = new PolicyEngine(ENTRY);
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
