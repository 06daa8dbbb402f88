// The OPA-Envoy mode (docs/opa-envoy.md): the policy decides alone, on the input the plugin builds, and its decision
// becomes the CheckResponse the plugin would send. tenantgate's identity and tenancy phases only add what they
// found under input.tenantgate; they never refuse a request themselves.
import type { CheckTrace, Tracing } from '../telemetry/tracing.js';
import { randomUUID } from 'node:crypto';
import type protobuf from 'protobufjs';
import type { CheckPipeline, Enriched } from './pipeline.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Outcome, ResolvedContext } from '../core/outcome.js';
import type { Decision, Peer } from '../core/types.js';
import { TRUSTED_HEADERS } from '../core/upstream-headers.js';
import { opaEnvoyInput, RequestParseError } from '../opa-envoy/input.js';
import { DecisionError, pluginResponse, type PluginResponse } from '../opa-envoy/response.js';
import type { BodyOptions } from '../opa-envoy/body.js';
import { authServiceDefinition } from './protos.js';
import { AnswerEncoder } from './opa-envoy-answer.js';

/** An answer that is an RPC error, as the plugin fails a check it cannot decide (Envoy applies its failure mode). */
export class RpcFailure {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {}
}

const UNKNOWN = 2;
const PERMISSION_DENIED = 7;

export interface OpaEnvoyOptions extends BodyOptions {
  dryRun: boolean;
}

export class OpaEnvoyCheck {
  private readonly serialize = authServiceDefinition().Check!.responseSerialize;
  private readonly answers = new AnswerEncoder(this.serialize);

  constructor(
    private readonly pipeline: CheckPipeline,
    private readonly policy: PolicyEngine,
    private readonly options: OpaEnvoyOptions,
    private readonly tracing?: Tracing,
  ) {}

  /** At once when the phases answer at once (see CheckPipeline.check). */
  check(raw: unknown, peer: Peer | null): OpaEnvoyResult | Promise<OpaEnvoyResult> {
    if (!this.tracing) return this.decide(raw, peer, undefined);
    const headers = (raw as { attributes?: { request?: { http?: { headers?: Record<string, string> } } } } | null)?.attributes?.request?.http?.headers ?? {};
    const trace = this.tracing.startCheck(headers, performance.timeOrigin + performance.now());
    const ended = (result: OpaEnvoyResult) => {
      trace?.end(result.outcome);
      return result;
    };
    const result = this.decide(raw, peer, trace);
    return result instanceof Promise ? result.then(ended) : ended(result);
  }

  private decide(raw: unknown, peer: Peer | null, trace: CheckTrace | undefined): OpaEnvoyResult | Promise<OpaEnvoyResult> {
    const decisionId = randomUUID();
    // The caller and tenant, for the input, only when the policy reads them (input.tenantgate): the plugin's own
    // input has neither, and a policy written for it pays nothing for them. What that starts (a store miss, a key
    // fetch) is a child of the check.
    const reads = this.policy.projection;
    trace?.phase('enrich');
    trace?.enter();
    let enriched: Enriched | Promise<Enriched>;
    try {
      enriched = this.pipeline.enrich(raw, reads === undefined || 'tenantgate' in reads);
    } finally {
      trace?.leave();
    }
    return enriched instanceof Promise ? enriched.then((e) => this.evaluate(raw, peer, decisionId, e, trace)) : this.evaluate(raw, peer, decisionId, enriched, trace);
  }

  private evaluate(raw: unknown, peer: Peer | null, decisionId: string, { ctx, request }: Enriched, trace: CheckTrace | undefined): OpaEnvoyResult {
    trace?.phase('policy');
    const outcome = (decision: Decision): Outcome => ({ ...ctx, decisionId, decision, request, policyRevision: this.policy.revision });
    const input = opaEnvoyInput(raw as protobuf.Message & Record<string, unknown>, this.options, this.policy.projection);
    if (input instanceof RequestParseError) {
      const message = `request_parse_error: ${input.message}`;
      const response = { status: { code: PERMISSION_DENIED, message }, deniedResponse: { status: { code: 400 }, body: message } };
      return { outcome: outcome({ allowed: false, http_status: 400, code: 'bad_request', reason: message }), answer: this.serialize(response) };
    }
    input.tenantgate = tenantgateInput(ctx, peer);
    const t0 = performance.now();
    const result = this.policy.evaluateRaw(input);
    const policySeconds = (performance.now() - t0) / 1000;
    let resp: PluginResponse;
    try {
      if ('error' in result) throw new DecisionError(result.error);
      resp = pluginResponse(result.value, { decisionId, dryRun: this.options.dryRun, trustedHeaders: TRUSTED_HEADERS });
    } catch (err) {
      if (!(err instanceof DecisionError)) throw err;
      return { outcome: { ...outcome({ allowed: false, code: 'policy_error', reason: err.message }), policySeconds }, answer: new RpcFailure(UNKNOWN, err.message) };
    }
    const allowed = resp.status.code === 0;
    const decision: Decision = allowed ? { allowed } : { allowed, http_status: resp.deniedResponse?.status.code ?? 403, code: 'denied' };
    return { outcome: { ...outcome(decision), policySeconds }, answer: this.answers.encode(result.value, resp, decisionId) };
  }
}

export interface OpaEnvoyResult {
  outcome: Outcome;
  answer: Uint8Array | RpcFailure;
}

/** What tenantgate found about the caller, for policies that want it (absent from the plugin's input). */
function tenantgateInput(c: ResolvedContext, peer: Peer | null): Record<string, unknown> {
  return {
    identity: c.identity,
    tenant: c.tenant,
    groups: c.effective ? c.effective.groups : [],
    effective: c.effective ? { permissions: c.effective.permissions, data_access_level: c.effective.data_access_level, limits: c.effective.limits } : null,
    request_tenant_hints: c.hints,
    peer,
  };
}

