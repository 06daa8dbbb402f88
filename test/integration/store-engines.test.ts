// The same repository tests on both engines: every admin operation, through the one AdminStore interface, gives the
// same records and the same refusals on SQLite and on a real PostgreSQL (ids, secrets and times aside).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../../src/core/config.js';
import type { AdminStore } from '../../src/core/admin-store.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { Admin } from '../../src/admin/operations.js';
import { openPool, migratePg, type Pool } from '../../src/store/pg/connect.js';
import { PgAdmin } from '../../src/store/pg/admin.js';
import { PgSources } from '../../src/store/pg/sources.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { GroupRepository } from '../../src/store/groups.js';
import { ApiKeyRepository } from '../../src/store/apikeys.js';
import { QuotaRepository } from '../../src/store/quotas.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { makeCerts } from '../support/certs.js';

let pg: PostgresServer;
let dir: string;
let config: Config;
let db: Db;
let pool: Pool;

beforeAll(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'tg-engines-'));
  config = parseConfig({ federation: { signing_key_file: join(dir, 'fed.json') } }, dir);
  db = openDatabase(join(dir, 'store.db'));
  pool = openPool({ ...config.store, url: await pg.createDatabase('engines') });
  await migratePg(pool);
}, 60_000);

afterAll(async () => {
  db?.close();
  await pool?.end();
  pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Times, generated ids and secrets differ between runs: the rest must not. */
function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, /(_at|^at)$/.test(k) && typeof x === 'string' ? '<time>' : ['id', 'key', 'rotated_to', 'target'].includes(k) && typeof x === 'string' && /[0-9a-f]{16}/.test(x) ? '<id>' : stable(x)]),
    );
  }
  return typeof v === 'string' ? v.replace(/fg_[0-9a-f]{16}|tgk_[0-9a-f]{16}_\S+|[0-9a-f]{16}/g, '<id>') : v;
}

/** One scenario of every operation; each step's result (or refusal) recorded. */
async function scenario(a: AdminStore): Promise<unknown[]> {
  const out: unknown[] = [];
  const step = async (f: () => unknown) => {
    try {
      out.push({ ok: stable(await f()) });
    } catch (err) {
      out.push({ refused: stable((err as Error).message) });
    }
  };
  await step(() => a.tenantCreate({ id: 'acme', name: 'Acme', tier: 'premium' }));
  await step(() => a.tenantCreate({ id: 'acme', name: 'Again', tier: 'free' }));
  await step(() => a.tenantCreate({ id: 'Bad_Id', name: 'x', tier: 'free' }));
  await step(() => a.tenantCreate({ id: 'globex', name: 'Globex', tier: 'basic', upstream: 'globex-cluster' }));
  await step(() => a.tenantUpdate('acme', { tier: 'enterprise', billing_anchor_day: 15 }));
  await step(() => a.tenantUpdate('acme', { tier: 'enterprise' }));
  await step(() => a.tenantUpdate('acme', { billing_anchor_day: 40 }));
  await step(() => a.tenantSetStatus('globex', 'suspended'));
  await step(() => a.tenants.list());
  await step(() => a.groupApply('acme', { id: 'ml', name: 'ML', type: 'team', permissions: [{ resource: 'models', actions: ['read'] }], resource_limits: { requests_per_minute: 5 } }));
  await step(() => a.groupApply('acme', { id: 'ml', name: 'ML team', type: 'team' }));
  await step(() => a.groupApply('acme', { id: 'x' }));
  await step(() => a.groups.list('acme'));
  await step(() => a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'ml', role: 'admin' }));
  await step(() => a.memberAdd({ tenant_id: 'acme', user_id: 'bob', group_id: 'viewer', expires_at: '2099-01-01T00:00:00Z' }));
  await step(() => a.memberAdd({ tenant_id: 'acme', user_id: 'x', group_id: 'nosuch' }));
  await step(() => a.groups.memberships('acme'));
  await step(() => a.memberRemove('acme', 'bob', 'viewer'));
  await step(() => a.memberRemove('acme', 'bob', 'viewer'));
  const key = (await a.apiKeyCreate({ tenant_id: 'acme', user_id: 'svc', scopes: ['read:models'], tier: 'basic' })) as { record: { id: string } };
  await step(() => a.apiKeyCreate({ tenant_id: 'acme', user_id: 'svc', scopes: ['everything'] }));
  await step(() => a.apiKeyRotate('acme', key.record.id, 3600));
  await step(() => a.apiKeyRevoke('acme', key.record.id));
  await step(() => a.apiKeyRevoke('acme', key.record.id));
  // Two keys made in the same millisecond list in the order of their random ids: sorted here by whether revoked.
  await step(async () => (await a.apiKeys.list('acme')).sort((x, y) => Number(!!x.revoked_at) - Number(!!y.revoked_at)));
  await step(() => a.quotaSet('acme', 'tenant', 'acme', { per_minute: 100, rate: 2.5 }));
  await step(() => a.quotaSet('acme', 'tenant', 'acme', { per_minute: null, per_day: 1000 }));
  await step(() => a.quotaSet('acme', 'group', 'nosuch', { per_day: 1 }));
  await step(() => a.quotaSet('acme', 'group', 'ml', { per_day: -1 }));
  await step(() => a.quotas.list('acme'));
  await step(async () => (await a.federationGrant({ source: 'acme', target: 'globex', resource_type: 'documents', access: 'read', expires_at: '2099-01-01T00:00:00Z' })).grant);
  await step(() => a.federationGrant({ source: 'acme', target: 'acme', resource_type: 'x', access: 'read', expires_at: '2099-01-01T00:00:00Z' }));
  await step(() => a.federation.list('globex'));
  await step(() => a.groupDelete('acme', 'ml'));
  await step(() => a.groups.memberships('acme', 'alice'));
  await step(() => a.tenantDelete('globex'));
  await step(async () => (await a.audit.list({ limit: 100 })).map((e) => [e.actor, e.action, e.tenant_id]));
  return out;
}

