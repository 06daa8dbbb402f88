// Runs builtin calls on both engines: the real `opa eval` and tenantgate's WASM host (the same calls compiled with
// `opa build -t wasm`). Each call reads its arguments from the input, so that neither compiler folds it away and the
// type checker lets any value through, as it would from a request.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOpa } from '../../src/policy/opa.js';
import { readBundle } from '../../src/policy/bundle.js';
import { WasmPolicy } from '../../src/policy/wasm/host.js';
import { HOST_BUILTINS, unsupportedBuiltins } from '../../src/policy/builtins/index.js';

export interface Call {
  builtin: string;
  args: unknown[];
}

export interface Diff {
  call: Call;
  opa: unknown;
  tenantgate: unknown;
}

const UNDEFINED = '<undefined>';

/** The calls whose answers differ between OPA and tenantgate (undefined on both sides is the same answer). */
export async function diffBuiltins(calls: Call[]): Promise<Diff[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-builtins-'));
  try {
    // With whether the value is a set: JSON shows a set as an array, and a builtin must return the right one.
    const rules = calls.map((c, i) => `c${i} := {"v": x, "set": is_set(x)} if { x := ${c.builtin}(${c.args.map((_, j) => `input.c${i}[${j}]`).join(', ')}) }`);
    writeFileSync(join(dir, 'cmp.rego'), `package cmp\n\n${rules.join('\n')}\n`);
    const input = Object.fromEntries(calls.map((c, i) => [`c${i}`, c.args]));
    writeFileSync(join(dir, 'input.json'), JSON.stringify(input));
    const opa = findOpa();
    const ev = spawnSync(opa, ['eval', '--v1-compatible', '-f', 'json', '-d', join(dir, 'cmp.rego'), '-i', join(dir, 'input.json'), 'data.cmp'], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (ev.status !== 0) throw new Error(`opa eval failed (${ev.status}): ${ev.stderr.slice(0, 6000)}${ev.stdout.slice(-3000)}`);
    const expected = (JSON.parse(ev.stdout) as { result: { expressions: { value: Record<string, unknown> }[] }[] }).result[0]!.expressions[0]!.value;
    const build = spawnSync(opa, ['build', '-t', 'wasm', '-e', 'cmp', '-o', join(dir, 'b.tar.gz'), join(dir, 'cmp.rego')], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`opa build failed: ${build.stderr}${build.stdout}`);
    const bundle = await readBundle(readFileSync(join(dir, 'b.tar.gz')));
    const policy = await WasmPolicy.load(bundle.wasm, HOST_BUILTINS);
    const missing = await unsupportedBuiltins(policy.importedBuiltins);
    if (missing.length) throw new Error(`builtins not answered: ${missing.join('; ')}`);
    const got = (JSON.parse(policy.evaluate(JSON.stringify(input), policy.entrypoints.cmp!)) as { result: Record<string, unknown> }[])[0]!.result;
    const diffs: Diff[] = [];
    calls.forEach((call, i) => {
      const a = `c${i}` in expected ? plain(expected[`c${i}`]) : UNDEFINED;
      const b = `c${i}` in got ? plain(got[`c${i}`]) : UNDEFINED;
      if (JSON.stringify(sorted(a)) !== JSON.stringify(sorted(b))) diffs.push({ call, opa: a, tenantgate: b });
    });
    if (process.env.TENANTGATE_BUILTINS_DUMP) {
      const defined = new Map<string, number>();
      calls.forEach((c, i) => `c${i}` in expected && defined.set(c.builtin, (defined.get(c.builtin) ?? 0) + 1));
      console.log(`DEFINED ${JSON.stringify(Object.fromEntries(defined))}`);
    }
    return diffs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The value, its members in order when it is a set (a set's order in JSON is nobody's to observe). */
function plain(r: unknown): unknown {
  const { v, set } = r as { v: unknown; set: boolean };
  return set ? { set: (v as unknown[]).map((x) => JSON.stringify(sorted(x))).sort() } : v;
}

/** Objects with their keys in order, so that key order is not a difference. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}
