// parsed_body and truncated_body as the OPA-Envoy plugin reads them (envoyauth/request.go getParsedBody): by the
// content-type header's substring: JSON, a gRPC message (with a descriptor set), a form, multipart form data;
// a body shorter than its content-length, or x-envoy-auth-partial-body: true, is truncated and not parsed.
import type protobuf from 'protobufjs';
import { parseQuery } from '../util/go-url.js';
import { protojson } from './protojson.js';
import { dataObject } from '../util/data-object.js';

export interface BodyOptions {
  skipRequestBodyParse: boolean;
  /** The services whose gRPC request bodies are decoded (policies.proto_descriptor). */
  protoDescriptor?: protobuf.Root;
}

type Parsed = { data: unknown; truncated: boolean };
const NOTHING: Parsed = Object.freeze({ data: null, truncated: false });
const TRUNCATED: Parsed = Object.freeze({ data: null, truncated: true });

export function parsedBody(headers: Record<string, string>, body: string, raw: Uint8Array | undefined, parsedPath: string[], opts: BodyOptions): Parsed | Error {
  if (headers['x-envoy-auth-partial-body'] === 'true') return TRUNCATED;
  const type = headers['content-type'];
  if (type === undefined) return NOTHING;
  const payload = body !== '' ? body : raw && raw.length ? Buffer.from(raw).toString('utf8') : '';
  try {
    if (type.includes('application/json')) {
      if (payload === '') return NOTHING;
      if (truncated(headers, payload)) return TRUNCATED;
      return { data: JSON.parse(payload) as unknown, truncated: false };
    }
    if (type.includes('application/grpc')) return grpcBody(raw, parsedPath, opts.protoDescriptor);
    if (type.includes('application/x-www-form-urlencoded')) {
      if (payload === '') return NOTHING;
      if (truncated(headers, payload)) return TRUNCATED;
      return { data: parseQuery(payload), truncated: false };
    }
    if (type.includes('multipart/form-data')) {
      if (payload === '') return NOTHING;
      if (truncated(headers, payload)) return TRUNCATED;
      const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
      if (!boundary) return NOTHING;
      return { data: multipart(payload, boundary[1] ?? boundary[2]!), truncated: false };
    }
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
  return NOTHING;
}

/** Go's strconv.ParseInt of content-length (an error is a 400), against the body's length in bytes. */
function truncated(headers: Record<string, string>, payload: string): boolean {
  const cl = headers['content-length'];
  if (cl === undefined) return false;
  if (!/^[+-]?\d+$/.test(cl)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(cl)}: invalid syntax`);
  const n = Number(cl);
  return n !== -1 && n > Buffer.byteLength(payload);
}

/** Form fields by name: JSON parts parsed, the others as text. */
function multipart(payload: string, boundary: string): Record<string, unknown[]> {
  const values = dataObject<unknown[]>();
  const delimiter = `--${boundary}`;
  const sections = payload.split(delimiter);
  if (sections.length < 2) throw new Error('multipart: NextPart: EOF');
  for (const section of sections.slice(1)) {
    if (section.startsWith('--')) break;
    const part = section.replace(/^\r?\n/, '');
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) throw new Error('multipart: NextPart: EOF');
    const head = part.slice(0, split.index);
    const content = part.slice(split.index + split[0].length).replace(/\r?\n$/, '');
    const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(head);
    const name = disposition ? /;\s*name="([^"]*)"/i.exec(disposition[1]!)?.[1] : undefined;
    if (!name) continue;
    const json = /^content-type:.*application\/json/im.test(head);
    (values[name] ??= []).push(json ? (JSON.parse(content) as unknown) : content);
  }
  return values;
}

/** A gRPC request body: the 5-byte frame, then the method's input message (from the descriptor set), as protojson. */
function grpcBody(raw: Uint8Array | undefined, parsedPath: string[], root: protobuf.Root | undefined): Parsed {
  if (!root || !raw || raw.length === 0) return NOTHING;
  if (parsedPath.length !== 2) throw new Error('invalid parsed path');
  if (raw.length < 5) throw new Error('less than 5 bytes');
  if (raw[0] !== 0) return NOTHING; // compressed: not supported, as in the plugin
  const size = Buffer.from(raw).readUInt32BE(1);
  if (size > raw.length - 5) return TRUNCATED;
  let method: protobuf.Method | undefined;
  try {
    const service = root.lookupService(parsedPath[0]!);
    method = service.methods[parsedPath[1]!];
  } catch {
    return NOTHING;
  }
  if (!method) return NOTHING;
  const type = root.lookupType(method.requestType);
  const msg = type.decode(raw.subarray(5, 5 + size)) as unknown as Record<string, unknown>;
  return { data: protojson(msg, type), truncated: false };
}
