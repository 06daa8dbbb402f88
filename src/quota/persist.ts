// Flushes the limiter's day/month counts to SQLite (through the store writer, writes.ts) at most every interval,
// and on shutdown.
// After a crash at most one interval of counts is lost.
import type { LocalLimiter } from './limiter.js';
import type { StoreWriter } from '../store/writes.js';

export class UsageFlusher {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limiter: LocalLimiter,
    private readonly writer: StoreWriter,
    intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
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
    clearInterval(this.timer);
    return this.flush();
  }
}
