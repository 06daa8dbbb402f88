// The admin operations on PostgreSQL: each change in one transaction with its audit entry, the store's version
// bumped and a notification of what changed (NOTIFY, delivered to every replica when the transaction commits).
import { randomBytes } from 'node:crypto';
import type { Config } from '../../core/config.js';
import { StoreError } from '../../core/errors.js';
import { DEFAULT_GROUPS, parseGroup, type Group, type Membership } from '../../core/groups.js';
import { KEY_PREFIX, publicView, type ApiKey } from '../../core/api-keys.js';
import type { Tenant, TenantStatus, Tier } from '../../core/tenants.js';
import type { FederationGrant } from '../../core/federation.js';
import { mergeTokenLimits, type LimitSet, type QuotaOverride, type QuotaScope, type TokenLimitChange, type TokenOverride } from '../../core/limits.js';
import { policyView, type TenantPolicy, type TenantPolicyInput } from '../../core/tenant-rules.js';
import { policyRow } from '../tenant-policies.js';
import type { AdminStore, GrantInput, KeyInput, MemberInput, StoreChange, TenantChange } from '../../core/admin-store.js';
import * as v from '../../core/validate.js';
import { sha256Bytes } from '../../util/digest.js';
import { signFederationToken } from '../../identity/federation.js';
import { inTransaction, type Client, type Pool } from './connect.js';
import * as q from './queries.js';
import { CHANGES_CHANNEL } from './changes.js';

type Done<T> = { result: T; before?: unknown; after?: unknown; target?: string; change: StoreChange };

export class PgAdmin implements AdminStore {
  readonly tenants;
  readonly groups;
  readonly apiKeys;
  readonly federation;
  readonly quotas;
  readonly audit;
  readonly tenantPolicies;

  constructor(
    private readonly pool: Pool,
    private readonly config: Config,
    private readonly actor: string,
    /** Told of each committed change at once (the replica that made it need not wait for the notification). */
    private readonly onCommitted: (c: StoreChange) => void = () => undefined,
  ) {
    this.tenants = { get: (id: string) => q.tenantById(pool, id), list: () => q.allTenants(pool) };
    this.groups = {
      get: (t: string, id: string) => q.groupById(pool, t, id),
      list: async (t: string) => (await this.requireTenant(pool, t), q.groupsOf(pool, t)),
      memberships: async (t: string, u?: string) => (await this.requireTenant(pool, t), q.membershipsOf(pool, t, u)),
    };
    this.apiKeys = { list: async (t: string) => (await q.keysOf(pool, t)).map(publicView) };
    this.federation = { list: (t: string) => q.grantsOf(pool, t) };
    this.quotas = {
      get: (t: string, scope: QuotaScope, id: string) => q.override(pool, t, scope, id),
      list: (t: string) => q.overridesOf(pool, t),
      usage: (t: string, from: string, to: string) => q.usageOf(pool, t, from, to),
      tokenUsage: (t: string, from: string, to: string) => q.tokenUsageOf(pool, t, from, to),
      tokenOverrides: (t: string) => q.tokenOverridesOf(pool, t),
    };
    this.audit = { list: (o?: { tenant?: string; limit?: number }) => q.auditList(pool, o) };
    this.tenantPolicies = { get: (t: string) => q.tenantPolicy(pool, t) };
  }

