// Federation: a grant from one tenant to another, and what verifying a grant token gives the policy.
export type FederationAccess = 'read' | 'write';

export interface FederationGrant {
  id: string;
  source_tenant: string;
  target_tenant: string;
  resource_type: string;
  resource_id: string | null;
  access: FederationAccess;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** A verified (or refused) federation token, as the policy reads it (input.federation). */
export interface FederationInput {
  valid: boolean;
  reason: string | null;
  grant: FederationGrant | null;
}
