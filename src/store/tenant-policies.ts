// Tenants' own rules and Rego in SQLite: one row per tenant, replaced whole by each change.
import type { Db } from './database.js';
import type { TenantPolicy, TenantPolicyInput } from '../core/tenant-rules.js';
import type { TenantPolicySource } from '../tenant-rules/loader.js';

export interface TenantPolicyRow {
  tenant_id: string;
  rules: string;
  rego: string | null;
  wasm: Uint8Array | null;
  projection: string | null;
  revision: number;
  updated_at: string;
  updated_by: string;
}

export function policyFromRow(r: TenantPolicyRow): TenantPolicy {
  return { ...r, rules: JSON.parse(r.rules) as TenantPolicy['rules'], rego: r.rego ? (JSON.parse(r.rego) as TenantPolicy['rego']) : null, wasm: r.wasm ? new Uint8Array(r.wasm) : null, revision: Number(r.revision) };
}

/** The row's values for a new revision of a tenant's policy. */
export function policyRow(tenantId: string, p: TenantPolicyInput, revision: number, actor: string): TenantPolicyRow {
  return {
    tenant_id: tenantId,
    rules: JSON.stringify(p.rules),
    rego: p.rego ? JSON.stringify(p.rego) : null,
    wasm: p.wasm,
    projection: p.projection,
    revision,
    updated_at: new Date().toISOString(),
    updated_by: actor,
  };
}

export class TenantPolicyRepository implements TenantPolicySource {
  private readonly byTenant;
  private readonly upsert;
  private readonly remove;

  constructor(db: Db) {
    this.byTenant = db.prepare<[string], TenantPolicyRow>('SELECT tenant_id, rules, rego, wasm, projection, revision, updated_at, updated_by FROM tenant_policies WHERE tenant_id = ?');
    this.upsert = db.prepare(
      `INSERT INTO tenant_policies (tenant_id, rules, rego, wasm, projection, revision, updated_at, updated_by) VALUES (@tenant_id, @rules, @rego, @wasm, @projection, @revision, @updated_at, @updated_by)
       ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules, rego = excluded.rego, wasm = excluded.wasm, projection = excluded.projection, revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    );
    this.remove = db.prepare('DELETE FROM tenant_policies WHERE tenant_id = ?');
  }

  get(tenantId: string): TenantPolicy | undefined {
    const r = this.byTenant.get(tenantId);
    return r ? policyFromRow(r) : undefined;
  }

  set(tenantId: string, p: TenantPolicyInput, actor: string): TenantPolicy {
    const row = policyRow(tenantId, p, (this.get(tenantId)?.revision ?? 0) + 1, actor);
    this.upsert.run(row);
    return policyFromRow(row);
  }

  delete(tenantId: string): TenantPolicy | undefined {
    const before = this.get(tenantId);
    if (before) this.remove.run(tenantId);
    return before;
  }
}