  tenantPolicySet(tenantId: string, p: TenantPolicyInput): Promise<TenantPolicy> {
    return this.change('tenant_policy.set', tenantId, tenantId, async (c) => {
      await this.requireTenant(c, tenantId);
      const before = await q.tenantPolicy(c, tenantId);
      const row = policyRow(tenantId, p, (before?.revision ?? 0) + 1, this.actor);
      await c.query(
        `INSERT INTO tenant_policies (tenant_id, rules, rego, wasm, projection, revision, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, rego = excluded.rego, wasm = excluded.wasm, projection = excluded.projection, revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [row.tenant_id, row.rules, row.rego, row.wasm ? Buffer.from(row.wasm) : null, row.projection, row.revision, row.updated_at, row.updated_by],
      );
      const after = (await q.tenantPolicy(c, tenantId))!;
      return { result: after, before: before && policyView(before), after: policyView(after), change: { kind: 'rules', tenant: tenantId } };
    });
  }

  tenantPolicyDelete(tenantId: string): Promise<TenantPolicy> {
    return this.change('tenant_policy.delete', tenantId, tenantId, async (c) => {
      const before = await q.tenantPolicy(c, tenantId);
      if (!before) throw new StoreError(`tenant ${tenantId} has no rules`, 'not_found');
      await c.query('DELETE FROM tenant_policies WHERE tenant_id = $1', [tenantId]);
      return { result: before, before: policyView(before), change: { kind: 'rules', tenant: tenantId } };
    });
  }

  private async change<T>(action: string, tenantId: string | null, target: string | null, fn: (c: Client) => Promise<Done<T>>): Promise<T> {
    const { result, change } = await inTransaction(this.pool, async (c) => {
      const d = await fn(c);
      await q.appendAudits(c, [{ actor: this.actor, action, tenant_id: tenantId, target: d.target ?? target, before: d.before ?? null, after: d.after ?? null }]);
      const { rows } = await c.query<{ version: number }>('UPDATE store_version SET version = version + 1 RETURNING version');
      await c.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify({ v: rows[0]!.version, ...d.change })]);
      return d;
    });
    this.onCommitted(change);
    return result;
  }

  private async requireTenant(db: q.Queryable, id: string): Promise<Tenant> {
    const t = await q.tenantById(db, id);
    if (!t) throw new StoreError(`unknown tenant ${id}`, 'not_found');
    return t;
  }

  tenantCreate(o: { id: string; name: string; tier: Tier; status?: TenantStatus; upstream?: string | null }): Promise<Tenant> {
    v.checkTenantId(o.id);
    v.checkTier(o.tier);
    v.checkTenantName(o.name);
    if (o.upstream != null) v.checkUpstream(o.upstream);
    return this.change('tenant.create', o.id, o.id, async (c) => {
      if (await q.tenantById(c, o.id)) throw new StoreError(`tenant ${o.id} already exists`, 'conflict');
      const now = new Date().toISOString();
      const t: Tenant = { id: o.id, name: o.name, tier: o.tier, status: o.status ?? 'active', upstream: o.upstream ?? null, billing_anchor_day: null, created_at: now, updated_at: now };
      await c.query('INSERT INTO tenants (id, name, tier, status, upstream, billing_anchor_day, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [t.id, t.name, t.tier, t.status, t.upstream, null, now, now]);
      for (const g of DEFAULT_GROUPS) await upsertGroup(c, t.id, g, undefined);
      return { result: t, after: t, change: { kind: 'tenant', tenant: t.id } };
    });
  }

  tenantSetStatus(id: string, status: TenantStatus): Promise<Tenant> {
    return this.change(status === 'active' ? 'tenant.resume' : 'tenant.suspend', id, id, async (c) => {
      const before = await this.requireTenant(c, id);
      await c.query('UPDATE tenants SET status = $1, updated_at = $2 WHERE id = $3', [status, new Date().toISOString(), id]);
      const t = (await q.tenantById(c, id))!;
      return { result: t, before, after: t, change: { kind: 'tenant', tenant: id } };
    });
  }

  async tenantUpdate(id: string, change: TenantChange): Promise<{ tenant: Tenant; changed: boolean }> {
    if (change.tier !== undefined) v.checkTier(change.tier);
    if (change.billing_anchor_day !== undefined) v.checkAnchorDay(change.billing_anchor_day);
    if (change.upstream != null) v.checkUpstream(change.upstream);
    const current = await this.requireTenant(this.pool, id);
    const effective = Object.entries(change).filter(([k, x]) => x !== undefined && current[k as keyof Tenant] !== x);
    if (!effective.length) return { tenant: current, changed: false };
    return this.change('tenant.update', id, id, async (c) => {
      const before = await this.requireTenant(c, id);
      const sets = effective.map(([k], i) => `${k} = $${i + 1}`);
      await c.query(`UPDATE tenants SET ${sets.join(', ')}, updated_at = $${sets.length + 1} WHERE id = $${sets.length + 2}`, [...effective.map(([, x]) => x), new Date().toISOString(), id]);
      const t = (await q.tenantById(c, id))!;
      return { result: { tenant: t, changed: true }, before, after: t, change: { kind: 'tenant', tenant: id } };
    });
  }

  /** GDPR offboarding: the tenant and everything of it (cascades), its usage rows too, in one transaction. */
  tenantDelete(id: string): Promise<Tenant> {
    return this.change('tenant.delete', id, id, async (c) => {
      const t = await this.requireTenant(c, id);
      await c.query('DELETE FROM tenants WHERE id = $1', [id]);
      await c.query('DELETE FROM quota_usage WHERE tenant_id = $1', [id]);
      await c.query('DELETE FROM token_usage WHERE tenant_id = $1', [id]);
      return { result: t, before: t, change: { kind: 'tenant', tenant: id } };
    });
  }

  groupApply(tenantId: string, doc: unknown): Promise<{ group: Group; created: boolean }> {
    return this.change('group.apply', tenantId, (doc as { id?: string })?.id ?? null, async (c) => {
      await this.requireTenant(c, tenantId);
      const g = parseGroup(doc);
      const before = await q.groupById(c, tenantId, g.id);
      await upsertGroup(c, tenantId, g, before);
      const group = (await q.groupById(c, tenantId, g.id))!;
      return { result: { group, created: !before }, before, after: group, change: { kind: 'tenant', tenant: tenantId } };
    });
  }

  groupDelete(tenantId: string, id: string): Promise<Group> {
    return this.change('group.delete', tenantId, id, async (c) => {
      const g = await q.groupById(c, tenantId, id);
      if (!g) throw new StoreError(`unknown group ${id} in tenant ${tenantId}`, 'not_found');
      await c.query('DELETE FROM groups WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return { result: g, before: g, change: { kind: 'tenant', tenant: tenantId } };
    });
  }

  memberAdd(m: MemberInput): Promise<Membership> {
    return this.change('member.add', m.tenant_id, `${m.user_id}/${m.group_id}`, async (c) => {
      await this.requireTenant(c, m.tenant_id);
      if (!(await q.groupById(c, m.tenant_id, m.group_id))) throw new StoreError(`unknown group ${m.group_id} in tenant ${m.tenant_id}`, 'not_found');
      v.checkUser(m.user_id);
      const role = m.role ?? 'member';
      v.checkRole(role);
      const expires = v.isoExpiry(m.expires_at);
      await c.query(
        `INSERT INTO memberships (tenant_id, user_id, group_id, role, joined_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, user_id, group_id) DO UPDATE SET role = EXCLUDED.role, expires_at = EXCLUDED.expires_at`,
        [m.tenant_id, m.user_id, m.group_id, role, new Date().toISOString(), expires],
      );
      const after = (await q.membership(c, m.tenant_id, m.user_id, m.group_id))!;
      return { result: after, after, change: { kind: 'user', tenant: m.tenant_id, user: m.user_id } };
    });
  }

  memberRemove(tenantId: string, userId: string, groupId: string): Promise<Membership> {
    return this.change('member.remove', tenantId, `${userId}/${groupId}`, async (c) => {
      const m = await q.membership(c, tenantId, userId, groupId);
      if (!m) throw new StoreError(`${userId} is not a member of ${groupId} in tenant ${tenantId}`, 'not_found');
      await c.query('DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND group_id = $3', [tenantId, userId, groupId]);
      return { result: m, before: m, change: { kind: 'user', tenant: tenantId, user: userId } };
    });
  }

  apiKeyCreate(o: KeyInput): Promise<{ record: ApiKey; key: string }> {
    return this.change('apikey.create', o.tenant_id, null, async (c) => {
      const created = await insertKey(c, o);
      return { result: created, after: created.record, target: created.record.id, change: { kind: 'key', tenant: o.tenant_id, key: created.record.id } };
    });
  }

  apiKeyRevoke(tenantId: string, id: string): Promise<ApiKey> {
    return this.change('apikey.revoke', tenantId, id, async (c) => {
      const k = await ownedKey(c, tenantId, id);
      if (k.revoked_at) throw new StoreError(`API key ${id} is already revoked`, 'conflict');
      await c.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2', [new Date().toISOString(), id]);
      const after = publicView((await q.keyById(c, id))!);
      return { result: after, after, change: { kind: 'key', tenant: tenantId, key: id } };
    });
  }

  /** A new key with the same owner and scopes; the old one keeps working for `graceSeconds`, then expires. */
  apiKeyRotate(tenantId: string, id: string, graceSeconds: number): Promise<{ old: ApiKey; record: ApiKey; key: string }> {
    return this.change('apikey.rotate', tenantId, id, async (c) => {
      const k = await ownedKey(c, tenantId, id);
      if (k.revoked_at) throw new StoreError(`API key ${id} is revoked`, 'conflict');
      const created = await insertKey(c, { tenant_id: k.tenant_id, user_id: k.user_id, name: k.name, scopes: k.scopes, tier: k.tier, expires_at: k.expires_at });
      const graceEnd = new Date(Date.now() + graceSeconds * 1000);
      const expires = k.expires_at && Date.parse(k.expires_at) < graceEnd.getTime() ? k.expires_at : graceEnd.toISOString();
      await c.query('UPDATE api_keys SET rotated_to = $1, expires_at = $2 WHERE id = $3', [created.record.id, expires, id]);
      const old = publicView((await q.keyById(c, id))!);
      return { result: { old, ...created }, before: old, after: created.record, change: { kind: 'key', tenant: tenantId, key: id } };
    });
  }

  quotaSet(tenantId: string, scope: QuotaScope, scopeId: string, change: LimitSet): Promise<QuotaOverride> {
    v.checkLimits(change);
    return this.change('quota.set', tenantId, `${scope}:${scopeId}`, async (c) => {
      await this.requireTenant(c, tenantId);
      if (scope === 'group' && !(await q.groupById(c, tenantId, scopeId))) throw new StoreError(`unknown group ${scopeId} in tenant ${tenantId}`, 'not_found');
      if (scope === 'key' && (await q.keyById(c, scopeId))?.tenant_id !== tenantId) throw new StoreError(`unknown API key ${scopeId} in tenant ${tenantId}`, 'not_found');
      const before = await q.override(c, tenantId, scope, scopeId);
      const l = v.mergeLimits(before, change);
      await c.query(
        `INSERT INTO quota_overrides (tenant_id, scope, scope_id, per_minute, per_day, per_month, burst, rate, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET per_minute = EXCLUDED.per_minute, per_day = EXCLUDED.per_day,
           per_month = EXCLUDED.per_month, burst = EXCLUDED.burst, rate = EXCLUDED.rate, updated_at = EXCLUDED.updated_at`,
        [tenantId, scope, scopeId, l.per_minute, l.per_day, l.per_month, l.burst, l.rate, new Date().toISOString()],
      );
      const after = (await q.override(c, tenantId, scope, scopeId))!;
      return { result: after, before, after, change: { kind: 'quota', tenant: tenantId } };
    });
  }

  tokenLimitsSet(tenantId: string, scope: QuotaScope, scopeId: string, change: TokenLimitChange): Promise<TokenOverride> {
    return this.change('quota.tokens', tenantId, `${scope}:${scopeId}`, async (c) => {
      await this.requireTenant(c, tenantId);
      if (scope === 'group' && !(await q.groupById(c, tenantId, scopeId))) throw new StoreError(`unknown group ${scopeId} in tenant ${tenantId}`, 'not_found');
      if (scope === 'key' && (await q.keyById(c, scopeId))?.tenant_id !== tenantId) throw new StoreError(`unknown API key ${scopeId} in tenant ${tenantId}`, 'not_found');
      const before = (await q.tokenOverridesOf(c, tenantId)).find((o) => o.scope === scope && o.scope_id === scopeId);
      let limits;
      try {
        limits = mergeTokenLimits(before?.limits, change);
      } catch (err) {
        throw new StoreError((err as Error).message, 'invalid');
      }
      const after: TokenOverride = { tenant_id: tenantId, scope, scope_id: scopeId, limits, updated_at: new Date().toISOString() };
      if (Object.keys(limits).length === 0) await c.query('DELETE FROM token_overrides WHERE tenant_id = $1 AND scope = $2 AND scope_id = $3', [tenantId, scope, scopeId]);
      else {
        await c.query(
          'INSERT INTO token_overrides (tenant_id, scope, scope_id, limits, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = EXCLUDED.updated_at',
          [tenantId, scope, scopeId, JSON.stringify(limits), after.updated_at],
        );
      }
      return { result: after, before, after, change: { kind: 'quota', tenant: tenantId } };
    });
  }

  /** Records the grant and returns it with its federation token; the grant is undone if signing fails. */
  async federationGrant(o: GrantInput): Promise<{ grant: FederationGrant; token: string }> {
    const grant = await this.change('federation.grant', o.target, null, async (c) => {
      for (const t of [o.source, o.target]) if (!(await q.tenantById(c, t))) throw new StoreError(`unknown tenant ${t}`, 'not_found');
      const g = v.newGrant(o);
      await c.query(
        'INSERT INTO federation_grants (id, source_tenant, target_tenant, resource_type, resource_id, access, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [g.id, g.source_tenant, g.target_tenant, g.resource_type, g.resource_id, g.access, g.created_at, g.expires_at],
      );
      return { result: g, after: g, target: g.id, change: { kind: 'grant', tenant: o.target } };
    });
    try {
      return { grant, token: await signFederationToken(this.config.federation.signing_key_file, grant) };
    } catch (err) {
      await this.pool.query('DELETE FROM federation_grants WHERE id = $1', [grant.id]);
      throw new StoreError(`cannot sign the federation token: ${(err as Error).message}`, 'invalid');
    }
  }

  federationRevoke(tenantId: string, id: string): Promise<FederationGrant> {
    return this.change('federation.revoke', tenantId, id, async (c) => {
      const g = await q.grantById(c, id);
      // Either side of a grant may end it.
      if (!g || (g.source_tenant !== tenantId && g.target_tenant !== tenantId)) throw new StoreError(`unknown grant ${id} for tenant ${tenantId}`, 'not_found');
      if (g.revoked_at) throw new StoreError(`grant ${id} is already revoked`, 'conflict');
      await c.query('UPDATE federation_grants SET revoked_at = $1 WHERE id = $2', [new Date().toISOString(), id]);
      const after = (await q.grantById(c, id))!;
      return { result: after, after, change: { kind: 'grant', tenant: tenantId } };
    });
  }

  /**
   * fn's operations in one transaction: each operation's own transaction becomes a savepoint of it, and the
   * replicas hear of the changes when it commits.
   */
  async atomically<T>(fn: (a: AdminStore) => Promise<T>): Promise<T> {
    const committed: StoreChange[] = [];
    const r = await inTransaction(this.pool, (c) => fn(new PgAdmin(savepoints(c), this.config, this.actor, (ch) => committed.push(ch))));
    committed.forEach(this.onCommitted);
    return r;
  }
}

async function upsertGroup(c: Client, tenantId: string, doc: unknown, before: Group | undefined): Promise<void> {
  const g = parseGroup(doc);
  const now = new Date().toISOString();
  await c.query(
    `INSERT INTO groups (tenant_id, id, name, description, type, permissions, data_access_rules, data_access_level, resource_limits, routing, active, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, type = EXCLUDED.type,
       permissions = EXCLUDED.permissions, data_access_rules = EXCLUDED.data_access_rules, data_access_level = EXCLUDED.data_access_level,
       resource_limits = EXCLUDED.resource_limits, routing = EXCLUDED.routing, active = EXCLUDED.active, updated_at = EXCLUDED.updated_at`,
    [tenantId, g.id, g.name, g.description, g.type, JSON.stringify(g.permissions), JSON.stringify(g.data_access_rules), g.data_access_level, JSON.stringify(g.resource_limits), JSON.stringify(g.routing), g.active ? 1 : 0, before?.created_at ?? now, now],
  );
}

async function insertKey(c: Client, o: KeyInput): Promise<{ record: ApiKey; key: string }> {
  if (!(await q.tenantById(c, o.tenant_id))) throw new StoreError(`unknown tenant ${o.tenant_id}`, 'not_found');
  v.checkUser(o.user_id);
  const scopes = o.scopes ?? [];
  v.checkScopes(scopes);
  if (o.tier) v.checkTier(o.tier);
  const expires = v.isoExpiry(o.expires_at);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  await c.query(
    'INSERT INTO api_keys (id, tenant_id, user_id, name, secret_hash, scopes, tier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [id, o.tenant_id, o.user_id, o.name ?? '', sha256Bytes(secret), JSON.stringify(scopes), o.tier ?? null, new Date().toISOString(), expires],
  );
  return { record: publicView((await q.keyById(c, id))!), key: `${KEY_PREFIX}_${id}_${secret}` };
}

async function ownedKey(c: Client, tenantId: string, id: string) {
  const k = await q.keyById(c, id);
  if (!k || k.tenant_id !== tenantId) throw new StoreError(`unknown API key ${id} in tenant ${tenantId}`, 'not_found');
  return k;
}

/** A pool whose every connection is `c`, inside its transaction: BEGIN/COMMIT/ROLLBACK become savepoint commands. */
function savepoints(c: Client): Pool {
  let n = 0;
  const client = {
    query: (sql: unknown, params?: unknown[]) => {
      if (sql === 'BEGIN') return c.query(`SAVEPOINT tg_${++n}`);
      if (sql === 'COMMIT') return c.query(`RELEASE SAVEPOINT tg_${n--}`);
      if (sql === 'ROLLBACK') return c.query(`ROLLBACK TO SAVEPOINT tg_${n--}`);
      return c.query(sql as string, params);
    },
    release: () => undefined,
  };
  return { connect: async () => client, query: (sql: string, params?: unknown[]) => c.query(sql, params) } as unknown as Pool;
}
