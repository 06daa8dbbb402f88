// A hand-written decoder for AttributeContext.HttpRequest, the part of a CheckRequest that carries the headers.
// protobufjs builds the `headers` map by adding one property after another to a `{}`: V8 then makes a new hidden
// class per header name and order, which under load costs several times what it does in a loop (bench/README.md).
// Here the map is a prototype-less object, which V8 keeps as a hash table from the start; `__proto__` is then a
// plain header name too. Every other field is read exactly as protobufjs reads it.
import protobuf from 'protobufjs';
import { isAscii } from 'node:buffer';
import { dataObject } from '../util/data-object.js';

const EMPTY_BYTES = new Uint8Array(0);

/** protobufjs 7.6's skipType takes the nesting depth too; its typings do not say so. */
type DepthReader = protobuf.Reader & { skipType(wireType: number, depth?: number): protobuf.Reader };

/** The decoded message: every field present with proto3's default, like a protobufjs message. */
class HttpRequest {
  id = '';
  method = '';
  headers: Record<string, string> = dataObject<string>();
  path = '';
  host = '';
  scheme = '';
  query = '';
  fragment = '';
  size: number | protobuf.Long = 0;
  protocol = '';
  body = '';
  rawBody: Uint8Array = EMPTY_BYTES;
  headerMap: unknown = null;
}

/** Replaces the decoder of CheckRequest's nested HttpRequest type (the enclosing decoders call it by reference). */
export function installHttpRequestDecoder(checkRequest: protobuf.Type): void {
  const type = checkRequest.lookupType('envoy.service.auth.v3.AttributeContext.HttpRequest');
  const headerMap = type.fields['headerMap']!.resolvedType as protobuf.Type;
  // setup() generates protobufjs's own functions; ours must be assigned after it or it would be overwritten.
  type.setup();
  // The same steps as the decoder protobufjs generates for this type (bounds, the end-group tag, the nesting
  // limit, an entry that must end where its length says), so that both accept and refuse the same bytes; a
  // differential property test holds them to it. Only the map's target object differs.
  const R = protobuf.Reader as typeof protobuf.Reader & { recursionLimit: number };
  type.decode = (r: protobuf.Reader | Uint8Array, l?: number, e?: number, n = 0): protobuf.Message => {
    const reader = r instanceof protobuf.Reader ? r : protobuf.Reader.create(r);
    if (n > R.recursionLimit) throw Error('maximum nesting depth exceeded');
    let end: number;
    let outer = 0;
    if (l === undefined) end = reader.len;
    else {
      end = reader.pos + l;
      if (end > reader.len) throw RangeError('index out of range');
      outer = reader.len;
      reader.len = end;
    }
    const m = new HttpRequest();
    const str = strings(reader, end);
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (tag === e) break;
      switch (tag >>> 3) {
        case 1: m.id = str(); break;
        case 2: m.method = str(); break;
        case 3: readHeaderEntry(reader, end, n, m.headers, str); break;
        case 4: m.path = str(); break;
        case 5: m.host = str(); break;
        case 6: m.scheme = str(); break;
        case 7: m.query = str(); break;
        case 8: m.fragment = str(); break;
        case 9: m.size = reader.int64() as number | protobuf.Long; break;
        case 10: m.protocol = str(); break;
        case 11: m.body = str(); break;
        case 12: m.rawBody = reader.bytes(); break;
        case 13: m.headerMap = (headerMap.decode as (r: protobuf.Reader, l: number, e: undefined, n: number) => protobuf.Message)(reader, reader.uint32(), undefined, n + 1); break;
        default: (reader as DepthReader).skipType(tag & 7, n);
      }
    }
    if (l !== undefined) {
      if (reader.pos !== end) throw RangeError('index out of range');
      reader.len = outer;
    }
    return m as unknown as protobuf.Message;
  };
}

/**
 * How the message's strings are read: the message becomes one latin1 string, a byte per character, and each
 * string field a slice of it, instead of a native call per string (about forty, 2 µs of a check in-process). A
 * slice is its field's text only where its bytes are ASCII; the bytes that are not (varint prefixes of long headers,
 * UTF-8 in values) are found once, and a field that holds one is decoded as UTF-8 as protobufjs does. Bounded as
 * protobufjs's BufferReader.string bounds them: a length past the end stops at it. Slices keep the message's string
 * alive: what a cache keeps of a header is copied first (copyOf).
 */
function strings(reader: protobuf.Reader, end: number): () => string {
  const buf = reader.buf;
  if (!Buffer.isBuffer(buf)) return () => reader.string();
  const base = reader.pos;
  const text = buf.toString('latin1', base, end);
  // The next byte above 0x7f at or after a position, found as the reads move forward: a scan of the message in
  // all, and none when it is all ASCII.
  let high = isAscii(buf.subarray(base, end)) ? Infinity : -1;
  return () => {
    const len = reader.uint32();
    const start = reader.pos;
    const stop = Math.min(start + len, reader.len);
    reader.pos = stop;
    if (high < start) {
      HIGH.lastIndex = start - base;
      high = HIGH.exec(text)?.index ?? Infinity;
      if (high !== Infinity) high += base;
    }
    return high < stop ? buf.toString('utf8', start, stop) : text.slice(start - base, stop - base);
  };
}

const HIGH = /[\x80-\xff]/g;

/** A map entry of `headers`: key = 1, value = 2, either may be absent (then ""); bounded as protobufjs bounds it. */
function readHeaderEntry(reader: protobuf.Reader, end: number, depth: number, headers: Record<string, string>, str: () => string): void {
  const entryEnd = reader.uint32() + reader.pos;
  if (entryEnd > reader.len) throw RangeError('index out of range');
  reader.len = entryEnd;
  let key = '';
  let value = '';
  while (reader.pos < entryEnd) {
    const t = reader.uint32();
    if (t >>> 3 === 1) key = str();
    else if (t >>> 3 === 2) value = str();
    else (reader as DepthReader).skipType(t & 7, depth);
  }
  if (reader.pos !== entryEnd) throw RangeError('index out of range');
  reader.len = end;
  headers[key] = value;
}
