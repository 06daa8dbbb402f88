// Where the opa CLI is: OPA_BIN, then the pinned build in .tools/bin (scripts/setup.sh), then PATH.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function findOpa(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPA_BIN) {
    if (!existsSync(env.OPA_BIN)) throw new Error(`OPA_BIN points to ${env.OPA_BIN}, which does not exist`);
    return env.OPA_BIN;
  }
  const local = join(PROJECT_ROOT, '.tools', 'bin', 'opa');
  if (existsSync(local)) return local;
  const which = spawnSync('sh', ['-c', 'command -v opa'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'the opa CLI was not found: run `npm run setup` (installs it with go install), or set OPA_BIN, ' +
      'or install it with `go install github.com/open-policy-agent/opa@v1.22.2`',
  );
}
