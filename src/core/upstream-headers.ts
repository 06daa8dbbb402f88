// The trusted headers tenantgate sets for the upstream: every name, and how each value is made, in one place.
// A user's context headers are made once per cached context (contextHeaders); the rest when a request is allowed.
import type { Decision } from './types.js';
import type { Outcome } from './outcome.js';
import type { Tenant } from './tenants.js';

/** Every header tenantgate may set for the upstream: clients never get to supply one of these. */
export const TRUSTED_HEADERS = [
  'x-tenant-id',
  'x-tenant-tier',
  'x-user-id',
  'x-user-groups',
  'x-primary-group',
  'x-data-access-level',
  'x-data-filters',
  'x-tenant-partition',
  'x-tenant-storage-prefix',
  'x-tenant-search-index',
  'x-tenant-upstream',
  'x-routing-strategy',
  'x-upstream-provider',
  'x-api-key-id',
  'x-federation-source',
  'x-federation-access',
  'x-decision-id',
  'x-policy-revision',
] as const;

const TRUSTED_SET: ReadonlySet<string> = new Set(TRUSTED_HEADERS);

// Header values come partly from token claims: keep them to visible ASCII so Envoy's mutation checks pass
// and nothing can inject a header line.
const UNSAFE = /[^\x20-\x7e]/;
const UNSAFE_ALL = /[^\x20-\x7e]/g;
export const safe = (v: string): string => (UNSAFE.test(v) ? v.replace(UNSAFE_ALL, (c) => encodeURIComponent(c)) : v);

/** What a user's groups give the upstream, made once per effective context. */
export interface ContextHeaderValues {
  groupIds: readonly string[];
  primaryGroup: string;
  level: string;
  routingStrategy: string;
  dataFilters: unknown;
}

export function contextHeaders(v: ContextHeaderValues, tenant: Tenant): Record<string, string> {
  const headers: Record<string, string> = {
    'x-user-groups': v.groupIds.join(','),
    'x-primary-group': v.primaryGroup,
    'x-data-access-level': v.level,
    'x-routing-strategy': v.routingStrategy,
    // Non-ASCII escaped as \uXXXX: still the same JSON, and a valid header value.
    'x-data-filters': JSON.stringify(v.dataFilters).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  };
  if (tenant.upstream) headers['x-tenant-upstream'] = tenant.upstream;
  return headers;
}

/** The upstream headers for an allowed request, trusted context first (policy headers cannot override it). */
export function upstreamHeaders(outcome: Outcome, decision: Decision): Record<string, string> {
  const out: Record<string, string> = {};
  if (outcome.tenantHeaders) for (const [k, v] of Object.entries(outcome.tenantHeaders)) if (!TRUSTED_SET.has(k)) out[k] = safe(v);
  if (decision.headers) for (const [k, v] of Object.entries(decision.headers)) if (!TRUSTED_SET.has(k)) out[k] = v;
  // A federated request acts on the target tenant's data: the upstream sees the target as the tenant.
  const fed = decision.federation;
  const t = fed ? outcome.targetTenant : outcome.tenant;
  if (t) {
    out['x-tenant-id'] = t.id;
    out['x-tenant-tier'] = t.tier;
    out['x-tenant-partition'] = `TENANT#${t.id}`;
    out['x-tenant-storage-prefix'] = `tenant-${t.id}/`;
    out['x-tenant-search-index'] = `tenant-${t.id}`;
  }
  if (outcome.identity.subject) out['x-user-id'] = safe(outcome.identity.subject);
  if (outcome.identity.api_key_id) out['x-api-key-id'] = outcome.identity.api_key_id;
  if (outcome.effective) {
    Object.assign(out, outcome.effective.headers);
    // The tenant's own upstream does not apply to another tenant's data.
    if (fed) delete out['x-tenant-upstream'];
    if (fed && t?.upstream) out['x-tenant-upstream'] = t.upstream;
  }
  if (decision.upstream_provider) out['x-upstream-provider'] = safe(decision.upstream_provider);
  if (fed) {
    out['x-federation-source'] = fed.source;
    out['x-federation-access'] = fed.access;
  }
  out['x-decision-id'] = outcome.decisionId;
  return out;
}
