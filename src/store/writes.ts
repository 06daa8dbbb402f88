// Background writes to the store (API key last use, audit entries of federated access, quota usage) applied in
// one transaction per batch. They run in a worker thread with its own SQLite connection (WAL lets it write while
// the main thread reads), so an UPDATE of hundreds of rows, a WAL checkpoint or an fsync never stalls the checks:
// on the main thread a second's worth of last-use updates over 100,000 keys took 30-60 ms (bench/README.md).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Db } from './database.js';
import { ApiKeyRepository } from './apikeys.js';
import { AuditLog, type AuditInput } from './audit.js';
import { QuotaRepository } from './quotas.js';
import type { UsageDelta } from '../quota/limiter.js';

export interface WriteBatch {
  keysUsed?: { ids: string[]; at: string };
  audits?: AuditInput[];
  usage?: UsageDelta[];
}

// Key last-use updates go in transactions of this many rows, with a pause between them: on a core shared with the
// checks, one long transaction (hundreds of rows scattered over a large table, a WAL checkpoint) would hold the
// core for tens of milliseconds.
const KEY_CHUNK = 100;
const CHUNK_PAUSE_MS = 2;

/** Applies a batch: key last-use in paced chunks (idempotent, so a retry is harmless), then audits and usage
 *  (additive) in one final transaction, so they are committed exactly once or not at all. */
export function batchApplier(db: Db): (batch: WriteBatch) => Promise<void> {
  const keys = new ApiKeyRepository(db);
  const audit = new AuditLog(db);
  const quotas = new QuotaRepository(db);
  const rest = db.transaction((b: WriteBatch) => {
    for (const a of b.audits ?? []) audit.append(a);
    if (b.usage?.length) quotas.addUsage(b.usage);
  });
  return async (b) => {
    const ids = b.keysUsed?.ids ?? [];
    for (let i = 0; i < ids.length; i += KEY_CHUNK) {
      if (i > 0) await new Promise((r) => setTimeout(r, CHUNK_PAUSE_MS));
      keys.touch(ids.slice(i, i + KEY_CHUNK), b.keysUsed!.at);
    }
    rest(b);
  };
}

// The compiled worker beside this module; under vitest (TypeScript sources) the build's copy.
function workerFile(): string | undefined {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts') ? join(dirname(here), '..', '..', 'dist', 'store', 'writer-thread.js') : join(dirname(here), 'writer-thread.js');
  return existsSync(file) ? file : undefined;
}

interface Reply {
  seq: number;
  error?: string;
}

/** Sends batches to the writer thread; an in-memory store (tests, one connection only) is written in place. */
export class StoreWriter {
  private readonly worker: Worker | undefined;
  private readonly inline: ((b: WriteBatch) => Promise<void>) | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private closed: Promise<void> | undefined;

  constructor(path: string, db: Db) {
    const file = path === ':memory:' ? undefined : workerFile();
    if (!file) {
      this.inline = batchApplier(db);
      return;
    }
    // A small heap: it holds one batch at a time.
    this.worker = new Worker(file, { workerData: { path }, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 } });
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.seq);
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0 && !this.closed) this.worker!.unref();
      if (r.error) w?.reject(new Error(r.error));
      else w?.resolve();
    });
    const fail = (err: Error) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('the store writer thread stopped')));
    // Idle, the writer does not keep the process alive; with batches outstanding it does (they are not lost).
    this.worker.unref();
  }

  /** Whether writes run in the writer thread (false: in place, for an in-memory store or without a build). */
  get threaded(): boolean {
    return this.worker !== undefined;
  }

  /** Resolves once the batch is committed; rejects (the caller keeps the data) if it could not be. */
  write(batch: WriteBatch): Promise<void> {
    if (this.inline) return this.inline(batch);
    if (this.closed) return Promise.reject(new Error('the store writer is closed'));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      this.worker!.ref();
      this.worker!.postMessage({ seq, batch });
    });
  }

  /** Waits for every batch sent so far, then stops the thread (its connection closes). */
  close(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    this.closed ??= new Promise<void>((resolve) => {
      this.worker!.ref();
      this.worker!.once('exit', () => resolve());
      this.worker!.postMessage({ seq: 0, close: true });
    });
    return this.closed;
  }
}
