// The in-memory limiter: token buckets and calendar windows, all checked before any is spent, so a denied
// request costs nothing. Day and month counts start from the store and are flushed back in batches.
import type { ItemKind, LimitItem } from './limits.js';
import { windowOf, type WindowName } from './windows.js';

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

// Every bucket and counter is a row of numbers in one array, and each cached set of limits (a caller's, kept by the
// quota service) has a plan: its items' rows, kinds and limits in one typed array. A check then reads two small
// arrays and its rows, where an object per limit, its state and the link between them (three objects a limit, on
// the heap far apart) were as many cache misses: 3.3 µs of a check under load against 0.4 µs when hot
// (bench/README.md).
//   bucket:  tokens, when they were counted, its capacity, its rate (for drain)
//   counter: count, its window's start and end, this process's uses since the last drain (for the store)
const ROW = 4;
const TOKENS = 0;
const TS = 1;
const CAP = 2;
const RATE = 3;
const COUNT = 0;
const START = 1;
const END = 2;
const PENDING = 3;

// A plan's entry per item: its row, its kind, its limit and rate.
const SPEC = 4;
const KINDS: readonly ItemKind[] = ['bucket', 'minute', 'day', 'month'];
const BUCKET = 0;
const MINUTE = 1;

interface Plan {
  /** The limiter's epoch its rows were found in: rows are freed (and reused) only by drain, which moves it on. */
  epoch: number;
  spec: Float64Array;
}

export class LocalLimiter implements Limiter {
  private state = new Float64Array(ROW * 1024);
  /** Row by key, and the item each row was made for (its tenant, subject, kind, anchor day). */
  private readonly rows = new Map<string, number>();
  private items: (LimitItem | undefined)[] = [];
  /** Bumped when a row is freed, so that an async load that finds the row reused does not count into it. */
  private gens: number[] = [];
  private free: number[] = [];
  private used = 0;
  private readonly plans = new WeakMap<readonly LimitItem[], Plan>();
  private epoch = 0;
  /** Uses not in a row: of windows that ended before a drain, recorded for Redis, or put back after a failed flush. */
  private deltas = new Map<string, UsageDelta>();

  constructor(private readonly usage?: UsageSource) {}

  take(items: LimitItem[], now: number, spend = true, amounts?: readonly number[]): QuotaResult {
    const spec = this.planOf(items, now);
    const s = this.state;
    let exceeded = -1;
    let exceededReset = 0;
    let retryAfter = 0;
    // 1. Look, without spending.
    for (let i = 0, o = 0; i < items.length; i++, o += SPEC) {
      const r = spec[o]! * ROW;
      const limit = spec[o + 2]!;
      if (spec[o + 1] === BUCKET) {
        // A changed limit applies at once: the new rate from now on, never more tokens than the new capacity.
        const rate = spec[o + 3]!;
        const tokens = Math.min(limit, s[r + TOKENS]! + ((now - s[r + TS]!) / 1000) * rate);
        s[r + TOKENS] = tokens;
        s[r + TS] = now;
        s[r + CAP] = limit;
        s[r + RATE] = rate;
        if (tokens < 1) {
          const wait = Math.ceil((1 - tokens) / rate);
          if (exceeded < 0 || wait > retryAfter) {
            exceeded = i;
            exceededReset = Math.ceil((limit - tokens) / rate);
            retryAfter = wait;
          }
        }
      } else {
        this.current(items[i]!, r, now);
        if (s[r + COUNT]! + (amounts?.[i] ?? 1) > limit) {
          const wait = Math.ceil((s[r + END]! - now) / 1000);
          if (exceeded < 0 || wait > retryAfter) {
            exceeded = i;
            exceededReset = wait;
            retryAfter = wait;
          }
        }
      }
    }
    // 2. Spend on every limit, or on none.
    const states: ItemState[] = new Array(items.length);
    for (let i = 0, o = 0; i < items.length; i++, o += SPEC) {
      const r = spec[o]! * ROW;
      const limit = spec[o + 2]!;
      if (spec[o + 1] === BUCKET) {
        if (exceeded < 0 && spend) s[r + TOKENS]! -= 1;
        const tokens = s[r + TOKENS]!;
        states[i] = { item: items[i]!, remaining: Math.max(0, Math.floor(tokens)), reset: Math.ceil((limit - tokens) / spec[o + 3]!) };
      } else {
        if (exceeded < 0 && spend) {
          const n = amounts?.[i] ?? 1;
          s[r + COUNT]! += n;
          if (spec[o + 1] !== MINUTE) s[r + PENDING]! += n;
        }
        states[i] = { item: items[i]!, remaining: Math.max(0, limit - s[r + COUNT]!), reset: Math.ceil((s[r + END]! - now) / 1000) };
      }
    }
    // The limit that denied, with nothing left for this request (its state above keeps what is left).
    if (exceeded >= 0) return { allowed: false, states, exceeded: { item: items[exceeded]!, remaining: 0, reset: exceededReset }, retryAfter: Math.max(1, retryAfter) };
    return { allowed: true, states };
  }

  /** The plan of a set of items, its rows found again when drain has freed some since. */
  private planOf(items: readonly LimitItem[], now: number): Float64Array {
    let plan = this.plans.get(items);
    if (!plan) {
      const spec = new Float64Array(items.length * SPEC);
      items.forEach((it, i) => {
        spec[i * SPEC + 1] = KINDS.indexOf(it.kind);
        spec[i * SPEC + 2] = it.limit;
        spec[i * SPEC + 3] = it.rate ?? 0;
      });
      this.plans.set(items, (plan = { epoch: -1, spec }));
    }
    if (plan.epoch !== this.epoch) {
      for (let i = 0; i < items.length; i++) plan.spec[i * SPEC] = this.rowOf(items[i]!, now);
      plan.epoch = this.epoch;
    }
    return plan.spec;
  }

