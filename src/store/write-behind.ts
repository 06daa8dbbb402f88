// Writes that must not slow the hot path (API key last use, audit entries of federated access) are buffered
// in memory and handed to the store writer (writes.ts) at most every interval, and on shutdown. A batch that
// fails is kept for the next round rather than lost.
import type { AuditInput } from '../core/audit.js';
import type { BatchWriter } from './writes.js';
import { Periodic } from '../util/periodic.js';

export class WriteBehind {
  private usedKeys = new Set<string>();
  private audits: AuditInput[] = [];
  private readonly periodic: Periodic;

  constructor(
    private readonly writer: BatchWriter,
    intervalMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.periodic = new Periodic(() => this.flush(), intervalMs);
  }

  /** A key's use, to record with the next batch (the verifier calls this at most once a minute per key). */
  keyUsed(id: string): void {
    this.usedKeys.add(id);
  }

  record(entry: AuditInput): void {
    this.audits.push({ ...entry, at: entry.at ?? new Date().toISOString() });
  }

  flush(): Promise<void> {
    if (this.usedKeys.size === 0 && this.audits.length === 0) return Promise.resolve();
    const keys = this.usedKeys;
    const audits = this.audits;
    this.usedKeys = new Set();
    this.audits = [];
    return this.writer.write({ keysUsed: { ids: [...keys], at: new Date().toISOString() }, audits }).catch((err: unknown) => {
      for (const k of keys) this.usedKeys.add(k);
      this.audits.unshift(...audits);
      this.onError(err);
    });
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
