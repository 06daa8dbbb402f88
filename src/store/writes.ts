// Background writes to the store (API key last use, audit entries of federated access, quota usage), off the
// checks' path: key last use on the store thread's connection (store-thread.ts), or here in short slices, since a
// second's worth of last-use updates written in one go holds the event loop for tens of milliseconds.
import type { Db } from './database.js';
import { ApiKeyRepository } from './apikeys.js';
import { AuditLog } from './audit.js';
import type { AuditInput } from '../core/audit.js';
import type { TokenDelta } from '../core/admin-store.js';
import { QuotaRepository } from './quotas.js';
import type { UsageDelta } from '../quota/limiter.js';
import type { StoreThread } from './store-thread.js';

/** Where batches go: SQLite's writer here, PostgreSQL's (pg/writer.ts). */
export interface BatchWriter {
  write(batch: WriteBatch): Promise<void>;
  close(): Promise<void>;
}

export interface WriteBatch {
  keysUsed?: { ids: string[]; at: string };
  audits?: AuditInput[];
  usage?: UsageDelta[];
  tokens?: TokenDelta[];
}

// Without the store thread, key last-use updates go in transactions of about this long, with checks served in
// between: one long transaction (rows scattered over a large table, their pages read from the file) would hold the
// event loop for tens of milliseconds. The commit comes on top, so the budget is a quarter of the millisecond a
// slice may take (bench/README.md).
const KEY_SLICE_MS = 0.25;

/** Applies a batch: key last-use on the store thread, or here in short slices when it is not running (idempotent,
 *  so a retry is harmless), then audits and usage (additive) in one final transaction, so they are committed
 *  exactly once or not at all. The thread writes only while a batch waits for it, so the two connections never
 *  wait for each other's write lock. */
function batchApplier(db: Db, thread: StoreThread | undefined): (batch: WriteBatch) => Promise<void> {
  const keys = new ApiKeyRepository(db);
  const audit = new AuditLog(db);
  const quotas = new QuotaRepository(db);
  const rest = db.transaction((b: WriteBatch) => {
    for (const a of b.audits ?? []) audit.append(a);
    if (b.usage?.length) quotas.addUsage(b.usage);
    if (b.tokens?.length) quotas.addTokens(b.tokens);
  });
  return async (b) => {
    let ids = b.keysUsed?.ids ?? [];
    if (ids.length && thread?.running) {
      try {
        await thread.touchKeys(ids, b.keysUsed!.at);
        ids = [];
      } catch (err) {
        // The thread ended under the write: it is done here instead. A failed write is the caller's to retry.
        if (thread.running) throw err;
      }
    }
    for (let i = 0; i < ids.length; ) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      i = keys.touchFor(ids, i, b.keysUsed!.at, KEY_SLICE_MS);
    }
    rest(b);
  };
}

/**
 * Applies batches one after another, in order: key last use on the store thread when there is one (it runs at the
 * lowest priority, so it takes only what the checks leave of a shared core), the rest on the main connection.
 */
export class StoreWriter implements BatchWriter {
  private readonly apply: (b: WriteBatch) => Promise<void>;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(db: Db, thread?: StoreThread) {
    this.apply = batchApplier(db, thread);
  }

  /** Resolves once the batch is committed; rejects (the caller keeps the data) if it could not be. */
  write(batch: WriteBatch): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store writer is closed'));
    const done = this.queue.then(() => this.apply(batch));
    // The queue goes on after a failure; the failure is the caller's.
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Waits for every batch sent so far. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }
}