  /** The row of an item's key, made when it has none: a full bucket, or a counter whose window is to be found. */
  private rowOf(it: LimitItem, now: number): number {
    let row = this.rows.get(it.key);
    if (row !== undefined) return row;
    row = this.free.pop() ?? this.used++;
    if ((row + 1) * ROW > this.state.length) {
      const grown = new Float64Array(this.state.length * 2);
      grown.set(this.state);
      this.state = grown;
    }
    const r = row * ROW;
    // A counter's empty window (start = end = 0) rolls on its first use, which loads its count.
    if (it.kind === 'bucket') this.state.set([it.limit, now, it.limit, it.rate!], r);
    else this.state.fill(0, r, r + ROW);
    this.rows.set(it.key, row);
    this.items[row] = it;
    this.gens[row] ??= 0;
    return row;
  }

  /** A counter's row on its current window: rolled when `now` is outside the one it holds. */
  private current(it: LimitItem, r: number, now: number): void {
    if (now >= this.state[r + END]! || now < this.state[r + START]!) this.roll(it, r, now);
  }

  /**
   * A counter whose window ended (or has not begun): this process's uses of the old one kept for the store, the new
   * one's count loaded from the store (day and month) with what was not yet flushed.
   */
  private roll(it: LimitItem, r: number, now: number): void {
    const s = this.state;
    if (s[r + PENDING] !== 0) this.addDelta(it, it.kind as 'day' | 'month', s[r + START]!, s[r + PENDING]!);
    const w = windowOf(it.kind as WindowName, now, it.anchorDay);
    const stored = it.kind === 'minute' || !this.usage ? 0 : this.usage.load(it.tenant, it.subject, it.kind as 'day' | 'month', w.start);
    s[r + COUNT] = (typeof stored === 'number' ? stored : 0) + this.pendingDelta(it, w.start);
    s[r + START] = w.start;
    s[r + END] = w.end;
    s[r + PENDING] = 0;
    // From an asynchronous store the fleet's count arrives a moment later and is added then; until it does, this
    // window counts from what this process has seen (a failed load leaves it so).
    if (stored instanceof Promise) {
      const row = r / ROW;
      const gen = this.gens[row];
      stored.then((n) => void (this.gens[row] === gen && this.state[r + START] === w.start && (this.state[r + COUNT]! += n)), () => undefined);
    }
  }

  private deltaKey(tenant: string, subject: string, window: string, start: number): string {
    return `${tenant}\u0000${subject}\u0000${window}\u0000${start}`;
  }

  private pendingDelta(it: LimitItem, start: number): number {
    return it.kind === 'minute' ? 0 : (this.deltas.get(this.deltaKey(it.tenant, it.subject, it.kind, start))?.count ?? 0);
  }

  private addDelta(it: Pick<LimitItem, 'tenant' | 'subject'>, window: 'day' | 'month', start: number, n: number): void {
    const k = this.deltaKey(it.tenant, it.subject, window, start);
    const d = this.deltas.get(k);
    if (d) d.count += n;
    else this.deltas.set(k, { tenant: it.tenant, subject: it.subject, window, start, count: n });
  }

  /**
   * Corrects what was spent at `at` on window items (a token reservation settled, or expired): `deltas[i]` more (or,
   * when negative, less) on item i, if its window then is still current; never below zero. Nothing is refused.
   */
  adjust(items: readonly LimitItem[], deltas: readonly number[], at: number, now: number): void {
    items.forEach((it, i) => {
      const n = deltas[i] ?? 0;
      if (n === 0 || it.kind === 'bucket' || now >= windowOf(it.kind, at, it.anchorDay).end) return;
      const r = this.rowOf(it, now) * ROW;
      this.current(it, r, now);
      const s = this.state;
      const applied = Math.max(-s[r + COUNT]!, n);
      s[r + COUNT]! += applied;
      if (it.kind !== 'minute') s[r + PENDING]! += applied;
    });
  }

  /** Counts an allowed request's day/month items for the usage report, without touching the local counters
   * (the Redis limiter counts in Redis and reports usage here). */
  record(items: LimitItem[], now: number): void {
    for (const it of items) if (it.kind === 'day' || it.kind === 'month') this.addDelta(it, it.kind, windowOf(it.kind, now, it.anchorDay).start, 1);
  }

  /** Hands over the counts since the last call (for the store) and forgets idle state. */
  drain(now: number): UsageDelta[] {
    const s = this.state;
    let freed = false;
    for (const [key, row] of this.rows) {
      const it = this.items[row]!;
      const r = row * ROW;
      if (it.kind !== 'bucket' && it.kind !== 'minute' && s[r + PENDING] !== 0) {
        this.addDelta(it, it.kind, s[r + START]!, s[r + PENDING]!);
        s[r + PENDING] = 0;
      }
      // An ended window, and a bucket that has refilled, are the same as none: forgotten.
      const idle = it.kind === 'bucket' ? s[r + TOKENS]! + ((now - s[r + TS]!) / 1000) * s[r + RATE]! >= s[r + CAP]! : s[r + END]! <= now;
      if (idle) {
        this.rows.delete(key);
        this.items[row] = undefined;
        this.gens[row]!++;
        this.free.push(row);
        freed = true;
      }
    }
    if (freed) this.epoch++;
    const out = [...this.deltas.values()];
    this.deltas = new Map();
    return out;
  }

  /** Puts back counts the store could not take, so they are written next time. */
  restore(deltas: UsageDelta[]): void {
    for (const d of deltas) this.addDelta(d, d.window, d.start, d.count);
  }
}
