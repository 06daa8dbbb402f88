// The PostgreSQL store's reads, on a pool or inside a transaction: records as the SQLite repositories give them.
import type { Tenant } from '../../core/tenants.js';
import type { Group, GroupRow, Membership, MemberGroupRow } from '../../core/groups.js';
import type { ApiKeyRecord } from '../../core/api-keys.js';
import type { FederationGrant } from '../../core/federation.js';
import type { QuotaOverride, QuotaScope } from '../../core/limits.js';
import type { AuditEntry, AuditInput } from '../../core/audit.js';
import type { TokenUsageRow, UsageRow } from '../../core/admin-store.js';
import { groupFromRow } from '../groups.js';
import { policyFromRow, type TenantPolicyRow } from '../tenant-policies.js';
import { tokenOverrideFromRow, type TokenOverrideRow } from '../quotas.js';
import type { TokenOverride } from '../../core/limits.js';
import type { TenantPolicy } from '../../core/tenant-rules.js';

/** A pool or a transaction's client: both run queries, by text or as a named (prepared once per connection) one. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string | { name: string; text: string; values: unknown[] }, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The reads a cache miss makes: named, so each connection plans them once. */
const named = (name: string, text: string, values: unknown[]) => ({ name: `tg_${name}`, text, values });

const TENANT = 'id, name, tier, status, upstream, billing_anchor_day, created_at, updated_at';
const GROUP = 'tenant_id, id, name, description, type, permissions, data_access_rules, data_access_level, resource_limits, routing, active, created_at, updated_at';
const KEY = "id, tenant_id, user_id, name, encode(secret_hash, 'hex') AS secret_hash, scopes, tier, created_at, expires_at, revoked_at, rotated_to, last_used_at";
const MEMBER = 'tenant_id, user_id, group_id, role, joined_at, expires_at';
const OVERRIDE = 'tenant_id, scope, scope_id, per_minute, per_day, per_month, burst, rate, updated_at';

const first = async <R extends object>(q: Promise<{ rows: R[] }>): Promise<R | undefined> => (await q).rows[0];

export const tenantById = (db: Queryable, id: string) => first(db.query<Tenant>(named('tenant', `SELECT ${TENANT} FROM tenants WHERE id = $1`, [id])));
export const allTenants = async (db: Queryable) => (await db.query<Tenant>(`SELECT ${TENANT} FROM tenants ORDER BY id`)).rows;

export async function groupById(db: Queryable, tenantId: string, id: string): Promise<Group | undefined> {
  const r = await first(db.query<GroupRow>(named('group', `SELECT ${GROUP} FROM groups WHERE tenant_id = $1 AND id = $2`, [tenantId, id])));
  return r && groupFromRow(r);
}

export const groupsOf = async (db: Queryable, tenantId: string) => (await db.query<GroupRow>(`SELECT ${GROUP} FROM groups WHERE tenant_id = $1 ORDER BY id`, [tenantId])).rows.map(groupFromRow);

export const membership = (db: Queryable, t: string, u: string, g: string) => first(db.query<Membership>(`SELECT ${MEMBER} FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND group_id = $3`, [t, u, g]));

export async function membershipsOf(db: Queryable, tenantId: string, userId?: string): Promise<Membership[]> {
  const r = userId
    ? await db.query<Membership>(`SELECT ${MEMBER} FROM memberships WHERE tenant_id = $1 AND user_id = $2 ORDER BY group_id`, [tenantId, userId])
    : await db.query<Membership>(`SELECT ${MEMBER} FROM memberships WHERE tenant_id = $1 ORDER BY user_id, group_id`, [tenantId]);
  return r.rows;
}

/** The user's active groups with live memberships, oldest membership first (as GroupRepository gives them). */
export async function activeGroupRows(db: Queryable, tenantId: string, userId: string, now: Date): Promise<MemberGroupRow[]> {
  const cols = GROUP.split(', ').map((c) => `g.${c}`).join(', ');
  const r = await db.query<MemberGroupRow>(
    named(
      'user_groups',
      `SELECT ${cols}, m.role AS role, m.expires_at AS membership_expires_at
         FROM memberships m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
        WHERE m.tenant_id = $1 AND m.user_id = $2 AND g.active = 1 AND (m.expires_at IS NULL OR m.expires_at > $3)
        ORDER BY m.joined_at, m.seq`,
      [tenantId, userId, now.toISOString()],
    ),
  );
  return r.rows;
}

type KeyRow = Omit<ApiKeyRecord, 'scopes'> & { scopes: string };
const keyFromRow = (r: KeyRow): ApiKeyRecord => ({ ...r, scopes: JSON.parse(r.scopes) as string[] });

export async function keyById(db: Queryable, id: string): Promise<ApiKeyRecord | undefined> {
  const r = await first(db.query<KeyRow>(named('key', `SELECT ${KEY} FROM api_keys WHERE id = $1`, [id])));
  return r && keyFromRow(r);
}

