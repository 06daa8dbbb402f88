// The in-memory limiter: token buckets and calendar windows, all checked before any is spent, so a denied
// request costs nothing. Day and month counts start from the store and are flushed back in batches.
import type { LimitItem } from './limits.js';
import { windowOf } from './windows.js';

export interface ItemState {
  item: LimitItem;
  /** What is left after this request (or now, if it was denied). */
  remaining: number;
  /** Seconds until the limit is whole again (window end; bucket refilled). */
  reset: number;
}

export interface QuotaResult {
  allowed: boolean;
  states: ItemState[];
  /** The limit that denied, and when to retry (seconds). */
  exceeded?: ItemState;
  retryAfter?: number;
}

export interface Limiter {
  /**
   * Checks every item and spends on all or none; `spend` false only looks (an explanation must not cost quota).
   * `amounts`: what each item costs (tokens, nano-dollars), 1 where not given.
   */
  take(items: LimitItem[], now: number, spend?: boolean, amounts?: readonly number[], hold?: TokenHold): QuotaResult | Promise<QuotaResult>;
}

/** A token reservation to hold with the spending, atomically where the limiter can (Redis): items from `first` on. */
export interface TokenHold {
  id: string;
  first: number;
  ttlMs: number;
  /** Whose it is (tenant, user, key, model), for a usage report that names only the decision. */
  owner: ReservationOwner;
}

export interface ReservationOwner {
  tenant: string;
  user: string | null;
  api_key_id: string | null;
  model: string | null;
}

/** Persisted counts for day and month windows (the store's usage table behind it): SQLite at once, PostgreSQL later. */
export interface UsageSource {
  load(tenant: string, subject: string, window: 'day' | 'month', start: number): number | Promise<number>;
}

export interface UsageDelta {
  tenant: string;
  subject: string;
  window: 'day' | 'month';
  start: number;
  count: number;
}

interface Bucket {
  tokens: number;
  ts: number;
  cap: number;
  rate: number;
}
interface Counter {
  start: number;
  end: number;
  count: number;
  /** This window's entry in the usage not yet flushed, while `deltas` is the map it is in (see recordDelta). */
  delta?: UsageDelta;
  deltas?: Map<string, UsageDelta>;
}

/**
 * An item's bucket or counter as this limiter last found it, kept on the item (cached per caller, quota/service.ts)
 * under a symbol: valid while no entry of the maps has been dropped or replaced since (`epoch`). A check then
 * looks up no string key: those lookups, several per check in maps of thousands of entries, were 2.6 µs of a
 * check under load (bench/README.md).
 */
const SLOT = Symbol('limiter slot');
interface Slot {
  owner: LocalLimiter;
  epoch: number;
  state: Bucket | Counter;
}
type Slotted = LimitItem & { [SLOT]?: Slot };

