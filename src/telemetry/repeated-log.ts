// Log lines that can repeat once per request (a quota store that is down, a check that fails): the first of a
// kind in each interval is written, the rest are counted, and the next line written says how many were not. A
// failure that hits every request then costs one line per interval, not one per request.
import type { Logger } from './logger.js';

export class RepeatedLog {
  /** Lines not written, per kind, since start (a metric reads it). */
  readonly suppressed = new Map<string, number>();
  private readonly pending = new Map<string, number>();
  private readonly lastWritten = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.write('warn', kind, fields, msg);
  }

  error(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.write('error', kind, fields, msg);
  }

  private write(level: 'warn' | 'error', kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.now();
    const last = this.lastWritten.get(kind);
    if (last !== undefined && now - last < this.intervalMs) {
      this.pending.set(kind, (this.pending.get(kind) ?? 0) + 1);
      this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
      return;
    }
    this.lastWritten.set(kind, now);
    const skipped = this.pending.get(kind) ?? 0;
    this.pending.delete(kind);
    this.log[level](skipped ? { ...fields, suppressed_since_last: skipped } : fields, msg);
  }

  get totalSuppressed(): number {
    let n = 0;
    for (const v of this.suppressed.values()) n += v;
    return n;
  }
}
