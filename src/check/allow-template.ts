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
import { safe, upstreamHeaders } from '../core/upstream-headers.js';
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
const EMPTY: Uint8Array = new Uint8Array(0);
// HeaderValueOption.append = BoolValue{false}, written explicitly as the general encoder does.
const APPEND_FALSE = Uint8Array.of(18, 2, 8, 0);

function build(o: Outcome, d: Decision): Template {
  const headers = upstreamHeaders(o, d);
  const names = Object.keys(headers);
  const h = protobuf.Writer.create();
  // Not through the option cache: the template is the cache for these.
  writeOptions(h, 2, names.filter((n) => n !== 'x-decision-id').map((k) => set(k, headers[k]!)));
  const m = protobuf.Writer.create();
  for (const [k, v] of Object.entries(metadata(o, d, false).fields)) encodeStructEntry(m, k, v);
  const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
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

const varintLen = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** Writes into one buffer of the exact size: an allowed check allocates its answer and little else. */
class Out {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(n: number): this {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
    return this;
  }
  raw(b: Uint8Array): this {
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
    return this;
  }
  /** Bytes kept as a latin1 string. */
  bytes(s: string): this {
    this.pos += this.buf.write(s, this.pos, s.length, 'latin1');
    return this;
  }
  /** A length-delimited field of `len` bytes: tag and length (the content follows). */
  field(tag: number, len: number): this {
    return this.varint(tag).varint(len);
  }
  string(tag: number, s: string, bytes: number): this {
    this.field(tag, bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }
}

/**
 * OkHttpResponse.response_headers_to_add (field 6): a HeaderValueOption{header: {key, value}, append: false} per
 * header, written straight into one buffer. The quota's RateLimit fields change with every check, and the generic
 * writer's objects and buffers per header were a third of what quotas cost a check.
 */
function responseHeaders(headers: Record<string, string>): Uint8Array {
  // [key, value, their byte lengths, the HeaderValue's and the option's sizes], measured once, then written.
  const entries: [string, string, number, number, number, number][] = [];
  let total = 0;
  for (const [key, raw] of Object.entries(headers)) {
    const value = safe(raw);
    const k = Buffer.byteLength(key, 'utf8');
    const v = Buffer.byteLength(value, 'utf8');
    const headerValue = 1 + varintLen(k) + k + 1 + varintLen(v) + v;
    const option = 1 + varintLen(headerValue) + headerValue + APPEND_FALSE.byteLength;
    total += 1 + varintLen(option) + option;
    entries.push([key, value, k, v, headerValue, option]);
  }
  const out = new Out(Buffer.allocUnsafe(total));
  for (const [key, value, k, v, headerValue, option] of entries) out.field(50, option).field(10, headerValue).string(10, key, k).string(18, value, v).raw(APPEND_FALSE);
  return out.buf;
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
  const add = d.response_headers_to_add ? responseHeaders(d.response_headers_to_add) : EMPTY;
  // Sizes, inside out. The decision id header: HeaderValue{key, value} in HeaderValueOption{header, append: false}.
  const id = o.decisionId;
  const idBytes = Buffer.byteLength(id, 'utf8');
  const headerValue = 2 + DECISION_ID_KEY.length + 1 + varintLen(idBytes) + idBytes;
  const option = 1 + varintLen(headerValue) + headerValue + 4;
  const ok = t.headers.length + 1 + varintLen(option) + option + t.remove.byteLength + add.byteLength;
  // The metadata entry: {key: "decision_id", value: Value{string_value: id}}.
  const value = 1 + varintLen(idBytes) + idBytes;
  const entry = 2 + DECISION_ID_FIELD.length + 1 + varintLen(value) + value;
  const meta = t.meta.length + 1 + varintLen(entry) + entry;
  const total = 1 + varintLen(STATUS_OK.byteLength) + STATUS_OK.byteLength + 1 + varintLen(ok) + ok + 1 + varintLen(meta) + meta;

  const out = new Out(Buffer.allocUnsafe(total));
  out.field(10, STATUS_OK.byteLength).raw(STATUS_OK);
  out.field(26, ok).bytes(t.headers);
  out.field(18, option).field(10, headerValue).string(10, DECISION_ID_KEY, DECISION_ID_KEY.length).string(18, id, idBytes);
  out.raw(APPEND_FALSE).raw(t.remove).raw(add);
  out.field(34, meta).bytes(t.meta);
  out.field(10, entry).string(10, DECISION_ID_FIELD, DECISION_ID_FIELD.length).field(18, value).string(26, id, idBytes);
  return out.buf;
}
