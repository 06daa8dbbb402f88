// What `apply` would change: the desired documents against the store's current state, as a list of actions, each
// with the admin operation that makes it. Nothing is deleted unless asked (--prune).
import type { AdminStore } from '../core/admin-store.js';
import { DEFAULT_GROUPS, parseGroup } from '../core/groups.js';
import { LIMIT_FIELDS, type LimitSet } from '../core/limits.js';
import type { DesiredState, TenantDoc } from './documents.js';
import { StateError } from './documents.js';
import type { CurrentState } from './current.js';
import { prepareTenantPolicy } from '../tenant-rules/upload.js';

export interface Action {
  op: 'create' | 'change' | 'delete';
  what: string;
  run(a: AdminStore): unknown;
}

const same = (x: unknown, y: unknown) => JSON.stringify(sorted(x)) === JSON.stringify(sorted(y));
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

export function plan(desired: DesiredState, current: CurrentState, prune: boolean): Action[] {
  const actions: Action[] = [];
  const deletions: Action[] = [];
  const now = new Map(current.tenants.map((t) => [t.id, t]));
  for (const want of desired.tenants) tenantActions(want, now.get(want.id), current, prune, actions, deletions);
  const wanted = new Set(desired.tenants.map((t) => t.id));
  if (prune) for (const t of current.tenants) if (!wanted.has(t.id)) deletions.push({ op: 'delete', what: `tenant ${t.id} (and all of its data)`, run: (a) => a.tenantDelete(t.id) });
  grantActions(desired, current, prune, actions, deletions);
  // Deletions last, the most dependent first (grants, keys, members, groups, tenants).
  return [...actions, ...deletions.reverse()];
}

function tenantActions(want: TenantDoc, have: TenantDoc | undefined, current: CurrentState, prune: boolean, out: Action[], del: Action[]): void {
  const id = want.id;
  if (!have) {
    out.push({ op: 'create', what: `tenant ${id}`, run: async (a) => {
      await a.tenantCreate({ id, name: want.name, tier: want.tier, status: want.status, upstream: want.upstream });
      if (want.billing_anchor_day !== null) await a.tenantUpdate(id, { billing_anchor_day: want.billing_anchor_day });
    } });
  } else {
    if (have.name !== want.name) throw new StateError(`tenant ${id}: its name cannot be changed by apply (${have.name} → ${want.name})`);
    const change = Object.fromEntries((['tier', 'upstream', 'billing_anchor_day'] as const).filter((k) => have[k] !== want[k]).map((k) => [k, want[k]]));
    if (Object.keys(change).length) out.push({ op: 'change', what: `tenant ${id}: ${Object.entries(change).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}`, run: (a) => a.tenantUpdate(id, change) });
    if (have.status !== want.status) out.push({ op: 'change', what: `tenant ${id}: status ${want.status}`, run: (a) => a.tenantSetStatus(id, want.status) });
  }
  // A new tenant starts with the default groups: compare against those.
  const haveGroups = new Map((have?.groups ?? DEFAULT_GROUPS.map(parseGroup)).map((g) => [g.id, g]));
  for (const g of want.groups) {
    const h = haveGroups.get(g.id);
    if (!h || !same(h, g)) out.push({ op: h ? 'change' : 'create', what: `group ${id}/${g.id}`, run: (a) => a.groupApply(id, g) });
  }
  const wantGroups = new Set(want.groups.map((g) => g.id));
  if (prune && have) for (const g of have.groups) if (!wantGroups.has(g.id)) del.push({ op: 'delete', what: `group ${id}/${g.id}`, run: (a) => a.groupDelete(id, g.id) });
  memberActions(want, have, prune, out, del);
  keyActions(want, have, current, prune, out, del);
  quotaActions(want, have, prune, out);
  rulesActions(want, have, prune, out, del);
}

/** The tenant's own rules: compiled (and its Rego tested) when the action runs, inside apply's one transaction. */
function rulesActions(want: TenantDoc, have: TenantDoc | undefined, prune: boolean, out: Action[], del: Action[]): void {
  const id = want.id;
  const had = have?.tenant_rules ?? null;
  const wanted = want.tenant_rules;
  if (wanted && (!had || !same(had, wanted))) {
    out.push({ op: had ? 'change' : 'create', what: `tenant rules ${id} (${wanted.rules.length} rule(s)${wanted.rego ? ', Rego' : ''})`, run: async (a) => a.tenantPolicySet(id, await prepareTenantPolicy(id, wanted)) });
  } else if (!wanted && had && prune) del.push({ op: 'delete', what: `tenant rules ${id}`, run: (a) => a.tenantPolicyDelete(id) });
}

