// The builtins answered by OPA's own Go code (tools/opa-builtins, built for WASI by the set-up): a policy calling
// them decides with exactly opa eval's values, and without the module it is refused when it is built, saying why.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine } from '../../src/policy/engine.js';
import { readBundle } from '../../src/policy/bundle.js';
import { compilePolicies, PolicyCompileError } from '../../src/policy/compile.js';
import { makeCerts } from '../support/certs.js';

const ENTRY = 'tenantgate/authz/decision';

const POLICY = `package tenantgate.authz

schema := {"type": "object", "required": ["model"], "properties": {"model": {"type": "string"}, "max_tokens": {"type": "integer", "maximum": 100}}}

default decision := {"allowed": false, "http_status": 403}

decision := {"allowed": false, "http_status": 400, "reason": concat("; ", [e.error | some e in errors])} if {
	[ok, errors] := json.match_schema(input.body, schema)
	not ok
}

decision := {"allowed": true, "headers": {"x-greeting": greeting, "x-cert-cn": cert.Subject.CommonName, "x-glob": sprintf("%v", [regex.globs_match("a.+", "a*b")])}} if {
	[ok, _] := json.match_schema(input.body, schema)
	ok
	greeting := strings.render_template("hello {{.model}}", input.body)
	[cert] := crypto.x509.parse_certificates(input.cert)
}
`;

function dirWith(rego: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-opa-go-'));
  writeFileSync(join(dir, 'main.rego'), rego);
  return dir;
}

describe("builtins answered by OPA's own code", () => {
  it('without the module, a policy calling them is refused when it is built, naming the builtins and why', async () => {
    const saved = process.env.TENANTGATE_OPA_BUILTINS_WASM;
    process.env.TENANTGATE_OPA_BUILTINS_WASM = join(tmpdir(), 'no-such-opa-builtins.wasm');
    try {
      const err = await compilePolicies(dirWith(POLICY), ENTRY).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PolicyCompileError);
      const msg = (err as Error).message;
      expect(msg).toContain(`json.match_schema (OPA's builtins module is not built (${process.env.TENANTGATE_OPA_BUILTINS_WASM}); run npm run setup, which builds it with Go), called at main.rego:8 (rule decision)`);
      expect(msg).toContain('strings.render_template (');
      expect(msg).toContain('crypto.x509.parse_certificates (');
    } finally {
      if (saved === undefined) delete process.env.TENANTGATE_OPA_BUILTINS_WASM;
      else process.env.TENANTGATE_OPA_BUILTINS_WASM = saved;
    }
  });

  it('with it, the policy decides: JSON Schema errors, a template, a parsed certificate, glob intersection', async () => {
    const e = new PolicyEngine(ENTRY);
    await e.load(await readBundle(await compilePolicies(dirWith(POLICY), ENTRY)));
    const certs = makeCerts();
    const cert = readFileSync(certs.client({ name: 'c', cn: 'alice' }).cert, 'utf8');
    expect(e.evaluate({ body: { model: 'gpt', max_tokens: 5 }, cert })).toEqual({
      allowed: true,
      headers: { 'x-greeting': 'hello gpt', 'x-cert-cn': 'alice', 'x-glob': 'true' },
    });
    expect(e.evaluate({ body: { max_tokens: 500 }, cert })).toEqual({
      allowed: false,
      http_status: 400,
      reason: '(Root): model is required; max_tokens: Must be less than or equal to 100',
    });
    // A certificate that does not parse: the builtin is undefined, so the default decision.
    expect(e.evaluate({ body: { model: 'gpt' }, cert: 'not a certificate' })).toEqual({ allowed: false, http_status: 403 });
  });
});
