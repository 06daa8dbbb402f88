// A real nginx (Debian package, installed by scripts/services.sh) for the tests and the bench, with a config made by
// the caller, on loopback. `httpBlock(port)` goes inside `http { }`; every temp path is under a fresh directory.
// nginx cannot listen on port 0, so a free port is picked, and if another process takes it first (nginx then
// exits), another one. `core`: pin it to that CPU (the bench).
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.mjs';

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export async function startNginx(httpBlock, opts = {}) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOn(httpBlock(port), port, opts);
    } catch (err) {
      if (attempt >= 5 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

async function startOn(httpBlock, port, { core } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tenantgate-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers run as an unprivileged user
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
${httpBlock}
}
`,
  );
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'];
  // taskset execs nginx: the process is nginx's master either way.
  const proc = core === undefined ? spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn('taskset', ['-c', String(core), NGINX, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const start = Date.now();
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null || Date.now() - start > 10_000) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    port,
    pid: proc.pid,
    async stop() {
      if (proc.exitCode === null) {
        await new Promise((r) => {
          proc.once('exit', () => r());
          proc.kill('SIGQUIT');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
