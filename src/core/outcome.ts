// What the pipeline resolved and decided for one request: read by the response, the metrics and the decision log.
import type { Decision, Denial, Identity, TenantHint } from './types.js';
import type { Tenant } from './tenants.js';
import type { EffectiveContext } from './limits.js';
import type { FederationInput } from './federation.js';
import type { NormalizedRequest } from './request.js';

export interface ResolvedContext {
  identity: Identity;
  tenant: Tenant | null;
  effective: EffectiveContext | null;
  hints: TenantHint[];
  federation: FederationInput | null;
  targetTenant: Tenant | null;
}

/**
 * The policy input's parts (check/input.ts) that are objects from the caches, never changed once made: the same
 * object stands for the same content, which the decision cache keys on (policy/decision-key.ts).
 */
export const STABLE_INPUT_KEYS: readonly string[] = Object.freeze(['identity', 'tenant', 'groups', 'effective', 'target_tenant']);

export interface Outcome extends ResolvedContext {
  decisionId: string;
  decision: Decision | Denial;
  request: NormalizedRequest | null;
  policyRevision: string;
  /** Set when the policy ran: its input and its own decision (before quotas), for shadow evaluation. */
  policyInput?: Record<string, unknown>;
  policyDecision?: Decision | Denial;
  policySeconds?: number;
  /** The tenant's own rule that denied the request ("rego" for its module), when one did. */
  tenantRule?: string;
  /** LLM tokens reserved against the token budgets, held until the response's usage settles them. */
  reserved?: { input: number; output: number; costNanoUsd: number };
  /** Headers the tenant's own rules add for the upstream (under the policy's and the trusted ones). */
  tenantHeaders?: Readonly<Record<string, string>>;
  /** An explanation's look at the quota limits (nothing spent): each with what is left of it. */
  quota?: readonly { limit: string; kind: string; max: number; remaining: number; reset_seconds: number; exceeded: boolean }[];
}
