// Writing a CheckResponse's per-request parts straight into one buffer of the exact size, for the answers kept as
// templates (allow-template.ts, deny-template.ts): protobufjs' Writer allocates an object and a buffer per nested
// message, which was a third of what a check's answer cost under load (bench/README.md).
import { safe } from '../core/upstream-headers.js';

export const varintLen = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

// HeaderValueOption.append = BoolValue{false}, written explicitly as the general encoder does.
export const APPEND_FALSE = Uint8Array.of(18, 2, 8, 0);
export const EMPTY: Uint8Array = new Uint8Array(0);

export class Out {
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
  /** Bytes kept as a latin1 string (a byte per character: one heap object, where a Buffer is three). */
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

/** Encoded bytes kept as a latin1 string (see Out.bytes). */
export const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** The size of a length-delimited field with a one-byte tag and `len` bytes of content. */
export const fieldLen = (len: number): number => 1 + varintLen(len) + len;

// What measureHeaderOptions found, for the writeHeaderOptions that follows it at once (nothing runs between the two):
// a check then makes no array and no buffer for its headers (the quota's RateLimit fields change with every check).
const keys: string[] = [];
const values: string[] = [];
const keyBytes: number[] = [];
const valueBytes: number[] = [];
let measured = 0;

/**
 * Measures repeated HeaderValueOption{header: {key, value}, append: false} fields, the values made safe for a header;
 * `skip`: names left out. Their size in bytes; writeHeaderOptions must follow at once.
 */
export function measureHeaderOptions(headers: Record<string, string>, skip?: (name: string) => boolean): number {
  measured = 0;
  let total = 0;
  for (const key in headers) {
    if (!Object.hasOwn(headers, key) || skip?.(key)) continue;
    const value = safe(headers[key]!);
    const k = Buffer.byteLength(key, 'utf8');
    // safe() leaves only printable ASCII: a byte per character.
    const v = value.length;
    keys[measured] = key;
    values[measured] = value;
    keyBytes[measured] = k;
    valueBytes[measured] = v;
    measured++;
    total += fieldLen(fieldLen(fieldLen(k) + fieldLen(v)) + APPEND_FALSE.byteLength);
  }
  return total;
}

/** Writes what measureHeaderOptions measured last, as field `tag` (a one-byte tag). */
export function writeHeaderOptions(out: Out, tag: number): void {
  for (let i = 0; i < measured; i++) {
    const k = keyBytes[i]!;
    const v = valueBytes[i]!;
    const headerValue = fieldLen(k) + fieldLen(v);
    out.field(tag, fieldLen(headerValue) + APPEND_FALSE.byteLength).field(10, headerValue).string(10, keys[i]!, k).string(18, values[i]!, v).raw(APPEND_FALSE);
  }
  measured = 0;
}
