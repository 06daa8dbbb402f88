// Quota enforcement in the Check call: the stacked limits of a request (tenant, then API key or user, then any
// bucket the policy names), the limiter (local or Redis), fair shares of the platform capacity, and the
// RateLimit fields for the response. Limit sets are computed when data changes, not per request.
import type { Config } from '../core/config.js';
import type { Tenant, Tier } from '../core/tenants.js';
import type { Decision, Denial, Identity } from '../core/types.js';
import { deny } from '../core/denials.js';
import { LIMIT_FIELDS, type EffectiveContext, type QuotaOverride, type LimitSet } from '../core/limits.js';
import { amountOf, itemsFor, overlay, tokenItemsFor, type LimitItem, type Scope, type TokenDemand } from './limits.js';
import type { ReservationOwner, TokenHold } from './limiter.js';
import { TOKEN_LIMIT_FIELDS, type TokenLimits, type TokenOverride } from '../core/limits.js';
import type { Limiter, QuotaResult } from './limiter.js';
import { FairShare } from './fair-share.js';
import { fieldPartsOf, fieldsOf, type FieldParts } from './headers.js';

/** One limit as an explanation shows it. */
export interface QuotaPeek {
  limit: string;
  kind: string;
  max: number;
  remaining: number;
  reset_seconds: number;
  exceeded: boolean;
}

/** Where token reservations live: the local limiter's (held after the take) or Redis (held by it). */
export interface TokenBudgets {
  ttlMs: number;
  holdLocally?(id: string, items: readonly LimitItem[], amounts: readonly number[], at: number, owner: ReservationOwner): void;
  /** The response's usage for a decision: what it reserved beyond that is given back, what went over charged. */
  settle(id: string, used: TokenDemand): ReservationOwner | undefined | Promise<ReservationOwner | undefined>;
  /** Whose reservation it is, while it is held. */
  owner(id: string): ReservationOwner | undefined | Promise<ReservationOwner | undefined>;
}

/** A tenant rule's tighter limits (tenant-rules/phase.ts). */
export interface RuleBucket {
  readonly rule: string;
  readonly limits: LimitSet;
}

export type QuotaOutcome =
  | { allowed: true; headers: Record<string, string>; /** The token reservation held, if one was. */ reserved?: TokenDemand }
  | Denial;

interface TenantOverrides {
  tenant?: LimitSet;
  groups: Map<string, LimitSet>;
  keys: Map<string, LimitSet>;
}

/** Where the quota service reads the limit overrides of a tenant (the store implements it). */
export interface OverrideSource {
  list(tenantId: string): QuotaOverride[];
  /** The token budget overrides of a tenant (its own, its groups', its keys'). */
  tokens(tenantId: string): TokenOverride[];
}

export class QuotaService {
  private readonly overrides = new Map<string, TenantOverrides>();
  private readonly tenantItems = new Map<string, LimitItem[]>();
  private callerItems = new WeakMap<object, Map<string, LimitItem[]>>();
  /** Tenant rules' limit items, by the rule's limits (a new object each time a tenant's rules are loaded). */
  private ruleItems = new WeakMap<LimitSet, LimitItem[]>();
  /** Arrays of a caller's limits with a bucket and rules on top, by what they stack on (withBuckets). */
  private readonly withBucketsOf = new WeakMap<object, Stacked>();
  private readonly fair: FairShare | undefined;
  private readonly tokenItems = new Map<string, LimitItem[]>();
  private combined = new WeakMap<LimitItem[], { tokens: LimitItem[]; all: LimitItem[] }>();
  private callerTokenItems = new WeakMap<object, Map<string, LimitItem[]>>();
  /**
   * The request limits and token budgets last found for a caller's (cached, frozen) identity, with the tenant record
   * and context they were found for: a known caller's check builds no key string and hashes none.
   */
  private lastFor = new WeakMap<Identity, CallerMemo>();
  /** Token budgets: how reservations are held and settled (reservations.ts, or the Redis limiter), when on. */
  budgets: TokenBudgets | undefined;

