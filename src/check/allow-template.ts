// The encoded answer to an allowed request, mostly built once per caller. Apart from the decision id and the
// quota fields, an allowed response repeats from one request of a caller to the next (tenant, user, groups and
// their headers, the removal list, the metadata), so those bytes are kept per identity (cached per token or key)
// and reused while the tenant, context, policy revision and provider stay the same; each request adds only its
// own parts. The bytes are those of encodeCheckResponse(toCheckResponse(outcome)) (tested); a decision with
// anything more (policy headers or metadata, removals, federation) takes that general path.
import protobuf from 'protobufjs';
import type { Outcome } from './pipeline.js';
import type { Decision, Identity } from './types.js';
import type { Tenant } from '../store/tenants.js';
import type { EffectiveContext } from '../tenancy/effective.js';
import { encodeHeaderOption, encodeRemoveList, encodeStatus, encodeStructEntry, own, writeOptions } from './encode.js';
import { headersToRemove, metadata, safe, set, upstreamHeaders } from './respond.js';

interface Template {
  tenant: Tenant;
  effective: EffectiveContext;
  revision: string;
  provider: string | undefined;
  /** OkHttpResponse.headers fields, all but x-decision-id (which comes last). */
  headers: Uint8Array;
  /** OkHttpResponse.headers_to_remove fields. */
  remove: Uint8Array;
  /** The Struct entries of the dynamic metadata, all but decision_id (which comes last). */
  meta: Uint8Array;
}

const templates = new WeakMap<Identity, Template>();
const STATUS_OK = own(encodeStatus({ code: 0, message: '' }));
const EMPTY: Uint8Array = new Uint8Array(0);

function build(o: Outcome, d: Decision): Template {
  const headers = upstreamHeaders(o, d);
  const names = Object.keys(headers);
  const h = protobuf.Writer.create();
  // Not through the option cache: the template is the cache for these.
  writeOptions(h, 2, names.filter((n) => n !== 'x-decision-id').map((k) => set(k, headers[k]!)));
  const m = protobuf.Writer.create();
  for (const [k, v] of Object.entries(metadata(o, d, false).fields as Record<string, Record<string, unknown>>)) encodeStructEntry(m, k, v);
  const remove = headersToRemove(names, undefined);
  return {
    tenant: o.tenant!,
    effective: o.effective!,
    revision: o.policyRevision,
    provider: d.upstream_provider,
    headers: own(h.finish()),
    remove: remove.length ? encodeRemoveList(remove) : EMPTY,
    meta: own(m.finish()),
  };
}

/** The encoded CheckResponse for an allowed outcome, or undefined when it needs the general path. */
export function encodeAllowed(o: Outcome, d: Decision): Uint8Array | undefined {
  if (!o.tenant || !o.effective || d.headers || d.request_headers_to_remove || d.dynamic_metadata || d.federation) return undefined;
  let t = templates.get(o.identity);
  if (!t || t.tenant !== o.tenant || t.effective !== o.effective || t.revision !== o.policyRevision || t.provider !== d.upstream_provider) {
    t = build(o, d);
    templates.set(o.identity, t);
  }
  const id = protobuf.Writer.create()
    .uint32(18)
    .bytes(encodeHeaderOption({ header: { key: 'x-decision-id', value: o.decisionId }, append: { value: false } }))
    .finish();
  let add: Uint8Array = EMPTY;
  if (d.response_headers_to_add) {
    const w = protobuf.Writer.create();
    writeOptions(w, 6, Object.entries(d.response_headers_to_add).map(([k, v]) => set(k, safe(v))));
    add = w.finish();
  }
  const meta = protobuf.Writer.create();
  encodeStructEntry(meta, 'decision_id', { stringValue: o.decisionId });
  return protobuf.Writer.create()
    .uint32(10)
    .bytes(STATUS_OK)
    .uint32(26)
    .bytes(Buffer.concat([t.headers, id, t.remove, add]))
    .uint32(34)
    .bytes(Buffer.concat([t.meta, meta.finish()]))
    .finish();
}
