// OPA's own account of a decision: `opa eval --explain=full` on the policy sources and the input the policy was
// given, reduced to the rules that held (each with where it is written). Only where the sources and opa are at
// hand (policies.dir; images without opa leave it out).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RuleHeld {
  rule: string;
  at: string;
}

/** The rules of `data.*` that held while evaluating `entrypoint` for `input`, in the order OPA left them. */
export async function rulesThatHeld(opaBin: string, dir: string, entrypoint: string, input: unknown): Promise<RuleHeld[]> {
  const work = await mkdtemp(join(tmpdir(), 'tenantgate-explain-'));
  try {
    const file = join(work, 'input.json');
    await writeFile(file, JSON.stringify(input));
    const query = `data.${entrypoint.replace(/\//g, '.')}`;
    // Run in the policy folder, so that each rule's place reads as the author wrote it (main.rego:14).
    const out = await run(opaBin, ['eval', '--explain=full', '--format=pretty', '--ignore', '*_test.rego', '-d', '.', '-i', file, query], dir);
    const held: RuleHeld[] = [];
    const seen = new Set<string>();
    for (const line of out.split('\n')) {
      const m = /^(\S+:\d+)\s+[| ]*\|\s+Exit (data\.[\w.]+)(?: early)?\s*$/.exec(line);
      if (!m || seen.has(`${m[2]} ${m[1]}`)) continue;
      seen.add(`${m[2]} ${m[1]}`);
      held.push({ rule: m[2]!, at: m[1]! });
    }
    return held;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`opa eval failed: ${err.trim() || out.trim()}`))));
  });
}
