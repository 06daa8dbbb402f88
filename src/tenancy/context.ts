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

// lru-cache cannot hold undefined, so a known-absent tenant is cached as this marker.
const ABSENT = Symbol('absent');

/** Where the context loader reads tenants (the store implements it). */
export interface TenantSource {
  get(id: string): Tenant | undefined;
}

/** Where it reads a user's groups: as stored, so that a set of groups already known costs no parsing. */
export interface GroupSource {
  activeGroupRowsOf(tenantId: string, userId: string, now: Date): MemberGroupRow[];
  get(tenantId: string, id: string): Group | undefined;
  fromRow(row: MemberGroupRow): MemberGroup;
}

export class ContextLoader {
  private readonly tenants: LRUCache<string, Tenant | typeof ABSENT>;
  private readonly contexts: LRUCache<string, EffectiveContext>;
  /** Distinct contexts by a digest of their content. */
  private readonly interned: LRUCache<string, EffectiveContext>;
  hits = 0;
  misses = 0;

  constructor(
    private readonly config: Config,
    private readonly tenantRepo: TenantSource,
    private readonly groupRepo: GroupSource,
  ) {
    this.tenants = new LRUCache({ max: config.tenancy.cache_size });
    this.contexts = new LRUCache({ max: config.tenancy.context_cache_size });
    this.interned = new LRUCache({ max: config.tenancy.context_cache_size });
  }

  tenant(id: string): Tenant | null {
    let v = this.tenants.get(id);
    if (v === undefined) {
      this.misses++;
      v = this.tenantRepo.get(id) ?? ABSENT;
      // Keyed by the store's copy of the id where there is one: the id given may be a slice of a longer header
      // value (a host name), which the cache would keep in memory whole.
      this.tenants.set(v === ABSENT ? id : v.id, v);
    } else {
      this.hits++;
    }
    return v === ABSENT ? null : v;
  }

  /** The user's aggregated groups in the tenant; `claimGroups` are group ids from the token (only existing ones count). */
  user(tenant: Tenant, userId: string, claimGroups: readonly string[]): EffectiveContext {
    const key = claimGroups.length ? `${tenant.id}\u0000${userId}\u0000${claimGroups.join(',')}` : `${tenant.id}\u0000${userId}`;
    const hit = this.contexts.get(key);
    if (hit && hit.valid_until > Date.now()) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const now = new Date();
    const rows = this.groupRepo.activeGroupRowsOf(tenant.id, userId, now);
    const fromClaim: Group[] = [];
    for (const id of claimGroups) {
      const g = this.groupRepo.get(tenant.id, id);
      if (g?.active) fromClaim.push(g);
    }
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
    this.contexts.set(key, ctx);
    return ctx;
  }

  invalidate(): void {
    this.tenants.clear();
    this.contexts.clear();
    this.interned.clear();
  }
}
