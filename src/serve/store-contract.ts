// What a server's store is, whatever its engine (stores.ts opens SQLite, pg-store.ts PostgreSQL): the sources the
// phases read, the writers, the admin operations, and how the caches hear of changes.
import type { AdminStore, StoreChange } from '../core/admin-store.js';
import type { Db } from '../store/database.js';
import type { BatchWriter } from '../store/writes.js';
import type { WriteBehind } from '../store/write-behind.js';
import type { TenantSource, GroupSource } from '../tenancy/context.js';
import type { ApiKeySource } from '../identity/apikey.js';
import type { GrantSource } from '../identity/federation.js';
import type { OverrideSource } from '../quota/service.js';
import type { UsageSource } from '../quota/limiter.js';
import type { TenantPolicySource } from '../tenant-rules/loader.js';

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
