// Limiters with an injected clock: counts and times, never wall-clock timings.
import { describe, expect, it } from 'vitest';
import { dayWindow, minuteWindow, monthWindow } from '../../src/quota/windows.js';
import { LocalLimiter } from '../../src/quota/limiter.js';
import { itemsFor, overlay } from '../../src/quota/limits.js';
import { fieldPartsOf, fieldsOf } from '../../src/quota/headers.js';
import { FairShare } from '../../src/quota/fair-share.js';
import type { Tier } from '../../src/core/tenants.js';
import type { ItemState } from '../../src/quota/limiter.js';
import type { LimitItem } from '../../src/quota/limits.js';

const rateLimitFields = (items: LimitItem[], states: ItemState[], now: number) => fieldsOf(fieldPartsOf(items), states, now);

const T0 = Date.UTC(2026, 10, 23, 12, 0, 30); // 12:00:30 UTC, Nov 23

describe('windows', () => {
  it('minute and day windows are UTC-aligned', () => {
    expect(minuteWindow(T0)).toEqual({ start: Date.UTC(2026, 10, 23, 12, 0), end: Date.UTC(2026, 10, 23, 12, 1) });
    expect(dayWindow(T0)).toEqual({ start: Date.UTC(2026, 10, 23), end: Date.UTC(2026, 10, 24) });
  });

  it('month windows follow the calendar, or the billing anchor day', () => {
    expect(monthWindow(T0)).toEqual({ start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) });
    expect(monthWindow(T0, 15)).toEqual({ start: Date.UTC(2026, 10, 15), end: Date.UTC(2026, 11, 15) });
    expect(monthWindow(T0, 28)).toEqual({ start: Date.UTC(2026, 9, 28), end: Date.UTC(2026, 10, 28) });
    expect(monthWindow(Date.UTC(2027, 0, 3), 10)).toEqual({ start: Date.UTC(2026, 11, 10), end: Date.UTC(2027, 0, 10) });
  });
});

