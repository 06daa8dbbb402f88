// Every admin operation by name, with the request shape of proto/tenantgate/admin/v1/admin.proto. The CLI runs
// them on the store directly or, with --server, through the admin API, which runs the very same functions.
import { parse as parseYaml } from 'yaml';
import type { AdminStore, TokenUsageRow } from '../core/admin-store.js';
import { applyState, exportState } from '../state/apply.js';
import { StateError } from '../state/documents.js';
import { StoreError } from '../core/errors.js';
import type { Tier } from '../core/tenants.js';
import type { MembershipRole } from '../core/groups.js';
import type { ApiKey } from '../core/api-keys.js';
import { LIMIT_FIELDS, TOKEN_LIMIT_FIELDS, type LimitField, type LimitSet, type TokenLimitChange } from '../core/limits.js';
import type { Config } from '../core/config.js';
import { policyView } from '../core/tenant-rules.js';
import { prepareTenantPolicy } from '../tenant-rules/upload.js';

type Req = Record<string, unknown>;
const s = (r: Req, k: string): string => {
  const v = r[k];
  if (typeof v !== 'string' || v === '') throw new StoreError(`${k} is required`, 'invalid');
  return v;
};
const opt = (r: Req, k: string): string | undefined => (typeof r[k] === 'string' && r[k] !== '' ? (r[k] as string) : undefined);

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim()) ?? /^(\d+)()$/.exec(text.trim());
  if (!m) throw new StoreError(`invalid duration "${text}" (use e.g. 90s, 15m, 1h, 7d)`, 'invalid');
  return Number(m[1]) * (UNIT[m[2] || 's'] ?? 1);
}

/** "7d" (that long ago) or an ISO 8601 time: the start of a report's period. */
export function parseSince(text: string): string {
  if (DURATION.test(text.trim())) return new Date(Date.now() - parseDuration(text) * 1000).toISOString();
  return parseExpiry(text)!;
}

/** "7d" (from now) or an ISO 8601 time. */
export function parseExpiry(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (DURATION.test(text.trim())) return new Date(Date.now() + parseDuration(text) * 1000).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new StoreError(`invalid time "${text}": use ISO 8601 (2027-01-31T00:00:00Z) or a duration (7d)`, 'invalid');
  return new Date(t).toISOString();
}

export const keyView = (k: ApiKey) => ({
  id: k.id,
  user: k.user_id,
  tenant: k.tenant_id,
  name: k.name,
  scopes: k.scopes,
  tier: k.tier,
  created_at: k.created_at,
  expires_at: k.expires_at,
  revoked_at: k.revoked_at,
  rotated_to: k.rotated_to,
  last_used_at: k.last_used_at,
});

function quotaScope(r: Req): { scope: 'tenant' | 'group' | 'key'; id: string } {
  const key = opt(r, 'key');
  const group = opt(r, 'group');
  if (key && group) throw new StoreError('name either a key or a group, not both', 'invalid');
  return key ? { scope: 'key', id: key } : group ? { scope: 'group', id: group } : { scope: 'tenant', id: s(r, 'tenant') };
}


export type Operation = (admin: AdminStore, req: Req, config: Config) => unknown | Promise<unknown>;

