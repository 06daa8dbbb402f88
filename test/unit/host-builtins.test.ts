// Policies that call host builtins: they decide (no 503 policy_error), a builtin tenantgate does not answer is
// refused when the policy is built or loaded, naming it, and the policy serving before keeps serving.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine } from '../../src/policy/engine.js';
import { readBundle } from '../../src/policy/bundle.js';
import { compilePolicies, PolicyCompileError } from '../../src/policy/compile.js';
import { findOpa } from '../../src/policy/opa.js';

const ENTRY = 'tenantgate/authz/decision';

function dirWith(rego: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-host-'));
  writeFileSync(join(dir, 'main.rego'), rego);
  return dir;
}

async function engineFor(rego: string): Promise<PolicyEngine> {
  const e = new PolicyEngine(ENTRY);
  await e.load(await readBundle(await compilePolicies(dirWith(rego), ENTRY)));
  return e;
}

const hs256 = (payload: object, secret: string) => {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const data = `${b({ alg: 'HS256', typ: 'JWT' })}.${b(payload)}`;
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
};

describe('host builtins in a policy', () => {
  it("the OPA-Envoy quick start's own JWT check decides: io.jwt.decode_verify, time.now_ns, crypto, units", async () => {
    const e = await engineFor(`package tenantgate.authz

default decision := {"allowed": false, "http_status": 401, "code": "unauthenticated"}

decision := {"allowed": true, "headers": {"x-sub": payload.sub, "x-hash": crypto.sha256(payload.sub), "x-limit": sprintf("%d", [units.parse_bytes("1Ki")])}} if {
	[valid, _, payload] := io.jwt.decode_verify(bearer, {"secret": "s3cret", "aud": "api"})
	valid
	payload.exp * 1000000000 > time.now_ns()
}

bearer := t if {
	v := input.attributes.request.http.headers.authorization
	startswith(v, "Bearer ")
	t := substring(v, 7, -1)
}
`);
    const now = Math.floor(Date.now() / 1000);
    const input = (token: string) => ({ attributes: { request: { http: { headers: { authorization: `Bearer ${token}` } } } } });
    expect(e.evaluate(input(hs256({ sub: 'alice', aud: 'api', exp: now + 60 }, 's3cret')))).toEqual({
      allowed: true,
      headers: { 'x-sub': 'alice', 'x-hash': '2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90', 'x-limit': '1024' },
    });
    // Wrong secret, expired, wrong audience: the policy's own denial, not 503 policy_error.
    for (const token of [hs256({ sub: 'alice', aud: 'api', exp: now + 60 }, 'wrong'), hs256({ sub: 'alice', aud: 'api', exp: now - 60 }, 's3cret'), hs256({ sub: 'a', aud: 'x', exp: now + 60 }, 's3cret')]) {
      expect(e.evaluate(input(token))).toEqual({ allowed: false, http_status: 401, code: 'unauthenticated' });
    }
  });

  it('time.now_ns is one value within an evaluation, and the clock of the check', async () => {
    const e = await engineFor(`package tenantgate.authz

decision := {"allowed": t1 == t2, "reason": sprintf("%d", [t1])} if {
	t1 := time.now_ns()
	t2 := time.now_ns()
}
`);
    const before = BigInt(Date.now()) * 1_000_000n;
    const d = e.evaluate({});
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    expect(d.allowed).toBe(true);
    const t = BigInt(d.reason!);
    expect(t >= before && t <= after).toBe(true);
  });

  it('a policy that calls a builtin tenantgate refuses fails to build, naming the builtin, the file, the line and the rule', async () => {
    const dir = dirWith(`package tenantgate.authz

decision := {"allowed": ok}

ok if {
	resp := http.send({"method": "GET", "url": "http://example.test"})
	resp.status_code == 200
}
`);
    const err = await compilePolicies(dir, ENTRY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyCompileError);
    expect((err as Error).message).toBe(
      'the policy calls builtins tenantgate does not provide:\n  http.send (a check must not wait on the network; fetch the data into a bundle instead), called at main.rego:6 (rule ok)',
    );
  });

  it('a bundle built elsewhere that imports such a builtin is refused at load, and the loaded policy keeps serving', async () => {
    const e = await engineFor('package tenantgate.authz\n\ndecision := {"allowed": true}\n');
    const revision = e.revision;
    const dir = dirWith('package tenantgate.authz\n\ndecision := {"allowed": count(net.lookup_ip_addr("example.test")) > 0}\n');
    const out = join(dir, 'b.tar.gz');
    const built = spawnSync(findOpa(), ['build', '-t', 'wasm', '-e', ENTRY, '-o', out, join(dir, 'main.rego')], { encoding: 'utf8' });
    expect(built.status).toBe(0);
    await expect(e.load(await readBundle(readFileSync(out)))).rejects.toThrow(
      'the policy calls builtins tenantgate does not provide: net.lookup_ip_addr (a check must not wait on DNS)',
    );
    expect(e.revision).toBe(revision);
    expect(e.evaluate({})).toEqual({ allowed: true });
  });
});

