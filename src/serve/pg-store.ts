// The PostgreSQL store of a fleet replica: a connection pool, the migrations (retried in the background while the
// server is unreachable; the replica is NOT_SERVING until they are done), the change feed, and the writer.
import type { Config } from '../core/config.js';
import type { StoreChange } from '../core/admin-store.js';
import { WriteBehind } from '../store/write-behind.js';
import { migratePg, openPool, pgConfig, type Pool } from '../store/pg/connect.js';
import { PgSources } from '../store/pg/sources.js';
import { PgWriter } from '../store/pg/writer.js';
import { PgAdmin } from '../store/pg/admin.js';
import { ChangeFeed } from '../store/pg/changes.js';
import type { Logger } from '../telemetry/logger.js';
import type { Lifecycle } from './lifecycle.js';
import type { ChangeListener, Store } from './store-contract.js';

export async function openPgStore(config: Config, log: Logger, life: Lifecycle, env: NodeJS.ProcessEnv): Promise<Store> {
  const pool = openPool(config.store, env);
  life.add('store', () => pool.end());
  const sources = new PgSources(pool);
  const writer = new PgWriter(pool, (err, attempt) => attempt === 1 && log.warn({ err: (err as Error).message }, 'store write failed; retrying every half second until it lands'), () => life.closing);
  life.add('store writer', () => writer.close());
  const writes = new WriteBehind(writer, 1000, (err) => log.error({ err }, 'write-behind flush failed'));
  life.add('write-behind', () => writes.close());

  const listeners: ChangeListener[] = [];
  let schemaReady = false;
  let connected = false;
  const changed = (c: StoreChange) => {
    if (c.kind === 'quota') void sources.overrides.reload(c.tenant).then(() => listeners.forEach((l) => l.change(c)), () => listeners.forEach((l) => l.all()));
    else listeners.forEach((l) => l.change(c));
  };
  const all = () => void sources.overrides.loadAll().then(() => listeners.forEach((l) => l.all()), () => listeners.forEach((l) => l.all()));
  const feed = new ChangeFeed(pgConfig(config.store, env), pool, {
    change: changed,
    all,
    connected: (up) => {
      if (up !== connected) log[up ? 'info' : 'warn'](up ? 'store (PostgreSQL) connected' : 'store (PostgreSQL) unreachable: cached data only, misses answer 503 store_unavailable');
      connected = up;
    },
  }, Math.max(config.store.poll_interval_ms, 1000));
  life.add('store changes', () => feed.close());

  // A first attempt is awaited (a reachable store serves from the first check); the rest go on in the background.
  const first = prepare(config, pool, sources, log, life).then(() => void (schemaReady = true));
  await Promise.race([first, new Promise((r) => setTimeout(r, 3000))]);
  first.catch((err: unknown) => !life.closing && log.error({ err: (err as Error).message }, 'store (PostgreSQL) schema refused'));
  void first.then(() => feed.start(), () => undefined);

  return {
    engine: 'postgres',
    db: undefined,
    sources,
    writer,
    writes,
    admin: (actor) => new PgAdmin(pool, config, actor, changed),
    // Serving once the schema is there; an outage later keeps the replica serving what it has cached (a fleet
    // taken out of rotation all at once would be an outage of its own), and misses answer 503 store_unavailable.
    ready: () => schemaReady,
    watch: (listener) => void listeners.push(listener),
    version: () => feed.version ?? 0,
    adminChanged: () => undefined,
  };
}

/** The schema (NOT_SERVING until it is there) and the quota overrides, retried until PostgreSQL answers. */
async function prepare(config: Config, pool: Pool, sources: PgSources, log: Logger, life: Lifecycle): Promise<void> {
  // Until it works, or until the server shuts down (a store that never came up must not hold the process).
  for (let attempt = 0; !life.closing; attempt++) {
    try {
      await migratePg(pool, config.store.migrate);
      await sources.overrides.loadAll();
      return;
    } catch (err) {
      if (/newer than this tenantgate|run tenantgate store migrate/.test((err as Error).message)) throw err;
      if (attempt === 0) log.warn({ err: (err as Error).message }, 'store (PostgreSQL) not reachable yet; NOT_SERVING until it is');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error('shutting down before the store was reachable');
}
