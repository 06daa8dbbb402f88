// Tenants: tiers, statuses, the record, and what a tenant id may look like.
export const TIERS = ['free', 'basic', 'premium', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];
export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  id: string;
  name: string;
  tier: Tier;
  status: TenantStatus;
  /** The upstream cluster for silo tenants (Envoy routes on x-tenant-upstream); null for pooled tenants. */
  upstream: string | null;
  /** Day of the month (1-28) the tenant's monthly quota restarts; null: the 1st. */
  billing_anchor_day: number | null;
  created_at: string;
  updated_at: string;
}

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,35}$/;

export function isValidTenantId(id: string): boolean {
  return TENANT_ID_PATTERN.test(id);
}
