// Phase: decision → CheckResponse (docs/architecture.md, "Wire behaviour"). Deny is always in `status` with the RPC OK;
// every header option sets `append` explicitly; trusted headers are set with append false and any
// client-supplied copy of a tenantgate header is removed.
import { Denial, type Decision } from '../core/types.js';
import type { Outcome } from '../core/outcome.js';
import { challengeFor, grpcCodeFor } from '../core/denials.js';
import type { CheckResponseModel, HeaderOption, OkResponse, Struct, StructValue } from '../core/response.js';
import { TRUSTED_HEADERS, safe, upstreamHeaders } from '../core/upstream-headers.js';
import { encodeCheckResponse } from './encode.js';

export const set = (key: string, value: string): HeaderOption => ({ header: { key, value }, append: { value: false } });
const CONTENT_TYPE_JSON = Object.freeze(set('content-type', 'application/json'));
// The 401 challenges (two of them), each header option built once.
const challenges = new Map<string, HeaderOption>();
function challengeOption(code: string): HeaderOption {
  const value = challengeFor(code);
  let o = challenges.get(value);
  if (!o) challenges.set(value, (o = Object.freeze(set('www-authenticate', value))));
  return o;
}

// headers_to_remove depends only on which trusted names are set, so it is computed once per combination.
const removeListCache = new Map<string, string[]>();
export function headersToRemove(setNames: string[], extra: string[] | undefined): string[] {
  const key = setNames.join(',');
  let base = removeListCache.get(key);
  if (!base) {
    const s = new Set(setNames);
    base = TRUSTED_HEADERS.filter((h) => !s.has(h));
    removeListCache.set(key, base);
  }
  if (!extra || extra.length === 0) return base;
  const s = new Set(setNames);
  return [...new Set([...base, ...extra.filter((h) => !s.has(h))])];
}

export function toCheckResponse(outcome: Outcome): CheckResponseModel {
  const d = outcome.decision;
  return d.allowed ? allowResponse(outcome, d) : denyResponse(outcome, d);
}

function allowResponse(outcome: Outcome, decision: Decision): CheckResponseModel {
  const headers = upstreamHeaders(outcome, decision);
  const names = Object.keys(headers);
  const ok: OkResponse = {
    headers: names.map((k) => set(k, headers[k]!)),
    headersToRemove: headersToRemove(names, decision.request_headers_to_remove),
  };
  if (decision.response_headers_to_add) {
    ok.responseHeadersToAdd = Object.entries(decision.response_headers_to_add).map(([k, v]) => set(k, safe(v)));
  }
  return { status: { code: 0, message: '' }, okResponse: ok, dynamicMetadata: metadata(outcome, decision) };
}

/** What a denial answers: its HTTP status, code and reason, with their defaults. */
export function denialOf(d: Decision | Denial): { status: number; code: string; reason: string } {
  return { status: d.http_status ?? 403, code: d.code ?? 'denied', reason: d.reason ?? 'the request is not allowed' };
}

/** A denial's own headers: content-type and, for a 401, the challenge. A decision's headers of these names are dropped. */
export function fixedDenialHeaders(status: number, code: string): HeaderOption[] {
  return status === 401 ? [CONTENT_TYPE_JSON, challengeOption(code)] : [CONTENT_TYPE_JSON];
}
export const isFixedDenialHeader = (name: string): boolean => name === 'content-type' || name === 'www-authenticate';

function denyResponse(outcome: Outcome, d: Decision | Denial): CheckResponseModel {
  const { status, code, reason } = denialOf(d);
  const headers = fixedDenialHeaders(status, code);
  if (d.headers) {
    for (const [k, v] of Object.entries(d.headers)) if (!isFixedDenialHeader(k)) headers.push(set(k, safe(v)));
  }
  return {
    status: { code: grpcCodeFor(status), message: reason },
    deniedResponse: {
      status: { code: status },
      headers,
      body: JSON.stringify({ error: code, reason, decision_id: outcome.decisionId }),
    },
    dynamicMetadata: metadata(outcome, d),
  };
}

/** The metadata fields; decision_id comes last, so that a cached encoding of the others can be followed by it. */
export function metadata(outcome: Outcome, d: Decision | Denial, withDecisionId = true): Struct {
  const fields: Record<string, StructValue> = {
    allowed: { boolValue: d.allowed },
    policy_revision: { stringValue: outcome.policyRevision },
  };
  if (!d.allowed) fields.code = { stringValue: d.code ?? 'denied' };
  if (outcome.tenant) fields.tenant_id = { stringValue: outcome.tenant.id };
  if (!(d instanceof Denial) && d.dynamic_metadata) {
    for (const [k, v] of Object.entries(d.dynamic_metadata)) if (!(k in fields) && k !== 'decision_id') fields[k] = toValue(v);
  }
  if (withDecisionId) fields.decision_id = { stringValue: outcome.decisionId };
  return { fields };
}

/** JS value → google.protobuf.Value in protobufjs' camelCase form (see ENVOY-EXTAUTHZ.md section 6). */
export function toValue(v: unknown): StructValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  const fields: Record<string, StructValue> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) fields[k] = toValue(x);
  return { structValue: { fields } };
}

/** Sent if building a decision itself failed: deny, fail closed (503), still a well-formed answer; encoded once. */
export const FAILSAFE_RESPONSE: Uint8Array = encodeCheckResponse({
  status: { code: 14, message: 'the authorization service failed to decide' },
  deniedResponse: {
    status: { code: 503 },
    headers: [CONTENT_TYPE_JSON],
    body: JSON.stringify({ error: 'internal_error', reason: 'the authorization service failed to decide', decision_id: '' }),
  },
});
