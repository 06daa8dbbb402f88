// The Check pipeline: normalize → identify → body → tenancy → federation → policy → quota. It only orders the phases.
// Each phase returns its result or a typed Denial; nothing here throws to the gRPC layer.
import { randomUUID } from 'node:crypto';
import type { Config } from '../core/config.js';
import { normalize, normalizeParts, type RequestParts } from './normalize.js';
import { type NormalizedRequest } from '../core/request.js';
import { buildInput } from './input.js';
import type { ResolvedContext, Outcome } from '../core/outcome.js';
import { parseBody } from './body.js';
import { ANONYMOUS, Denial, type Decision, type Identity, type Peer } from '../core/types.js';
import { extractCredential } from '../identity/credentials.js';
import type { JwtVerifier } from '../identity/jwt.js';
import type { ApiKeyVerifier } from '../identity/apikey.js';
import { federationFor, type FederationVerifier } from '../identity/federation.js';
import type { TenancyPhase } from '../tenancy/tenancy.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { QuotaOutcome, QuotaPeek, QuotaService } from '../quota/service.js';
import type { RepeatedLog } from '../telemetry/repeated-log.js';
import { deny } from '../core/denials.js';
import { StoreUnavailable } from '../core/errors.js';

export interface PipelineDeps {
  config: Config;
  jwt: JwtVerifier;
  apiKeys: ApiKeyVerifier;
  federation: FederationVerifier;
  tenancy: TenancyPhase;
  policy: PolicyEngine;
  quota?: QuotaService;
  /** Errors that can repeat per request go through a limiter (one line per interval, the rest counted). */
  log: RepeatedLog;
}

const NOBODY: ResolvedContext = Object.freeze({ identity: ANONYMOUS, tenant: null, effective: null, hints: [], federation: null, targetTenant: null });

export class CheckPipeline {
  private readonly apiKeyHeader: string;
  private readonly federationHeader: string;
  /** The OPA-Envoy mode reads ambiguous paths too: its policy decides on them (the plugin does not refuse them). */
  private readonly enrichLimits: PipelineDeps['config']['limits'];

  constructor(private readonly deps: PipelineDeps) {
    this.apiKeyHeader = deps.config.auth.api_keys.header.toLowerCase();
    this.federationHeader = deps.config.federation.header.toLowerCase();
    this.enrichLimits = { ...deps.config.limits, reject_ambiguous_paths: false };
  }

  /**
   * One check of an Envoy CheckRequest (`raw`), or of a request a transport has already taken apart (`parts`, the
   * HTTP mode). `peer`: the client certificate the listener authenticated (mTLS), if any.
   */
  async check(raw: unknown, peer: Peer | null = null, parts?: RequestParts, explain = false): Promise<Outcome> {
    const decisionId = randomUUID();
    const revision = this.deps.policy.revision;
    let policyInput: Record<string, unknown> | undefined;
    let policyDecision: Decision | Denial | undefined;
    let policySeconds: number | undefined;
    let ctx: ResolvedContext = NOBODY;
    const end = (decision: Decision | Denial, request: NormalizedRequest | null = null): Outcome => ({
      identity: ctx.identity,
      tenant: ctx.tenant,
      effective: ctx.effective,
      hints: ctx.hints,
      federation: ctx.federation,
      targetTenant: ctx.targetTenant,
      policyInput,
      policyDecision,
      policySeconds,
      decisionId,
      decision,
      request,
      policyRevision: revision,
    });
    let req: NormalizedRequest | Denial | undefined;
    let who: Identity = ANONYMOUS; // for the error log when a later phase fails
    try {
      req = parts ? normalizeParts(parts, this.deps.config.limits) : normalize(raw, this.deps.config.limits);
      if (req instanceof Denial) return end(req);

      let identity = this.identify(req);
      if (identity instanceof Promise) identity = await identity;
      if (identity instanceof Denial) return end(identity, req);
      who = identity;
      const refused = this.readBody(req, identity);
      if (refused) return end(refused, req);

      const resolved = await this.resolve(req, identity);
      ctx = resolved instanceof Denial ? { ...NOBODY, identity } : resolved;
      if (resolved instanceof Denial) return end(resolved, req);

      policyInput = buildInput(req, ctx, peer);
      const t0 = process.hrtime.bigint();
      const decision = this.deps.policy.evaluate(policyInput);
      policySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      policyDecision = decision;
      if (decision instanceof Denial || !decision.allowed) return end(decision, req);

      if (explain) return { ...end(decision, req), quota: await this.peekQuota(ctx, decision) };
      let charged = this.charge(ctx, decision);
      if (charged instanceof Promise) charged = await charged;
      if (charged instanceof Denial) return end(charged, req);
      return end(charged, req);
    } catch (err) {
      return end(this.failed(err, decisionId, who), req instanceof Denial ? null : (req ?? null));
    }
  }

