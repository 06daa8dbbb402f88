// The quota service through its interfaces, with fakes: a Limiter that records what it is asked to take and an
// OverrideSource; what limits stack for whom, the 429 and its fields, and the failure mode.
import { describe, expect, it } from 'vitest';
import { QuotaService, type OverrideSource } from '../../src/quota/service.js';
import type { Limiter, QuotaResult } from '../../src/quota/limiter.js';
import type { LimitItem } from '../../src/quota/limits.js';
import { parseConfig } from '../../src/core/config.js';
import { ANONYMOUS, type Decision, type Identity } from '../../src/core/types.js';
import type { Tenant } from '../../src/core/tenants.js';
import type { QuotaOverride } from '../../src/core/limits.js';

const NOW = Date.UTC(2026, 2, 20, 12, 0, 0);
const acme: Tenant = { id: 'acme', name: 'Acme', tier: 'free', status: 'active', upstream: null, billing_anchor_day: null, created_at: '', updated_at: '' };
const alice: Identity = { ...ANONYMOUS, kind: 'jwt', subject: 'alice', tenant_id: 'acme' };
const allow: Decision = { allowed: true };

class FakeLimiter implements Limiter {
  taken: LimitItem[][] = [];
  constructor(private readonly answer: (items: LimitItem[]) => QuotaResult | Promise<QuotaResult> = (items) => ({ allowed: true, states: items.map((item) => ({ item, remaining: item.limit - 1, reset: 60 })) })) {}
  take(items: LimitItem[]) {
    this.taken.push(items);
    return this.answer(items);
  }
}

const overrides = (rows: Partial<QuotaOverride>[] = []): OverrideSource & { reads: number } => {
  const src = { reads: 0, tokens: () => [],
    list: (_t: string) => (src.reads++, rows.map((r) => ({ tenant_id: 'acme', scope: 'tenant', scope_id: 'acme', updated_at: '', ...r }) as QuotaOverride)) };
  return src;
};

const service = (limiter: Limiter, src = overrides()) => new QuotaService(parseConfig({}), src, limiter, () => NOW);
const names = (items: LimitItem[]) => items.map((i) => `${i.name}=${i.limit}`);

describe('QuotaService', () => {
  it("stacks the tenant's limits (its tier, overridden) and the caller's; a policy bucket on top", async () => {
    const limiter = new FakeLimiter();
    const q = service(limiter, overrides([{ per_minute: 7 }]));
    expect(q.enforce(acme, alice, null, allow)).toMatchObject({ allowed: true });
    expect(names(limiter.taken[0]!)).toEqual(['tenant-burst=10', 'tenant-minute=7', 'tenant-day=1000', 'tenant-month=20000', 'user-burst=10', 'user-minute=60', 'user-day=1000', 'user-month=20000']);
    q.enforce(acme, alice, null, { allowed: true, quota: { bucket: 'gpu', limits: { per_minute: 3 } } });
    expect(names(limiter.taken[1]!).slice(-1)).toEqual(['gpu-minute=3']);
  });

  it("a policy's bucket and tenant rules' limits stack into the same array while they are the same objects (one limiter plan, not one per check)", () => {
    const limiter = new FakeLimiter();
    const q = service(limiter);
    const gpu: Decision = Object.freeze({ allowed: true, quota: { bucket: 'gpu', limits: { per_minute: 3 } } });
    const rules = [{ rule: 'r1', limits: { per_minute: 5 } }];
    for (let i = 0; i < 2; i++) q.enforce(acme, alice, null, gpu);
    for (let i = 0; i < 2; i++) q.enforce(acme, alice, null, gpu, [...rules]);
    for (let i = 0; i < 2; i++) q.enforce(acme, alice, null, allow, [...rules]);
    const [a, b, c, d, e, f] = limiter.taken;
    expect(b).toBe(a);
    expect(d).toBe(c);
    expect(f).toBe(e);
    expect(names(c!).slice(-2)).toEqual(['gpu-minute=3', 'rule.r1-minute=5']);
    expect(names(e!).slice(-1)).toEqual(['rule.r1-minute=5']);
    // Another decision with the same bucket: the same limits, counted on the same keys.
    q.enforce(acme, alice, null, { allowed: true, quota: { bucket: 'gpu', limits: { per_minute: 3 } } });
    expect(limiter.taken[6]!.map((i) => i.key)).toEqual(a!.map((i) => i.key));
    // Data changed: made again.
    q.invalidateTenant('acme');
    q.enforce(acme, alice, null, gpu);
    expect(limiter.taken[7]).not.toBe(a);
    expect(names(limiter.taken[7]!)).toEqual(names(a!));
  });

  it('says which callers have token budgets (so only their requests read the body for a reservation)', () => {
    const tokens = [{ tenant_id: 'acme', scope: 'group' as const, scope_id: 'ml', limits: { tokens_per_minute: 50 }, updated_at: '' }];
    const q = new QuotaService(parseConfig({ tiers: { premium: { tokens_per_day: 1000 } } }), { list: () => [], tokens: (t) => (t === 'acme' ? tokens : []) }, new FakeLimiter(), () => NOW);
    const premium: Tenant = { ...acme, id: 'globex', tier: 'premium' };
    const inMl = { groups: [{ id: 'ml' }] } as never;
    // Budgets off (no reservations can be held): nobody reserves.
    expect(q.hasTokenBudgets(premium, alice, null)).toBe(false);
    q.budgets = { ttlMs: 1000, settle: () => undefined, owner: () => undefined };
    expect(q.hasTokenBudgets(premium, alice, null)).toBe(true);
    expect(q.hasTokenBudgets(acme, alice, null)).toBe(false);
    expect(q.hasTokenBudgets(acme, alice, inMl)).toBe(true);
  });

  it('reads overrides once per tenant until invalidated', () => {
    const src = overrides();
    const q = service(new FakeLimiter(), src);
    q.enforce(acme, alice, null, allow);
    q.enforce(acme, alice, null, allow);
    expect(src.reads).toBe(1);
    q.invalidate();
    q.enforce(acme, alice, null, allow);
    expect(src.reads).toBe(2);
  });

  it('a limit the limiter refuses is a 429 quota_exceeded naming it, with retry-after and the RateLimit fields', () => {
    const q = service(new FakeLimiter((items) => ({ allowed: false, states: items.map((item) => ({ item, remaining: 0, reset: 30 })), exceeded: { item: items[1]!, remaining: 0, reset: 30 }, retryAfter: 30 })));
    const r = q.enforce(acme, alice, null, allow);
    expect(r).toMatchObject({ allowed: false, http_status: 429, code: 'quota_exceeded', reason: 'quota exceeded: the tenant-minute limit of 60 requests per minute' });
    if (!(r instanceof Promise) && !r.allowed) {
      expect(r.headers?.['retry-after']).toBe('30');
      expect(r.headers?.['ratelimit-policy']).toContain('"tenant-minute";q=60;w=60');
    }
  });

  it('a limiter that fails (Redis with fail_closed) is a 503 quota_unavailable', async () => {
    const q = service(new FakeLimiter(() => Promise.reject(new Error('down'))));
    expect(await q.enforce(acme, alice, null, allow)).toMatchObject({ allowed: false, http_status: 503, code: 'quota_unavailable' });
  });
});
