// `tenantgate serve` as a child process on port 0: the address it bound is read from its own "tenantgate serving"
// log line, so tests never guess a free port (a guessed port can be taken by the time the server binds it).
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(__dirname, '..', '..');

export interface ServeProcess {
  child: ChildProcess;
  address: string;
  /** Every log line it has written so far (JSON, parsed). */
  lines: Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the CLI server with `args` (a config whose server.address ends in :0); resolves once it serves. */
export function spawnServe(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), 'serve', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, TENANTGATE_LOG__LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tenantgate serve did not start within ${opts.timeoutMs ?? 30_000} ms: ${JSON.stringify(lines.slice(-3))}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tenantgate serve exited with ${code}: ${JSON.stringify(lines.slice(-3))}`));
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(entry);
      if (entry.msg === 'tenantgate serving') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolvePromise({
          child,
          address: String(entry.address),
          lines,
          stop: (signal = 'SIGTERM') =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill(signal);
            }),
        });
      }
    });
  });
}
