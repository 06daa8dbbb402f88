// The encoded answer to a denied request, its fixed parts built once per kind of denial. A rate limiter is asked
// most often about the requests it refuses (a client over its quota retries): each denial through the general
// encoder's objects and nested writers cost more than the whole check before it (bench/README.md). What repeats
// from one denial to the next (the status, the HTTP status and its fixed headers, the body's start) is kept per
// status, code and reason; each request adds its decision id, its own headers (Retry-After, the RateLimit fields)
// and the metadata. The bytes are those of encodeCheckResponse(toCheckResponse(outcome)) (tested); a policy's
// denial with dynamic metadata takes that general path.
import protobuf from 'protobufjs';
import type { Outcome } from '../core/outcome.js';
import { Denial, type Decision } from '../core/types.js';
import { grpcCodeFor } from '../core/denials.js';
import { encodeStatus, writeOptions } from './encode.js';
import { Out, fieldLen, latin1, measureHeaderOptions, writeHeaderOptions } from './answer-bytes.js';
import { denialOf, fixedDenialHeaders, isFixedDenialHeader } from './respond.js';

interface Head {
  /** What it is the head of: the HTTP status and the code (the reason is the key it is kept under). */
  httpStatus: number;
  codeName: string;
  /** CheckResponse.status (field 1), whole. */
  status: string;
  /** DeniedHttpResponse's status (field 1) and fixed headers (field 2: content-type, the 401's challenge). */
  fixed: string;
  /** The JSON body up to the decision id's value, and its size in bytes. */
  bodyStart: string;
  bodyStartBytes: number;
  /** The metadata's first entries: allowed (false), then (after the revision) the code. */
  allowed: string;
  code: string;
}

// Reasons can carry a request's own text (a body field's name, a policy's words): the kept heads are bounded.
const MAX_HEADS = 1_000;
// Kept by reason, then status and code: the reasons repeat as the same strings (constants, or kept per limit by the
// quota service), whose hashes V8 keeps, where a key joined per denial would be a new string to hash every time.
const heads = new Map<string, Head[]>();

function head(status: number, code: string, reason: string): Head {
  const kept = heads.get(reason);
  if (kept) for (const k of kept) if (k.httpStatus === status && k.codeName === code) return k;
  const s = protobuf.Writer.create();
  s.uint32(10).bytes(encodeStatus({ code: grpcCodeFor(status), message: reason }));
  const f = protobuf.Writer.create();
  f.uint32(10).bytes(protobuf.Writer.create().uint32(8).int32(status).finish());
  writeOptions(f, 2, fixedDenialHeaders(status, code));
  const bodyStart = JSON.stringify({ error: code, reason, decision_id: '' }).slice(0, -3);
  const entry = (k: string, v: protobuf.Writer) => {
    const e = protobuf.Writer.create();
    e.uint32(10).string(k).uint32(18).bytes(v.finish());
    return latin1(protobuf.Writer.create().uint32(10).bytes(e.finish()).finish());
  };
  const h: Head = {
    httpStatus: status,
    codeName: code,
    status: latin1(s.finish()),
    fixed: latin1(f.finish()),
    bodyStart,
    bodyStartBytes: Buffer.byteLength(bodyStart, 'utf8'),
    allowed: entry('allowed', protobuf.Writer.create().uint32(32).bool(false)),
    code: entry('code', protobuf.Writer.create().uint32(26).string(code)),
  };
  if (kept) kept.push(h);
  else {
    if (heads.size >= MAX_HEADS) heads.clear();
    heads.set(reason, [h]);
  }
  return h;
}

/** A metadata entry {key, Value{string_value}}: its size as a field, and the sizes inside it. */
function stringEntry(key: string, value: string): [number, number, number] {
  const v = Buffer.byteLength(value, 'utf8');
  const entry = fieldLen(key.length) + fieldLen(fieldLen(v));
  return [fieldLen(entry), entry, v];
}

function writeStringEntry(out: Out, key: string, value: string, [, entry, v]: [number, number, number]): void {
  out.field(10, entry).string(10, key, key.length).field(18, fieldLen(v)).string(26, value, v);
}

/** The encoded CheckResponse of a denied outcome, or undefined when it needs the general path. */
export function encodeDenied(o: Outcome, d: Decision | Denial): Uint8Array | undefined {
  if (!(d instanceof Denial) && d.dynamic_metadata) return undefined;
  const { status, code, reason } = denialOf(d);
  const h = head(status, code, reason);
  const headers = d.headers ? measureHeaderOptions(d.headers, isFixedDenialHeader) : 0;
  const id = JSON.stringify(o.decisionId);
  const idBytes = Buffer.byteLength(id, 'utf8');
  const body = h.bodyStartBytes + idBytes + 1;
  const denied = h.fixed.length + headers + fieldLen(body);
  const revision = stringEntry('policy_revision', o.policyRevision);
  const tenant = o.tenant ? stringEntry('tenant_id', o.tenant.id) : undefined;
  const decision = stringEntry('decision_id', o.decisionId);
  const meta = h.allowed.length + revision[0] + h.code.length + (tenant ? tenant[0] : 0) + decision[0];
  const out = new Out(Buffer.allocUnsafe(h.status.length + fieldLen(denied) + fieldLen(meta)));
  out.bytes(h.status).field(18, denied).bytes(h.fixed);
  if (headers) writeHeaderOptions(out, 18);
  out.field(26, body);
  out.pos += out.buf.write(h.bodyStart, out.pos, 'utf8');
  out.pos += out.buf.write(id, out.pos, 'utf8');
  out.buf[out.pos++] = 0x7d; // }
  out.field(34, meta).bytes(h.allowed);
  writeStringEntry(out, 'policy_revision', o.policyRevision, revision);
  out.bytes(h.code);
  if (tenant) writeStringEntry(out, 'tenant_id', o.tenant!.id, tenant);
  writeStringEntry(out, 'decision_id', o.decisionId, decision);
  return out.buf;
}
