// One Check, whatever the transport (gRPC ext_authz or HTTP): the pipeline, then the response, the metrics,
// the decision log, and the shadow policy. Only the pipeline is on the caller's clock; logging and the shadow
// evaluation run after the answer is handed back.
import { CheckPipeline } from './pipeline.js';
import type { RequestParts } from './normalize.js';
import { type Outcome } from '../core/outcome.js';
import { toCheckResponse } from './respond.js';
import { encodeCheckResponse } from './encode.js';
import { encodeAllowed } from './allow-template.js';
import { encodeDenied } from './deny-template.js';
import { ANONYMOUS, Denial, type Decision, type Peer } from '../core/types.js';
import { randomUUID } from 'node:crypto';
import type { AuditInput } from '../core/audit.js';
import type { NormalizedRequest } from '../core/request.js';
import { QUOTA_DENIALS } from '../core/denials.js';
import type { CheckResponseModel } from '../core/response.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DecisionLog } from '../telemetry/decision-log.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Logger } from '../telemetry/logger.js';
import { deny } from '../core/denials.js';
import type { OpaEnvoyCheck, OpaEnvoyResult, RpcFailure } from './opa-envoy.js';

export class CheckService {
  constructor(
    readonly pipeline: CheckPipeline,
    private readonly deps: { metrics?: Metrics; decisionLog?: DecisionLog; shadow?: PolicyEngine; log: Logger; audit?: (entry: AuditInput) => void; opaEnvoy?: OpaEnvoyCheck },
  ) {}

  /** The HTTP form: the outcome and the CheckResponse as an object. */
  async check(raw: unknown, transport: 'grpc' | 'http', peer: Peer | null = null): Promise<{ outcome: Outcome; response: CheckResponseModel }> {
    return this.decide(raw, undefined, peer, transport, (outcome) => ({ outcome, response: toCheckResponse(outcome) }));
  }

  /** The HTTP mode: a request it took apart itself, and the answer as the model. */
  async checkParts(parts: RequestParts, peer: Peer | null = null): Promise<{ outcome: Outcome; response: CheckResponseModel }> {
    if (this.deps.opaEnvoy) return opaEnvoyOverHttp();
    return this.decide(undefined, parts, peer, 'http', (outcome) => ({ outcome, response: toCheckResponse(outcome) }));
  }

  /**
   * The gRPC form: the encoded CheckResponse, from the caller's cached bytes when the request is allowed. At once
   * when the pipeline answers at once (see CheckPipeline.check), else a promise.
   */
  checkEncoded(raw: unknown, peer: Peer | null = null): Uint8Array | RpcFailure | Promise<Uint8Array | RpcFailure> {
    if (this.deps.opaEnvoy) return this.checkOpaEnvoy(this.deps.opaEnvoy, raw, peer);
    return this.decide(raw, undefined, peer, 'grpc', encodeOutcome);
  }

  private checkOpaEnvoy(opaEnvoy: OpaEnvoyCheck, raw: unknown, peer: Peer | null): Uint8Array | RpcFailure | Promise<Uint8Array | RpcFailure> {
    const t0 = performance.now();
    const finish = ({ outcome, answer }: OpaEnvoyResult) => {
      this.observe(outcome, (performance.now() - t0) / 1000, 'grpc');
      return answer;
    };
    const result = opaEnvoy.check(raw, peer);
    return result instanceof Promise ? result.then(finish) : finish(result);
  }

  /** The pipeline and the answer, timed together; then the metrics, decision log and shadow policy. */
  private decide<T>(raw: unknown, parts: RequestParts | undefined, peer: Peer | null, transport: 'grpc' | 'http', answer: (outcome: Outcome) => T): T | Promise<T> {
    const t0 = performance.now();
    const finish = (outcome: Outcome): T => {
      const result = answer(outcome);
      this.observe(outcome, (performance.now() - t0) / 1000, transport);
      return result;
    };
    const outcome = this.pipeline.check(raw, peer, parts);
    return outcome instanceof Promise ? outcome.then(finish) : finish(outcome);
  }

  private observe(o: Outcome, seconds: number, transport: 'grpc' | 'http'): void {
    const { metrics, decisionLog, shadow } = this.deps;
    const d = o.decision;
    if (metrics) {
      metrics.checked(d.allowed ? null : (d.code ?? 'denied'), transport, seconds);
      if (o.policySeconds !== undefined) metrics.policyEval.observe(o.policySeconds);
      if (!d.allowed && d.code && QUOTA_DENIALS.has(d.code)) metrics.quotaDenied(d.code);
      if (o.tenant) metrics.tenantCheck(o.tenant.id);
    }
    if (decisionLog) decisionLog.record(o, seconds * 1000);
    if (d.allowed && !(d instanceof Denial) && d.federation && o.request && this.deps.audit) this.deps.audit(federatedAccess(o, d.federation, o.request));
    if (shadow && o.policyInput) {
      const input = o.policyInput;
      const live = o.policyDecision!;
      setImmediate(() => {
        const candidate = shadow.evaluate(input);
        const liveCode = live.allowed ? 'allow' : (live.code ?? 'denied');
        const shadowCode = candidate.allowed ? 'allow' : (candidate.code ?? 'denied');
        if (liveCode !== shadowCode) {
          metrics?.shadowDivergences.inc();
          this.deps.log.info({ decision_id: o.decisionId, tenant: o.tenant?.id ?? null, live: liveCode, shadow: shadowCode, shadow_revision: shadow.revision }, 'shadow policy diverged');
        }
      });
    }
  }
}

/** The encoded CheckResponse: from the templates (the caller's, the denial's) where they apply, else the general encoder. */
function encodeOutcome(outcome: Outcome): Uint8Array {
  const d = outcome.decision;
  return (d.allowed ? (d instanceof Denial ? undefined : encodeAllowed(outcome, d)) : encodeDenied(outcome, d)) ?? encodeCheckResponse(toCheckResponse(outcome));
}

/** The HTTP mode takes requests apart itself; an OPA-Envoy policy reads Envoy's CheckRequest, which it does not have. */
function opaEnvoyOverHttp(): { outcome: Outcome; response: CheckResponseModel } {
  const decision = deny('policy_error', 'the HTTP authorization mode does not run OPA-Envoy policies; use ext_authz over gRPC');
  const outcome: Outcome = { identity: ANONYMOUS, tenant: null, effective: null, hints: [], federation: null, targetTenant: null, decisionId: randomUUID(), decision, request: null, policyRevision: '' };
  return { outcome, response: toCheckResponse(outcome) };
}

/** The audit entry of an access through a federation grant: who, as which tenant, what, under which grant. */
function federatedAccess(o: Outcome, f: NonNullable<Decision['federation']>, req: NormalizedRequest): AuditInput {
  return {
    // The subject may hold an "@" itself (alice@acme): the tenant is said apart.
    actor: `${o.identity.kind}:${o.identity.subject ?? ''} (tenant ${f.source})`,
    action: 'federation.access',
    tenant_id: f.target,
    target: f.grant_id,
    before: null,
    after: { decision_id: o.decisionId, source: f.source, access: f.access, method: req.method, path: req.path },
  };
}
