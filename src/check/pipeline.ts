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
import { extractCredential, malformed } from '../identity/credentials.js';
import type { JwtVerifier } from '../identity/jwt.js';
import type { ApiKeyVerifier } from '../identity/apikey.js';
import { federationFor, type FederationVerifier } from '../identity/federation.js';
import type { Tenancy, TenancyPhase } from '../tenancy/tenancy.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { TenantRulesPhase, TenantVerdict } from '../tenant-rules/phase.js';
import { demandOf } from '../genai/demand.js';
import type { QuotaOutcome, QuotaPeek, QuotaService } from '../quota/service.js';
import type { RepeatedLog } from '../telemetry/repeated-log.js';
import { deny } from '../core/denials.js';
import { StoreUnavailable } from '../core/errors.js';
// Types only: the OpenTelemetry modules are loaded when tracing is on (serve/wiring.ts).
import type { CheckTrace, Tracing } from '../telemetry/tracing.js';

export interface PipelineDeps {
  config: Config;
  jwt: JwtVerifier;
  apiKeys: ApiKeyVerifier;
  federation: FederationVerifier;
  tenancy: TenancyPhase;
  policy: PolicyEngine;
  quota?: QuotaService;
  /** Tenants' own rules, after the platform's policy allowed. */
  tenantRules?: TenantRulesPhase;
  /** Errors that can repeat per request go through a limiter (one line per interval, the rest counted). */
  log: RepeatedLog;
  /** OpenTelemetry, when tracing is on. */
  tracing?: Tracing;
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
   * HTTP mode). `peer`: the client certificate the listener authenticated (mTLS), if any. The outcome at once when
   * every phase answers at once (the caches, SQLite, the local limiter), which is nearly every check: a promise
   * and a microtask per phase were measurable under load (bench/README.md); a promise only when one must wait.
   */
  check(raw: unknown, peer: Peer | null = null, parts?: RequestParts, explain = false): Outcome | Promise<Outcome> {
    const run = new Run(randomUUID(), this.deps.policy.revision, peer, explain);
    const tracing = this.deps.tracing;
    const started = tracing ? performance.timeOrigin + performance.now() : 0;
    try {
      const req = parts ? normalizeParts(parts, this.deps.config.limits) : normalize(raw, this.deps.config.limits);
      if (tracing) run.trace = tracing.startCheck(req instanceof Denial ? {} : req.headers, started);
      if (req instanceof Denial) return run.end(req);
      run.req = req;
      return run.within('identify', () => {
        const identity = this.identify(req);
        return identity instanceof Promise ? identity.then((i) => this.identified(run, req, i), (err) => this.failed(run, err)) : this.identified(run, req, identity);
      });
    } catch (err) {
      return this.failed(run, err);
    }
  }

  private identified(run: Run, req: NormalizedRequest, identity: Identity | Denial): Outcome | Promise<Outcome> {
    try {
      if (identity instanceof Denial) return run.end(identity, req);
      run.who = identity;
      const refused = this.readBody(req, identity);
      if (refused) return run.end(refused, req);
      return run.within('tenancy', () => {
        const resolved = this.resolve(req, identity);
        return resolved instanceof Promise ? resolved.then((r) => this.resolved(run, req, identity, r), (err) => this.failed(run, err)) : this.resolved(run, req, identity, resolved);
      });
    } catch (err) {
      return this.failed(run, err);
    }
  }

  private resolved(run: Run, req: NormalizedRequest, identity: Identity, resolved: ResolvedContext | Denial): Outcome | Promise<Outcome> {
    try {
      run.ctx = resolved instanceof Denial ? { ...NOBODY, identity } : resolved;
      if (resolved instanceof Denial) return run.end(resolved, req);
      run.trace?.phase('policy');
      const input = buildInput(req, run.ctx, run.peer);
      run.policyInput = input;
      const t0 = performance.now();
      const decision = this.deps.policy.evaluate(input);
      run.policySeconds = (performance.now() - t0) / 1000;
      run.policyDecision = decision;
      if (decision instanceof Denial || !decision.allowed) return run.end(decision, req);
      const rules = this.deps.tenantRules;
      const tenant = run.ctx.tenant;
      if (!rules || !tenant) return this.spend(run, req, decision, undefined);
      // No closure per check unless it is traced.
      const v = run.trace ? run.within('tenant_rules', () => rules.apply(tenant.id, req, run.ctx.effective, input)) : rules.apply(tenant.id, req, run.ctx.effective, input);
      return v instanceof Promise ? v.then((x) => this.judged(run, req, decision, x), (err) => this.failed(run, err)) : this.judged(run, req, decision, v);
    } catch (err) {
      return this.failed(run, err);
    }
  }

  /** The tenant's verdict: its denial, or its headers for the upstream (under the policy's own) and its limits. */
  private judged(run: Run, req: NormalizedRequest, decision: Decision, v: TenantVerdict): Outcome | Promise<Outcome> {
    try {
      if (v.denial) {
        run.tenantRule = v.rule;
        return run.end(v.denial, req);
      }
      run.tenantHeaders = v.headers;
      return this.spend(run, req, decision, v.buckets);
    } catch (err) {
      return this.failed(run, err);
    }
  }

  private spend(run: Run, req: NormalizedRequest, decision: Decision, buckets: RuleBuckets): Outcome | Promise<Outcome> {
    if (run.explain) return this.peekQuota(run.ctx, decision, buckets).then((quota) => ({ ...run.end(decision, req), quota }), (err) => this.failed(run, err));
    return run.within('quota', () => {
      const charged = this.charge(run, req, decision, buckets);
      return charged instanceof Promise ? charged.then((c) => run.end(c, req), (err) => this.failed(run, err)) : run.end(charged, req);
    });
  }

  /** What a check that threw is denied with: never a pass, never the server down. */
  private failed(run: Run, err: unknown): Outcome {
    return run.end(this.failure(err, run.decisionId, run.who), run.req ?? null);
  }

  private failure(err: unknown, decisionId: string, who: Identity): Denial {
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
   * `caller` false: only the request (the policy does not read input.tenantgate). At once when the phases are.
   */
  enrich(raw: unknown, caller = true): Enriched | Promise<Enriched> {
    try {
      const req = normalize(raw, this.enrichLimits);
      if (req instanceof Denial) return { ctx: NOBODY, request: null };
      if (!caller) return { ctx: NOBODY, request: req };
      const identity = this.identify(req);
      return identity instanceof Promise ? identity.then((i) => this.enriched(req, i), (err) => this.enrichFailed(err)) : this.enriched(req, identity);
    } catch (err) {
      return this.enrichFailed(err);
    }
  }

  private enriched(req: NormalizedRequest, identity: Identity | Denial): Enriched | Promise<Enriched> {
    if (identity instanceof Denial) return { ctx: NOBODY, request: req };
    const done = (r: ResolvedContext | Denial): Enriched => ({ ctx: r instanceof Denial ? { ...NOBODY, identity } : r, request: req });
    try {
      const resolved = this.resolve(req, identity);
      return resolved instanceof Promise ? resolved.then(done, (err) => this.enrichFailed(err)) : done(resolved);
    } catch (err) {
      return this.enrichFailed(err);
    }
  }

  private enrichFailed(err: unknown): Enriched {
    this.deps.log.error('enrich_failed', { err }, 'could not resolve the caller for the policy input');
    return { ctx: NOBODY, request: null };
  }

  /**
   * Quota: only what the policy allowed spends quota, and always the caller's own tenant (federated too). The
   * decision with the RateLimit fields added, or the quota's denial; synchronous unless the limiter is Redis.
   */
  private charge(run: Run, req: NormalizedRequest, decision: Decision, buckets: RuleBuckets): Decision | Denial | Promise<Decision | Denial> {
    const quota = this.deps.quota;
    const ctx = run.ctx;
    const tenant = ctx.tenant;
    if (!quota || !tenant) return decision;
    // An LLM request reserves against the token budgets, when its tenant or caller has any (its body read only then).
    let demand: ReturnType<typeof demandOf>;
    if (quota.hasTokenBudgets(tenant, ctx.identity, ctx.effective)) {
      if (req.parsedBody === null && req.bodyError === null && req.body) {
        const refused = parseBody(req, this.deps.config.limits.max_json_depth);
        if (refused) return refused;
      }
      demand = demandOf(req, this.deps.config.genai);
    }
    const q = quota.enforce(tenant, ctx.identity, ctx.effective, decision, buckets, demand && { decisionId: run.decisionId, demand, model: demand.model });
    // No closure on the synchronous (local limiter) path, which is every check without Redis.
    return q instanceof Promise ? q.then((r) => withQuota(run, decision, r)) : withQuota(run, decision, q);
  }

  /** One request through every phase, as check() runs it, but spending no quota: what each quota limit has left. */
  async explain(raw: unknown): Promise<Outcome> {
    return this.check(raw, null, undefined, true);
  }

  private async peekQuota(ctx: ResolvedContext, decision: Decision, buckets: RuleBuckets): Promise<QuotaPeek[] | undefined> {
    const quota = this.deps.quota;
    return quota && ctx.tenant ? quota.peek(ctx.tenant, ctx.identity, ctx.effective, decision, buckets) : undefined;
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
      if (cred.kind !== 'none') return malformed(cred.token) ?? deny('bad_request', 'send either a bearer token or an API key, not both');
      return this.deps.apiKeys.verify(apiKey);
    }
    if (cred.kind === 'none') return ANONYMOUS;
    return this.deps.jwt.cached(cred.token) ?? this.deps.jwt.verify(cred.token);
  }

  private resolve(req: NormalizedRequest, identity: Identity): ResolvedContext | Denial | Promise<ResolvedContext | Denial> {
    if (identity.kind === 'anonymous') return { ...NOBODY, identity };
    const t = this.deps.tenancy.resolve(req, identity);
    return t instanceof Promise ? t.then((x) => this.withFederation(req, identity, x)) : this.withFederation(req, identity, t);
  }

  private withFederation(req: NormalizedRequest, identity: Identity, t: Tenancy | Denial): ResolvedContext | Denial | Promise<ResolvedContext | Denial> {
    if (t instanceof Denial) return t;
    const context = (fed: Awaited<ReturnType<typeof federationFor>>): ResolvedContext => ({ identity, tenant: t.tenant, effective: t.effective, hints: t.hints, federation: fed?.federation ?? null, targetTenant: fed?.targetTenant ?? null });
    const token = req.headers[this.federationHeader];
    // A federation token that names another tenant is verified (a promise); without one there is nothing to wait for.
    if (token === undefined || !t.hints.some((h) => h.id !== t.tenantId)) return context(null);
    return federationFor(this.deps.federation, token, t.tenantId, t.hints, (id) => this.deps.tenancy.tenant(id)).then(context);
  }


}