  constructor(
    private readonly config: Config,
    private readonly repo: OverrideSource,
    private readonly limiter: Limiter,
    private readonly clock: () => number = Date.now,
  ) {
    const cap = config.quota.capacity;
    if (cap.requests_per_second > 0) this.fair = new FairShare(cap);
  }

  /** Data changed (another process, or the admin API): rebuild limit sets on next use. */
  invalidate(): void {
    this.overrides.clear();
    this.tenantItems.clear();
    this.tokenItems.clear();
    this.callerTokenItems = new WeakMap();
    // Contexts rebuilt after a change are new keys anyway; an identity object may outlive the change.
    this.callerItems = new WeakMap();
    this.lastFor = new WeakMap();
  }

  /** One tenant's overrides changed: its limit sets are rebuilt on next use. */
  invalidateTenant(id: string): void {
    this.overrides.delete(id);
    this.tenantItems.delete(id);
    this.tokenItems.delete(id);
    this.callerItems = new WeakMap();
    this.callerTokenItems = new WeakMap();
    this.lastFor = new WeakMap();
  }

  /**
   * `reserve`: an LLM request's demand and its decision id, held against the tenant's token budgets until its usage
   * settles it (reservations.ts).
   */
  enforce(tenant: Tenant, identity: Identity, effective: EffectiveContext | null, decision: Decision, rules?: readonly RuleBucket[], reserve?: { decisionId: string; demand: TokenDemand; model: string }): QuotaOutcome | Promise<QuotaOutcome> {
    const now = this.clock();
    if (this.fair) {
      const a = this.fair.admit(tenant.id, tenant.tier, now);
      if (!a.allowed) return deny('capacity_exceeded', a.reason, { 'retry-after': String(a.retryAfter) });
    }
    const last = this.last(tenant, identity, effective);
    const stacked = this.callerItemsFor(last, identity, effective);
    let items = this.withBuckets(stacked, tenant, decision, rules);
    const budgets = this.budgets;
    const tokens = reserve && budgets ? this.tokenItemsFor(tenant, identity, effective) : undefined;
    let amounts: number[] | undefined;
    let hold: TokenHold | undefined;
    if (tokens?.length) {
      hold = { id: reserve!.decisionId, first: items.length, ttlMs: budgets!.ttlMs, owner: { tenant: tenant.id, user: identity.subject, api_key_id: identity.api_key_id, model: reserve!.model } };
      amounts = new Array<number>(items.length + tokens.length).fill(1, 0, items.length);
      for (let i = 0; i < tokens.length; i++) amounts[items.length + i] = amountOf(tokens[i]!, reserve!.demand);
      items = this.withTokens(items, tokens);
    }
    if (items.length === 0) return { allowed: true, headers: {} };
    const r = this.limiter.take(items, now, true, amounts, hold);
    // The local limiter's reservations are held here; Redis holds them in the same script as the spending.
    if (hold && budgets!.holdLocally && !(r instanceof Promise) && r.allowed) budgets!.holdLocally(hold.id, tokens!, amounts!.slice(hold.first), now, hold.owner);
    const reserved = hold ? reserve!.demand : undefined;
    // The caller's own limits' field parts are held with them (no lookup by the array).
    const parts = items === stacked ? (last.fields ??= fieldPartsOf(items)) : fieldPartsOf(items);
    if (!(r instanceof Promise)) return this.outcome(parts, r, now, reserved);
    // The only rejection is the Redis store failing with fail_closed: deny as unavailable (503), fail closed.
    return r.then(
      (x) => this.outcome(parts, x, now, reserved),
      () => deny('quota_unavailable', 'the quota store is unavailable'),
    );
  }

  /** What enforce() would find, without spending: each limit with what is left of it (for an explanation). */
  async peek(tenant: Tenant, identity: Identity, effective: EffectiveContext | null, decision: Decision, rules?: readonly RuleBucket[]): Promise<QuotaPeek[]> {
    const now = this.clock();
    const r = await this.limiter.take(this.itemsFor(tenant, identity, effective, decision, rules), now, false);
    return r.states.map((st) => ({ limit: st.item.name, kind: st.item.kind, max: st.item.limit, remaining: st.remaining, reset_seconds: st.reset, exceeded: st === r.exceeded }));
  }

