// The store's background thread: WAL checkpoints and API keys' last-use writes, off the serving thread.
//
// Checkpoints: with SQLite's default, the commit that takes the WAL past 1,000 pages copies them all into the
// database file and syncs it, and no check is answered meanwhile. The serving connection turns automatic
// checkpoints off, and this thread checkpoints every interval instead.
// Last use: a key first used writes a row somewhere in a large table; on the serving thread, even in short
// slices, those writes lengthen the checks' tail (bench/README.md). The thread makes them on its own connection.
// It runs at the lowest priority, so on a core shared with the checks it takes what they leave. If it cannot
// start or fails, the serving connection takes its automatic checkpoints back and the last-use writes return to
// the serving thread (writes.ts), so the WAL never grows unbounded and no write is lost.
import { Worker } from 'node:worker_threads';
import type { Db } from './database.js';

const DEFAULT_AUTOCHECKPOINT = 1000;

type Reply = { pages?: number; touched?: number; error?: string };

export class StoreThread {
  private worker: Worker | undefined;
  private readonly exited: Promise<void>;
  private seq = 0;
  private closing = false;
  private readonly touching = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  /** Resolves when the thread has opened its connection (it takes over from then on). */
  readonly ready: Promise<void>;
  /** WAL pages copied into the database file by the thread. */
  pagesCheckpointed = 0;

  constructor(
    private readonly db: Db,
    intervalMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    const worker = new Worker(new URL('./store-thread-worker.js', import.meta.url), {
      workerData: { path: db.name, intervalMs },
      // None of the process's Node options (--import preloads, --input-type, ...) apply to this thread.
      execArgv: [],
      // It holds no data: a small heap keeps its cost to a few MB of memory.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    this.worker = worker;
    worker.unref();
    this.ready = new Promise((resolve) => {
      worker.once('message', () => resolve());
      worker.once('exit', () => resolve());
    });
    worker.on('message', (msg: Reply) => {
      if (typeof msg !== 'object') return;
      if (msg.pages) this.pagesCheckpointed += msg.pages;
      if (msg.touched !== undefined) this.settle(msg.touched, msg.error === undefined ? undefined : new Error(msg.error));
    });
    worker.on('error', (err) => this.onError(err));
    this.exited = new Promise((resolve) => {
      worker.once('exit', () => {
        if (this.worker === worker) this.takeBack();
        resolve();
      });
    });
  }

  /** Whether the thread is still running (taking the checkpoints and the last-use writes). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Records the keys' last use on the thread's connection; resolves once committed, rejects if it could not be
   *  (the thread failed or is gone: the caller keeps the ids). */
  touchKeys(ids: readonly string[], at: string): Promise<void> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the store thread is not running'));
    const seq = ++this.seq;
    // Held while a write is under way: an unref'd thread would let a process with nothing else to do exit first.
    if (this.touching.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      this.touching.set(seq, { resolve, reject });
      worker.postMessage({ touch: { seq, ids, at } });
    });
  }

  /** Ends the thread after one last checkpoint; the serving connection checkpoints again from then on. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // Unref'd while serving (it must not keep a process alive); held now, or a server whose shutdown has nothing
    // else left to wait for would end here, before the last checkpoint and the rest of its shutdown (the CLI's
    // SIGTERM test sees the missing "tenantgate stopped").
    this.closing = true;
    worker.ref();
    worker.postMessage('close');
    await this.exited;
  }

  private settle(seq: number, err: Error | undefined): void {
    const p = this.touching.get(seq);
    if (!p) return;
    this.touching.delete(seq);
    if (this.touching.size === 0 && this.worker && !this.closing) this.worker.unref();
    if (err) p.reject(err);
    else p.resolve();
  }

  private takeBack(): void {
    this.worker = undefined;
    for (const seq of [...this.touching.keys()]) this.settle(seq, new Error('the store thread ended before the write was committed'));
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
  }
}

/** The store thread for a WAL-mode file database; in-memory databases have no WAL and no other connection. */
export function startStoreThread(db: Db, intervalMs: number, onError?: (err: unknown) => void): StoreThread | undefined {
  if (db.memory || String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return undefined;
  return new StoreThread(db, intervalMs, onError);
}
