// Writes that must not slow the hot path (API key last use, audit entries of federated access) are buffered
// in memory and written in one transaction at most every interval, and on shutdown.
import type { Db } from './database.js';
import { ApiKeyRepository } from './apikeys.js';
import { AuditLog, type AuditInput } from './audit.js';

export class WriteBehind {
  private usedKeys = new Set<string>();
  private audits: AuditInput[] = [];
  private readonly keys: ApiKeyRepository;
  private readonly audit: AuditLog;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    intervalMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.keys = new ApiKeyRepository(db);
    this.audit = new AuditLog(db);
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  keyUsed(id: string): void {
    this.usedKeys.add(id);
  }

  record(entry: AuditInput): void {
    this.audits.push({ ...entry, at: entry.at ?? new Date().toISOString() });
  }

  flush(): void {
    if (this.usedKeys.size === 0 && this.audits.length === 0) return;
    const keys = this.usedKeys;
    const audits = this.audits;
    this.usedKeys = new Set();
    this.audits = [];
    try {
      this.db.transaction(() => {
        if (keys.size) this.keys.touch(keys, new Date().toISOString());
        for (const a of audits) this.audit.append(a);
      })();
    } catch (err) {
      // Keep what could not be written for the next round rather than losing it.
      for (const k of keys) this.usedKeys.add(k);
      this.audits.unshift(...audits);
      this.onError(err);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
