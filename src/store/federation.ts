// Cross-tenant federation grants: tenant A may read or write tenant B's resources of one type (or one resource).
import type { Db } from './database.js';
import { StoreError } from '../core/errors.js';
import type { GrantSource } from '../identity/federation.js';
import type { FederationGrant } from '../core/federation.js';
import { newGrant } from '../core/validate.js';

export class FederationRepository implements GrantSource {
  private readonly byId;
  private readonly ofTenant;
  private readonly insert;
  private readonly revokeStmt;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], FederationGrant>('SELECT * FROM federation_grants WHERE id = ?');
    this.ofTenant = db.prepare<[string, string], FederationGrant>(
      'SELECT * FROM federation_grants WHERE source_tenant = ? OR target_tenant = ? ORDER BY created_at, id',
    );
    this.insert = db.prepare(
      `INSERT INTO federation_grants (id, source_tenant, target_tenant, resource_type, resource_id, access, created_at, expires_at)
       VALUES (@id, @source_tenant, @target_tenant, @resource_type, @resource_id, @access, @created_at, @expires_at)`,
    );
    this.revokeStmt = db.prepare('UPDATE federation_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  }

  get(id: string): FederationGrant | undefined {
    return this.byId.get(id);
  }

  list(tenantId: string): FederationGrant[] {
    return this.ofTenant.all(tenantId, tenantId);
  }

  create(o: { source: string; target: string; resource_type: string; resource_id?: string | null; access: string; expires_at: string }): FederationGrant {
    const exists = this.db.prepare('SELECT 1 FROM tenants WHERE id = ?');
    for (const t of [o.source, o.target]) if (!exists.get(t)) throw new StoreError(`unknown tenant ${t}`, 'not_found');
    const grant = newGrant(o);
    this.insert.run(grant);
    return grant;
  }

  revoke(tenantId: string, id: string): FederationGrant {
    const g = this.get(id);
    // Either side of a grant may end it.
    if (!g || (g.source_tenant !== tenantId && g.target_tenant !== tenantId)) throw new StoreError(`unknown grant ${id} for tenant ${tenantId}`, 'not_found');
    if (g.revoked_at) throw new StoreError(`grant ${id} is already revoked`, 'conflict');
    this.revokeStmt.run(new Date().toISOString(), id);
    return this.get(id)!;
  }
}