type RuleBuckets = Extract<TenantVerdict, { headers: unknown }>['buckets'];

/** What the OPA-Envoy mode learns of a request for its input. */
export interface Enriched {
  ctx: ResolvedContext;
  request: NormalizedRequest | null;
}

/** What one check has learnt so far, for its outcome: each phase adds to it. */
class Run {
  req: NormalizedRequest | undefined;
  /** For the error log when a later phase fails. */
  who: Identity = ANONYMOUS;
  ctx: ResolvedContext = NOBODY;
  policyInput: Record<string, unknown> | undefined;
  policyDecision: Decision | Denial | undefined;
  policySeconds: number | undefined;
  /** The tenant rule that denied, if one did. */
  tenantRule: string | undefined;
  /** The tenant rules' headers for the upstream, on an allow. */
  tenantHeaders: Readonly<Record<string, string>> | undefined;
  /** The LLM tokens (and cost) reserved against the token budgets, on an allow. */
  reserved: Outcome['reserved'];

  /** The check's span, when tracing is on and this check is sampled. */
  trace: CheckTrace | undefined;

  constructor(
    readonly decisionId: string,
    readonly revision: string,
    readonly peer: Peer | null,
    readonly explain: boolean,
  ) {}

  /**
   * Runs the synchronous part of a phase; traced, under the check's span (so that the work it starts, a store miss
   * or a key fetch, becomes its child), the phase before it timed.
   */
  within<T>(phase: string, work: () => T): T {
    const t = this.trace;
    if (!t) return work();
    t.phase(phase);
    t.enter();
    try {
      return work();
    } finally {
      t.leave();
    }
  }