  /** What a check that threw is denied with: never a pass, never the server down. */
  private failed(err: unknown, decisionId: string, who: Identity): Denial {
    // The store unreachable (PostgreSQL down) on a cache miss: fail closed, and say so.
    if (err instanceof StoreUnavailable) {
      this.deps.log.warn('store_unavailable', { err: err.message }, 'a check needed the store, which is unavailable');
      return deny('store_unavailable', 'the authorization store is unavailable');
    }
    // A bug must not let a request through, nor take the server down; it is logged, with the tenant and decision
    // id, so the 503 can be traced.
    this.deps.log.error('check_failed', { err, decision_id: decisionId, tenant: who.tenant_id, subject: who.subject }, 'check failed');
    return deny('internal_error', 'the authorization service failed to decide');
  }

  /**
   * The OPA-Envoy mode's use of the phases: who the caller is and which tenant, for the input only. Nothing here
   * refuses a request: a credential that does not verify, or a tenant that does not resolve, leaves them unknown.
   */
  async enrich(raw: unknown): Promise<{ ctx: ResolvedContext; request: NormalizedRequest | null }> {
    try {
      const req = normalize(raw, this.enrichLimits);
      if (req instanceof Denial) return { ctx: NOBODY, request: null };
      let identity = this.identify(req);
      if (identity instanceof Promise) identity = await identity;
      if (identity instanceof Denial) return { ctx: NOBODY, request: req };
      const resolved = await this.resolve(req, identity);
      return { ctx: resolved instanceof Denial ? { ...NOBODY, identity } : resolved, request: req };
    } catch (err) {
      this.deps.log.error('enrich_failed', { err }, 'could not resolve the caller for the policy input');
      return { ctx: NOBODY, request: null };
    }
  }

  /**
   * Quota: only what the policy allowed spends quota, and always the caller's own tenant (federated too). The
   * decision with the RateLimit fields added, or the quota's denial; synchronous unless the limiter is Redis.
   */
  private charge(ctx: ResolvedContext, decision: Decision): Decision | Denial | Promise<Decision | Denial> {
    const quota = this.deps.quota;
    const tenant = ctx.tenant;
    if (!quota || !tenant) return decision;
    const q = quota.enforce(tenant, ctx.identity, ctx.effective, decision);
    // No closure on the synchronous (local limiter) path, which is every check without Redis.
    return q instanceof Promise ? q.then((r) => withQuota(decision, r)) : withQuota(decision, q);
  }

  /** One request through every phase, as check() runs it, but spending no quota: what each quota limit has left. */
  explain(raw: unknown): Promise<Outcome> {
    return this.check(raw, null, undefined, true);
  }

  private async peekQuota(ctx: ResolvedContext, decision: Decision): Promise<QuotaPeek[] | undefined> {
    const quota = this.deps.quota;
    return quota && ctx.tenant ? quota.peek(ctx.tenant, ctx.identity, ctx.effective, decision) : undefined;
  }

  /** The body is parsed only for an identified caller, and only when the policy reads it. */
  private readBody(req: NormalizedRequest, identity: Identity): Denial | undefined {
    if (identity.kind === 'anonymous' || req.body === null || !this.deps.policy.readsBody) return undefined;
    return parseBody(req, this.deps.config.limits.max_json_depth);
  }

  private identify(req: NormalizedRequest): Identity | Denial | Promise<Identity | Denial> {
    const cred = extractCredential(req.headers, this.deps.config.auth.jwt.max_token_bytes);
    if (cred instanceof Denial) return cred;
    const apiKey = req.headers[this.apiKeyHeader];
    if (apiKey !== undefined && apiKey !== '') {
      if (cred.kind !== 'none') return deny('bad_request', 'send either a bearer token or an API key, not both');
      return this.deps.apiKeys.verify(apiKey);
    }
    if (cred.kind === 'none') return ANONYMOUS;
    return this.deps.jwt.cached(cred.token) ?? this.deps.jwt.verify(cred.token);
  }

  private async resolve(req: NormalizedRequest, identity: Identity): Promise<ResolvedContext | Denial> {
    if (identity.kind === 'anonymous') return { ...NOBODY, identity };
    let t = this.deps.tenancy.resolve(req, identity);
    if (t instanceof Promise) t = await t;
    if (t instanceof Denial) return t;
    const fed = await federationFor(this.deps.federation, req.headers[this.federationHeader], t.tenantId, t.hints, (id) => this.deps.tenancy.tenant(id));
    return { identity, tenant: t.tenant, effective: t.effective, hints: t.hints, federation: fed?.federation ?? null, targetTenant: fed?.targetTenant ?? null };
  }

}

/** The decision with the quota's RateLimit fields added, or the quota's denial. */
function withQuota(decision: Decision, r: QuotaOutcome): Decision | Denial {
  if (r instanceof Denial) return r;
  return r.headers.ratelimit ? { ...decision, response_headers_to_add: { ...decision.response_headers_to_add, ...r.headers } } : decision;
}
