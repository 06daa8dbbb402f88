// The store's state as the documents say it: each tenant with its groups, members, live API keys (by user and
// name) and quota overrides, and the live federation grants. What `export` writes and what `apply` compares with.
import type { AdminStore } from '../core/admin-store.js';
import type { ApiKey } from '../core/api-keys.js';
import type { FederationGrant } from '../core/federation.js';
import { LIMIT_FIELDS } from '../core/limits.js';
import type { DesiredState, TenantDoc } from './documents.js';

export interface CurrentState extends DesiredState {
  /** Per tenant: its live keys by "user/name", and by id (for quotas on a key). */
  keys: Map<string, { byName: Map<string, ApiKey>; byId: Map<string, ApiKey> }>;
  /** The live grants with their ids (to revoke). */
  grantRecords: FederationGrant[];
}

const live = (k: ApiKey, now: number) => !k.revoked_at && !(k.expires_at && Date.parse(k.expires_at) <= now) && !k.rotated_to;

export async function currentState(a: AdminStore): Promise<CurrentState> {
  const now = Date.now();
  const state: CurrentState = { tenants: [], grants: [], keys: new Map(), grantRecords: [] };
  const grants = new Map<string, FederationGrant>();
  for (const t of await a.tenants.list()) {
    const keys = (await a.apiKeys.list(t.id)).filter((k) => live(k, now));
    const byName = new Map(keys.map((k) => [`${k.user_id}/${k.name}`, k]));
    const byId = new Map(keys.map((k) => [k.id, k]));
    state.keys.set(t.id, { byName, byId });
    const doc: TenantDoc = {
      kind: 'Tenant',
      id: t.id,
      name: t.name,
      tier: t.tier,
      status: t.status,
      upstream: t.upstream,
      billing_anchor_day: t.billing_anchor_day,
      groups: (await a.groups.list(t.id)).map(({ tenant_id: _t, created_at: _c, updated_at: _u, ...g }) => g),
      members: (await a.groups.memberships(t.id)).map((m) => ({ user: m.user_id, group: m.group_id, role: m.role, expires_at: m.expires_at })),
      api_keys: keys.map((k) => ({ user: k.user_id, name: k.name, scopes: k.scopes, tier: k.tier, expires_at: k.expires_at })),
      quotas: (await a.quotas.list(t.id))
        .filter((q) => LIMIT_FIELDS.some((f) => q[f] != null))
        .map((q) => ({ scope: q.scope, id: q.scope === 'key' ? keyName(byId.get(q.scope_id)) ?? q.scope_id : q.scope_id, ...Object.fromEntries(LIMIT_FIELDS.map((f) => [f, q[f] ?? null])) })),
      tenant_rules: await rulesOf(a, t.id),
    };
    state.tenants.push(doc);
    for (const g of await a.federation.list(t.id)) if (!g.revoked_at && Date.parse(g.expires_at) > now) grants.set(g.id, g);
  }
  state.grantRecords = [...grants.values()].sort((x, y) => x.id.localeCompare(y.id));
  state.grants = state.grantRecords.map(({ source_tenant, target_tenant, resource_type, resource_id, access, expires_at }) => ({ source: source_tenant, target: target_tenant, resource_type, resource_id, access, expires_at }));
  return state;
}

async function rulesOf(a: AdminStore, tenantId: string): Promise<TenantDoc['tenant_rules']> {
  const p = await a.tenantPolicies.get(tenantId);
  return p ? { rules: p.rules, rego: p.rego } : null;
}

const keyName = (k: ApiKey | undefined) => (k ? `${k.user_id}/${k.name}` : undefined);
