// Builds the policy input (DESIGN.md section 4): OPA-Envoy's input plus tenantgate's resolved context.
import type { NormalizedRequest } from './normalize.js';
import type { Identity, TenantHint } from './types.js';
import type { Tenant } from '../store/tenants.js';

const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

export interface PolicyInput {
  attributes: Record<string, unknown>;
  parsed_path: string[];
  parsed_query: Record<string, string[]>;
  parsed_body: unknown;
  truncated_body: boolean;
  body_error: string | null;
  version: typeof VERSION;
  identity: Identity;
  tenant: Tenant | null;
  groups: unknown[];
  request_tenant: string | null;
  request_tenant_hints: TenantHint[];
}

export function buildInput(req: NormalizedRequest, identity: Identity, tenant: Tenant | null, hints: TenantHint[]): PolicyInput {
  return {
    attributes: req.attributes,
    parsed_path: req.parsedPath,
    parsed_query: req.parsedQuery,
    parsed_body: req.parsedBody,
    truncated_body: req.truncatedBody,
    body_error: req.bodyError,
    version: VERSION,
    identity,
    tenant,
    groups: [],
    request_tenant: hints[0]?.id ?? null,
    request_tenant_hints: hints,
  };
}
