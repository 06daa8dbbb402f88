// A real redis-server (Debian package, installed by scripts/services.sh) on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open and nothing answers (a hung Redis). */
  pause(): void;
  resume(): void;
  client(): Redis;
}

/**
 * With `tls`, Redis listens only on a TLS port (rediss://), with that certificate, and asks no client certificate.
 * Redis cannot listen on port 0: a free port is picked, and the server that answers there must be this one (its
 * process id), else another port is tried.
 */
export async function startRedis(opts: { tls?: { cert: string; key: string; ca: string } } = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(await freePort(), opts);
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

async function startRedisOn(port: number, opts: { tls?: { cert: string; key: string; ca: string } }): Promise<RedisServer> {
  let proc: ChildProcess | undefined;
  const listen = opts.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const tls = opts.tls ? { ca: readFileSync(opts.tls.ca) } : undefined;
  const start = async () => {
    proc = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1, tls });
    probe.on('error', () => undefined);
    let ours = false;
    for (let i = 0; i < 100 && !ours && proc.exitCode === null; i++) {
      try {
        await probe.connect().catch(() => undefined);
        ours = /process_id:(\d+)/.exec(await probe.info('server'))?.[1] === String(proc.pid);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    probe.disconnect();
    if (!ours) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
  };
  await start();
  return {
    url: `${opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    start,
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((r) => {
        p.once('exit', () => r());
        p.kill('SIGKILL');
      });
    },
    pause: () => proc?.kill('SIGSTOP'),
    resume: () => proc?.kill('SIGCONT'),
    client: () => new Redis(port, '127.0.0.1', { tls }),
  };
}
