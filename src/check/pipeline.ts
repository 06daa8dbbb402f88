// The Check pipeline: normalize → identify → resolve tenant → load context → evaluate policy.
// Each phase returns its result or a typed Denial; nothing here throws to the gRPC layer.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { normalize, type NormalizedRequest } from './normalize.js';
import { buildInput, type ResolvedContext } from './input.js';
import { ANONYMOUS, Denial, type Decision, type Identity } from './types.js';
import { extractCredential } from '../identity/credentials.js';
import type { JwtVerifier } from '../identity/jwt.js';
import type { ApiKeyVerifier } from '../identity/apikey.js';
import type { FederationVerifier } from '../identity/federation.js';
import type { TenantResolver } from '../tenancy/resolve.js';
import type { ContextLoader } from '../tenancy/context.js';
import type { PolicyEngine } from '../policy/engine.js';
import { readClaim } from '../tenancy/claims.js';
import type { AuditInput } from '../store/audit.js';
import type { QuotaService } from '../quota/service.js';

export interface Outcome extends ResolvedContext {
  decisionId: string;
  decision: Decision | Denial;
  request: NormalizedRequest | null;
  policyRevision: string;
  /** Set when the policy ran: its input and its own decision (before quotas), for shadow evaluation. */
  policyInput?: Record<string, unknown>;
  policyDecision?: Decision | Denial;
  policySeconds?: number;
}

export interface PipelineDeps {
  config: Config;
  jwt: JwtVerifier;
  apiKeys: ApiKeyVerifier;
  federation: FederationVerifier;
  resolver: TenantResolver;
  context: ContextLoader;
  policy: PolicyEngine;
  audit: (entry: AuditInput) => void;
  quota?: QuotaService;
}

const NOBODY: ResolvedContext = Object.freeze({ identity: ANONYMOUS, tenant: null, effective: null, hints: [], federation: null, targetTenant: null });

export class CheckPipeline {
  private readonly apiKeyHeader: string;
  private readonly federationHeader: string;

  constructor(private readonly deps: PipelineDeps) {
    this.apiKeyHeader = deps.config.auth.api_keys.header.toLowerCase();
    this.federationHeader = deps.config.federation.header.toLowerCase();
  }

  async check(raw: unknown): Promise<Outcome> {
    const decisionId = randomUUID();
    const revision = this.deps.policy.revision;
    let policy: Pick<Outcome, 'policyInput' | 'policyDecision' | 'policySeconds'> = {};
    const end = (decision: Decision | Denial, ctx: ResolvedContext = NOBODY, request: NormalizedRequest | null = null): Outcome => ({
      ...ctx,
      ...policy,
      decisionId,
      decision,
      request,
      policyRevision: revision,
    });
    try {
      const req = normalize(raw, this.deps.config.limits);
      if (req instanceof Denial) return end(req);

      let identity = this.identify(req);
      if (identity instanceof Promise) identity = await identity;
      if (identity instanceof Denial) return end(identity, NOBODY, req);

      const ctx = await this.resolve(req, identity);
      if (ctx instanceof Denial) return end(ctx, { ...NOBODY, identity }, req);

      const input = buildInput(req, ctx);
      const t0 = process.hrtime.bigint();
      let decision = this.deps.policy.evaluate(input);
      policy = { policyInput: input, policyDecision: decision, policySeconds: Number(process.hrtime.bigint() - t0) / 1e9 };
      if (decision instanceof Denial || !decision.allowed) return end(decision, ctx, req);

      // Quota: only what the policy allowed spends quota, and always the caller's own tenant (federated too).
      const quota = this.deps.quota;
      const charged = ctx.tenant;
      if (quota && charged) {
        let q = quota.enforce(charged, ctx.identity, ctx.effective, decision);
        if (q instanceof Promise) q = await q;
        if (!q.allowed) return end(new Denial(q.http_status, q.code, q.reason, q.headers), ctx, req);
        if (q.headers.ratelimit) decision = { ...decision, response_headers_to_add: { ...decision.response_headers_to_add, ...q.headers } };
      }
      if (decision.federation) this.auditFederated(decisionId, req, ctx, decision);
      return end(decision, ctx, req);
    } catch {
      // A bug or a failing store must not let a request through, nor take the server down.
      return end(new Denial(503, 'internal_error', 'the authorization service failed to decide'));
    }
  }

  private identify(req: NormalizedRequest): Identity | Denial | Promise<Identity | Denial> {
    const cred = extractCredential(req.headers, this.deps.config.auth.jwt.max_token_bytes);
    if (cred instanceof Denial) return cred;
    const apiKey = req.headers[this.apiKeyHeader];
    if (apiKey !== undefined && apiKey !== '') {
      if (cred.kind !== 'none') return new Denial(400, 'bad_request', 'send either a bearer token or an API key, not both');
      return this.deps.apiKeys.verify(apiKey);
    }
    if (cred.kind === 'none') return ANONYMOUS;
    return this.deps.jwt.cached(cred.token) ?? this.deps.jwt.verify(cred.token);
  }

  private async resolve(req: NormalizedRequest, identity: Identity): Promise<ResolvedContext | Denial> {
    if (identity.kind === 'anonymous') return { ...NOBODY, identity };
    const { resolver, context } = this.deps;
    const tenantId = resolver.identityTenant(identity);
    if (tenantId instanceof Denial) return tenantId;
    const hints = resolver.hints(req);
    if (hints instanceof Denial) return hints;
    const tenant = context.tenant(tenantId);
    const effective = tenant ? context.user(tenant, identity.subject ?? '', this.claimGroups(identity)) : null;

    let federation = null;
    let targetTenant = null;
    const token = req.headers[this.federationHeader];
    const other = hints.find((h) => h.id !== tenantId);
    if (token !== undefined && other) {
      federation = await this.deps.federation.verify(token, tenantId);
      targetTenant = context.tenant(other.id);
    }
    return { identity, tenant, effective, hints, federation, targetTenant };
  }

  private claimGroups(identity: Identity): string[] {
    const claim = this.deps.config.auth.jwt.groups_claim;
    if (!claim || identity.kind !== 'jwt') return [];
    const v = readClaim(identity.claims, claim);
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    return typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : [];
  }

  private auditFederated(decisionId: string, req: NormalizedRequest, ctx: ResolvedContext, decision: Decision): void {
    const f = decision.federation!;
    this.deps.audit({
      actor: `${ctx.identity.kind}:${ctx.identity.subject ?? ''}@${f.source}`,
      action: 'federation.access',
      tenant_id: f.target,
      target: f.grant_id,
      before: null,
      after: { decision_id: decisionId, source: f.source, access: f.access, method: req.method, path: req.path },
    });
  }
}
