// A tenant's own Rego, when it is uploaded: checked, tested with the tenant's tests, compiled to WASM with the same
// builtin rules as the platform's policies, and instrumented for its evaluation budget. Nothing is stored unless
// every step passes; a refusal carries opa's own message.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../core/errors.js';
import { reservedHeader, type TenantRegoSource } from '../core/tenant-rules.js';
import { findOpa } from '../policy/opa.js';
import { refuseUnsupportedBuiltins, run, PolicyCompileError } from '../policy/compile.js';
import { readBundle } from '../policy/bundle.js';
import { inputProjection } from '../policy/deps.js';
import { WasmPolicy } from '../policy/wasm/host.js';
import { HOST_BUILTINS } from '../policy/builtins/index.js';

export const MAX_MODULE_BYTES = 64 * 1024;
const MAX_TESTS_BYTES = 256 * 1024;
// A tenant's upload runs opa on the server: each step is bounded, so no module or test can hold it.
const STEP_TIMEOUT_MS = 30_000;

/** The package a tenant's module must declare, and its entrypoint: the tenant names it. */
export function tenantPackage(tenantId: string): { rego: string; entrypoint: string } {
  return { rego: `tenants[${JSON.stringify(tenantId)}]`, entrypoint: `tenants/${tenantId}` };
}

export interface CompiledRego {
  wasm: Uint8Array;
  projection: string | null;
}

const refuse = (message: string): never => {
  throw new StoreError(message, 'invalid');
};

