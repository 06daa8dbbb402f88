// What the phases read on a cache miss, from PostgreSQL: asynchronous (a miss waits for its query, other checks go
// on), and every failure a StoreUnavailable (503 store_unavailable). Quota overrides are few and read on every
// limit rebuild, so they are all kept in memory and refreshed per tenant when a change names it.
import type { Tenant } from '../../core/tenants.js';
import type { Group, MemberGroupRow } from '../../core/groups.js';
import type { ApiKeyRecord } from '../../core/api-keys.js';
import type { FederationGrant } from '../../core/federation.js';
import type { QuotaOverride, TokenOverride } from '../../core/limits.js';
import { StoreUnavailable } from '../../core/errors.js';
import type { TenantSource, GroupSource } from '../../tenancy/context.js';
import type { ApiKeySource } from '../../identity/apikey.js';
import type { GrantSource } from '../../identity/federation.js';
import type { OverrideSource } from '../../quota/service.js';
import type { UsageSource } from '../../quota/limiter.js';
import type { TenantPolicySource } from '../../tenant-rules/loader.js';
import { memberGroupFromRow } from '../groups.js';
import type { Pool } from './connect.js';
import * as q from './queries.js';

const unavailable = (err: unknown): never => {
  throw new StoreUnavailable(`the store is unavailable: ${(err as Error).message}`);
};

export class PgSources {
  readonly tenants: TenantSource;
  readonly groups: GroupSource;
  readonly apiKeys: ApiKeySource;
  readonly grants: GrantSource;
  readonly usage: UsageSource;
  readonly tenantPolicies: TenantPolicySource;
  readonly overrides: OverrideSource & { tokens(tenantId: string): TokenOverride[]; loadAll(): Promise<void>; reload(tenantId: string): Promise<void> };

  constructor(pool: Pool) {
    this.tenants = { get: (id): Promise<Tenant | undefined> => q.tenantById(pool, id).catch(unavailable) };
    this.groups = {
      activeGroupRowsOf: (t, u, now): Promise<MemberGroupRow[]> => q.activeGroupRows(pool, t, u, now).catch(unavailable),
      get: (t, id): Promise<Group | undefined> => q.groupById(pool, t, id).catch(unavailable),
      fromRow: memberGroupFromRow,
    };
    this.apiKeys = { get: (id): Promise<ApiKeyRecord | undefined> => q.keyById(pool, id).catch(unavailable) };
    this.grants = { get: (id): Promise<FederationGrant | undefined> => q.grantById(pool, id).catch(unavailable) };
    this.tenantPolicies = { get: (t) => q.tenantPolicy(pool, t).catch(unavailable) };
    this.usage = { load: (t, s, w, start) => q.usageCount(pool, t, s, w, start).catch(unavailable) };
    let byTenant = new Map<string, QuotaOverride[]>();
    let tokensByTenant = new Map<string, TokenOverride[]>();
    const group = <T extends { tenant_id: string }>(rows: T[]) => {
      const m = new Map<string, T[]>();
      for (const o of rows) m.set(o.tenant_id, [...(m.get(o.tenant_id) ?? []), o]);
      return m;
    };
    this.overrides = {
      list: (t) => byTenant.get(t) ?? [],
      tokens: (t) => tokensByTenant.get(t) ?? [],
      loadAll: async () => {
        const [quotas, tokens] = await Promise.all([q.allOverrides(pool), q.allTokenOverrides(pool)]);
        byTenant = group(quotas);
        tokensByTenant = group(tokens);
      },
      reload: async (t) => {
        const [rows, tokens] = await Promise.all([q.overridesOf(pool, t), q.tokenOverridesOf(pool, t)]);
        if (rows.length) byTenant.set(t, rows);
        else byTenant.delete(t);
        if (tokens.length) tokensByTenant.set(t, tokens);
        else tokensByTenant.delete(t);
      },
    };
  }
}