describe('LocalLimiter', () => {
  const scope = (limits: Parameters<typeof overlay>[0], subject = 'user:a') => itemsFor([{ tenant: 'acme', subject, label: 'user', limits }]);

  // A caller's items are rebuilt when data changes, while arrays built before may still be in use: two item objects
  // with one key must count on one bucket or counter, also after the limiter dropped or replaced it.
  it.each([
    ['bucket, after an idle one was dropped', { burst: 2, rate: 0.001 }, (l: LocalLimiter) => (l.drain(T0 + 3_600_000), T0 + 3_600_000)],
    ['counter, after its window rolled over', { per_minute: 2 }, () => T0 + 60_000],
  ] as const)('items with the same key share one %s', (_what, limits, later) => {
    const l = new LocalLimiter();
    const [a, b] = [scope(limits), scope(limits)];
    expect(l.take(a, T0).allowed).toBe(true);
    const t1 = later(l);
    expect([b, a, b, a].map((items) => l.take(items, t1).allowed)).toEqual([true, true, false, false]);
  });

  // drain frees idle rows and reuses them for other keys: limits whose rows were found before must find theirs again.
  it("a limit does not count on another key's state after drain reused its row", () => {
    const l = new LocalLimiter();
    const a = scope({ burst: 2, rate: 0.001 }, 'user:a');
    const b = scope({ burst: 2, rate: 0.001 }, 'user:b');
    expect(l.take(a, T0).allowed).toBe(true);
    const later = T0 + 3_600_000; // a's bucket has refilled: forgotten
    l.drain(later);
    expect([b, b, b].map((items) => l.take(items, later).allowed)).toEqual([true, true, false]);
    expect([a, a, a].map((items) => l.take(items, later).allowed)).toEqual([true, true, false]);
  });

  it("a count the store loads late is not added to the window or key that took the counter's place", async () => {
    let release: (n: number) => void = () => undefined;
    const l = new LocalLimiter({ load: () => new Promise<number>((resolve) => (release = resolve)) });
    const day = scope({ per_day: 10 }, 'user:a');
    expect(l.take(day, T0).allowed).toBe(true);
    const first = release;
    const tomorrow = T0 + 86_400_000;
    l.drain(tomorrow); // a's day ended: its counter forgotten
    const other = scope({ per_day: 10 }, 'user:b');
    expect(l.take(other, tomorrow).allowed).toBe(true);
    first(100); // a's count for yesterday arrives
    await Promise.resolve();
    expect(l.take(other, tomorrow).states[0]!.remaining).toBe(8);
    release(5); // b's count for today arrives: it is b's
    await Promise.resolve();
    expect(l.take(other, tomorrow).states[0]!.remaining).toBe(2);
  });

  it('token bucket: burst, then the refill rate', () => {
    const l = new LocalLimiter();
    const items = scope({ burst: 3, rate: 1 });
    const results = [0, 0, 0, 0].map(() => l.take(items, T0).allowed);
    expect(results).toEqual([true, true, true, false]);
    const denied = l.take(items, T0);
    expect(denied).toMatchObject({ allowed: false, retryAfter: 1, exceeded: { item: { name: 'user-burst' } } });
    expect(l.take(items, T0 + 999).allowed).toBe(false);
    expect(l.take(items, T0 + 1000).allowed).toBe(true);
    expect(l.take(items, T0 + 1000).allowed).toBe(false);
  });

  it('minute window: resets at the minute boundary, Retry-After until then', () => {
    const l = new LocalLimiter();
    const items = scope({ per_minute: 2 });
    expect([l.take(items, T0).allowed, l.take(items, T0).allowed, l.take(items, T0).allowed]).toEqual([true, true, false]);
    expect(l.take(items, T0).retryAfter).toBe(30);
    expect(l.take(items, T0 + 30_000).allowed).toBe(true);
  });

  it('stacked limits: the strictest wins, and a denied request spends nothing', () => {
    const l = new LocalLimiter();
    const items = [...itemsFor([{ tenant: 'acme', subject: '*', label: 'tenant', limits: { per_minute: 5 } }]), ...scope({ per_minute: 2 })];
    expect([1, 2, 3].map(() => l.take(items, T0).allowed)).toEqual([true, true, false]);
    const other = [...itemsFor([{ tenant: 'acme', subject: '*', label: 'tenant', limits: { per_minute: 5 } }]), ...scope({ per_minute: 2 }, 'user:b')];
    // user a's denied attempt did not spend the tenant's minute: 3 remain for user b (2 allowed by b's own limit).
    const r = l.take(other, T0);
    expect(r.allowed).toBe(true);
    expect(r.states.map((s) => [s.item.name, s.remaining])).toEqual([
      ['tenant-minute', 2],
      ['user-minute', 1],
    ]);
  });

  it('day and month counts start from the store and are handed over for flushing', () => {
    const start = dayWindow(T0).start;
    const stored = { day: 8, month: 100 };
    const l = new LocalLimiter({ load: (_t, _s, w, s) => (w === 'day' && s === start ? stored.day : w === 'month' ? stored.month : 0) });
    const items = scope({ per_day: 10, per_month: 1000 });
    expect([1, 2, 3].map(() => l.take(items, T0).allowed)).toEqual([true, true, false]);
    const deltas = l.drain(T0);
    expect(deltas).toEqual([
      { tenant: 'acme', subject: 'user:a', window: 'day', start, count: 2 },
      { tenant: 'acme', subject: 'user:a', window: 'month', start: monthWindow(T0).start, count: 2 },
    ]);
    expect(l.drain(T0)).toEqual([]);
    l.restore(deltas);
    expect(l.drain(T0).map((d) => d.count)).toEqual([2, 2]);
  });

  it('usage counted between flushes goes to the next flush, with what a failed flush put back', () => {
    const l = new LocalLimiter();
    const items = scope({ per_day: 100 });
    const take = (n: number) => Array.from({ length: n }, () => l.take(items, T0).allowed);
    take(3);
    const first = l.drain(T0);
    expect(first.map((d) => d.count)).toEqual([3]);
    take(2);
    l.restore(first); // the first flush failed: its count comes back beside the new ones
    take(1);
    expect(l.drain(T0).map((d) => d.count)).toEqual([6]);
    take(1);
    expect(l.drain(T0).map((d) => d.count)).toEqual([1]);
  });

  it('a changed limit applies at once', () => {
    const l = new LocalLimiter();
    expect(l.take(scope({ burst: 10, rate: 1 }), T0).allowed).toBe(true);
    const tighter = scope({ burst: 1, rate: 1 });
    expect(l.take(tighter, T0).allowed).toBe(true);
    expect(l.take(tighter, T0).allowed).toBe(false);
  });

  it('RateLimit fields: one policy item per limit', () => {
    const l = new LocalLimiter();
    const items = [...itemsFor([{ tenant: 'acme', subject: '*', label: 'tenant', limits: { per_minute: 60, burst: 10, rate: 5 } }])];
    const r = l.take(items, T0);
    expect(rateLimitFields(items, r.states, T0)).toEqual({
      'ratelimit-policy': '"tenant-burst";q=10;w=2, "tenant-minute";q=60;w=60',
      ratelimit: '"tenant-burst";r=9;t=1, "tenant-minute";r=59;t=30',
    });
  });

  it('RateLimit fields are visible ASCII whatever a policy names its bucket', () => {
    const items = itemsFor([{ tenant: 'acme', subject: 'bucket:x', label: 'bücket\n"x"', limits: { per_minute: 5 } }]);
    const r = new LocalLimiter().take(items, T0);
    expect(rateLimitFields(items, r.states, T0)).toEqual({
      'ratelimit-policy': '"b%C3%BCcket%0A"x"-minute";q=5;w=60',
      ratelimit: '"b%C3%BCcket%0A"x"-minute";r=4;t=30',
    });
  });

  it('RateLimit field: every limit in order, large numbers whole', () => {
    const items = itemsFor([
      { tenant: 'acme', subject: '*', label: 'tenant', limits: { per_day: 1_000_000_000_006, burst: 1000, rate: 10 } },
      { tenant: 'acme', subject: 'user:a', label: 'user', limits: { per_minute: 7 } },
    ]);
    const l = new LocalLimiter();
    const r = l.take(items, T0);
    expect(rateLimitFields(items, r.states, T0).ratelimit).toBe('"tenant-burst";r=999;t=1, "tenant-day";r=1000000000005;t=43170, "user-minute";r=6;t=30');
  });

  it("RateLimit-Policy follows a month window's length as the clock moves, forward and back, for the same items", () => {
    const items = itemsFor([{ tenant: 'acme', subject: '*', label: 'tenant', limits: { per_month: 1000 } }]);
    const policyAt = (iso: string) => {
      const now = Date.parse(iso);
      return rateLimitFields(items, new LocalLimiter().take(items, now, false).states, now)['ratelimit-policy'];
    };
    expect(policyAt('2027-02-10T00:00:00Z')).toBe(`"tenant-month";q=1000;w=${28 * 86400}`);
    expect(policyAt('2027-03-10T00:00:00Z')).toBe(`"tenant-month";q=1000;w=${31 * 86400}`);
    expect(policyAt('2027-02-20T00:00:00Z')).toBe(`"tenant-month";q=1000;w=${28 * 86400}`);
  });

  it('overlay: overrides win field by field', () => {
    expect(overlay({ per_minute: 60, per_day: 1000 }, { per_minute: 5, per_day: null })).toEqual({ per_minute: 5, per_day: 1000 });
  });
});

