// A user's effective context in a tenant: their active groups aggregated once (then cached), so the policy
// and the response only read prepared values.
import type { Config } from '../core/config.js';
import type { Tenant } from '../core/tenants.js';
import { LEVELS, type Group, type MembershipRole, type RoutingStrategy } from '../core/groups.js';
import type { EffectiveContext, GroupView, Limits } from '../core/limits.js';
import { contextHeaders } from '../core/upstream-headers.js';

const STRICTNESS: Record<RoutingStrategy, number> = { cost: 0, performance: 1, compliance: 2 };
const ROLE_RANK: Record<string, number> = { owner: 0, admin: 1, member: 2, claim: 3, default: 4 };

export const DEFAULT_GROUP: GroupView = Object.freeze({
  id: 'public',
  type: 'role',
  role: 'default',
  permissions: [{ resource: 'public', actions: ['read'] }],
  data_access_level: 'public',
  data_access_rules: {},
  resource_limits: {},
  routing: {},
}) as GroupView;

export function tierLimits(config: Config, tenant: Tenant): Limits {
  const t = config.tiers[tenant.tier];
  return {
    requests_per_minute: t.requests_per_minute ?? null,
    requests_per_day: t.requests_per_day ?? null,
    max_tokens_per_request: t.max_tokens_per_request ?? null,
    allowed_models: t.allowed_models ?? null,
    allowed_providers: t.allowed_providers ?? null,
  };
}

/**
 * Aggregates the groups: permissions united; the highest data-access level; the strictest routing strategy
 * (compliance > performance > cost); numeric limits by maximum; allowed models and providers united; the
 * primary group is the one the user owns, else administers, else the first joined. Whatever no group sets
 * comes from the tenant's tier.
 */
export function aggregate(
  memberships: (Group & { role: MembershipRole; expires_at?: string | null })[],
  claimGroups: Group[],
  tenant: Tenant,
  tierDefaults: Limits,
  validUntil = Infinity,
): EffectiveContext {
  const views: GroupView[] = [];
  const seen = new Set<string>();
  for (const g of memberships) {
    seen.add(g.id);
    views.push(view(g, g.role));
  }
  for (const g of claimGroups) if (!seen.has(g.id) && g.active) views.push(view(g, 'claim'));
  if (views.length === 0) views.push(DEFAULT_GROUP);

  const permissions = new Set<string>();
  let level = 0;
  let strategy: RoutingStrategy = 'cost';
  let strategySet = false;
  const preferred: string[] = [];
  for (const v of views) {
    for (const p of v.permissions) for (const a of p.actions) permissions.add(`${a}:${p.resource}`);
    level = Math.max(level, LEVELS.indexOf(v.data_access_level));
    const s = v.routing.strategy;
    if (s && (!strategySet || STRICTNESS[s] > STRICTNESS[strategy])) {
      strategy = s;
      strategySet = true;
    }
    for (const p of v.routing.preferred_providers ?? []) if (!preferred.includes(p)) preferred.push(p);
  }
  const primary = [...views].sort((a, b) => ROLE_RANK[a.role]! - ROLE_RANK[b.role]!)[0]!.id;
  const allowedLevels = LEVELS.slice(0, level + 1);

  const limits = limitsOf(views, tierDefaults);
  const groupIds = views.map((v) => v.id);
  const headers = contextHeaders({ groupIds, primaryGroup: primary, level: LEVELS[level]!, routingStrategy: strategy, dataFilters: dataFilters(views, allowedLevels) }, tenant);
  return {
    groups: views,
    permissions: [...permissions].sort(),
    data_access_level: LEVELS[level]!,
    allowed_levels: [...allowedLevels],
    routing_strategy: strategy,
    preferred_providers: preferred,
    limits,
    primary_group: primary,
    headers,
    valid_until: validUntil,
  };
}

/** Numeric limits by maximum, models and providers united; what no group sets comes from the tier. */
function limitsOf(views: GroupView[], tierDefaults: Limits): Limits {
  const maxOf = (k: 'requests_per_minute' | 'requests_per_day' | 'max_tokens_per_request') => {
    let m: number | null = null;
    for (const v of views) {
      const x = v.resource_limits[k];
      if (x !== undefined && (m === null || x > m)) m = x;
    }
    return m ?? tierDefaults[k];
  };
  const unionOf = (k: 'allowed_models' | 'allowed_providers') => {
    let u: Set<string> | null = null;
    for (const v of views) {
      const x = v.resource_limits[k];
      if (x) for (const item of x) (u ??= new Set()).add(item);
    }
    return u ? [...u].sort() : tierDefaults[k];
  };
  return {
    requests_per_minute: maxOf('requests_per_minute'),
    requests_per_day: maxOf('requests_per_day'),
    max_tokens_per_request: maxOf('max_tokens_per_request'),
    allowed_models: unionOf('allowed_models'),
    allowed_providers: unionOf('allowed_providers'),
  };
}

function view(g: Group, role: GroupView['role']): GroupView {
  return {
    id: g.id,
    type: g.type,
    role,
    permissions: g.permissions,
    data_access_level: g.data_access_level,
    data_access_rules: g.data_access_rules,
    resource_limits: g.resource_limits,
    routing: g.routing,
  };
}

/**
 * Row-level filters for the upstream: the allowed access levels, and, when every group restricts rows, any one
 * group's rules must match (a group without rules grants all rows of its levels).
 */
export function dataFilters(views: GroupView[], allowedLevels: readonly string[]): Record<string, unknown> {
  const filters: Record<string, unknown> = { accessLevel: { in: allowedLevels } };
  const rules = views.map((v) => v.data_access_rules);
  if (rules.length && rules.every((r) => Object.keys(r).length > 0)) {
    filters.anyOf = rules.map((r) => Object.fromEntries(Object.entries(r).map(([field, values]) => [field, { in: values }])));
  }
  return filters;
}
