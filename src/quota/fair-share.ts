// Noisy-neighbour protection: a platform capacity (requests per second) split between tiers by weight. Within
// each second every tier may use its allocation; capacity a tier leaves unused is lent to the others; no single
// tenant may take more than its cap. Allocations for a second follow the demand seen in the previous one.
import type { Tier } from '../core/tenants.js';

export interface FairShareConfig {
  requests_per_second: number;
  tier_weights: Record<Tier, number>;
  /** Fraction of the capacity one tenant may use. */
  tenant_cap: number;
}

export type Admission = { allowed: true } | { allowed: false; reason: string; retryAfter: number };

const TIERS: Tier[] = ['enterprise', 'premium', 'basic', 'free'];

export class FairShare {
  private second = -1;
  private total = 0;
  private readonly count = new Map<Tier, number>();
  private readonly demand = new Map<Tier, number>();
  private lastDemand = new Map<Tier, number>();
  private readonly perTenant = new Map<string, number>();
  private allocation = new Map<Tier, number>();
  private readonly tenantCap: number;

  constructor(private readonly cfg: FairShareConfig) {
    this.tenantCap = Math.max(1, Math.floor(cfg.requests_per_second * cfg.tenant_cap));
  }

  admit(tenant: string, tier: Tier, now: number): Admission {
    const second = Math.floor(now / 1000);
    if (second !== this.second) this.roll(second);
    this.demand.set(tier, (this.demand.get(tier) ?? 0) + 1);
    const capacity = this.cfg.requests_per_second;
    const used = this.count.get(tier) ?? 0;
    const tenantUsed = this.perTenant.get(tenant) ?? 0;
    if (tenantUsed >= this.tenantCap) return this.deny(`tenant ${tenant} is at its cap of ${this.tenantCap} requests per second`, now);
    if (this.total >= capacity) return this.deny('the platform is at capacity', now);
    if (used >= this.allocation.get(tier)!) {
      // Over its allocation: borrow only what the other tiers, by last second's demand, will not need.
      let reserved = 0;
      for (const other of TIERS) {
        if (other === tier) continue;
        const expected = Math.min(this.allocation.get(other)!, this.lastDemand.get(other) ?? 0);
        reserved += Math.max(0, expected - (this.count.get(other) ?? 0));
      }
      if (this.total + reserved >= capacity) return this.deny(`the ${tier} tier is using its share of the capacity`, now);
    }
    this.total++;
    this.count.set(tier, used + 1);
    this.perTenant.set(tenant, tenantUsed + 1);
    return { allowed: true };
  }

  private deny(reason: string, now: number): Admission {
    return { allowed: false, reason, retryAfter: Math.max(1, Math.ceil((Math.floor(now / 1000) + 1) * 1000 - now) / 1000) };
  }

  /** New second: allocations = weighted shares, plus what tiers with less demand left, lent by weight. */
  private roll(second: number): void {
    const capacity = this.cfg.requests_per_second;
    this.lastDemand = this.second === second - 1 ? new Map(this.demand) : new Map();
    this.second = second;
    this.total = 0;
    this.count.clear();
    this.demand.clear();
    this.perTenant.clear();
    const weights = this.cfg.tier_weights;
    const sum = TIERS.reduce((s, t) => s + weights[t], 0) || 1;
    const share = new Map(TIERS.map((t) => [t, (capacity * weights[t]) / sum]));
    let spare = 0;
    const hungry: Tier[] = [];
    for (const t of TIERS) {
      const d = this.lastDemand.get(t) ?? 0;
      if (d < share.get(t)!) spare += share.get(t)! - d;
      else hungry.push(t);
    }
    const hungryWeight = hungry.reduce((s, t) => s + weights[t], 0);
    this.allocation = new Map(
      TIERS.map((t) => [t, Math.floor(share.get(t)! + (hungry.includes(t) && hungryWeight > 0 ? (spare * weights[t]) / hungryWeight : 0))]),
    );
  }
}
