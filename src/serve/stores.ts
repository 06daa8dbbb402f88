// The store a server runs on: the SQLite file (one server, or processes on one machine) or PostgreSQL (a fleet of
// replicas). Either gives the phases their sources, a writer for what follows the checks, the admin operations,
// and tells the caches what changed; PostgreSQL also says whether it can be reached (the replica's health).
import type { Config } from '../core/config.js';
import type { AdminStore, StoreChange } from '../core/admin-store.js';
import { openDatabase, watchDataVersion, type Db } from '../store/database.js';
import { TenantRepository } from '../store/tenants.js';
import { GroupRepository } from '../store/groups.js';
import { ApiKeyRepository } from '../store/apikeys.js';
import { FederationRepository } from '../store/federation.js';
import { QuotaRepository } from '../store/quotas.js';
import { WriteBehind } from '../store/write-behind.js';
import { StoreWriter, type BatchWriter } from '../store/writes.js';
import { startStoreThread } from '../store/store-thread.js';
import { Admin } from '../admin/operations.js';
import type { TenantSource, GroupSource } from '../tenancy/context.js';
import type { ApiKeySource } from '../identity/apikey.js';
import type { GrantSource } from '../identity/federation.js';
import type { OverrideSource } from '../quota/service.js';
import type { UsageSource } from '../quota/limiter.js';
import type { TenantPolicySource } from '../tenant-rules/loader.js';
import { TenantPolicyRepository } from '../store/tenant-policies.js';
import type { Logger } from '../telemetry/logger.js';
import type { Lifecycle } from './lifecycle.js';

/** What the caches are told: one change (PostgreSQL names it), or "anything may have changed". */
export interface ChangeListener {
  change(c: StoreChange): void;
  all(): void;
}

export interface Store {
  engine: 'sqlite' | 'postgres';
  /** The SQLite database (tests and the bench reach into it); none on PostgreSQL. */
  db: Db | undefined;
  sources: { tenants: TenantSource; groups: GroupSource; apiKeys: ApiKeySource; grants: GrantSource; overrides: OverrideSource; usage: UsageSource; tenantPolicies: TenantPolicySource };
  writer: BatchWriter;
  writes: WriteBehind;
  /** The admin operations, audited as `actor`. */
  admin(actor: string): AdminStore;
  /** Whether the store can be read now (false while PostgreSQL is unreachable). */
  ready(): boolean;
  /** Calls the listener for every change from now on. */
  watch(listener: ChangeListener): void;
  /**
   * A change was made through this server's own admin API. SQLite's own commits do not move the data_version it
   * polls, so everything goes at once; PostgreSQL's changes already told the listeners what they touched.
   */
  adminChanged(): void;
  /** The store's change version the caches are current with (PostgreSQL only). */
  version?: () => number;
}

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
