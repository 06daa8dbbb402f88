// Tenant records: the repository behind the CLI, the admin API and the tenant context loader.
import type { Db } from './database.js';
import { DEFAULT_GROUPS } from '../core/groups.js';
import { GroupRepository } from './groups.js';
import { StoreError } from '../core/errors.js';
import type { TenantSource } from '../tenancy/context.js';
import { type Tenant, type TenantStatus, type Tier } from '../core/tenants.js';
import { checkAnchorDay, checkTenantId, checkTenantName, checkTier, checkUpstream } from '../core/validate.js';

export class TenantRepository implements TenantSource {
  private readonly byId;
  private readonly all;
  private readonly insert;
  private readonly setStatusStmt;
  private readonly remove;
  private readonly setUpstreamStmt;
  private readonly setTierStmt;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], Tenant>('SELECT id, name, tier, status, upstream, billing_anchor_day, created_at, updated_at FROM tenants WHERE id = ?');
    this.all = db.prepare<[], Tenant>('SELECT id, name, tier, status, upstream, billing_anchor_day, created_at, updated_at FROM tenants ORDER BY id');
    this.insert = db.prepare(
      'INSERT INTO tenants (id, name, tier, status, upstream, billing_anchor_day, created_at, updated_at) VALUES (@id, @name, @tier, @status, @upstream, @billing_anchor_day, @created_at, @updated_at)',
    );
    this.setStatusStmt = db.prepare('UPDATE tenants SET status = ?, updated_at = ? WHERE id = ?');
    this.remove = db.prepare('DELETE FROM tenants WHERE id = ?');
    this.setUpstreamStmt = db.prepare('UPDATE tenants SET upstream = ?, updated_at = ? WHERE id = ?');
    this.setTierStmt = db.prepare('UPDATE tenants SET tier = ?, updated_at = ? WHERE id = ?');
  }

  get(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  list(): Tenant[] {
    return this.all.all();
  }

  /** Creates the tenant with its default groups (admin, analyst, viewer) in one transaction. */
  create(input: { id: string; name: string; tier: Tier; status?: TenantStatus; upstream?: string | null }): Tenant {
    checkTenantId(input.id);
    checkTier(input.tier);
    checkTenantName(input.name);
    if (this.get(input.id)) throw new StoreError(`tenant ${input.id} already exists`, 'conflict');
    const now = new Date().toISOString();
    if (input.upstream !== undefined && input.upstream !== null) checkUpstream(input.upstream);
    const tenant: Tenant = { id: input.id, name: input.name, tier: input.tier, status: input.status ?? 'active', upstream: input.upstream ?? null, billing_anchor_day: null, created_at: now, updated_at: now };
    // IMMEDIATE (here and below): reads come before writes; see Admin.change.
    this.db.transaction(() => {
      this.insert.run(tenant);
      const groups = new GroupRepository(this.db);
      for (const g of DEFAULT_GROUPS) groups.apply(tenant.id, g);
    }).immediate();
    return tenant;
  }

  setStatus(id: string, status: TenantStatus): Tenant {
    const info = this.setStatusStmt.run(status, new Date().toISOString(), id);
    if (info.changes === 0) throw new StoreError(`unknown tenant ${id}`, 'not_found');
    return this.get(id)!;
  }

  update(id: string, change: { upstream?: string | null; tier?: Tier; billing_anchor_day?: number | null }): Tenant {
    if (!this.get(id)) throw new StoreError(`unknown tenant ${id}`, 'not_found');
    const now = new Date().toISOString();
    if (change.tier !== undefined) {
      checkTier(change.tier);
      this.setTierStmt.run(change.tier, now, id);
    }
    if (change.billing_anchor_day !== undefined) {
      const d = change.billing_anchor_day;
      checkAnchorDay(d);
      this.db.prepare('UPDATE tenants SET billing_anchor_day = ?, updated_at = ? WHERE id = ?').run(d, now, id);
    }
    if (change.upstream !== undefined) {
      if (change.upstream !== null) checkUpstream(change.upstream);
      this.setUpstreamStmt.run(change.upstream, now, id);
    }
    return this.get(id)!;
  }

  /** Removes the tenant and, through ON DELETE CASCADE, everything that belongs to it, in one transaction. */
  delete(id: string): Tenant {
    return this.db.transaction(() => {
      const tenant = this.get(id);
      if (!tenant) throw new StoreError(`unknown tenant ${id}`, 'not_found');
      this.remove.run(id);
      // Usage rows have no foreign key (counters may be flushed late); they go with the tenant all the same.
      this.db.prepare('DELETE FROM quota_usage WHERE tenant_id = ?').run(id);
      this.db.prepare('DELETE FROM token_usage WHERE tenant_id = ?').run(id);
      return tenant;
    }).immediate();
  }
}