export const keysOf = async (db: Queryable, tenantId: string) => (await db.query<KeyRow>(`SELECT ${KEY} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])).rows.map(keyFromRow);

export const grantById = (db: Queryable, id: string) => first(db.query<FederationGrant>(named('grant', 'SELECT * FROM federation_grants WHERE id = $1', [id])));
export const grantsOf = async (db: Queryable, tenantId: string) =>
  (await db.query<FederationGrant>('SELECT * FROM federation_grants WHERE source_tenant = $1 OR target_tenant = $1 ORDER BY created_at, id', [tenantId])).rows;

export const override = (db: Queryable, t: string, scope: QuotaScope, id: string) =>
  first(db.query<QuotaOverride>(`SELECT ${OVERRIDE} FROM quota_overrides WHERE tenant_id = $1 AND scope = $2 AND scope_id = $3`, [t, scope, id]));
export const overridesOf = async (db: Queryable, tenantId: string) =>
  (await db.query<QuotaOverride>(`SELECT ${OVERRIDE} FROM quota_overrides WHERE tenant_id = $1 ORDER BY scope, scope_id`, [tenantId])).rows;
export const allOverrides = async (db: Queryable) => (await db.query<QuotaOverride>(`SELECT ${OVERRIDE} FROM quota_overrides ORDER BY tenant_id, scope, scope_id`)).rows;

export async function usageCount(db: Queryable, tenant: string, subject: string, window: 'day' | 'month', start: number): Promise<number> {
  const r = await first(db.query<{ count: number }>(named('usage', 'SELECT count FROM quota_usage WHERE tenant_id = $1 AND subject = $2 AND "window" = $3 AND window_start = $4', [tenant, subject, window, new Date(start).toISOString()])));
  return r?.count ?? 0;
}

export const usageOf = async (db: Queryable, tenantId: string, from: string, to: string) =>
  (await db.query<UsageRow>('SELECT tenant_id, subject, "window" AS window, window_start, count FROM quota_usage WHERE tenant_id = $1 AND window_start >= $2 AND window_start < $3 ORDER BY "window", window_start, subject', [tenantId, from, to])).rows;

type AuditRow = Omit<AuditEntry, 'before' | 'after'> & { before: string | null; after: string | null };

export async function auditList(db: Queryable, o: { tenant?: string; limit?: number } = {}): Promise<AuditEntry[]> {
  const limit = o.limit ?? 100;
  const r = o.tenant
    ? await db.query<AuditRow>('SELECT * FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2', [o.tenant, limit])
    : await db.query<AuditRow>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [limit]);
  return r.rows.map((x) => ({ ...x, before: x.before ? JSON.parse(x.before) : null, after: x.after ? JSON.parse(x.after) : null }));
}

/** Audit entries in one statement. */
export async function appendAudits(db: Queryable, entries: readonly AuditInput[]): Promise<void> {
  if (!entries.length) return;
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  const params: unknown[] = [];
  const rows = entries.map((e) => {
    params.push(e.at ?? new Date().toISOString(), e.actor, e.action, e.tenant_id, e.target, json(e.before), json(e.after));
    const n = params.length;
    return `($${n - 6}, $${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
  });
  await db.query(`INSERT INTO audit_log (at, actor, action, tenant_id, target, before, after) VALUES ${rows.join(', ')}`, params);
}

export async function tenantPolicy(db: Queryable, tenantId: string): Promise<TenantPolicy | undefined> {
  const r = await first(db.query<TenantPolicyRow>(named('tenant_policy', 'SELECT tenant_id, rules, rego, wasm, projection, revision, updated_at, updated_by FROM tenant_policies WHERE tenant_id = $1', [tenantId])));
  return r ? policyFromRow(r) : undefined;
}

export const tokenUsageOf = async (db: Queryable, tenantId: string, from: string, to: string): Promise<TokenUsageRow[]> =>
  (
    await db.query<TokenUsageRow>(
      'SELECT tenant_id, subject, model, "window" AS window, window_start, input_tokens, output_tokens, cost_nano_usd, responses FROM token_usage WHERE tenant_id = $1 AND window_start >= $2 AND window_start < $3 ORDER BY "window", window_start, subject, model',
      [tenantId, from, to],
    )
  ).rows;

export const tokenOverridesOf = async (db: Queryable, tenantId: string): Promise<TokenOverride[]> =>
  (await db.query<TokenOverrideRow>('SELECT tenant_id, scope, scope_id, limits, updated_at FROM token_overrides WHERE tenant_id = $1 ORDER BY scope, scope_id', [tenantId])).rows.map(tokenOverrideFromRow);
export const allTokenOverrides = async (db: Queryable): Promise<TokenOverride[]> =>
  (await db.query<TokenOverrideRow>('SELECT tenant_id, scope, scope_id, limits, updated_at FROM token_overrides ORDER BY tenant_id, scope, scope_id')).rows.map(tokenOverrideFromRow);
