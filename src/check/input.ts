// Builds the policy input (docs/architecture.md, "Policy contract"): OPA-Envoy's input plus tenantgate's resolved context.
import type { NormalizedRequest } from '../core/request.js';
import type { Peer } from '../core/types.js';
import type { ResolvedContext } from '../core/outcome.js';
import type { EffectiveContext } from '../core/limits.js';

const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });
const NO_GROUPS = Object.freeze([]);

// The effective context as the input shows it, one frozen view per (interned) context: the input's stable parts
// (STABLE_INPUT_KEYS) must be the same object from one request to the next.
const views = new WeakMap<EffectiveContext, Readonly<Record<string, unknown>>>();
function effectiveView(e: EffectiveContext): Readonly<Record<string, unknown>> {
  let v = views.get(e);
  if (!v) {
    v = Object.freeze({
      permissions: e.permissions,
      data_access_level: e.data_access_level,
      allowed_levels: e.allowed_levels,
      routing_strategy: e.routing_strategy,
      preferred_providers: e.preferred_providers,
      limits: e.limits,
      primary_group: e.primary_group,
    });
    views.set(e, v);
  }
  return v;
}

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
    groups: e ? e.groups : NO_GROUPS,
    effective: e ? effectiveView(e) : null,
    request_tenant: c.hints[0]?.id ?? null,
    request_tenant_hints: c.hints,
    federation: c.federation,
    target_tenant: c.targetTenant,
    // The client certificate of the connection to tenantgate (Envoy, a gateway, or a direct client), with mTLS.
    peer,
  };
}
