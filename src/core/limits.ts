// Limits and a user's effective context: the quota limit set, and the groups aggregated into what the policy reads.
import type { DataAccessLevel, Group, MembershipRole, RoutingStrategy } from './groups.js';

/** Which override a limit set is: the tenant's, a group's or an API key's. */
export type QuotaScope = 'tenant' | 'group' | 'key';

export interface QuotaOverride extends LimitSet {
  tenant_id: string;
  scope: QuotaScope;
  scope_id: string;
  updated_at: string;
}

/**
 * The request limits a tier, tenant, group, key or policy bucket can set: windows per minute, day and calendar
 * month, and a token bucket (`burst` capacity refilled at `rate` per second). The one list of their names.
 */
export const LIMIT_FIELDS = ['per_minute', 'per_day', 'per_month', 'burst', 'rate'] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];
export type LimitSet = { [K in LimitField]?: number | null };

/**
 * LLM token budgets: input, output and total tokens per minute, day and calendar month, and a monthly cost in US
 * dollars (genai.models prices). Reserved at the check, settled from the response (genai/).
 */
export const TOKEN_LIMIT_FIELDS = [
  'input_tokens_per_minute', 'input_tokens_per_day', 'input_tokens_per_month',
  'output_tokens_per_minute', 'output_tokens_per_day', 'output_tokens_per_month',
  'tokens_per_minute', 'tokens_per_day', 'tokens_per_month',
  'cost_per_month',
] as const;
export type TokenLimitField = (typeof TOKEN_LIMIT_FIELDS)[number];
export type TokenLimits = { [K in TokenLimitField]?: number };

/** A tenant's, group's or API key's token budgets over its tier's. */
export interface TokenOverride {
  tenant_id: string;
  scope: QuotaScope;
  scope_id: string;
  limits: TokenLimits;
  updated_at: string;
}

/** A change to an override: a value sets a field, null clears it. */
export type TokenLimitChange = { [K in TokenLimitField]?: number | null };

/** The override after a change; throws (a message) on a value that is not a positive number. */
export function mergeTokenLimits(before: TokenLimits | undefined, change: TokenLimitChange): TokenLimits {
  const out: TokenLimits = { ...before };
  for (const f of TOKEN_LIMIT_FIELDS) {
    const v = change[f];
    if (v === undefined) continue;
    if (v === null) delete out[f];
    else if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (f !== 'cost_per_month' && !Number.isInteger(v))) throw new Error(`invalid ${f.replace(/_/g, '-')} ${String(v)}: a positive ${f === 'cost_per_month' ? 'number' : 'whole number'}`);
    else out[f] = v;
  }
  return out;
}

export interface GroupView {
  id: string;
  type: string;
  role: MembershipRole | 'claim' | 'default';
  permissions: { resource: string; actions: string[] }[];
  data_access_level: DataAccessLevel;
  data_access_rules: Record<string, (string | number | boolean)[]>;
  resource_limits: Group['resource_limits'];
  routing: Group['routing'];
}

export interface Limits {
  requests_per_minute: number | null;
  requests_per_day: number | null;
  max_tokens_per_request: number | null;
  /** null: no restriction. */
  allowed_models: string[] | null;
  allowed_providers: string[] | null;
}

export interface EffectiveContext {
  groups: GroupView[];
  /** "action:resource", wildcards allowed on either side. */
  permissions: string[];
  data_access_level: DataAccessLevel;
  allowed_levels: DataAccessLevel[];
  routing_strategy: RoutingStrategy;
  preferred_providers: string[];
  limits: Limits;
  primary_group: string;
  /** Header values, computed once with the context. */
  headers: Record<string, string>;
  /** Epoch ms after which the context must be rebuilt (the earliest membership expiry), or Infinity. */
  valid_until: number;
}
