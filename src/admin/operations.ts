// Every change to the store, each in one transaction with its audit entry. The CLI calls these directly;
// the admin API calls the same ones, so both write the same audit trail.
import type { Config } from '../core/config.js';
import { openDatabase, type Db } from '../store/database.js';
import { TenantRepository } from '../store/tenants.js';
import { type Tier, type Tenant } from '../core/tenants.js';
import { GroupRepository } from '../store/groups.js';
import { type MembershipRole } from '../core/groups.js';
import { ApiKeyRepository } from '../store/apikeys.js';
import { FederationRepository } from '../store/federation.js';
import { type FederationGrant } from '../core/federation.js';
import { AuditLog } from '../store/audit.js';
import { StoreError } from '../core/errors.js';
import { signFederationToken } from '../identity/federation.js';
import { QuotaRepository } from '../store/quotas.js';
import type { QuotaScope, LimitSet, TokenLimitChange } from '../core/limits.js';
import type { AdminStore } from '../core/admin-store.js';
import { TenantPolicyRepository } from '../store/tenant-policies.js';
import { policyView, type TenantPolicy, type TenantPolicyInput } from '../core/tenant-rules.js';

/** The admin operations on a SQLite store: synchronous, each change one IMMEDIATE transaction with its audit entry. */
export class Admin implements AdminStore {
  readonly tenants: TenantRepository;
  readonly groups: GroupRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly federation: FederationRepository;
  readonly audit: AuditLog;
  readonly quotas: QuotaRepository;
  readonly tenantPolicies: TenantPolicyRepository;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly actor: string,
  ) {
    this.tenants = new TenantRepository(db);
    this.groups = new GroupRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.federation = new FederationRepository(db);
    this.audit = new AuditLog(db);
    this.quotas = new QuotaRepository(db);
    this.tenantPolicies = new TenantPolicyRepository(db);
  }

  /** `fn` may name the target itself, when it is made by the change (a new key's or grant's id). */
  private change<T>(action: string, tenantId: string | null, target: string | null, fn: () => { result: T; before?: unknown; after?: unknown; target?: string }): T {
    // IMMEDIATE: the write lock from the start. A deferred transaction that reads first, then writes after another
    // connection (the store thread, the CLI) has committed, fails with SQLITE_BUSY_SNAPSHOT at once, busy timeout
    // or not; one that waits for the lock up front cannot.
    return this.db.transaction(() => {
      const { result, before, after, target: made } = fn();
      this.audit.append({ actor: this.actor, action, tenant_id: tenantId, target: made ?? target, before: before ?? null, after: after ?? null });
      return result;
    }).immediate();
  }

  tenantCreate(o: { id: string; name: string; tier: Tier; upstream?: string | null }): Tenant {
    return this.change('tenant.create', o.id, o.id, () => {
      const t = this.tenants.create(o);
      return { result: t, after: t };
    });
  }

  tenantSetStatus(id: string, status: 'active' | 'suspended'): Tenant {
    return this.change(status === 'active' ? 'tenant.resume' : 'tenant.suspend', id, id, () => {
      const before = this.tenants.get(id);
      const t = this.tenants.setStatus(id, status);
      return { result: t, before, after: t };
    });
  }

  /** Applies the change; one that changes nothing writes nothing (no audit entry, updated_at kept). */
  tenantUpdate(id: string, change: { upstream?: string | null; tier?: Tier; billing_anchor_day?: number | null }): { tenant: Tenant; changed: boolean } {
    const current = this.tenants.get(id);
    if (!current) throw new StoreError(`unknown tenant ${id}`, 'not_found');
    const effective = Object.fromEntries(Object.entries(change).filter(([k, v]) => v !== undefined && current[k as keyof Tenant] !== v)) as typeof change;
    if (Object.keys(effective).length === 0) return { tenant: current, changed: false };
    return this.change('tenant.update', id, id, () => {
      const before = this.tenants.get(id);
      const t = this.tenants.update(id, effective);
      return { result: { tenant: t, changed: true }, before, after: t };
    });
  }

  /** GDPR offboarding: the tenant and all its groups, memberships, keys and grants, in one transaction. */
  tenantDelete(id: string): Tenant {
    return this.change('tenant.delete', id, id, () => {
      const t = this.tenants.delete(id);
      return { result: t, before: t };
    });
  }

  groupApply(tenantId: string, doc: unknown) {
    return this.change('group.apply', tenantId, (doc as { id?: string })?.id ?? null, () => {
      const { group, before } = this.groups.apply(tenantId, doc);
      return { result: { group, created: !before }, before, after: group };
    });
  }

  groupDelete(tenantId: string, id: string) {
    return this.change('group.delete', tenantId, id, () => {
      const g = this.groups.delete(tenantId, id);
      return { result: g, before: g };
    });
  }

  memberAdd(o: { tenant_id: string; user_id: string; group_id: string; role?: MembershipRole; expires_at?: string | null }) {
    return this.change('member.add', o.tenant_id, `${o.user_id}/${o.group_id}`, () => {
      const m = this.groups.addMembership(o);
      return { result: m, after: m };
    });
  }

  memberRemove(tenantId: string, userId: string, groupId: string) {
    return this.change('member.remove', tenantId, `${userId}/${groupId}`, () => {
      const m = this.groups.removeMembership(tenantId, userId, groupId);
      return { result: m, before: m };
    });
  }

  apiKeyCreate(o: Parameters<ApiKeyRepository['create']>[0]) {
    return this.change('apikey.create', o.tenant_id, null, () => {
      const created = this.apiKeys.create(o);
      // The secret never reaches the audit log.
      return { result: created, after: created.record, target: created.record.id };
    });
  }

  apiKeyRevoke(tenantId: string, id: string) {
    return this.change('apikey.revoke', tenantId, id, () => {
      const k = this.apiKeys.revoke(tenantId, id);
      return { result: k, after: k };
    });
  }

  apiKeyRotate(tenantId: string, id: string, graceSeconds: number) {
    return this.change('apikey.rotate', tenantId, id, () => {
      const r = this.apiKeys.rotate(tenantId, id, graceSeconds);
      return { result: r, before: r.old, after: r.record };
    });
  }

  quotaSet(tenantId: string, scope: QuotaScope, scopeId: string, change: LimitSet) {
    return this.change('quota.set', tenantId, `${scope}:${scopeId}`, () => {
      const before = this.quotas.get(tenantId, scope, scopeId);
      const after = this.quotas.set(tenantId, scope, scopeId, change);
      return { result: after, before, after };
    });
  }

  tokenLimitsSet(tenantId: string, scope: QuotaScope, scopeId: string, change: TokenLimitChange) {
    return this.change('quota.tokens', tenantId, `${scope}:${scopeId}`, () => {
      const before = this.quotas.tokenOverride(tenantId, scope, scopeId);
      const after = this.quotas.setTokenLimits(tenantId, scope, scopeId, change);
      return { result: after, before, after };
    });
  }

  /** Records the grant and returns it with its federation token (signed with tenantgate's own key). */
  async federationGrant(o: Parameters<FederationRepository['create']>[0]): Promise<{ grant: FederationGrant; token: string }> {
    // Validate and insert first (so a bad request never creates a key file), then sign; the insert is undone
    // if signing fails.
    const grant = this.change('federation.grant', o.target, null, () => {
      const g = this.federation.create(o);
      return { result: g, after: g, target: g.id };
    });
    try {
      return { grant, token: await signFederationToken(this.config.federation.signing_key_file, grant) };
    } catch (err) {
      this.db.prepare('DELETE FROM federation_grants WHERE id = ?').run(grant.id);
      throw new StoreError(`cannot sign the federation token: ${(err as Error).message}`, 'invalid');
    }
  }

  federationRevoke(tenantId: string, id: string): FederationGrant {
    return this.change('federation.revoke', tenantId, id, () => {
      const g = this.federation.revoke(tenantId, id);
      return { result: g, after: g };
    });
  }

  /** The audit keeps the policy without its WASM (the source it was built from is there). */
  tenantPolicySet(tenantId: string, p: TenantPolicyInput): TenantPolicy {
    return this.change('tenant_policy.set', tenantId, tenantId, () => {
      if (!this.tenants.get(tenantId)) throw new StoreError(`unknown tenant ${tenantId}`, 'not_found');
      const before = this.tenantPolicies.get(tenantId);
      const after = this.tenantPolicies.set(tenantId, p, this.actor);
      return { result: after, before: before && policyView(before), after: policyView(after) };
    });
  }

  tenantPolicyDelete(tenantId: string): TenantPolicy {
    return this.change('tenant_policy.delete', tenantId, tenantId, () => {
      const before = this.tenantPolicies.delete(tenantId);
      if (!before) throw new StoreError(`tenant ${tenantId} has no rules`, 'not_found');
      return { result: before, before: policyView(before) };
    });
  }

  /**
   * One IMMEDIATE transaction around fn's operations (each of which becomes a savepoint in it), on a connection of
   * its own: fn awaits between operations, and the server's own writes on this connection (usage, audits) must not
   * fall into it.
   */
  async atomically<T>(fn: (a: AdminStore) => Promise<T>): Promise<T> {
    const own = this.db.memory ? this.db : openDatabase(this.db.name);
    try {
      own.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(own === this.db ? this : new Admin(own, this.config, this.actor));
        own.exec('COMMIT');
        return r;
      } catch (err) {
        if (own.inTransaction) own.exec('ROLLBACK');
        throw err;
      }
    } finally {
      if (own !== this.db) own.close();
    }
  }
}