  private outcome(parts: FieldParts, r: QuotaResult, now: number, reserved?: TokenDemand): QuotaOutcome {
    const fields = fieldsOf(parts, r.states, now);
    if (r.allowed) return reserved ? { allowed: true, headers: fields, reserved } : { allowed: true, headers: fields };
    return deny('quota_exceeded', exceededReason(r.exceeded!.item), { 'retry-after': String(r.retryAfter), ...fields });
  }

  private itemsFor(tenant: Tenant, identity: Identity, effective: EffectiveContext | null, decision: Decision, rules: readonly RuleBucket[] | undefined): LimitItem[] {
    return this.withBuckets(this.callerItemsFor(this.last(tenant, identity, effective), identity, effective), tenant, decision, rules);
  }

  /**
   * Tenant and caller limits together (`stacked`, cached with the caller), with a policy-named bucket and the tenant
   * rules' limits on top: kept per the objects they are made of, which come again as the same objects (a cached
   * decision's `quota`, a loaded rule set's limits), so that the limiter's plan and the RateLimit parts of the array
   * are made once, not on every check.
   */
  private withBuckets(stacked: LimitItem[], tenant: Tenant, decision: Decision, rules: readonly RuleBucket[] | undefined): LimitItem[] {
    const q = decision.quota;
    if (!q && !rules) return stacked;
    let node = stackedOn(this.withBucketsOf, stacked);
    node = stackedOn(node.next, q ?? NO_BUCKET);
    for (const r of rules ?? []) node = stackedOn(node.next, r.limits);
    return (node.items ??= this.buildWithBuckets(stacked, tenant, q, rules));
  }

  private buildWithBuckets(stacked: LimitItem[], tenant: Tenant, q: Decision['quota'], rules: readonly RuleBucket[] | undefined): LimitItem[] {
    const anchorDay = tenant.billing_anchor_day ?? undefined;
    const out = [...stacked];
    if (q) out.push(...itemsFor([{ tenant: tenant.id, subject: `bucket:${q.bucket}`, label: q.bucket, limits: q.limits, anchorDay }]));
    // A tenant rule's limits: one bucket per rule for the whole tenant, its items made once per loaded rule set.
    for (const r of rules ?? []) {
      let items = this.ruleItems.get(r.limits);
      if (!items) this.ruleItems.set(r.limits, (items = itemsFor([{ tenant: tenant.id, subject: `rule:${r.rule}`, label: `rule.${r.rule}`, limits: r.limits, anchorDay }])));
      out.push(...items);
    }
    return out;
  }

  /** Whether a request of this caller reserves tokens (token budgets on, and some set for its tenant or itself). */
  hasTokenBudgets(tenant: Tenant, identity: Identity, effective: EffectiveContext | null): boolean {
    return this.budgets !== undefined && this.tokenItemsFor(tenant, identity, effective).length > 0;
  }

  /**
   * The caller's limits and the tenant's token budgets as one array, kept while both stay the same arrays: the
   * RateLimit-Policy text is cached per array (headers.ts), and a check makes no new one.
   */
  private withTokens(items: LimitItem[], tokens: LimitItem[]): LimitItem[] {
    const hit = this.combined.get(items);
    if (hit?.tokens === tokens) return hit.all;
    const all = [...items, ...tokens];
    this.combined.set(items, { tokens, all });
    return all;
  }

  /**
   * The token budgets of a request: the tenant's (its tier's, overridden for the tenant) and the caller's (its API
   * key's override, else the largest of its groups' overrides; none, none), stacked: the strictest wins. Made when
   * data changes, cached with the caller as the request limits are.
   */
  private tokenItemsFor(tenant: Tenant, identity: Identity, effective: EffectiveContext | null): LimitItem[] {
    const last = this.last(tenant, identity, effective);
    return (last.tokens ??= this.findTokenItems(tenant, identity, effective));
  }

