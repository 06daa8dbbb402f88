// Tenant records and users' effective contexts for the hot path: LRUs in front of the store, dropped whenever
// the data changes (and a context also when its earliest membership expires).
//
// A context is a function of the user's groups (their content and the user's roles), the tenant's tier and
// upstream, and the earliest membership expiry; never of the user id. Contexts are interned by those inputs, so
// the users of a tenant who share a set of groups (and tenants that keep the default groups) share one object:
// with a million memberships that is the difference between one context per user and one per group set.
// Whatever caches per context must therefore also key by tenant and caller (see quota/service.ts).
import { LRUCache } from 'lru-cache';
import type { Config } from '../core/config.js';
import type { Tenant } from '../core/tenants.js';
import type { Group, MemberGroup, MemberGroupRow } from '../core/groups.js';
import { aggregate, tierLimits } from './effective.js';
import { type EffectiveContext } from '../core/limits.js';
import { sha256Base64 } from '../util/digest.js';
import { loadOnce } from '../util/shared.js';
import { copyOf } from '../util/copy-of.js';
import { NO_SPANS, type Spans } from '../core/spans.js';

// lru-cache cannot hold undefined, so a known-absent tenant is cached as this marker.
const ABSENT = Symbol('absent');

/** Where the context loader reads tenants (the store implements it): SQLite answers at once, PostgreSQL later. */
export interface TenantSource {
  get(id: string): Tenant | undefined | Promise<Tenant | undefined>;
}

/** Where it reads a user's groups: as stored, so that a set of groups already known costs no parsing. */
export interface GroupSource {
  activeGroupRowsOf(tenantId: string, userId: string, now: Date): MemberGroupRow[] | Promise<MemberGroupRow[]>;
  get(tenantId: string, id: string): Group | undefined | Promise<Group | undefined>;
  fromRow(row: MemberGroupRow): MemberGroup;
}

export class ContextLoader {
  private readonly tenants: LRUCache<string, Tenant | typeof ABSENT>;
  private readonly contexts: LRUCache<string, EffectiveContext>;
  /** Distinct contexts by a digest of their content. */
  private readonly interned: LRUCache<string, EffectiveContext>;
  hits = 0;
  misses = 0;
  /** Loads under way from an asynchronous store, shared by every check that misses on the same key. */
  private readonly pending = new Map<string, Promise<unknown>>();
  /** Moves on with every change: a load that started before one does not fill the cache with what it read. */
  private generation = 0;
  /**
   * The context last found for a caller's (cached, frozen) identity, while nothing has changed since: a check of a
   * known caller then builds no key and hashes none (bench/README.md).
   */
  private readonly lastFor = new WeakMap<object, { generation: number; tenant: Tenant; ctx: EffectiveContext }>();

  constructor(
    private readonly config: Config,
    private readonly tenantRepo: TenantSource,
    private readonly groupRepo: GroupSource,
    private readonly spans: Spans = NO_SPANS,
  ) {
    this.tenants = new LRUCache({ max: config.tenancy.cache_size });
    this.contexts = new LRUCache({ max: config.tenancy.context_cache_size });
    this.interned = new LRUCache({ max: config.tenancy.context_cache_size });
  }

  /**
   * The tenant's record, or null when there is none. From the cache, else from the store: at once from SQLite; from
   * PostgreSQL as a promise that every concurrent miss for the same tenant shares (one query).
   */
  tenant(id: string): Tenant | null | Promise<Tenant | null> {
    const v = this.tenants.get(id);
    if (v !== undefined) {
      this.hits++;
      return v === ABSENT ? null : v;
    }
    this.misses++;
    return loadOnce(this.pending, `t\u0000${id}`, () => {
      const gen = this.generation;
      const loaded = this.spans.around('tenantgate.store.tenant', () => this.tenantRepo.get(id));
      return loaded instanceof Promise ? loaded.then((t) => this.keepTenant(id, t, gen)) : this.keepTenant(id, loaded, gen);
    });
  }

  /** Caches what the store said, unless a change came in while it was being asked (that answer may be stale). */
  private keepTenant(id: string, t: Tenant | undefined, gen = this.generation): Tenant | null {
    if (gen !== this.generation) return t ?? null;
    // Keyed by the store's copy of the id where there is one: the id given may be a slice of a longer header value
    // (a host name), which the cache would keep in memory whole.
    this.tenants.set(t ? t.id : copyOf(id), t ?? ABSENT);
    return t ?? null;
  }