/** Tests, compiles and instruments a tenant's module; throws a StoreError (invalid) with the reason it is refused. */
export async function compileTenantRego(tenantId: string, src: TenantRegoSource, opaBin = findOpa()): Promise<CompiledRego> {
  const pkg = tenantPackage(tenantId);
  if (Buffer.byteLength(src.module) > MAX_MODULE_BYTES) refuse(`the tenant module is larger than ${MAX_MODULE_BYTES} bytes`);
  const declared = /^\s*package\s+(\S+)/m.exec(src.module)?.[1];
  const accepted = [pkg.rego, ...(/^[a-z_][a-z0-9_]*$/.test(tenantId) ? [`tenants.${tenantId}`] : [])];
  if (!declared || !accepted.includes(declared)) refuse(`the tenant module must declare "package ${pkg.rego}" (it declares ${declared ? `"package ${declared}"` : 'no package'})`);
  if (!src.tests.length) refuse('a tenant module is accepted only with its tests: upload at least one *_test.rego');
  if (src.tests.reduce((n, t) => n + Buffer.byteLength(t.text), 0) > MAX_TESTS_BYTES) refuse(`the tenant module's tests are larger than ${MAX_TESTS_BYTES} bytes`);
  const dir = await mkdtemp(join(tmpdir(), 'tenantgate-tenant-'));
  try {
    await writeFile(join(dir, 'policy.rego'), src.module);
    for (const [i, t] of src.tests.entries()) {
      if (!t.name.endsWith('_test.rego')) refuse(`test file "${t.name}" must end in _test.rego`);
      await writeFile(join(dir, `t${i}_${t.name.replace(/[^A-Za-z0-9_.-]/g, '_')}`), t.text);
    }
    await refuseReservedHeaders(dir, opaBin);
    const tested = await run(opaBin, ['test', '--format', 'json', '--timeout', '5s', dir], STEP_TIMEOUT_MS);
    const results = parseJson(tested.output) as { fail?: boolean; error?: unknown; name: string }[] | undefined;
    if (tested.code !== 0 || !Array.isArray(results)) refuse(`the tenant module's tests did not pass:\n${summarize(results, tested.output)}`);
    if (!results!.length) refuse('the tenant tests have no test rules (test_* rules in a *_test.rego)');
    const out = join(dir, 'bundle.tar.gz');
    const built = await run(opaBin, ['build', '-t', 'wasm', '-e', pkg.entrypoint, '--ignore', '*_test.rego', '-o', out, dir], STEP_TIMEOUT_MS);
    if (built.code !== 0) refuse(`opa build failed:\n${built.output.trim()}`);
    const bytes = await readFile(out);
    try {
      await refuseUnsupportedBuiltins(bytes, dir);
    } catch (err) {
      if (err instanceof PolicyCompileError) refuse(err.message);
      throw err;
    }
    const { wasm } = await readBundle(bytes);
    await refuseUnboundedBuiltins(wasm);
    const projection = await inputProjection(dir, pkg.entrypoint, opaBin);
    return { wasm: await instrument(wasm), projection: projection ? JSON.stringify(projection) : null };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Adds a call to env.log_execution at every function entry and loop header (Binaryen's log-execution pass), so
 * that the host can stop an evaluation that runs past its time budget: WASM cannot be interrupted from outside.
 */
async function instrument(wasm: Uint8Array): Promise<Uint8Array> {
  const { default: binaryen } = await import('binaryen');
  const m = binaryen.readBinary(wasm);
  try {
    m.runPasses(['log-execution']);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/**
 * Builtins tenantgate answers with JavaScript regular expressions, which backtrack: a tenant's pattern could hold the
 * server's thread past any budget (the budget is checked between the module's own steps, not inside a builtin).
 * OPA's regex.match, regex.is_valid and regex.find_all_string_submatch_n run inside the module (RE2) and are allowed.
 */
const UNBOUNDED_BUILTINS: ReadonlySet<string> = new Set(['regex.split', 'regex.find_n', 'regex.replace', 'regex.template_match']);

async function refuseUnboundedBuiltins(wasm: Uint8Array): Promise<void> {
  const policy = await WasmPolicy.load(wasm, HOST_BUILTINS);
  const used = policy.importedBuiltins.filter((b) => UNBOUNDED_BUILTINS.has(b));
  if (used.length) refuse(`a tenant module may not call ${used.join(', ')}: its backtracking regular expressions cannot be held to the module's time budget (regex.match and regex.find_all_string_submatch_n can)`);
}

/** A headers rule that names a reserved header is refused here (at run time such a header would be dropped). */
async function refuseReservedHeaders(dir: string, opaBin: string): Promise<void> {
  const parsed = await run(opaBin, ['parse', '--format', 'json', join(dir, 'policy.rego')], STEP_TIMEOUT_MS);
  if (parsed.code !== 0) refuse(`the tenant module does not parse:\n${parsed.output.trim()}`);
  const ast = parseJson(parsed.output) as { rules?: { head?: { name?: string; ref?: { value?: unknown }[] } }[] } | undefined;
  const problems = new Set<string>();
  for (const rule of ast?.rules ?? []) {
    const name = rule.head?.name ?? rule.head?.ref?.[0]?.value;
    if (name !== 'headers') continue;
    for (const s of strings(rule)) {
      const why = /^[A-Za-z0-9-]+$/.test(s) ? reservedHeader(s) : null;
      if (why) problems.add(why);
    }
  }
  if (problems.size) refuse(`the tenant module's headers rule names headers a tenant may not set: ${[...problems].join('; ')}`);
}

function strings(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) strings(x, out);
  else if (typeof node === 'object' && node !== null) {
    const n = node as { type?: unknown; value?: unknown };
    if (n.type === 'string' && typeof n.value === 'string') out.push(n.value);
    else for (const v of Object.values(node)) strings(v, out);
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The failing tests by name, with opa's own report when there is one. */
function summarize(results: { fail?: boolean; error?: unknown; name: string; package?: string }[] | undefined, output: string): string {
  if (!Array.isArray(results)) return output.trim();
  const failed = results.filter((r) => r.fail || r.error);
  return failed.map((r) => `  FAIL ${r.package ? `${r.package}.` : ''}${r.name}${r.error ? `: ${JSON.stringify(r.error)}` : ''}`).join('\n') || output.trim();
}