export class LocalLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly counters = new Map<string, Counter>();
  private deltas = new Map<string, UsageDelta>();
  /** Moves on whenever an entry of `buckets` or `counters` is dropped or replaced (see SLOT). */
  private epoch = 0;

  private slotted<T extends Bucket | Counter>(it: Slotted): T | undefined {
    const s = it[SLOT];
    return s && s.owner === this && s.epoch === this.epoch ? (s.state as T) : undefined;
  }

  private keep(it: Slotted, state: Bucket | Counter): void {
    it[SLOT] = { owner: this, epoch: this.epoch, state };
  }

  constructor(private readonly usage?: UsageSource) {}

  take(items: LimitItem[], now: number, spend = true, amounts?: readonly number[]): QuotaResult {
    const states: ItemState[] = [];
    let exceeded: ItemState | undefined;
    let retryAfter = 0;
    // 1. Look, without spending.
    const buckets: (Bucket | undefined)[] = [];
    const counters: (Counter | undefined)[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.kind === 'bucket') {
        const b = this.bucket(it, now);
        buckets[i] = b;
        if (b.tokens < 1) {
          const wait = Math.ceil((1 - b.tokens) / it.rate!);
          const st = { item: it, remaining: 0, reset: Math.ceil((it.limit - b.tokens) / it.rate!) };
          if (!exceeded || wait > retryAfter) {
            exceeded = st;
            retryAfter = wait;
          }
        }
      } else {
        const c = this.counter(it, now);
        counters[i] = c;
        if (c.count + (amounts?.[i] ?? 1) > it.limit) {
          const wait = Math.ceil((c.end - now) / 1000);
          const st = { item: it, remaining: 0, reset: wait };
          if (!exceeded || wait > retryAfter) {
            exceeded = st;
            retryAfter = wait;
          }
        }
      }
    }
    // 2. Spend on every limit, or on none.
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.kind === 'bucket') {
        const b = buckets[i]!;
        if (!exceeded && spend) b.tokens -= 1;
        states.push({ item: it, remaining: Math.max(0, Math.floor(b.tokens)), reset: Math.ceil((it.limit - b.tokens) / it.rate!) });
      } else {
        const c = counters[i]!;
        if (!exceeded && spend) {
          const n = amounts?.[i] ?? 1;
          c.count += n;
          if (it.kind !== 'minute') this.countUsage(c, it, n);
        }
        states.push({ item: it, remaining: Math.max(0, it.limit - c.count), reset: Math.ceil((c.end - now) / 1000) });
      }
    }
    return exceeded ? { allowed: false, states, exceeded, retryAfter: Math.max(1, retryAfter) } : { allowed: true, states };
  }

  private bucket(it: LimitItem, now: number): Bucket {
    let b = this.slotted<Bucket>(it);
    if (!b) {
      b = this.buckets.get(it.key);
      if (b) this.keep(it, b);
    }
    if (!b) {
      b = { tokens: it.limit, ts: now, cap: it.limit, rate: it.rate! };
      this.buckets.set(it.key, b);
      this.keep(it, b);
    } else {
      // A changed limit applies at once: the new rate from now on, never more tokens than the new capacity.
      b.cap = it.limit;
      b.rate = it.rate!;
      b.tokens = Math.min(it.limit, b.tokens + ((now - b.ts) / 1000) * it.rate!);
      b.ts = now;
    }
    return b;
  }

  private counter(it: LimitItem, now: number): Counter {
    let c = this.slotted<Counter>(it);
    if (!c) {
      c = this.counters.get(it.key);
      if (c) this.keep(it, c);
    }
    if (!c || now >= c.end || now < c.start) {
      // Replaced: every item's slot is looked up again.
      if (c) this.epoch++;
      const w = windowOf(it.kind as 'minute' | 'day' | 'month', now, it.anchorDay);
      const stored = it.kind === 'minute' || !this.usage ? 0 : this.usage.load(it.tenant, it.subject, it.kind as 'day' | 'month', w.start);
      const counter: Counter = { start: w.start, end: w.end, count: (typeof stored === 'number' ? stored : 0) + this.pendingDelta(it, w.start) };
      // From an asynchronous store the fleet's count arrives a moment later and is added then; until it does, this
      // window counts from what this process has seen (a failed load leaves it so).
      if (stored instanceof Promise) stored.then((n) => void (this.counters.get(it.key) === counter && (counter.count += n)), () => undefined);
      c = counter;
      this.counters.set(it.key, c);
      this.keep(it, c);
    }
    return c;
  }

  private deltaKey(it: LimitItem, window: string, start: number): string {
    return `${it.tenant}\u0000${it.subject}\u0000${window}\u0000${start}`;
  }

  private pendingDelta(it: LimitItem, start: number): number {
    return it.kind === 'minute' ? 0 : (this.deltas.get(this.deltaKey(it, it.kind, start))?.count ?? 0);
  }

  private recordDelta(it: LimitItem, window: 'day' | 'month', start: number, n = 1): UsageDelta {
    const k = this.deltaKey(it, window, start);
    let d = this.deltas.get(k);
    if (d) d.count += n;
    else this.deltas.set(k, (d = { tenant: it.tenant, subject: it.subject, window, start, count: n }));
    return d;
  }

  /** An allowed request's use of a day or month window: the counter keeps its entry until the next flush takes the
   *  map, instead of a key built and looked up per request. */
  private countUsage(c: Counter, it: LimitItem, n = 1): void {
    if (c.delta && c.deltas === this.deltas) c.delta.count += n;
    else {
      c.delta = this.recordDelta(it, it.kind as 'day' | 'month', c.start, n);
      c.deltas = this.deltas;
    }
  }

  /**
   * Corrects what was spent at `at` on window items (a token reservation settled, or expired): `deltas[i]` more (or,
   * when negative, less) on item i, if its window then is still current; never below zero. Nothing is refused.
   */
  adjust(items: readonly LimitItem[], deltas: readonly number[], at: number, now: number): void {
    items.forEach((it, i) => {
      const n = deltas[i] ?? 0;
      if (n === 0 || it.kind === 'bucket' || now >= windowOf(it.kind, at, it.anchorDay).end) return;
      const c = this.counter(it, now);
      const applied = Math.max(-c.count, n);
      c.count += applied;
      if (it.kind !== 'minute' && applied !== 0) this.countUsage(c, it, applied);
    });
  }

  /** Counts an allowed request's day/month items for the usage report, without touching the local counters
   * (the Redis limiter counts in Redis and reports usage here). */
  record(items: LimitItem[], now: number): void {
    for (const it of items) if (it.kind === 'day' || it.kind === 'month') this.recordDelta(it, it.kind, windowOf(it.kind, now, it.anchorDay).start);
  }

  /** Hands over the counts since the last call (for the store) and forgets idle state. */
  drain(now: number): UsageDelta[] {
    const out = [...this.deltas.values()];
    this.deltas = new Map();
    this.epoch++;
    for (const [k, c] of this.counters) if (c.end <= now) this.counters.delete(k);
    // A bucket that has refilled is the same as no bucket: forget it.
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.ts) / 1000) * b.rate >= b.cap) this.buckets.delete(k);
    return out;
  }

  /** Puts back counts the store could not take, so they are written next time. */
  restore(deltas: UsageDelta[]): void {
    for (const d of deltas) {
      const k = `${d.tenant}\u0000${d.subject}\u0000${d.window}\u0000${d.start}`;
      const cur = this.deltas.get(k);
      if (cur) cur.count += d.count;
      else this.deltas.set(k, { ...d });
    }
  }

}
