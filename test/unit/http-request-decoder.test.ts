// The server's hand-written HttpRequest decoder against protobufjs's own, on the same bytes: every field the same,
// for any headers (empty names, `constructor`; `__proto__` has a test of its own), any body, header_map, int64
// sizes and fields it does not know.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { ENVOY_PROTO_DIRS, authServiceForServer } from '../../src/check/protos.js';

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

const text = fc.string({ maxLength: 12 });
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
