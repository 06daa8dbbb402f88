// A real PostgreSQL for the tests and the bench (Debian's package, installed by scripts/services.sh when missing): a
// cluster made with initdb in a temporary folder and a server on a free loopback port, both run as the postgres
// user when running as root (initdb refuses root). stop()/start() take the server down and up again with its data.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.mjs';

function binDir() {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  throw new Error('PostgreSQL is not installed: run scripts/services.sh');
}

/**
 * @param {{ tls?: { cert: string; key: string } }} [opts] with tls, the server also takes TLS connections with that
 *   certificate (clients choose with sslmode).
 * @returns {Promise<import('./postgres.d.mts').PostgresServer>}
 */
export async function startPostgres(opts = {}) {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tg-pg-'));
  const root = process.getuid?.() === 0;
  const owner = root ? [Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))] : undefined;
  const own = (path, mode) => {
    if (owner) chownSync(path, owner[0], owner[1]);
    chmodSync(path, mode);
  };
  own(dir, 0o700);
  let ssl = '';
  if (opts.tls) {
    // PostgreSQL refuses a key file others can read.
    for (const [from, to] of [[opts.tls.cert, 'server.crt'], [opts.tls.key, 'server.key']]) {
      copyFileSync(from, join(dir, to));
      own(join(dir, to), 0o600);
    }
    ssl = ` -c ssl=on -c ssl_cert_file=${join(dir, 'server.crt')} -c ssl_key_file=${join(dir, 'server.key')}`;
  }
  const as = (cmd, args) => {
    const r = root ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' }) : spawnSync(join(bin, cmd), args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}${r.stdout}`);
  };
  const data = join(dir, 'data');
  as('initdb', ['-D', data, '-U', 'tenantgate', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200${ssl}`;
  const start = () => as('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const stop = () => as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  let n = 0;
  return {
    port,
    async createDatabase(name) {
      const db = `${name.replace(/[^a-z0-9_]/g, '_')}_${++n}`;
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'tenantgate', database: 'postgres' });
      await c.connect();
      await c.query(`CREATE DATABASE ${db}`);
      await c.end();
      return `postgres://tenantgate@127.0.0.1:${port}/${db}`;
    },
    stop,
    start,
    close() {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
