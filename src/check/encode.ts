// A fast protobuf encoder for the CheckResponse that toCheckResponse builds. proto-loader's generic serializer
// (fromObject + encode) was a quarter of the per-request CPU under load; most of a response repeats from request
// to request (a tenant's headers, the list of headers to remove), so encoded header options and removal lists are
// cached. Field numbers are those of Envoy's external_auth.proto (ENVOY-EXTAUTHZ.md section 2.1); the tests
// decode every response with the official protos, and compare this encoder with proto-loader's byte for byte.
import protobuf from 'protobufjs';
import { LRUCache } from 'lru-cache';

import type { CheckResponseModel, HeaderOption, Struct, StructValue } from '../core/response.js';

/**
 * A copy with its own memory, for bytes that are kept. protobufjs writes into Buffer.allocUnsafe, which hands out
 * slices of a shared 8 KB pool: one small cached slice would keep its whole pool alive.
 */
export function own(b: Uint8Array): Uint8Array {
  return b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

// Header options repeat per tenant and user; the decision id one never does, so it is not cached.
const optionCache = new LRUCache<string, Uint8Array>({ max: 10_000 });
const removeCache = new WeakMap<readonly string[], Uint8Array>();

function encodeHeaderOption(o: HeaderOption): Uint8Array {
  const w = protobuf.Writer.create();
  const hv = protobuf.Writer.create();
  hv.uint32(10).string(o.header.key).uint32(18).string(o.header.value);
  w.uint32(10).bytes(hv.finish());
  // BoolValue{value}, written explicitly even when false (as protobufjs does for a set field).
  w.uint32(18).bytes(o.append.value ? Uint8Array.of(8, 1) : Uint8Array.of(8, 0));
  return w.finish();
}

function headerOption(o: HeaderOption, cache: boolean): Uint8Array {
  if (!cache) return encodeHeaderOption(o);
  const k = `${o.header.key}\u0000${o.header.value}\u0000${o.append.value ? 1 : 0}`;
  let b = optionCache.get(k);
  if (!b) optionCache.set(k, (b = own(encodeHeaderOption(o))));
  return b;
}

/**
 * Writes header options as repeated `field`. `cache`: the upstream headers of an allowed request, which repeat per
 * caller (except the decision id); quota and denial headers change from request to request and are not cached.
 */
export function writeOptions(w: protobuf.Writer, field: number, options: HeaderOption[] | undefined, cache = false): void {
  if (!options) return;
  for (const o of options) w.uint32((field << 3) | 2).bytes(headerOption(o, cache && o.header.key !== 'x-decision-id'));
}

function encodeValue(v: StructValue): Uint8Array {
  const w = protobuf.Writer.create();
  if ('nullValue' in v) w.uint32(8).int32(0);
  else if ('numberValue' in v) w.uint32(17).double(v.numberValue);
  else if ('stringValue' in v) w.uint32(26).string(v.stringValue);
  else if ('boolValue' in v) w.uint32(32).bool(v.boolValue);
  else if ('structValue' in v) w.uint32(42).bytes(encodeStruct(v.structValue));
  else {
    const l = protobuf.Writer.create();
    for (const x of v.listValue.values) l.uint32(10).bytes(encodeValue(x));
    w.uint32(50).bytes(l.finish());
  }
  return w.finish();
}

/** One entry of a Struct's fields map, as the field (tag and length included). */
export function encodeStructEntry(w: protobuf.Writer, key: string, value: StructValue): void {
  const e = protobuf.Writer.create();
  e.uint32(10).string(key).uint32(18).bytes(encodeValue(value));
  w.uint32(10).bytes(e.finish());
}

function encodeStruct(s: Struct): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [k, v] of Object.entries(s.fields)) encodeStructEntry(w, k, v);
  return w.finish();
}

export function encodeStatus(s: { code?: number; message?: string }): Uint8Array {
  const w = protobuf.Writer.create();
  if (s.code !== undefined) w.uint32(8).int32(s.code);
  if (s.message !== undefined) w.uint32(18).string(s.message);
  return w.finish();
}

export function encodeRemoveList(names: readonly string[]): Uint8Array {
  let b = removeCache.get(names);
  if (!b) {
    const w = protobuf.Writer.create();
    for (const n of names) w.uint32(42).string(n);
    removeCache.set(names, (b = own(w.finish())));
  }
  return b;
}

export function encodeCheckResponse(r: CheckResponseModel): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(10).bytes(encodeStatus(r.status));
  const denied = r.deniedResponse;
  if (denied) {
    const d = protobuf.Writer.create();
    d.uint32(10).bytes(protobuf.Writer.create().uint32(8).int32(denied.status.code).finish());
    writeOptions(d, 2, denied.headers);
    if (denied.body) d.uint32(26).string(denied.body);
    w.uint32(18).bytes(d.finish());
  }
  const ok = r.okResponse;
  if (ok) {
    // Fields in number order: headers (2), headers_to_remove (5, cached already encoded), response_headers_to_add (6).
    const headers = protobuf.Writer.create();
    writeOptions(headers, 2, ok.headers, true);
    const add = protobuf.Writer.create();
    writeOptions(add, 6, ok.responseHeadersToAdd);
    const parts = [headers.finish(), ok.headersToRemove.length ? encodeRemoveList(ok.headersToRemove) : new Uint8Array(0), add.finish()];
    w.uint32(26).bytes(Buffer.concat(parts));
  }
  if (r.dynamicMetadata) w.uint32(34).bytes(encodeStruct(r.dynamicMetadata));
  return w.finish();
}