// Every operation awaits the store's answers: SQLite's come at once, PostgreSQL's as promises.
export const OPERATIONS: Record<string, Operation> = {
  CreateTenant: (a, r) => a.tenantCreate({ id: s(r, 'id'), name: s(r, 'name'), tier: (opt(r, 'tier') ?? 'free') as Tier, upstream: opt(r, 'upstream') }),
  ListTenants: (a) => a.tenants.list(),
  GetTenant: async (a, r) => (await a.tenants.get(s(r, 'id'))) ?? notFound(`unknown tenant ${r.id}`),
  SuspendTenant: (a, r) => a.tenantSetStatus(s(r, 'id'), 'suspended'),
  ResumeTenant: (a, r) => a.tenantSetStatus(s(r, 'id'), 'active'),
  UpdateTenant: async (a, r) => {
    const change: { tier?: Tier; upstream?: string | null; billing_anchor_day?: number | null } = {};
    if (opt(r, 'tier')) change.tier = r.tier as Tier;
    if (typeof r.upstream === 'string') change.upstream = r.upstream === '' ? null : r.upstream;
    if (typeof r.billing_anchor_day === 'number') change.billing_anchor_day = r.billing_anchor_day === 0 ? null : r.billing_anchor_day;
    const { tenant, changed } = await a.tenantUpdate(s(r, 'id'), change);
    return { ...tenant, changed };
  },
  DeleteTenant: async (a, r) => ({ deleted: (await a.tenantDelete(s(r, 'id'))).id }),

  ApplyGroup: (a, r) => a.groupApply(s(r, 'tenant'), parseDocument(s(r, 'document'), 'group')),
  ListGroups: (a, r) => a.groups.list(s(r, 'tenant')),
  GetGroup: async (a, r) => {
    await a.groups.list(s(r, 'tenant')); // an unknown tenant is named as such
    return (await a.groups.get(s(r, 'tenant'), s(r, 'id'))) ?? notFound(`unknown group ${r.id} in tenant ${r.tenant}`);
  },
  DeleteGroup: async (a, r) => ({ deleted: (await a.groupDelete(s(r, 'tenant'), s(r, 'id'))).id }),

  AddMember: (a, r) =>
    a.memberAdd({ tenant_id: s(r, 'tenant'), user_id: s(r, 'user'), group_id: s(r, 'group'), role: (opt(r, 'role') ?? 'member') as MembershipRole, expires_at: parseExpiry(opt(r, 'expires')) ?? null }),
  RemoveMember: async (a, r) => ({ removed: await a.memberRemove(s(r, 'tenant'), s(r, 'user'), s(r, 'group')) }),
  ListMembers: (a, r) => a.groups.memberships(s(r, 'tenant'), opt(r, 'user')),

  CreateApiKey: async (a, r) => {
    const { record, key } = await a.apiKeyCreate({
      tenant_id: s(r, 'tenant'),
      user_id: s(r, 'user'),
      name: opt(r, 'name'),
      scopes: Array.isArray(r.scopes) ? (r.scopes as string[]) : [],
      tier: (opt(r, 'tier') ?? null) as Tier | null,
      expires_at: parseExpiry(opt(r, 'expires')) ?? null,
    });
    return { ...keyView(record), key };
  },
  ListApiKeys: async (a, r) => {
    await a.groups.list(s(r, 'tenant'));
    return (await a.apiKeys.list(s(r, 'tenant'))).map(keyView);
  },
  RevokeApiKey: async (a, r) => keyView(await a.apiKeyRevoke(s(r, 'tenant'), s(r, 'id'))),
  RotateApiKey: async (a, r) => {
    const x = await a.apiKeyRotate(s(r, 'tenant'), s(r, 'id'), parseDuration(opt(r, 'grace') ?? '24h'));
    return { ...keyView(x.record), key: x.key, replaces: x.old.id, old_expires_at: x.old.expires_at };
  },

  SetQuota: (a, r) => {
    const { scope, id } = quotaScope(r);
    const change: LimitSet = {};
    for (const k of LIMIT_FIELDS) if (typeof r[k] === 'number') change[k] = r[k] as number;
    for (const k of (Array.isArray(r.clear) ? r.clear : []) as string[]) {
      if (!(LIMIT_FIELDS as readonly string[]).includes(k)) throw new StoreError(`unknown limit "${k}" to clear`, 'invalid');
      change[k as LimitField] = null;
    }
    if (Object.keys(change).length === 0) throw new StoreError('name at least one limit: per-minute, per-day, per-month, burst or rate', 'invalid');
    return a.quotaSet(s(r, 'tenant'), scope, id, change);
  },
  SetTokenLimits: (a, r) => {
    const { scope, id } = quotaScope(r);
    const change: TokenLimitChange = {};
    for (const k of TOKEN_LIMIT_FIELDS) if (typeof r[k] === 'number') change[k] = r[k] as number;
    for (const k of (Array.isArray(r.clear) ? r.clear : []) as string[]) {
      if (!(TOKEN_LIMIT_FIELDS as readonly string[]).includes(k)) throw new StoreError(`unknown token limit "${k}" to clear`, 'invalid');
      change[k as (typeof TOKEN_LIMIT_FIELDS)[number]] = null;
    }
    if (Object.keys(change).length === 0) throw new StoreError(`name at least one token limit: ${TOKEN_LIMIT_FIELDS.join(', ')}`, 'invalid');
    return a.tokenLimitsSet(s(r, 'tenant'), scope, id, change);
  },
  GetQuota: async (a, r, config) => {
    const t = (await a.tenants.get(s(r, 'tenant'))) ?? notFound(`unknown tenant ${r.tenant}`);
    const { scope, id } = quotaScope(r);
    const tokens = await a.quotas.tokenOverrides(t.id);
    return { tenant: t.id, tier: t.tier, scope, id, override: (await a.quotas.get(t.id, scope, id)) ?? null, token_override: tokens.find((o) => o.scope === scope && o.scope_id === id) ?? null, tier_defaults: config.tiers[t.tier], all_overrides: await a.quotas.list(t.id), all_token_overrides: tokens };
  },
  ShowUsage: async (a, r) => {
    const tenant = s(r, 'tenant');
    if (!(await a.tenants.get(tenant))) notFound(`unknown tenant ${tenant}`);
    const from = parseSince(opt(r, 'from') ?? '1970-01-01');
    const to = parseSince(opt(r, 'to') ?? '9999-12-31');
    // The token budgets' own counters (subjects tokens:<unit>, what was reserved) are not usage: the tokens are.
    const rows = (await a.quotas.usage(tenant, from, to)).filter((x) => !x.subject.startsWith('tokens:'));
    const tokenRows = await a.quotas.tokenUsage(tenant, from, to);
    // The tenant's totals are its "*" subject: every request of the tenant counts there.
    return { tenant, rows, totals: { day: rows.filter((x) => x.window === 'day' && x.subject === '*'), month: rows.filter((x) => x.window === 'month' && x.subject === '*') }, tokens: tokenRows.map(inDollars), token_totals: tokenTotals(tokenRows).map(inDollars) };
  },

  GrantFederation: async (a, r) => {
    const { grant, token } = await a.federationGrant({
      source: s(r, 'source'),
      target: s(r, 'target'),
      resource_type: s(r, 'resource_type'),
      resource_id: opt(r, 'resource_id') ?? null,
      access: s(r, 'access'),
      expires_at: parseExpiry(s(r, 'expires'))!,
    });
    return { ...grant, token };
  },
  RevokeFederation: (a, r) => a.federationRevoke(s(r, 'tenant'), s(r, 'id')),
  ListFederation: async (a, r) => {
    await a.groups.list(s(r, 'tenant'));
    return a.federation.list(s(r, 'tenant'));
  },

  SetTenantPolicy: async (a, r) => {
    const tenant = s(r, 'tenant');
    if (!(await a.tenants.get(tenant))) notFound(`unknown tenant ${tenant}`);
    const doc = (opt(r, 'document') ? parseDocument(s(r, 'document'), 'tenant rules') : {}) as { rules?: unknown; [k: string]: unknown };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new StoreError('the tenant rules document must be a mapping with "rules"', 'invalid');
    const tests = (Array.isArray(r.rego_tests) ? r.rego_tests : []) as { file: string; text: string }[];
    const module = opt(r, 'rego_module');
    const rego = module ? { module, tests: tests.map((t) => ({ name: t.file, text: t.text })) } : null;
    return policyView(await a.tenantPolicySet(tenant, await prepareTenantPolicy(tenant, { rules: doc.rules, rego })));
  },
  GetTenantPolicy: async (a, r) => {
    const tenant = s(r, 'tenant');
    if (!(await a.tenants.get(tenant))) notFound(`unknown tenant ${tenant}`);
    const p = await a.tenantPolicies.get(tenant);
    return p ? policyView(p) : notFound(`tenant ${tenant} has no rules`);
  },
  DeleteTenantPolicy: async (a, r) => ({ deleted: (await a.tenantPolicyDelete(s(r, 'tenant'))).tenant_id }),

  ListAudit: (a, r) => a.audit.list({ tenant: opt(r, 'tenant'), limit: auditLimit(r.limit) }),

  ApplyState: async (a, r) => {
    const files = (Array.isArray(r.files) ? r.files : []) as { file: string; text: string }[];
    if (!files.length) throw new StoreError('no documents to apply', 'invalid');
    try {
      return await applyState(a, files, { dryRun: r.dry_run === true, prune: r.prune === true });
    } catch (err) {
      throw err instanceof StateError ? new StoreError(err.message, 'invalid') : err;
    }
  },
  ExportState: async (a) => ({ files: await exportState(a) }),
};