describe('the store, on SQLite and on PostgreSQL', () => {
  it('every admin operation gives the same records and the same refusals', async () => {
    const sqlite = await scenario(new Admin(db, config, 'test'));
    const postgres = await scenario(new PgAdmin(pool, config, 'test'));
    expect(postgres).toEqual(sqlite);
    // And the scenario did what it says (not two engines agreeing on nothing).
    expect(sqlite[1]).toEqual({ refused: 'tenant acme already exists' });
    expect(sqlite[6]).toEqual({ refused: 'invalid billing anchor day 40: 1 to 28' });
    expect(sqlite.filter((s) => 'ok' in (s as object))).toHaveLength(25);
  });

  it('the hot path reads the same from both: tenant, groups of a user, API key, overrides, usage', async () => {
    const sq = { tenants: new TenantRepository(db), groups: new GroupRepository(db), keys: new ApiKeyRepository(db), quotas: new QuotaRepository(db) };
    const pgs = new PgSources(pool);
    await pgs.overrides.loadAll();
    const at = new Date();
    // The rotation's new key (the other one is revoked).
    const keyId = sq.keys.list('acme').find((k) => !k.revoked_at)!.id;
    const pgKeyId = (await new PgAdmin(pool, config, 't').apiKeys.list('acme')).find((k) => !k.revoked_at)!.id;
    expect(stable(await pgs.tenants.get('acme'))).toEqual(stable(sq.tenants.get('acme')));
    expect(stable(await pgs.groups.activeGroupRowsOf('acme', 'alice', at))).toEqual(stable(sq.groups.activeGroupRowsOf('acme', 'alice', at)));
    const { secret_hash: pgHash, ...pgKey } = (await pgs.apiKeys.get(pgKeyId))!;
    const { secret_hash: sqHash, ...sqKey } = sq.keys.get(keyId)!;
    expect(stable(pgKey)).toEqual(stable(sqKey));
    for (const h of [pgHash, sqHash]) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(stable(pgs.overrides.list('acme'))).toEqual(stable(sq.quotas.list('acme')));
    sq.quotas.addUsage([{ tenant: 'acme', subject: '*', window: 'day', start: Date.UTC(2026, 10, 30), count: 7 }]);
    await pool.query(`INSERT INTO quota_usage VALUES ('acme', '*', 'day', $1, 7)`, [new Date(Date.UTC(2026, 10, 30)).toISOString()]);
    expect(await pgs.usage.load('acme', '*', 'day', Date.UTC(2026, 10, 30))).toBe(sq.quotas.load('acme', '*', 'day', Date.UTC(2026, 10, 30)));
  });

  it('refuses a schema newer than this tenantgate knows, on both engines', async () => {
    const url = await pg.createDatabase('newer');
    const p = openPool({ ...config.store, url });
    try {
      await migratePg(p);
      await p.query('UPDATE tenantgate_schema SET version = 99');
      await expect(migratePg(p)).rejects.toThrow("the store's schema version 99 is newer than this tenantgate (8): upgrade tenantgate");
    } finally {
      await p.end();
    }
    const file = join(dir, 'newer.db');
    openDatabase(file).pragma('user_version = 99');
    expect(() => openDatabase(file)).toThrow('database schema version 99 is newer than this tenantgate (8)');
  });

  it('with store.migrate off, an old schema is refused until store migrate has run', async () => {
    const p = openPool({ ...config.store, url: await pg.createDatabase('old') });
    try {
      await expect(migratePg(p, false)).rejects.toThrow("the store's schema is at version 0, this tenantgate needs 8: run tenantgate store migrate");
      expect(await migratePg(p, true)).toEqual({ from: 0, to: 8 });
      expect(await migratePg(p, false)).toEqual({ from: 8, to: 8 });
    } finally {
      await p.end();
    }
  });

  it('connects with TLS as sslmode says: verify-full with the CA, require without one; a wrong CA is refused', async () => {
    const certs = makeCerts();
    const server = certs.server('pg');
    const tlsPg = await startPostgres({ tls: server });
    try {
      const base = await tlsPg.createDatabase('tls');
      const count = async (url: string, ca?: string) => {
        const p = openPool({ ...config.store, url, ssl_ca_file: ca });
        try {
          await migratePg(p);
          return (await p.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl;
        } finally {
          await p.end();
        }
      };
      expect(await count(`${base}?sslmode=verify-full`, certs.ca)).toBe(true);
      expect(await count(`${base}?sslmode=require`)).toBe(true);
      expect(await count(`${base}?sslmode=disable`)).toBe(false);
      await expect(count(`${base}?sslmode=verify-full`, certs.otherCa)).rejects.toThrow(/self-signed|unable to verify|certificate/);
      expect(() => openPool({ ...config.store, url: `${base}?sslmode=sometimes` })).toThrow('store.url: sslmode=sometimes is not one of disable, allow, prefer, require, verify-ca, verify-full');
    } finally {
      tlsPg.close();
    }
  });
});
