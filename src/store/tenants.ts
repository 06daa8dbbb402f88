// Tenant records: the repository behind the CLI, the admin API and the tenant context loader.
import type { Db } from './database.js';

export const TIERS = ['free', 'basic', 'premium', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];
export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  id: string;
  name: string;
  tier: Tier;
  status: TenantStatus;
  created_at: string;
  updated_at: string;
}

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,35}$/;

export function isValidTenantId(id: string): boolean {
  return TENANT_ID_PATTERN.test(id);
}

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    message: string,
    readonly kind: 'not_found' | 'conflict' | 'invalid',
  ) {
    super(message);
  }
}

export class TenantRepository {
  private readonly byId;
  private readonly all;
  private readonly insert;
  private readonly setStatusStmt;
  private readonly remove;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], Tenant>('SELECT id, name, tier, status, created_at, updated_at FROM tenants WHERE id = ?');
    this.all = db.prepare<[], Tenant>('SELECT id, name, tier, status, created_at, updated_at FROM tenants ORDER BY id');
    this.insert = db.prepare(
      'INSERT INTO tenants (id, name, tier, status, created_at, updated_at) VALUES (@id, @name, @tier, @status, @created_at, @updated_at)',
    );
    this.setStatusStmt = db.prepare('UPDATE tenants SET status = ?, updated_at = ? WHERE id = ?');
    this.remove = db.prepare('DELETE FROM tenants WHERE id = ?');
  }

  get(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  list(): Tenant[] {
    return this.all.all();
  }

  create(input: { id: string; name: string; tier: Tier; status?: TenantStatus }): Tenant {
    if (!isValidTenantId(input.id)) {
      throw new StoreError(`invalid tenant id "${input.id}": must match ${TENANT_ID_PATTERN.source}`, 'invalid');
    }
    if (!TIERS.includes(input.tier)) throw new StoreError(`invalid tier "${input.tier}": one of ${TIERS.join(', ')}`, 'invalid');
    if (!input.name.trim()) throw new StoreError('tenant name must not be empty', 'invalid');
    if (this.get(input.id)) throw new StoreError(`tenant ${input.id} already exists`, 'conflict');
    const now = new Date().toISOString();
    const tenant: Tenant = { id: input.id, name: input.name, tier: input.tier, status: input.status ?? 'active', created_at: now, updated_at: now };
    this.insert.run(tenant);
    return tenant;
  }

  setStatus(id: string, status: TenantStatus): Tenant {
    const info = this.setStatusStmt.run(status, new Date().toISOString(), id);
    if (info.changes === 0) throw new StoreError(`unknown tenant ${id}`, 'not_found');
    return this.get(id)!;
  }

  /** Removes the tenant and, through ON DELETE CASCADE, everything that belongs to it, in one transaction. */
  delete(id: string): Tenant {
    return this.db.transaction(() => {
      const tenant = this.get(id);
      if (!tenant) throw new StoreError(`unknown tenant ${id}`, 'not_found');
      this.remove.run(id);
      return tenant;
    })();
  }
}
