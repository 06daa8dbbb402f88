// The SQLite store: one better-sqlite3 connection in WAL mode, schema migrations keyed by PRAGMA user_version.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** SQLite's page cache in MB (better-sqlite3's build default, 16 MB, when not given). */
  cacheMb?: number;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  if (options.cacheMb !== undefined) db.pragma(`cache_size = ${-Math.round(options.cacheMb * 1024)}`);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this tenantgate (${migrations.length})`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * "Did anyone change what the caches hold?", polled: CLI changes and other replicas' on the same file are seen
 * within the poll interval, and the caches are dropped.
 */
export function watchDataVersion(db: Db, intervalMs: number, onChange: () => void): () => void {
  // data_version moves with any other connection's commit, store_changes only with one that touched what the
  // caches hold (the triggers of migration 5): the first is the cheap test, the second the answer.
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  const changes = db.prepare('SELECT version FROM store_changes').pluck();
  let lastData = dataVersion.get() as number;
  let last = changes.get() as number;
  const timer = setInterval(() => {
    try {
      const data = dataVersion.get() as number;
      if (data === lastData) return;
      lastData = data;
      const now = changes.get() as number;
      if (now !== last) {
        last = now;
        onChange();
      }
    } catch {
      // A transient read error is retried on the next tick; the caches stay as they are meanwhile.
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
