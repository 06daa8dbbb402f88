// The server's hand-written HttpRequest decoder against protobufjs's own, on the same bytes: every field the same,
// for any headers (empty names, `constructor`; `__proto__` has a test of its own), any body, header_map, int64
// sizes and fields it does not know.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { ENVOY_PROTO_DIRS, MalformedRequest, authServiceForServer } from '../../src/check/protos.js';

// protobufjs's generated decoder, from a root of its own (the server's root has the hand-written one installed).
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => ENVOY_PROTO_DIRS.map((d) => join(d, target)).find(existsSync) ?? target;
root.loadSync('envoy/service/auth/v3/external_auth.proto');
const CheckRequest = root.lookupType('envoy.service.auth.v3.CheckRequest');
const decodeOurs = authServiceForServer().Check!.requestDeserialize as (b: Buffer) => { attributes: { request: { http: Record<string, unknown> } } };

const FIELDS = ['id', 'method', 'path', 'host', 'scheme', 'query', 'fragment', 'protocol', 'body'] as const;
/** What a caller reads from a decoded HttpRequest: the fields, headers as entries, size as a string. */
function view(http: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = http[f];
  out.size = String(http.size);
  out.headers = Object.entries(http.headers as Record<string, string>).sort();
  out.rawBody = Buffer.from(http.rawBody as Uint8Array).toString('hex');
  out.headerMap = http.headerMap ? (root.lookupType('envoy.config.core.v3.HeaderMap').toObject(http.headerMap as protobuf.Message, { bytes: String }) as unknown) : null;
  return out;
}

// ASCII, any Unicode, and strings long enough for a two-byte length prefix (a byte above 0x7f between fields).
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ minLength: 120, maxLength: 160 }));
const httpRequest = fc.record(
  {
    id: text,
    method: fc.constantFrom('GET', 'POST', ''),
    headers: fc.dictionary(fc.oneof(fc.constantFrom('authorization', 'x-api-key', 'constructor', 'toString', ':path', ''), text), text, { maxKeys: 25 }),
    path: text,
    host: text,
    scheme: text,
    query: text,
    fragment: text,
    size: fc.oneof(fc.constant(0), fc.integer({ min: -1, max: 2 ** 31 }), fc.constant('9007199254740993')),
    protocol: text,
    body: text,
    rawBody: fc.uint8Array({ maxLength: 8 }),
    headerMap: fc.option(fc.record({ headers: fc.array(fc.record({ key: text, value: text, rawValue: fc.uint8Array({ maxLength: 4 }) }), { maxLength: 3 }) }), { nil: undefined }),
  },
  { requiredKeys: [] },
);

describe('the HttpRequest decoder', () => {
  it('reads every field exactly as protobufjs does', () => {
    fc.assert(
      fc.property(httpRequest, fc.uint8Array({ maxLength: 6 }), (http, unknown) => {
        const inner = root.lookupType('envoy.service.auth.v3.AttributeContext.HttpRequest');
        let httpBytes = Buffer.from(inner.encode(inner.fromObject(http)).finish());
        // An unknown field (number 99, length-delimited) inside HttpRequest: both decoders skip it.
        if (unknown.length) httpBytes = Buffer.concat([httpBytes, protobuf.Writer.create().uint32((99 << 3) | 2).bytes(unknown).finish()]);
        // CheckRequest.attributes (1) > AttributeContext.request (4) > Request.http (2)
        const wrap = (field: number, body: Uint8Array) => protobuf.Writer.create().uint32((field << 3) | 2).bytes(body).finish();
        const bytes = Buffer.from(wrap(1, wrap(4, wrap(2, httpBytes))));
        const ours = decodeOurs(bytes).attributes.request.http;
        const theirs = (CheckRequest.decode(bytes) as unknown as { attributes: { request: { http: Record<string, unknown> } } }).attributes.request.http;
        expect(view(ours)).toEqual(view(theirs));
      }),
      { numRuns: 300 },
    );
  });

  // Mutated bytes: both decoders refuse, or both accept and read the same. Mutations aim at the length prefixes
  // (the overrun that read path "/healthz" where protobufjs read "") as well as random bytes.
  it('accepts and refuses exactly the bytes protobufjs does', () => {
    const inner = root.lookupType('envoy.service.auth.v3.AttributeContext.HttpRequest');
    const wrap = (field: number, body: Uint8Array) => protobuf.Writer.create().uint32((field << 3) | 2).bytes(body).finish();
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 3 }) }),
      fc.record({ kind: fc.constant('len' as const), at: fc.nat(), delta: fc.integer({ min: -3, max: 3 }) }),
    );
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(httpRequest, fc.array(mutation, { minLength: 1, maxLength: 3 }), (http, mutations) => {
        const httpBytes = inner.encode(inner.fromObject(http)).finish();
        let bytes = Buffer.from(wrap(1, wrap(4, wrap(2, httpBytes))));
        for (const mu of mutations) {
          const at = bytes.length ? mu.at % bytes.length : 0;
          if (mu.kind === 'set') bytes[at] = mu.byte;
          else if (mu.kind === 'cut') bytes = bytes.subarray(0, at);
          else if (mu.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), mu.bytes, bytes.subarray(at)]);
          else if (bytes.length) bytes[at] = (bytes[at]! + mu.delta) & 0x7f; // a small change to a (likely) length byte
        }
        let theirs: unknown;
        let ours: unknown;
        try {
          theirs = (CheckRequest.decode(bytes) as unknown as { attributes?: { request?: { http?: Record<string, unknown> } } }).attributes?.request?.http ?? null;
        } catch {
          theirs = 'refused';
        }
        const decoded = decodeOurs(bytes) as unknown;
        ours = decoded instanceof MalformedRequest ? 'refused' : ((decoded as { attributes?: { request?: { http?: Record<string, unknown> } } }).attributes?.request?.http ?? null);
        if (theirs === 'refused') refused++;
        else accepted++;
        const v = (x: unknown) => (x === 'refused' || x === null ? x : view(x as Record<string, unknown>));
        expect(v(ours)).toEqual(v(theirs));
      }),
      { numRuns: 3000 },
    );
    // Both outcomes were exercised, or the property says little.
    expect(refused).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(300);
  });

  it('keeps a `__proto__` header as a header, on an object without a prototype', () => {
    const bytes = Buffer.from(CheckRequest.encode(CheckRequest.fromObject({ attributes: { request: { http: { headers: { ['__proto__']: 'x', host: 'a' } } } } })).finish());
    const headers = decodeOurs(bytes).attributes.request.http.headers as Record<string, string>;
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect(Object.entries(headers).sort()).toEqual([['__proto__', 'x'], ['host', 'a']]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('gives proto3 defaults for fields that are not sent', () => {
    const http = decodeOurs(Buffer.from(CheckRequest.encode(CheckRequest.fromObject({ attributes: { request: { http: {} } } })).finish())).attributes.request.http;
    expect(view(http)).toEqual({ id: '', method: '', path: '', host: '', scheme: '', query: '', fragment: '', protocol: '', body: '', size: '0', headers: [], rawBody: '', headerMap: null });
  });
});
