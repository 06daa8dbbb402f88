// The store a CLI command opens itself (no --server): the SQLite file, or PostgreSQL with store.url; closed after.
import type { Config } from '../core/config.js';
import type { AdminStore } from '../core/admin-store.js';
import { openDatabase } from '../store/database.js';
import { Admin } from '../admin/operations.js';
import { StoreUnavailable, isStoreDown } from '../core/errors.js';

export async function withLocalStore<T>(config: Config, actor: string, fn: (admin: AdminStore) => Promise<T>): Promise<T> {
  if (!config.store.url) {
    const db = openDatabase(config.store.path);
    try {
      return await fn(new Admin(db, config, actor));
    } finally {
      db.close();
    }
  }
  const { openPool, migratePg } = await import('../store/pg/connect.js');
  const { PgAdmin } = await import('../store/pg/admin.js');
  const pool = openPool(config.store);
  try {
    try {
      await migratePg(pool, config.store.migrate);
    } catch (err) {
      const msg = (err as Error).message;
      if (/newer than this tenantgate|store migrate/.test(msg)) throw err;
      throw new StoreUnavailable(`the store (PostgreSQL) is unavailable: ${msg}`);
    }
    try {
      return await fn(new PgAdmin(pool, config, actor));
    } catch (err) {
      if (isStoreDown(err)) throw new StoreUnavailable(`the store (PostgreSQL) is unavailable; nothing was changed: ${(err as Error).message}`);
      throw err;
    }
  } finally {
    await pool.end();
  }
}