describe('FairShare (simulated multi-tenant load)', () => {
  const weights = { enterprise: 0.5, premium: 0.3, basic: 0.15, free: 0.05 };
  const tenants: [string, Tier][] = [
    ...['e1', 'e2', 'e3', 'e4'].map((t) => [t, 'enterprise'] as [string, Tier]),
    ...['p1', 'p2', 'p3'].map((t) => [t, 'premium'] as [string, Tier]),
    ...['b1', 'b2'].map((t) => [t, 'basic'] as [string, Tier]),
    ...Array.from({ length: 10 }, (_, i) => [`f${i}`, 'free'] as [string, Tier]),
  ];

  /** `perSecond` requests from each listed tenant each second, interleaved; counts admitted per tier and tenant. */
  function simulate(fs: FairShare, demand: Record<string, number>, seconds: number) {
    const byTier: Record<string, number> = {};
    const byTenantMax: Record<string, number> = {};
    for (let s = 0; s < seconds; s++) {
      const perTenant: Record<string, number> = {};
      const queue: [string, Tier][] = [];
      const max = Math.max(...Object.values(demand));
      for (let i = 0; i < max; i++) for (const [t, tier] of tenants) if ((demand[t] ?? 0) > i) queue.push([t, tier]);
      queue.forEach(([t, tier], i) => {
        const now = T0 + s * 1000 + Math.floor((i * 1000) / queue.length);
        if (fs.admit(t, tier, now).allowed) {
          if (s > 0) byTier[tier] = (byTier[tier] ?? 0) + 1;
          perTenant[t] = (perTenant[t] ?? 0) + 1;
        }
      });
      for (const [t, n] of Object.entries(perTenant)) byTenantMax[t] = Math.max(byTenantMax[t] ?? 0, n);
    }
    return { byTier, byTenantMax };
  }

  it('holds each tier to its share when every tier wants more than capacity', () => {
    const fs = new FairShare({ requests_per_second: 1000, tier_weights: weights, tenant_cap: 0.2 });
    const demand = Object.fromEntries(tenants.map(([t]) => [t, 400]));
    const { byTier, byTenantMax } = simulate(fs, demand, 6);
    const seconds = 5;
    expect(byTier.enterprise! / seconds).toBeGreaterThanOrEqual(480);
    expect(byTier.enterprise! / seconds).toBeLessThanOrEqual(520);
    expect(byTier.premium! / seconds).toBeGreaterThanOrEqual(280);
    expect(byTier.premium! / seconds).toBeLessThanOrEqual(320);
    expect(byTier.basic! / seconds).toBeGreaterThanOrEqual(140);
    expect(byTier.free! / seconds).toBeGreaterThanOrEqual(45);
    expect(byTier.free! / seconds).toBeLessThanOrEqual(60);
    for (const n of Object.values(byTenantMax)) expect(n).toBeLessThanOrEqual(200);
  });

  it('lends unused share: an idle tier\'s capacity goes to the busy ones', () => {
    const fs = new FairShare({ requests_per_second: 1000, tier_weights: weights, tenant_cap: 0.2 });
    // Only free tenants (10 × 150 rps) and premium (3 × 150) are busy; enterprise and basic are idle.
    const demand = Object.fromEntries(tenants.filter(([, tier]) => tier === 'free' || tier === 'premium').map(([t]) => [t, 150]));
    const { byTier } = simulate(fs, demand, 6);
    // premium wants 450 > its 300 share; free wants 1500 > its 50: the idle 650 is lent by weight (30:5).
    expect(byTier.premium! / 5).toBeGreaterThan(400);
    expect(byTier.free! / 5).toBeGreaterThan(100);
    expect((byTier.premium! + byTier.free!) / 5).toBeLessThanOrEqual(1000);
  });

  it('no tenant exceeds its cap even when alone', () => {
    const fs = new FairShare({ requests_per_second: 100, tier_weights: weights, tenant_cap: 0.2 });
    let allowed = 0;
    for (let i = 0; i < 500; i++) if (fs.admit('e1', 'enterprise', T0 + i).allowed) allowed++;
    expect(allowed).toBe(20);
    expect(fs.admit('e1', 'enterprise', T0 + 600)).toMatchObject({ allowed: false, reason: 'tenant e1 is at its cap of 20 requests per second' });
  });
});
