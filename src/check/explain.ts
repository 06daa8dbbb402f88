// "Why was this denied?": one request's outcome as a report of each phase's result, the first that failed, and
// what to do about it. Built from a live explanation (the admin API runs the request through the pipeline without
// spending quota) or from a decision log entry (replay), which keeps the policy input.
import type { Outcome } from '../core/outcome.js';
import type { RuleHeld } from '../policy/explain.js';

export interface Phase {
  phase: 'request' | 'credential' | 'tenant' | 'groups' | 'policy' | 'tenant_rules' | 'quota';
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface ExplainReport {
  decision: { allowed: boolean; http_status: number; code: string | null; reason: string | null };
  decision_id: string;
  policy_revision: string;
  phases: Phase[];
  first_failure: { phase: Phase['phase']; code: string; reason: string | null; fix: string; tenant_rule?: string } | null;
}

/** Which phase gives each denial code of the catalogue (a policy's own codes are the policy's). */
const PHASE_OF: Record<string, Phase['phase']> = {
  bad_request: 'request',
  unauthenticated: 'credential',
  invalid_token: 'credential',
  invalid_api_key: 'credential',
  jwks_unavailable: 'credential',
  invalid_tenant_id: 'tenant',
  missing_tenant: 'tenant',
  unknown_tenant: 'tenant',
  tenant_suspended: 'tenant',
  quota_exceeded: 'quota',
  capacity_exceeded: 'quota',
  quota_unavailable: 'quota',
};

/** What to do about each denial, in a sentence. */
export const DENIAL_FIXES: Record<string, string> = {
  bad_request: 'fix the request as the reason says (path, headers or body)',
  unauthenticated: 'send a credential: authorization: Bearer <JWT>, or the API key header',
  invalid_token: "send a token from a configured issuer (auth.jwt.issuers), unexpired, with the issuer's audience",
  invalid_api_key: 'send a current key (npx tenantgate apikey list --tenant T shows revoked and expired ones)',
  jwks_unavailable: "the issuer's JWKS could not be fetched: check auth.jwt.issuers[].jwks_url from the server",
  invalid_tenant_id: 'the credential must name a tenant id of lower-case letters, digits and "-"',
  missing_tenant: 'the credential must carry the tenant claim (auth.jwt.tenant_claim), or the key a tenant',
  unknown_tenant: 'create the tenant (npx tenantgate tenant create ID --name N), or fix the claim',
  tenant_suspended: 'resume the tenant (npx tenantgate tenant resume ID)',
  tenant_mismatch: "call the credential's own tenant, or use a federation grant (npx tenantgate federation grant)",
  federation_denied: 'widen or renew the federation grant (npx tenantgate federation list --tenant T)',
  insufficient_permission: 'add the user to a group whose permissions cover this action (npx tenantgate member add)',
  route_not_allowed: 'the route is not one the policy allows; check the path and the policy routes',
  data_access_denied: "raise the user's data-access level with a group of that level",
  model_not_allowed: "use a model in the groups' allowed_models, or add it there",
  token_limit_exceeded: "ask for fewer max_tokens, or raise the groups' max_tokens_per_request",
  method_not_allowed: 'use a method the route allows',
  quota_exceeded: 'wait for the window to reset (see the quota phase), or raise the limit (npx tenantgate quota set)',
  capacity_exceeded: "the platform is at capacity (quota.capacity): retry after retry-after, or raise the tenant's share",
  quota_unavailable: 'the quota store (Redis) is unreachable: check quota.redis',
  store_unavailable: 'the store (PostgreSQL) is unreachable: check store.url and the database; cached data keeps serving',
  invalid_request_body: "send a body the tenant's rule accepts (the reason names the field); npx tenantgate tenant-rules get --tenant T shows the schema",
  network_not_allowed: "call from a network the tenant's rule allows, or change the rule (npx tenantgate tenant-rules get --tenant T)",
  outside_allowed_hours: "call within the hours the tenant's rule allows, or change the rule",
  tenant_rule_denied: "the tenant's own rule denies this request: a tenant admin can change it (npx tenantgate tenant-rules set)",
  tenant_policy_denied: "the tenant's own Rego denies this request (its reason says why): a tenant admin can change it",
  tenant_policy_error: "the tenant's own Rego failed, ran out of its time or memory budget, or could not be loaded: fix and upload it again",
  policy_error: "the policy failed to evaluate: see the server's log and run npx tenantgate policy test",
  internal_error: "see the server's log for the decision id",
};

export function explainOutcome(o: Outcome, rules?: RuleHeld[]): ExplainReport {
  const d = o.decision;
  const exceeded = o.quota?.find((q) => q.exceeded);
  const quotaDenied = d.allowed && exceeded !== undefined;
  const allowed = d.allowed && !quotaDenied;
  const code = allowed ? null : quotaDenied ? 'quota_exceeded' : ((d as { code?: string }).code ?? 'denied');
  const reason = allowed ? null : quotaDenied ? `the ${exceeded!.limit} limit of ${exceeded!.max} per ${exceeded!.kind} is used up` : ((d as { reason?: string }).reason ?? null);
  const phases = phasesOf(o, rules);
  let first: ExplainReport['first_failure'] = null;
  if (!allowed) {
    const phase = o.tenantRule !== undefined ? 'tenant_rules' : (PHASE_OF[code!] ?? 'policy');
    for (const p of phases) if (p.phase === phase) p.ok = false;
    first = { phase, code: code!, reason, fix: DENIAL_FIXES[code!] ?? 'the policy denied it with a code of its own: read its reason and the rules that held', ...(o.tenantRule !== undefined ? { tenant_rule: o.tenantRule } : {}) };
  }
  return {
    decision: { allowed, http_status: allowed ? 200 : quotaDenied ? 429 : ((d as { http_status?: number }).http_status ?? 403), code, reason },
    decision_id: o.decisionId,
    policy_revision: o.policyRevision,
    phases,
    first_failure: first,
  };
}

function phasesOf(o: Outcome, rules: RuleHeld[] | undefined): Phase[] {
  const phases: Phase[] = [];
  const r = o.request;
  phases.push({ phase: 'request', ok: r !== null, detail: r ? { method: r.method, path: r.path, host: r.host } : {} });
  if (!r) return phases;
  const id = o.identity;
  phases.push({ phase: 'credential', ok: id.kind !== 'anonymous', detail: { kind: id.kind, subject: id.subject, issuer: id.issuer, tenant: id.tenant_id, api_key_id: id.api_key_id ?? null } });
  if (id.kind === 'anonymous') return phases;
  const t = o.tenant;
  phases.push({ phase: 'tenant', ok: t !== null && t.status === 'active', detail: { tenant: t ? { id: t.id, tier: t.tier, status: t.status } : null, hints: o.hints, federation: o.federation } });
  const e = o.effective;
  if (e) {
    phases.push({
      phase: 'groups',
      ok: true,
      detail: { groups: e.groups.map((g) => ({ id: g.id, role: g.role })), permissions: e.permissions, data_access_level: e.data_access_level, primary_group: e.primary_group },
    });
  }
  if (o.policyDecision) phases.push({ phase: 'policy', ok: o.policyDecision.allowed, detail: { decision: { ...o.policyDecision }, ...(rules ? { rules_that_held: rules } : {}) } });
  if (o.tenantRule !== undefined) phases.push({ phase: 'tenant_rules', ok: false, detail: { tenant: o.tenant?.id ?? null, rule: o.tenantRule } });
  if (o.quota) phases.push({ phase: 'quota', ok: !o.quota.some((q) => q.exceeded), detail: { limits: o.quota } });
  return phases;
}
