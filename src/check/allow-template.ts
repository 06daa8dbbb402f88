// The encoded answer to an allowed request, mostly built once per caller. Apart from the decision id and the
// quota fields, an allowed response repeats from one request of a caller to the next (tenant, user, groups and
// their headers, the removal list, the metadata), so those bytes are kept per identity (cached per token or key)
// and reused while the tenant, context, policy revision and provider stay the same; each request adds only its
// own parts. The bytes are those of encodeCheckResponse(toCheckResponse(outcome)) (tested); a decision with
// anything more (policy headers or metadata, removals, federation) takes that general path.
import protobuf from 'protobufjs';
import type { Outcome } from '../core/outcome.js';
import type { Decision, Identity } from '../core/types.js';
import type { Tenant } from '../core/tenants.js';
import type { EffectiveContext } from '../core/limits.js';
import { encodeRemoveList, encodeStatus, encodeStructEntry, own, writeOptions } from './encode.js';
import { upstreamHeaders } from '../core/upstream-headers.js';
import { APPEND_FALSE, EMPTY, Out, latin1, measureHeaderOptions, varintLen, writeHeaderOptions } from './answer-bytes.js';
import { headersToRemove, metadata, set } from './respond.js';

interface Template {
  tenant: Tenant;
  /** The tenant rules' headers (one object per combination of rules: tenant-rules/rule-set.ts). */
  tenantHeaders: Outcome['tenantHeaders'];
  effective: EffectiveContext;
  revision: string;
  provider: string | undefined;
  /** OkHttpResponse.headers fields, all but x-decision-id (which comes last), as a latin1 string (a byte per
   *  character): a string is one heap object, where a Buffer per identity is three and a native backing store. */
  headers: string;
  /** The Struct entries of the dynamic metadata, all but decision_id (also last), likewise. */
  meta: string;
  /** OkHttpResponse.headers_to_remove fields (shared by every template with the same header names). */
  remove: Uint8Array;
}

const templates = new WeakMap<Identity, Template>();
const STATUS_OK = own(encodeStatus({ code: 0, message: '' }));

function build(o: Outcome, d: Decision): Template {
  const headers = upstreamHeaders(o, d);
  const names = Object.keys(headers);
  const h = protobuf.Writer.create();
  // Not through the option cache: the template is the cache for these.
  writeOptions(h, 2, names.filter((n) => n !== 'x-decision-id').map((k) => set(k, headers[k]!)));
  const m = protobuf.Writer.create();
  for (const [k, v] of Object.entries(metadata(o, d, false).fields)) encodeStructEntry(m, k, v);
  // Shared, not per caller: headersToRemove returns one array per set of header names, and encodeRemoveList
  // keeps its bytes per array.
  const removeNames = headersToRemove(names, undefined);
  const remove = removeNames.length ? encodeRemoveList(removeNames) : EMPTY;
  return {
    tenant: o.tenant!,
    tenantHeaders: o.tenantHeaders,
    effective: o.effective!,
    revision: o.policyRevision,
    provider: d.upstream_provider,
    headers: latin1(h.finish()),
    meta: latin1(m.finish()),
    remove,
  };
}

const DECISION_ID_KEY = 'x-decision-id';
const DECISION_ID_FIELD = 'decision_id';

/** The encoded CheckResponse for an allowed outcome, or undefined when it needs the general path. */
export function encodeAllowed(o: Outcome, d: Decision): Uint8Array | undefined {
  if (!o.tenant || !o.effective || d.headers || d.request_headers_to_remove || d.dynamic_metadata || d.federation) return undefined;
  let t = templates.get(o.identity);
  if (!t || t.tenant !== o.tenant || t.effective !== o.effective || t.revision !== o.policyRevision || t.provider !== d.upstream_provider || t.tenantHeaders !== o.tenantHeaders) {
    t = build(o, d);
    templates.set(o.identity, t);
  }
  // OkHttpResponse.response_headers_to_add (field 6).
  const add = d.response_headers_to_add ? measureHeaderOptions(d.response_headers_to_add) : 0;
  // Sizes, inside out. The decision id header: HeaderValue{key, value} in HeaderValueOption{header, append: false}.
  const id = o.decisionId;
  const idBytes = Buffer.byteLength(id, 'utf8');
  const headerValue = 2 + DECISION_ID_KEY.length + 1 + varintLen(idBytes) + idBytes;
  const option = 1 + varintLen(headerValue) + headerValue + 4;
  const ok = t.headers.length + 1 + varintLen(option) + option + t.remove.byteLength + add;
  // The metadata entry: {key: "decision_id", value: Value{string_value: id}}.
  const value = 1 + varintLen(idBytes) + idBytes;
  const entry = 2 + DECISION_ID_FIELD.length + 1 + varintLen(value) + value;
  const meta = t.meta.length + 1 + varintLen(entry) + entry;
  const total = 1 + varintLen(STATUS_OK.byteLength) + STATUS_OK.byteLength + 1 + varintLen(ok) + ok + 1 + varintLen(meta) + meta;

  const out = new Out(Buffer.allocUnsafe(total));
  out.field(10, STATUS_OK.byteLength).raw(STATUS_OK);
  out.field(26, ok).bytes(t.headers);
  out.field(18, option).field(10, headerValue).string(10, DECISION_ID_KEY, DECISION_ID_KEY.length).string(18, id, idBytes);
  out.raw(APPEND_FALSE).raw(t.remove);
  if (add) writeHeaderOptions(out, 50);
  out.field(34, meta).bytes(t.meta);
  out.field(10, entry).string(10, DECISION_ID_FIELD, DECISION_ID_FIELD.length).field(18, value).string(26, id, idBytes);
  return out.buf;
}
