// `opa build -t wasm`: compiles the Rego under policies/ into a bundle (policy.wasm + data.json).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOpa } from './opa.js';
import { inputProjection, PROJECTION_KEY } from './deps.js';

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
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}
