// The store a server runs on: the SQLite file (one server, or processes on one machine) or PostgreSQL (a fleet of
// replicas). Either gives the phases their sources, a writer for what follows the checks, the admin operations,
// and tells the caches what changed; PostgreSQL also says whether it can be reached (the replica's health).
import type { Config } from '../core/config.js';
import { openDatabase, watchDataVersion } from '../store/database.js';
import { TenantRepository } from '../store/tenants.js';
import { GroupRepository } from '../store/groups.js';
import { ApiKeyRepository } from '../store/apikeys.js';
import { FederationRepository } from '../store/federation.js';
import { QuotaRepository } from '../store/quotas.js';
import { WriteBehind } from '../store/write-behind.js';
import { StoreWriter } from '../store/writes.js';
import { startStoreThread } from '../store/store-thread.js';
import { Admin } from '../admin/operations.js';
import { TenantPolicyRepository } from '../store/tenant-policies.js';
import type { Logger } from '../telemetry/logger.js';
import type { Lifecycle } from './lifecycle.js';
import type { ChangeListener, Store } from './store-contract.js';

export async function openStore(config: Config, log: Logger, life: Lifecycle, env: NodeJS.ProcessEnv): Promise<Store> {
  if (config.store.url) {
    const { openPgStore } = await import('./pg-store.js');
    return openPgStore(config, log, life, env);
  }
  return openSqliteStore(config, log, life);
}

/** The SQLite store, its background thread and its writers (closed after everything that writes to them). */
function openSqliteStore(config: Config, log: Logger, life: Lifecycle): Store {
  const db = openDatabase(config.store.path, { cacheMb: config.store.cache_mb });
  life.add('store', () => db.close());
  const storeThread =
    config.store.checkpoint_interval_ms > 0
      ? startStoreThread(db, config.store.checkpoint_interval_ms, (err) => log.warn({ err }, 'store thread failed; checkpoints and key last-use writes on the serving thread again'))
      : undefined;
  if (storeThread) life.add('store thread', () => storeThread.close());
  const writer = new StoreWriter(db, storeThread);
  life.add('store writer', () => writer.close());
  const writes = new WriteBehind(writer, 1000, (err) => log.error({ err }, 'write-behind flush failed'));
  life.add('write-behind', () => writes.close());
  const quotas = new QuotaRepository(db);
  const listeners: ChangeListener[] = [];
  return {
    engine: 'sqlite',
    db,
    sources: { tenants: new TenantRepository(db), groups: new GroupRepository(db), apiKeys: new ApiKeyRepository(db), grants: new FederationRepository(db), overrides: quotas, usage: quotas, tenantPolicies: new TenantPolicyRepository(db) },
    writer,
    writes,
    admin: (actor) => new Admin(db, config, actor),
    ready: () => true,
    // Another process's commit changes SQLite's data_version; which rows it touched is not known, so all go.
    watch: (listener) => {
      listeners.push(listener);
      life.add('store watch', watchDataVersion(db, config.store.poll_interval_ms, () => listener.all()));
    },
    adminChanged: () => listeners.forEach((l) => l.all()),
  };
}