  /** The memo of a caller (lastFor), emptied when its tenant record or context is another object than before. */
  private last(tenant: Tenant, identity: Identity, effective: EffectiveContext | null): CallerMemo {
    let last = this.lastFor.get(identity);
    if (!last || last.tenant !== tenant || last.effective !== effective) this.lastFor.set(identity, (last = { tenant, effective }));
    return last;
  }

  private findTokenItems(tenant: Tenant, identity: Identity, effective: EffectiveContext | null): LimitItem[] {
    const owner: object = effective ?? identity;
    let byKey = this.callerTokenItems.get(owner);
    if (!byKey) this.callerTokenItems.set(owner, (byKey = new Map()));
    const caller = identity.api_key_id ? `key:${identity.api_key_id}` : `user:${identity.subject ?? ''}`;
    const cacheKey = `${tenant.id}\u0000${caller}`;
    let items = byKey.get(cacheKey);
    if (items) return items;
    const anchorDay = tenant.billing_anchor_day ?? undefined;
    const overrides = this.repo.tokens(tenant.id);
    const of = (scope: string, id: string) => overrides.find((o) => o.scope === scope && o.scope_id === id)?.limits;
    let t = this.tokenItems.get(tenant.id);
    if (!t) {
      const tier = this.config.tiers[tenant.tier] as TokenLimits;
      const limits: TokenLimits = { ...Object.fromEntries(TOKEN_LIMIT_FIELDS.filter((f) => tier[f] !== undefined).map((f) => [f, tier[f]])), ...of('tenant', tenant.id) };
      this.tokenItems.set(tenant.id, (t = tokenItemsFor(tenant.id, 'tenant', limits, anchorDay)));
    }
    let mine = identity.api_key_id ? of('key', identity.api_key_id) : undefined;
    if (!mine && effective) {
      // The user's groups' overrides, merged by maximum (as request limits are).
      for (const g of effective.groups) {
        const o = of('group', g.id);
        if (!o) continue;
        mine ??= {};
        for (const f of TOKEN_LIMIT_FIELDS) if (o[f] !== undefined && !(mine[f]! >= o[f]!)) mine[f] = o[f];
      }
    }
    items = mine ? [...t, ...tokenItemsFor(tenant.id, identity.api_key_id ? 'key' : 'user', mine, anchorDay, caller)] : t;
    byKey.set(cacheKey, items);
    return items;
  }

  private tenantItemsFor(tenant: Tenant): LimitItem[] {
    let t = this.tenantItems.get(tenant.id);
    if (!t) {
      const ov = this.overridesOf(tenant.id);
      t = itemsFor([{ tenant: tenant.id, subject: '*', label: 'tenant', limits: overlay(this.tierSet(tenant.tier), ov.tenant), anchorDay: tenant.billing_anchor_day ?? undefined }]);
      this.tenantItems.set(tenant.id, t);
    }
    return t;
  }

  /** The caller's request limits, kept in its memo. */
  private callerItemsFor(last: CallerMemo, identity: Identity, effective: EffectiveContext | null): LimitItem[] {
    return (last.items ??= this.findCallerItems(last.tenant, identity, effective));
  }

