// Builds the policy input (docs/architecture.md, "Policy contract"): OPA-Envoy's input plus tenantgate's resolved context.
import type { NormalizedRequest } from '../core/request.js';
import type { Peer } from '../core/types.js';
import type { ResolvedContext } from '../core/outcome.js';

const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

export function buildInput(req: NormalizedRequest, c: ResolvedContext, peer: Peer | null = null): Record<string, unknown> {
  const e = c.effective;
  return {
    attributes: req.attributes,
    parsed_path: req.parsedPath,
    parsed_query: req.parsedQuery,
    parsed_body: req.parsedBody,
    truncated_body: req.truncatedBody,
    body_error: req.bodyError,
    version: VERSION,
    identity: c.identity,
    tenant: c.tenant,
    groups: e ? e.groups : [],
    effective: e
      ? {
          permissions: e.permissions,
          data_access_level: e.data_access_level,
          allowed_levels: e.allowed_levels,
          routing_strategy: e.routing_strategy,
          preferred_providers: e.preferred_providers,
          limits: e.limits,
          primary_group: e.primary_group,
        }
      : null,
    request_tenant: c.hints[0]?.id ?? null,
    request_tenant_hints: c.hints,
    federation: c.federation,
    target_tenant: c.targetTenant,
    // The client certificate of the connection to tenantgate (Envoy, a gateway, or a direct client), with mTLS.
    peer,
  };
}
