// Flushes the limiter's day/month counts to SQLite in one transaction at most every interval, and on shutdown.
// After a crash at most one interval of counts is lost.
import type { LocalLimiter } from './limiter.js';
import type { QuotaRepository } from '../store/quotas.js';

export class UsageFlusher {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limiter: LocalLimiter,
    private readonly repo: QuotaRepository,
    intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  flush(): void {
    const deltas = this.limiter.drain(this.clock());
    if (!deltas.length) return;
    try {
      this.repo.addUsage(deltas);
    } catch (err) {
      this.limiter.restore(deltas);
      this.onError(err);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
