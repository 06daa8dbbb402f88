// `opa build -t wasm`: compiles the Rego under policies/ into a bundle (policy.wasm + data.json).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOpa } from './opa.js';
import { inputProjection, PROJECTION_KEY } from './deps.js';
import { readBundle } from './bundle.js';
import { WasmPolicy } from './wasm/host.js';
import { HOST_BUILTINS, unsupportedBuiltins } from './builtins/index.js';

export class PolicyCompileError extends Error {
  override name = 'PolicyCompileError';
}

/**
 * Runs opa and returns the bundle bytes; on failure the error message is opa's own output. The bundle also
 * carries the policy's input projection (what `opa deps` says it reads) as data.tenantgate_meta, so the engine
 * can pass only that part of the input into WASM.
 */
export async function compilePolicies(dir: string, entrypoint: string, opaBin = findOpa()): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'tenantgate-build-'));
  const out = join(work, 'bundle.tar.gz');
  try {
    const args = ['build', '-t', 'wasm', '-e', entrypoint, '--ignore', '*_test.rego', '-o', out, dir];
    const projection = await inputProjection(dir, entrypoint, opaBin);
    if (projection) {
      await mkdir(join(work, 'meta'));
      await writeFile(join(work, 'meta', 'data.json'), JSON.stringify({ [PROJECTION_KEY]: { input_projection: projection } }));
      args.push(join(work, 'meta'));
    }
    const { code, output } = await run(opaBin, args);
    if (code !== 0) throw new PolicyCompileError(`opa build failed:\n${output.trim()}`);
    const bytes = await readFile(out);
    await refuseUnsupportedBuiltins(bytes, dir);
    return bytes;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A policy that calls a builtin tenantgate does not answer fails here, when it is built, naming the builtin and
 * where it is called: it would otherwise pass `opa test` and then fail every check.
 */
export async function refuseUnsupportedBuiltins(bundle: Buffer, dir: string): Promise<void> {
  const policy = await WasmPolicy.load((await readBundle(bundle)).wasm, HOST_BUILTINS);
  const missing = await unsupportedBuiltins(policy.importedBuiltins);
  if (!missing.length) return;
  const calls = await callSites(dir, missing.map((m) => m.slice(0, m.indexOf(' '))));
  throw new PolicyCompileError(`the policy calls builtins tenantgate does not provide:\n${missing.map((m, i) => `  ${m}${calls[i] ? `, called at ${calls[i]}` : ''}`).join('\n')}`);
}

/** For each builtin, the first place in the Rego sources (tests aside) that calls it: file:line (rule). */
async function callSites(dir: string, builtins: string[]): Promise<(string | undefined)[]> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego')).sort();
  const found: (string | undefined)[] = builtins.map(() => undefined);
  for (const file of files) {
    const lines = (await readFile(join(dir, file), 'utf8')).split('\n');
    let rule = '';
    lines.forEach((line, n) => {
      const head = /^([a-z_][A-Za-z0-9_]*)\b/.exec(line);
      if (head && !['package', 'import', 'default'].includes(head[1]!)) rule = head[1]!;
      builtins.forEach((b, i) => {
        if (!found[i] && new RegExp(`(^|[^A-Za-z0-9_.])${b.replace(/\./g, '\\.')}\\s*\\(`).test(line)) found[i] = `${file}:${n + 1} (rule ${rule || '?'})`;
      });
    });
  }
  return found;
}

/** Runs a command; `timeoutMs`: killed after that long (its output then says so, and the code is non-zero). */
export function run(cmd: string, args: string[], timeoutMs = 0): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = timeoutMs > 0 ? setTimeout(() => {
      output += `\n(stopped after ${timeoutMs / 1000} s)`;
      child.kill('SIGKILL');
    }, timeoutMs) : undefined;
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ code: code ?? 1, output });
    });
  });
}