function memberActions(want: TenantDoc, have: TenantDoc | undefined, prune: boolean, out: Action[], del: Action[]): void {
  const id = want.id;
  const key = (m: { user: string; group: string }) => `${m.user}/${m.group}`;
  const haveMembers = new Map((have?.members ?? []).map((m) => [key(m), m]));
  for (const m of want.members) {
    const h = haveMembers.get(key(m));
    if (!h || !same(h, m)) out.push({ op: h ? 'change' : 'create', what: `member ${id}/${key(m)} (${m.role})`, run: (a) => a.memberAdd({ tenant_id: id, user_id: m.user, group_id: m.group, role: m.role, expires_at: m.expires_at }) });
  }
  const wanted = new Set(want.members.map(key));
  if (prune) for (const m of have?.members ?? []) if (!wanted.has(key(m))) del.push({ op: 'delete', what: `member ${id}/${key(m)}`, run: (a) => a.memberRemove(id, m.user, m.group) });
}

function keyActions(want: TenantDoc, have: TenantDoc | undefined, current: CurrentState, prune: boolean, out: Action[], del: Action[]): void {
  const id = want.id;
  const haveKeys = new Map((have?.api_keys ?? []).map((k) => [`${k.user}/${k.name}`, k]));
  for (const k of want.api_keys) {
    const h = haveKeys.get(`${k.user}/${k.name}`);
    if (h && !same(h, k)) throw new StateError(`tenant ${id}: API key ${k.user}/${k.name} differs from the store's (scopes, tier or expiry cannot be changed in place: give the new key another name)`);
    if (!h) out.push({ op: 'create', what: `API key ${id}/${k.user}/${k.name}`, run: (a) => a.apiKeyCreate({ tenant_id: id, user_id: k.user, name: k.name, scopes: k.scopes, tier: k.tier, expires_at: k.expires_at }) });
  }
  const wanted = new Set(want.api_keys.map((k) => `${k.user}/${k.name}`));
  if (prune) {
    for (const [name, k] of current.keys.get(id)?.byName ?? []) if (!wanted.has(name)) del.push({ op: 'delete', what: `API key ${id}/${name} (revoked)`, run: (a) => a.apiKeyRevoke(id, k.id) });
  }
}

function quotaActions(want: TenantDoc, have: TenantDoc | undefined, prune: boolean, out: Action[]): void {
  const id = want.id;
  const key = (q: { scope: string; id: string }) => `${q.scope}:${q.id}`;
  const haveQuotas = new Map((have?.quotas ?? []).map((q) => [key(q), q]));
  const limits = (q: Record<string, unknown>): LimitSet => Object.fromEntries(LIMIT_FIELDS.map((f) => [f, (q[f] as number | null | undefined) ?? null]));
  const set = (q: { scope: 'tenant' | 'group' | 'key'; id: string }, l: LimitSet): Action['run'] => async (a) => {
    // A key is named by user/name in the files; the store knows it by id (made earlier in this apply, perhaps).
    const scopeId = q.scope === 'key' ? (await a.apiKeys.list(id)).find((k) => `${k.user_id}/${k.name}` === q.id && !k.revoked_at)?.id ?? q.id : q.id;
    return a.quotaSet(id, q.scope, scopeId, l);
  };
  for (const q of want.quotas) {
    const h = haveQuotas.get(key(q));
    if (!h || !same(limits(h), limits(q))) out.push({ op: h ? 'change' : 'create', what: `quota ${id}/${key(q)}`, run: set(q, limits(q)) });
  }
  const wanted = new Set(want.quotas.map(key));
  if (prune) for (const q of have?.quotas ?? []) if (!wanted.has(key(q))) out.push({ op: 'delete', what: `quota ${id}/${key(q)} (cleared)`, run: set(q, limits({})) });
}

function grantActions(desired: DesiredState, current: CurrentState, prune: boolean, out: Action[], del: Action[]): void {
  const key = (g: DesiredState['grants'][number]) => JSON.stringify([g.source, g.target, g.resource_type, g.resource_id, g.access, new Date(g.expires_at).toISOString()]);
  const have = new Set(current.grants.map(key));
  for (const g of desired.grants) {
    if (!have.has(key(g))) out.push({ op: 'create', what: `federation grant ${g.source} → ${g.target} ${g.access} ${g.resource_type}${g.resource_id ? `/${g.resource_id}` : ''}`, run: (a) => a.federationGrant({ ...g }) });
  }
  const wanted = new Set(desired.grants.map(key));
  if (prune) {
    current.grantRecords.forEach((r, i) => {
      if (!wanted.has(key(current.grants[i]!))) del.push({ op: 'delete', what: `federation grant ${r.id} (revoked)`, run: (a) => a.federationRevoke(r.target_tenant, r.id) });
    });
  }
}