describe('the builtins a WASM module can leave to its host', () => {
  it('are each answered by tenantgate or listed in docs/policies.md as refused, with the reason', async () => {
    // One call of every builtin of the pinned opa, compiled to WASM: the module imports exactly the host ones.
    const caps = JSON.parse(spawnSync(findOpa(), ['capabilities', '--current'], { encoding: 'utf8' }).stdout) as {
      builtins: { name: string; infix?: string; deprecated?: boolean; decl: { args?: unknown[]; variadic?: unknown } }[];
    };
    const rules = caps.builtins
      .filter((b) => !b.infix && !b.deprecated && !b.name.startsWith('internal.') && !b.decl.variadic)
      .map((b, i) => `r${i} := x if { x := ${b.name}(${(b.decl.args ?? []).map((_, j) => `input.a${j}`).join(', ')}) }`);
    const dir = dirWith(`package probe\n\n${rules.join('\n')}\n`);
    const out = join(dir, 'b.tar.gz');
    const built = spawnSync(findOpa(), ['build', '-t', 'wasm', '-e', 'probe', '-o', out, join(dir, 'main.rego')], { encoding: 'utf8' });
    expect(built.stderr).toBe('');
    const { WasmPolicy } = await import('../../src/policy/wasm/host.js');
    const { HOST_BUILTINS } = await import('../../src/policy/builtins/index.js');
    const imported = (await WasmPolicy.load((await readBundle(readFileSync(out))).wasm, HOST_BUILTINS)).importedBuiltins;
    expect(imported.length).toBeGreaterThan(50);
    const docs = readFileSync(new URL('../../docs/policies.md', import.meta.url), 'utf8');
    const refusedInDocs = new Set([...docs.slice(docs.indexOf('### Refused')).matchAll(/`([a-z0-9_]+\.[a-z0-9_.]+)`/g)].map((m) => m[1]!));
    const unanswered = imported.filter((b) => !HOST_BUILTINS.has(b)).sort();
    if (process.env.TENANTGATE_BUILTINS_DUMP) console.log(`UNANSWERED ${unanswered.join(' ')}`);
    expect(unanswered.filter((b) => !refusedInDocs.has(b))).toEqual([]);
    // And the docs list nothing as refused that is answered.
    expect([...refusedInDocs].filter((b) => HOST_BUILTINS.has(b))).toEqual([]);
  });
});

describe('io.jwt.encode_sign with a randomised signature (ES256, PS256)', () => {
  it('signs tokens that OPA itself verifies', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const e = await engineFor(`package tenantgate.authz

decision := {"allowed": true, "headers": {"x-es": es, "x-ps": ps}} if {
	es := io.jwt.encode_sign({"alg": "ES256"}, {"sub": "alice"}, input.ec)
	ps := io.jwt.encode_sign_raw("{\\"alg\\":\\"PS256\\"}", "{\\"sub\\":\\"bob\\"}", json.marshal(input.rsa))
}
`);
    const d = e.evaluate({ ec: ec.privateKey.export({ format: 'jwk' }), rsa: rsa.privateKey.export({ format: 'jwk' }) });
    expect(d.allowed).toBe(true);
    const { es, ps } = { es: d.headers!['x-es']!, ps: d.headers!['x-ps']! };
    const query = `[io.jwt.verify_es256(${JSON.stringify(es)}, ${JSON.stringify(JSON.stringify(ec.publicKey.export({ format: 'jwk' })))}), io.jwt.verify_ps256(${JSON.stringify(ps)}, ${JSON.stringify(JSON.stringify(rsa.publicKey.export({ format: 'jwk' })))})]`;
    const r = spawnSync(findOpa(), ['eval', '-f', 'json', query], { encoding: 'utf8' });
    expect((JSON.parse(r.stdout) as { result: { expressions: { value: unknown }[] }[] }).result[0]!.expressions[0]!.value).toEqual([true, true]);
  });
});
