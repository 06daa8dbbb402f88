// `tenantgate store copy`: an existing SQLite store moved into PostgreSQL, every table, in one transaction, into a
// store that has no tenants yet. The replicas drop their caches when it commits (the version moves on).
import type { Db } from '../database.js';
import { inTransaction, type Pool } from './connect.js';
import { CHANGES_CHANNEL } from './changes.js';

/** Tables in an order their foreign keys allow, with the columns both engines have. */
const TABLES: [string, string[]][] = [
  ['tenants', ['id', 'name', 'tier', 'status', 'upstream', 'billing_anchor_day', 'created_at', 'updated_at']],
  ['groups', ['tenant_id', 'id', 'name', 'description', 'type', 'permissions', 'data_access_rules', 'data_access_level', 'resource_limits', 'routing', 'active', 'created_at', 'updated_at']],
  ['memberships', ['tenant_id', 'user_id', 'group_id', 'role', 'joined_at', 'expires_at']],
  ['api_keys', ['id', 'tenant_id', 'user_id', 'name', 'secret_hash', 'scopes', 'tier', 'created_at', 'expires_at', 'revoked_at', 'rotated_to', 'last_used_at']],
  ['federation_grants', ['id', 'source_tenant', 'target_tenant', 'resource_type', 'resource_id', 'access', 'created_at', 'expires_at', 'revoked_at']],
  ['audit_log', ['seq', 'at', 'actor', 'action', 'tenant_id', 'target', 'before', 'after']],
  ['quota_overrides', ['tenant_id', 'scope', 'scope_id', 'per_minute', 'per_day', 'per_month', 'burst', 'rate', 'updated_at']],
  ['quota_usage', ['tenant_id', 'subject', 'window', 'window_start', 'count']],
  ['token_usage', ['tenant_id', 'subject', 'model', 'window', 'window_start', 'input_tokens', 'output_tokens', 'cost_nano_usd', 'responses']],
  ['token_overrides', ['tenant_id', 'scope', 'scope_id', 'limits', 'updated_at']],
  ['tenant_policies', ['tenant_id', 'rules', 'rego', 'wasm', 'projection', 'revision', 'updated_at', 'updated_by']],
];

const BATCH = 1000;

export async function copySqliteToPg(db: Db, pool: Pool): Promise<Record<string, number>> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants');
    if (rows[0]!.n > 0) throw new Error('the target store already has tenants: store copy fills an empty store only');
    const counts: Record<string, number> = {};
    for (const [table, cols] of TABLES) {
      // Memberships in the order they were made (SQLite's rowid): PostgreSQL numbers them as they come.
      const order = table === 'memberships' ? ' ORDER BY rowid' : table === 'audit_log' ? ' ORDER BY seq' : '';
      const all = db.prepare(`SELECT ${cols.join(', ')} FROM ${table}${order}`).raw().all() as unknown[][];
      const names = cols.map((n) => (n === 'window' ? '"window"' : n)).join(', ');
      for (let i = 0; i < all.length; i += BATCH) {
        const chunk = all.slice(i, i + BATCH);
        const params = chunk.flat();
        const values = chunk.map((_, r) => `(${cols.map((__, k) => `$${r * cols.length + k + 1}`).join(', ')})`);
        await c.query(`INSERT INTO ${table} (${names}) VALUES ${values.join(', ')}`, params);
      }
      counts[table] = all.length;
    }
    // The audit log's numbering goes on after the copied entries.
    await c.query("SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), GREATEST((SELECT max(seq) FROM audit_log), 1))");
    const v = await c.query<{ version: number }>('UPDATE store_version SET version = version + 1 RETURNING version');
    await c.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify({ v: v.rows[0]!.version, kind: 'all' })]);
    return counts;
  });
}