  /**
   * The user's aggregated groups in the tenant; `claimGroups` are group ids from the token (only existing ones count).
   * `caller`: an object that stands for this user and these claim groups (the identity) while it lives.
   */
  user(tenant: Tenant, userId: string, claimGroups: readonly string[], caller?: object): EffectiveContext | Promise<EffectiveContext> {
    const last = caller && this.lastFor.get(caller);
    const now = Date.now();
    if (last && last.generation === this.generation && last.tenant === tenant && last.ctx.valid_until > now) {
      this.hits++;
      return last.ctx;
    }
    const key = claimGroups.length ? `${tenant.id}\u0000${userId}\u0000${claimGroups.join(',')}` : `${tenant.id}\u0000${userId}`;
    const hit = this.contexts.get(key);
    if (hit && hit.valid_until > now) {
      this.hits++;
      if (caller) this.lastFor.set(caller, { generation: this.generation, tenant, ctx: hit });
      return hit;
    }
    this.misses++;
    // One span for the whole load: the user's groups and the groups the token names.
    return loadOnce(this.pending, `u\u0000${key}`, () =>
      this.spans.around('tenantgate.store.groups', () => {
        const gen = this.generation;
        const rows = this.groupRepo.activeGroupRowsOf(tenant.id, userId, new Date());
        const fromClaim = claimGroups.map((id) => this.groupRepo.get(tenant.id, id));
        if (!(rows instanceof Promise) && !fromClaim.some((g) => g instanceof Promise)) return this.build(key, tenant, rows, fromClaim as (Group | undefined)[], gen);
        return (async () => this.build(key, tenant, await rows, await Promise.all(fromClaim), gen))();
      }),
    );
  }

  private build(key: string, tenant: Tenant, rows: MemberGroupRow[], claimed: (Group | undefined)[], gen = this.generation): EffectiveContext {
    const fromClaim = claimed.filter((g): g is Group => g?.active === true);
    let validUntil = Infinity;
    for (const m of rows) if (m.membership_expires_at) validUntil = Math.min(validUntil, Date.parse(m.membership_expires_at));
    // Interned by what aggregate() reads, as stored: the same inputs build the same context, so a user whose
    // groups are already known (in this tenant or another) costs no parsing and no aggregation.
    const inputs = [tenant.tier, tenant.upstream, validUntil, fromClaim.length ? JSON.stringify(fromClaim) : ''];
    for (const r of rows) inputs.push(r.id, r.type, r.role, r.permissions, r.data_access_level, r.data_access_rules, r.resource_limits, r.routing);
    const digest = sha256Base64(JSON.stringify(inputs));
    let ctx = this.interned.get(digest);
    if (!ctx) {
      ctx = aggregate(rows.map((r) => this.groupRepo.fromRow(r)), fromClaim, tenant, tierLimits(this.config, tenant), validUntil);
      this.interned.set(digest, ctx);
    }
    if (gen === this.generation) this.contexts.set(key, ctx);
    return ctx;
  }

  /** One tenant's data changed (its record, a group, quotas): its record and every context in it go. */
  invalidateTenant(id: string): void {
    this.generation++;
    // Loads under way read the old data: later misses must not wait for them.
    this.pending.delete(`t\u0000${id}`);
    for (const k of [...this.pending.keys()]) if (k.startsWith(`u\u0000${id}\u0000`)) this.pending.delete(k);
    this.tenants.delete(id);
    dropPrefix(this.contexts, `${id}\u0000`);
  }

  /** One user's memberships changed: that user's contexts go. */
  invalidateUser(tenantId: string, userId: string): void {
    this.generation++;
    for (const k of [...this.pending.keys()]) if (k === `u\u0000${tenantId}\u0000${userId}` || k.startsWith(`u\u0000${tenantId}\u0000${userId}\u0000`)) this.pending.delete(k);
    const key = `${tenantId}\u0000${userId}`;
    this.contexts.delete(key);
    dropPrefix(this.contexts, `${key}\u0000`);
  }

  invalidate(): void {
    this.generation++;
    this.pending.clear();
    this.tenants.clear();
    this.contexts.clear();
    this.interned.clear();
  }
}

function dropPrefix<V extends {}>(cache: LRUCache<string, V>, prefix: string): void {
  for (const k of [...cache.keys()]) if (k.startsWith(prefix)) cache.delete(k);
}
