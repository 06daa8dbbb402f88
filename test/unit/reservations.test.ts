// Weighted spending on the local counters, and token reservations: held, settled (given back or charged), expired;
// a correction never reaches into a window that has ended, nor below zero.
import { describe, expect, it } from 'vitest';
import { LocalLimiter } from '../../src/quota/limiter.js';
import { Reservations } from '../../src/quota/reservations.js';
import { tokenItemsFor, amountOf } from '../../src/quota/limits.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 10);
const OWNER = { tenant: 'acme', user: 'alice', api_key_id: null, model: 'gpt-4o-mini' };

describe('token budgets on the local counters', () => {
  it('makes one item per limit, each on a counter of its own, the cost in nano-dollars', () => {
    const items = tokenItemsFor('acme', 'tenant', { tokens_per_minute: 100, input_tokens_per_day: 50, output_tokens_per_month: 7, cost_per_month: 2.5 });
    expect(items.map((i) => [i.name, i.subject, i.kind, i.limit, i.unit])).toEqual([
      ['tenant-input-tokens-day', 'tokens:input', 'day', 50, 'input'],
      ['tenant-output-tokens-month', 'tokens:output', 'month', 7, 'output'],
      ['tenant-tokens-minute', 'tokens:total', 'minute', 100, 'total'],
      ['tenant-cost-month', 'tokens:cost', 'month', 2_500_000_000, 'cost'],
    ]);
    expect(items.map((i) => amountOf(i, { input: 3, output: 4, costNanoUsd: 9 }))).toEqual([3, 4, 7, 9]);
  });

  it('spends the amounts on all or none; settles the difference; expires what is never settled', () => {
    const limiter = new LocalLimiter();
    const items = tokenItemsFor('acme', 'tenant', { tokens_per_minute: 100 });
    let now = T0;
    const res = new Reservations(limiter, 2000, () => now);
    try {
      expect(limiter.take(items, now, true, [70]).allowed).toBe(true);
      res.hold('d1', items, [70], now, OWNER);
      expect(limiter.take(items, now, true, [40]).allowed).toBe(false);
      expect(res.owner('d1')).toEqual(OWNER);
      expect(res.settle('d1', { input: 5, output: 5, costNanoUsd: 0 })).toEqual(OWNER);
      expect(res.settle('d1', { input: 5, output: 5, costNanoUsd: 0 })).toBeUndefined();
      expect(limiter.take(items, now, false).states[0]!.remaining).toBe(90);
      // Over the reservation: the rest is charged.
      limiter.take(items, now, true, [10]);
      res.hold('d2', items, [10], now, OWNER);
      res.settle('d2', { input: 30, output: 0, costNanoUsd: 0 });
      expect(limiter.take(items, now, false).states[0]!.remaining).toBe(60);
      // Never settled: released after its time.
      limiter.take(items, now, true, [50]);
      res.hold('d3', items, [50], now, OWNER);
      now += 1999;
      res.sweep();
      expect(res.size).toBe(1);
      now += 1;
      res.sweep();
      expect(res.size).toBe(0);
      expect(limiter.take(items, now, false).states[0]!.remaining).toBe(60);
    } finally {
      res.close();
    }
  });

  it('a settlement after its window ended changes nothing in the new one, and never goes below zero', () => {
    const limiter = new LocalLimiter();
    const items = tokenItemsFor('acme', 'tenant', { tokens_per_minute: 100 });
    const res = new Reservations(limiter, 600_000, () => T0 + 60_000);
    try {
      limiter.take(items, T0, true, [80]);
      res.hold('d1', items, [80], T0, OWNER);
      limiter.take(items, T0 + 60_000, true, [10]);
      res.settle('d1', { input: 0, output: 0, costNanoUsd: 0 });
      expect(limiter.take(items, T0 + 60_000, false).states[0]!.remaining).toBe(90);
      limiter.adjust(items, [-500], T0 + 60_000, T0 + 60_000);
      expect(limiter.take(items, T0 + 60_000, false).states[0]!.remaining).toBe(100);
    } finally {
      res.close();
    }
  });
});
