// The PostgreSQL store's connections (node-postgres): the URL of store.url, its password from the environment or a
// file, TLS by the URL's sslmode as libpq reads it, and the schema migrations (one replica at a time).
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Config } from '../../core/config.js';
import { ConfigError } from '../../core/config.js';
import { PG_MIGRATIONS } from './migrations.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

// BIGINT as a number: counts and versions stay far below 2^53.
const types = { getTypeParser: (oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) };

/** The connection settings of store.url: libpq's sslmode read here (node-postgres reads "require" as verify-full). */
export function pgConfig(config: Config['store'], env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const url = new URL(config.url!);
  const mode = url.searchParams.get('sslmode') ?? 'disable';
  url.searchParams.delete('sslmode');
  const ca = config.ssl_ca_file ? readFileSync(config.ssl_ca_file, 'utf8') : undefined;
  const ssl: pg.ClientConfig['ssl'] =
    mode === 'disable' ? false
    : mode === 'require' || mode === 'prefer' || mode === 'allow' ? { rejectUnauthorized: false }
    : mode === 'verify-ca' ? { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
    : mode === 'verify-full' ? { ca, rejectUnauthorized: true }
    : badMode(mode);
  let password: string | undefined = url.password ? decodeURIComponent(url.password) : undefined;
  if (!password && config.password_file) password = readFileSync(config.password_file, 'utf8').trim();
  if (!password) password = env[config.password_env] || undefined;
  url.password = '';
  return { connectionString: url.toString(), password, ssl, types, connectionTimeoutMillis: 2000, application_name: 'tenantgate' };
}

function badMode(mode: string): never {
  throw new ConfigError(`store.url: sslmode=${mode} is not one of disable, allow, prefer, require, verify-ca, verify-full`);
}

export function openPool(config: Config['store'], env?: NodeJS.ProcessEnv): Pool {
  const pool = new pg.Pool({ ...pgConfig(config, env), max: config.pool_size, idleTimeoutMillis: 30_000 });
  // A connection that breaks (the server restarted) is replaced on the next query; its query fails on its own, so
  // the error event, idle or checked out, has nothing to add.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Runs fn in one transaction on one connection: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(pool: Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const MIGRATION_LOCK = 7_271_727;

/**
 * Brings the schema to the version this tenantgate knows, under an advisory lock (replicas starting together
 * migrate one after the other); refuses a schema newer than that. Returns the versions before and after.
 */
export async function migratePg(pool: Pool, apply = true): Promise<{ from: number; to: number }> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS tenantgate_schema (version INTEGER NOT NULL)');
    const row = (await c.query<{ version: number }>('SELECT version FROM tenantgate_schema')).rows[0];
    const from = row?.version ?? 0;
    if (!row) await c.query('INSERT INTO tenantgate_schema (version) VALUES (0)');
    if (from > PG_MIGRATIONS.length) throw new Error(`the store's schema version ${from} is newer than this tenantgate (${PG_MIGRATIONS.length}): upgrade tenantgate`);
    if (from < PG_MIGRATIONS.length && !apply) throw new Error(`the store's schema is at version ${from}, this tenantgate needs ${PG_MIGRATIONS.length}: run tenantgate store migrate`);
    for (let v = from; v < PG_MIGRATIONS.length; v++) await c.query(PG_MIGRATIONS[v]!);
    await c.query('UPDATE tenantgate_schema SET version = $1', [PG_MIGRATIONS.length]);
    return { from, to: PG_MIGRATIONS.length };
  });
}
