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
 * A cheap "did anyone change the data?" probe: PRAGMA data_version changes whenever another connection
 * commits. The server polls it and drops its caches, so CLI changes are seen within the poll interval.
 */
export function watchDataVersion(db: Db, intervalMs: number, onChange: () => void): () => void {
  const stmt = db.prepare('PRAGMA data_version').pluck();
  let last = stmt.get() as number;
  const timer = setInterval(() => {
    try {
      const now = stmt.get() as number;
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
