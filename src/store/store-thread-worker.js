// @ts-check
// The store's background thread (store-thread.ts), on its own connection: copies the WAL back into the database
// file every interval, and records API keys' last use when the serving thread hands them over, so that the
// serving thread neither checkpoints nor makes those scattered writes. Loads better-sqlite3 and nothing else:
// the isolate stays a few MB.
// Plain JavaScript (type-checked by tsc with checkJs) so that the same file runs from src/ under the tests and
// from dist/ in production: worker threads get no TypeScript loader.
import Database from 'better-sqlite3';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ path: string; intervalMs: number }} */
const { path, intervalMs } = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

// On Linux a thread has its own nice value (setpriority on its thread id). At the lowest priority this thread
// yields to the checks whenever they share a core; where a core is free it runs there as before.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
} catch {
  // Not Linux (no /proc/thread-self) or not permitted: the thread keeps the process's priority.
}

const db = new Database(path);
db.pragma('busy_timeout = 5000');
// A checkpoint copies pages from the WAL file to the database file, and a last-use update reads a page or two
// per key: neither gains from a page cache of its own.
db.pragma('cache_size = -256');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
// The same statement as ApiKeyRepository's (apikeys.ts), which the serving thread uses when this thread is gone.
const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
// Short transactions: the write lock is held for a few hundred rows at most, so a write of the serving thread
// (an admin change) never waits long for it.
const TOUCH_ROWS = 200;
const touchRows = db.transaction((/** @type {string[]} */ ids, /** @type {string} */ at, /** @type {number} */ from) => {
  const end = Math.min(ids.length, from + TOUCH_ROWS);
  for (let i = from; i < end; i++) touch.run(at, ids[i]);
  return end;
});

let reported = 0;
const timer = setInterval(() => {
  try {
    // `checkpointed` counts the WAL's frames copied so far; it starts again at 0 when the WAL is reused.
    const { checkpointed } = /** @type {{ checkpointed: number }} */ (checkpoint.get());
    if (checkpointed > reported) port.postMessage({ pages: checkpointed - reported });
    reported = checkpointed;
  } catch (err) {
    // SQLITE_BUSY: the next round tries again. Anything else ends the thread, and the serving connection
    // takes its checkpoints back (store-thread.ts).
    if (/** @type {{ code?: string }} */ (err).code !== 'SQLITE_BUSY') throw err;
  }
}, intervalMs);

port.on('message', (/** @type {'close' | { touch: { seq: number; ids: string[]; at: string } }} */ msg) => {
  if (msg === 'close') {
    clearInterval(timer);
    try {
      checkpoint.get();
    } finally {
      db.close();
      port.close();
    }
    return;
  }
  if (typeof msg !== 'object' || !msg.touch) return;
  const { seq, ids, at } = msg.touch;
  try {
    for (let i = 0; i < ids.length; ) i = touchRows(ids, at, i);
    port.postMessage({ touched: seq });
  } catch (err) {
    // The serving thread keeps the ids and sends them again; the updates are idempotent.
    port.postMessage({ touched: seq, error: String(/** @type {Error} */ (err)?.message ?? err) });
  }
});
port.postMessage('ready');
