// @ts-check
// The checkpoint thread (checkpointer.ts): copies the WAL back into the database file on its own connection, so
// the serving thread never does it. Loads better-sqlite3 and nothing else: the isolate stays a few MB.
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
// A checkpoint copies pages from the WAL file to the database file; it needs no page cache of its own.
db.pragma('cache_size = -256');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

let reported = 0;
const timer = setInterval(() => {
  try {
    // `checkpointed` counts the WAL's frames copied so far; it starts again at 0 when the WAL is reused.
    const { checkpointed } = /** @type {{ checkpointed: number }} */ (checkpoint.get());
    if (checkpointed > reported) port.postMessage({ pages: checkpointed - reported });
    reported = checkpointed;
  } catch (err) {
    // SQLITE_BUSY: the next round tries again. Anything else ends the thread, and the serving connection
    // takes its checkpoints back (checkpointer.ts).
    if (/** @type {{ code?: string }} */ (err).code !== 'SQLITE_BUSY') throw err;
  }
}, intervalMs);

port.on('message', (msg) => {
  if (msg !== 'close') return;
  clearInterval(timer);
  try {
    checkpoint.get();
  } finally {
    db.close();
    port.close();
  }
});
port.postMessage('ready');