  end(decision: Decision | Denial, request: NormalizedRequest | null = null): Outcome {
    const outcome = this.outcome(decision, request);
    this.trace?.end(outcome);
    return outcome;
  }

  private outcome(decision: Decision | Denial, request: NormalizedRequest | null): Outcome {
    const ctx = this.ctx;
    return {
      identity: ctx.identity,
      tenant: ctx.tenant,
      effective: ctx.effective,
      hints: ctx.hints,
      federation: ctx.federation,
      targetTenant: ctx.targetTenant,
      policyInput: this.policyInput,
      policyDecision: this.policyDecision,
      policySeconds: this.policySeconds,
      tenantRule: this.tenantRule,
      tenantHeaders: decision.allowed ? this.tenantHeaders : undefined,
      reserved: decision.allowed ? this.reserved : undefined,
      decisionId: this.decisionId,
      decision,
      request,
      policyRevision: this.revision,
    };
  }
}

/** The decision with the quota's RateLimit fields added, or the quota's denial. */
function withQuota(run: Run, decision: Decision, r: QuotaOutcome): Decision | Denial {
  if (r instanceof Denial) return r;
  if (r.reserved) run.reserved = r.reserved;
  if (!r.headers.ratelimit) return decision;
  const own = decision.response_headers_to_add;
  return { ...decision, response_headers_to_add: own ? { ...own, ...r.headers } : r.headers };
}
