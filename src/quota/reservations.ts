// LLM token reservations: what a check reserved of the token budgets (its max_tokens and an estimate of its input),
// held by decision id until the response's real usage settles it (Envoy's external processing, or a usage report):
// the difference is then given back, or charged. A reservation nothing settles is released when its time is up.
import type { LimitItem, TokenDemand } from './limits.js';
import { amountOf } from './limits.js';
import type { ReservationOwner } from './limiter.js';

/** The counters a reservation is corrected on (the local limiter). */
export interface Adjustable {
  adjust(items: readonly LimitItem[], deltas: readonly number[], at: number, now: number): void;
}

interface Held {
  owner: ReservationOwner;
  items: readonly LimitItem[];
  amounts: readonly number[];
  at: number;
  expires: number;
}

export class Reservations {
  private readonly held = new Map<string, Held>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limiter: Adjustable,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(1000, ttlMs));
    this.timer.unref();
  }

  get size(): number {
    return this.held.size;
  }

  hold(decisionId: string, items: readonly LimitItem[], amounts: readonly number[], at: number, owner: ReservationOwner): void {
    this.held.set(decisionId, { owner, items, amounts, at, expires: at + this.ttlMs });
  }

  /** Whose reservation it is, while it is held. */
  owner(decisionId: string): ReservationOwner | undefined {
    return this.held.get(decisionId)?.owner;
  }

  /**
   * The real usage of the response to `decisionId`: what was reserved beyond it is given back, what went over
   * charged. Its owner, or undefined when no such reservation is held (settled already, expired, or none).
   */
  settle(decisionId: string, used: TokenDemand): ReservationOwner | undefined {
    const h = this.held.get(decisionId);
    if (!h) return undefined;
    this.held.delete(decisionId);
    this.limiter.adjust(h.items, h.items.map((it, i) => amountOf(it, used) - h.amounts[i]!), h.at, this.clock());
    return h.owner;
  }

  /** Releases the reservations whose time is up (in insertion order, which is the order they expire in). */
  sweep(now = this.clock()): void {
    for (const [id, h] of this.held) {
      if (h.expires > now) break;
      this.held.delete(id);
      this.limiter.adjust(h.items, h.amounts.map((a) => -a), h.at, now);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
