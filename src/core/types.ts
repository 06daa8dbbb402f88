// Shapes shared by the phases of the Check pipeline.

/** A typed early end of the pipeline: the phase that produced it knows the code and status. */
export class Denial {
  readonly allowed = false as const;
  constructor(
    readonly http_status: number,
    readonly code: string,
    readonly reason: string,
    readonly headers?: Record<string, string>,
  ) {}
}

/** The policy's decision (docs/architecture.md, "Policy contract"), validated. */
export interface Decision {
  allowed: boolean;
  http_status?: number;
  code?: string;
  reason?: string;
  headers?: Record<string, string>;
  response_headers_to_add?: Record<string, string>;
  request_headers_to_remove?: string[];
  dynamic_metadata?: Record<string, unknown>;
  /** The provider the routing rules chose (x-upstream-provider). */
  upstream_provider?: string;
  /** An extra quota bucket the policy puts the request in (stacked on the tenant and caller limits). */
  quota?: { bucket: string; limits: { rate?: number; burst?: number; per_minute?: number; per_day?: number; per_month?: number } };
  /** Set when the request was allowed through a federation grant. */
  federation?: { source: string; target: string; access: string; grant_id: string };
}

export type IdentityKind = 'jwt' | 'api_key' | 'anonymous';

export interface Identity {
  kind: IdentityKind;
  subject: string | null;
  issuer: string | null;
  tenant_id: string | null;
  claims: Record<string, unknown>;
  api_key_id: string | null;
  /** Group ids from the token's groups claim (auth.jwt.groups_claim); only groups of the tenant count. */
  claim_groups?: string[];
  /** A per-key quota tier (apikey create --tier), if set. */
  api_key_tier?: 'free' | 'basic' | 'premium' | 'enterprise' | null;
  scopes: string[];
}

export const ANONYMOUS: Identity = Object.freeze({
  kind: 'anonymous',
  subject: null,
  issuer: null,
  tenant_id: null,
  claims: Object.freeze({}) as Record<string, unknown>,
  api_key_id: null,
  scopes: Object.freeze([]) as unknown as string[],
}) as Identity;

export interface TenantHint {
  source: 'header' | 'path' | 'host' | 'context_extensions';
  id: string;
}

/** The client certificate a listener authenticated (mTLS), as the policy sees it (input.peer). */
export interface Peer {
  principal: string;
  spiffe_id: string | null;
  subject: string;
}