/** How many audit entries to list: 100 when not given; anything but a whole number from 1 up is refused. */
function auditLimit(v: unknown): number {
  if (v === undefined || v === null || v === 0) return 100;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new StoreError(`invalid limit ${JSON.stringify(v)}: a whole number from 1 up`, 'invalid');
  return v;
}

/** Per window: the tenant's tokens and cost over every subject and model (summed in nano-dollars: exact). */
function tokenTotals(rows: TokenUsageRow[]) {
  const by = new Map<string, Pick<TokenUsageRow, 'window' | 'window_start' | 'input_tokens' | 'output_tokens' | 'cost_nano_usd' | 'responses'>>();
  for (const x of rows) {
    const k = `${x.window}/${x.window_start}`;
    const t = by.get(k) ?? { window: x.window, window_start: x.window_start, input_tokens: 0, output_tokens: 0, cost_nano_usd: 0, responses: 0 };
    t.input_tokens += x.input_tokens;
    t.output_tokens += x.output_tokens;
    t.cost_nano_usd += x.cost_nano_usd;
    t.responses += x.responses;
    by.set(k, t);
  }
  return [...by.values()];
}

/** A row as the API shows it: the cost in dollars. */
const inDollars = <T extends { cost_nano_usd: number }>({ cost_nano_usd, ...t }: T) => ({ ...t, cost_usd: cost_nano_usd / 1e9 });

function parseDocument(text: string, what: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new StoreError(`the ${what} document is not valid YAML/JSON: ${(err as Error).message}`, 'invalid');
  }
}

function notFound(message: string): never {
  throw new StoreError(message, 'not_found');
}
