// The policy input as the OPA-Envoy plugin builds it (its envoyauth/request.go), field for field: the CheckRequest
// mapped as the plugin's protomap does (JSON names, populated fields only, a Struct as plain JSON, int64 as numbers,
// enums as numbers, bytes as base64), `version`, `parsed_path` and `parsed_query` as Go's net/url reads them,
// `parsed_body` and `truncated_body` (body.ts), and `source_principal`.
import type protobuf from 'protobufjs';
import type { Projection } from '../policy/deps.js';
import { parsedBody, type BodyOptions } from './body.js';
import { populated, structJson } from './protojson.js';
import { parseQuery, pathUnescape } from '../util/go-url.js';

const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

/** What the plugin answers 400 for: a path, query or body it cannot read. The message is Go's error, near enough. */
export class RequestParseError {
  constructor(readonly message: string) {}
}

type Msg = protobuf.Message & Record<string, unknown>;

/**
 * `reads`: the parts of the input the policy reads (opa deps), when known; the CheckRequest's own fields
 * (`attributes`, the costliest part) are mapped only when it reads them. What the plugin refuses (an unreadable
 * path, query or body) is refused whatever the policy reads.
 */
export function opaEnvoyInput(msg: Msg, opts: BodyOptions, reads?: Projection): Record<string, unknown> | RequestParseError {
  const input: Record<string, unknown> = reads && !('attributes' in reads) ? {} : protomap(msg, msg.$type);
  const http = ((msg.attributes as Msg | undefined)?.request as Msg | undefined)?.http as Msg | undefined;
  const path = (http?.path as string | undefined) ?? '';
  const headers = (http?.headers as Record<string, string> | undefined) ?? {};
  input.version = VERSION;
  const q = path.indexOf('?');
  const rawPath = q < 0 ? path : path.slice(0, q);
  const rawQuery = q < 0 ? '' : path.slice(q + 1);
  let parsedPath: string[];
  let parsedQuery: Record<string, string[]>;
  try {
    parsedPath = pathUnescape(rawPath).replace(/^\/+/, '').split('/');
    parsedQuery = parseQuery(rawQuery);
  } catch (err) {
    return new RequestParseError((err as Error).message);
  }
  input.parsed_path = parsedPath;
  input.parsed_query = parsedQuery;
  if (!opts.skipRequestBodyParse) {
    const body = parsedBody(headers, (http?.body as string | undefined) ?? '', http?.rawBody as Uint8Array | undefined, parsedPath, opts);
    if (body instanceof Error) return new RequestParseError(body.message);
    input.parsed_body = body.data;
    input.truncated_body = body.truncated;
  }
  const principal = ((msg.attributes as Msg | undefined)?.source as Msg | undefined)?.principal;
  if (typeof principal === 'string' && principal !== '') input.source_principal = principal;
  return input;
}

/** A decoded message of `type` as the plugin's protomap writes it. */
function protomap(msg: Msg, type: protobuf.Type): Record<string, unknown> {
  if (type.fullName === '.google.protobuf.Struct') return structJson(msg);
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    const v = msg[f.name];
    if (!populated(msg, f, v)) continue;
    if (f.map) {
      const m: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) m[k] = scalarOrMessage(f, x);
      out[f.name] = m;
    } else if (f.repeated) out[f.name] = (v as unknown[]).map((x) => scalarOrMessage(f, x));
    else out[f.name] = scalarOrMessage(f, v);
  }
  return out;
}

function scalarOrMessage(f: protobuf.Field, v: unknown): unknown {
  if (f.resolvedType && 'fieldsArray' in f.resolvedType) return protomap(v as Msg, f.resolvedType);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  // int64 and uint64 (protobufjs Longs), as JSON numbers.
  if (typeof v === 'object' && v !== null) return Number(String(v));
  return v;
}