  /** Tenant + caller limits, cached on the effective context object (rebuilt when data changes), tenant and key id. */
  private findCallerItems(tenant: Tenant, identity: Identity, effective: EffectiveContext | null): LimitItem[] {
    const owner: object = effective ?? identity;
    let byKey = this.callerItems.get(owner);
    if (!byKey) this.callerItems.set(owner, (byKey = new Map()));
    // The tenant is part of the key: an effective context is shared by every caller whose groups are the same,
    // in any tenant (tenancy/context.ts), and limit items name their tenant.
    const cacheKey = `${tenant.id}\u0000${identity.api_key_id ?? `user:${identity.subject ?? ''}`}`;
    let items = byKey.get(cacheKey);
    if (items) return items;
    const ov = this.overridesOf(tenant.id);
    const anchorDay = tenant.billing_anchor_day ?? undefined;
    let scope: Scope;
    if (identity.kind === 'api_key' && identity.api_key_id) {
      const base = identity.api_key_tier ? this.tierSet(identity.api_key_tier) : this.userSet(tenant, effective, ov);
      scope = { tenant: tenant.id, subject: `key:${identity.api_key_id}`, label: 'key', limits: overlay(base, ov.keys.get(identity.api_key_id)), anchorDay };
    } else {
      scope = { tenant: tenant.id, subject: `user:${identity.subject ?? ''}`, label: 'user', limits: this.userSet(tenant, effective, ov), anchorDay };
    }
    items = [...this.tenantItemsFor(tenant), ...itemsFor([scope])];
    byKey.set(cacheKey, items);
    return items;
  }

  private tierSet(tier: Tier): LimitSet {
    const t = this.config.tiers[tier];
    return { rate: t.rate, burst: t.burst, per_minute: t.requests_per_minute, per_day: t.requests_per_day, per_month: t.requests_per_month };
  }

  /** The user's groups' limits (resource limits, overridden per group), merged by maximum; the tier fills gaps. */
  private userSet(tenant: Tenant, effective: EffectiveContext | null, ov: TenantOverrides): LimitSet {
    const tier = this.tierSet(tenant.tier);
    if (!effective) return tier;
    const out: LimitSet = {};
    for (const g of effective.groups) {
      const set = overlay({ per_minute: g.resource_limits.requests_per_minute, per_day: g.resource_limits.requests_per_day }, ov.groups.get(g.id));
      for (const k of LIMIT_FIELDS) {
        const v = set[k];
        if (v != null && (out[k] == null || v > out[k]!)) out[k] = v;
      }
    }
    return overlay(tier, out);
  }

  private overridesOf(tenantId: string): TenantOverrides {
    let o = this.overrides.get(tenantId);
    if (!o) {
      o = { groups: new Map(), keys: new Map() };
      for (const row of this.repo.list(tenantId)) {
        const set: LimitSet = { rate: row.rate, burst: row.burst, per_minute: row.per_minute, per_day: row.per_day, per_month: row.per_month };
        if (row.scope === 'tenant') o.tenant = set;
        else if (row.scope === 'group') o.groups.set(row.scope_id, set);
        else o.keys.set(row.scope_id, set);
      }
      this.overrides.set(tenantId, o);
    }
    return o;
  }
}

/** The limits stacked on a caller's, by the objects they were made of, one after the other (withBuckets). */
interface Stacked {
  items?: LimitItem[];
  next: WeakMap<object, Stacked>;
}
const NO_BUCKET = {};

function stackedOn(map: WeakMap<object, Stacked>, key: object): Stacked {
  let n = map.get(key);
  if (!n) map.set(key, (n = { next: new WeakMap() }));
  return n;
}

/** What the quota service found for a caller's identity, with the tenant record and context it was found for. */
interface CallerMemo {
  tenant: Tenant;
  effective: EffectiveContext | null;
  /** Its request limits, their RateLimit fields' parts, and its token budgets. */
  items?: LimitItem[];
  fields?: FieldParts;
  tokens?: LimitItem[];
}

// A limit's denial reason, made once per limit item (items are kept while their data stays the same): one string
// whose hash V8 keeps, which the denial's encoder keys its kept bytes by (check/deny-template.ts).
const reasons = new WeakMap<LimitItem, string>();

function exceededReason(it: LimitItem): string {
  let reason = reasons.get(it);
  if (reason === undefined) {
    const what = it.kind === 'bucket' ? `burst limit of ${it.limit} (${it.rate}/s)` : it.unit === 'cost' ? `budget of $${it.limit / 1e9} per month` : `limit of ${it.limit} ${it.unit ? `${it.unit === 'total' ? '' : `${it.unit} `}tokens` : 'requests'} per ${it.kind}`;
    reasons.set(it, (reason = `quota exceeded: the ${it.name} ${what}`));
  }
  return reason;
}
