// WAL checkpoints off the serving thread. With SQLite's default, the commit that takes the WAL past 1,000 pages
// copies them all into the database file and syncs it: 10-60 ms during which no check is answered (the scale
// scenario writes a page per API key first used). The serving connection turns automatic checkpoints off, and a
// low-priority worker thread with its own connection checkpoints every interval instead. If that thread cannot
// start or fails, the serving connection takes its automatic checkpoints back, so the WAL never grows unbounded.
import { Worker } from 'node:worker_threads';
import type { Db } from './database.js';

const DEFAULT_AUTOCHECKPOINT = 1000;

export class Checkpointer {
  private worker: Worker | undefined;
  private readonly exited: Promise<void>;

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
    const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
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
    worker.on('message', (msg: { pages?: number }) => {
      if (typeof msg === 'object' && msg.pages) this.pagesCheckpointed += msg.pages;
    });
    worker.on('error', (err) => this.onError(err));
    this.exited = new Promise((resolve) => {
      worker.once('exit', () => {
        if (this.worker === worker) this.takeBack();
        resolve();
      });
    });
  }

  /** Whether the thread is still taking the checkpoints. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Ends the thread after one last checkpoint; the serving connection checkpoints again from then on. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // Unref'd while serving (it must not keep a process alive); held now, or a server whose shutdown has nothing
    // else left to wait for would end here, before the last checkpoint and the rest of its shutdown (the CLI's
    // SIGTERM test sees the missing "tenantgate stopped").
    worker.ref();
    worker.postMessage('close');
    await this.exited;
  }

  private takeBack(): void {
    this.worker = undefined;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
  }
}

/** A checkpointer for a WAL-mode file database; in-memory databases have no WAL to checkpoint. */
export function startCheckpointer(db: Db, intervalMs: number, onError?: (err: unknown) => void): Checkpointer | undefined {
  if (db.memory || String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return undefined;
  return new Checkpointer(db, intervalMs, onError);
}
