// Flushes the limiter's day/month counts to SQLite (through the store writer, writes.ts) at most every interval,
// and on shutdown.
// After a crash at most one interval of counts is lost.
import type { LocalLimiter, UsageDelta } from './limiter.js';
import { Periodic } from '../util/periodic.js';

/** Where usage counts are flushed to (the store's writer implements it). */
export interface UsageSink {
  write(batch: { usage: UsageDelta[] }): Promise<void>;
}

export class UsageFlusher {
  private readonly periodic: Periodic;

  constructor(
    private readonly limiter: LocalLimiter,
    private readonly writer: UsageSink,
    intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.periodic = new Periodic(() => this.flush(), intervalMs);
  }

  flush(): Promise<void> {
    const deltas = this.limiter.drain(this.clock());
    if (!deltas.length) return Promise.resolve();
    return this.writer.write({ usage: deltas }).catch((err: unknown) => {
      this.limiter.restore(deltas);
      this.onError(err);
    });
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
