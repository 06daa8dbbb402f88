// Phase 1: turn whatever arrived (an Envoy CheckRequest, possibly partial or hostile) into one canonical request.
// Every rule downstream sees the decoded, dot-segment-free path, lower-case headers and parsed query/body.
import type { Config } from '../core/config.js';
import { Denial } from '../core/types.js';
import type { NormalizedRequest } from '../core/request.js';
import { deny } from '../core/denials.js';
import { copyOf } from '../util/copy-of.js';
import { LRUCache } from 'lru-cache';
import { dataObject } from '../util/data-object.js';

type Attrs = {
  source?: unknown;
  destination?: unknown;
  request?: { time?: unknown; http?: HttpReq };
  contextExtensions?: Record<string, string>;
  metadataContext?: unknown;
  routeMetadataContext?: unknown;
  tlsSession?: unknown;
};
type HttpReq = {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  headerMap?: { headers?: { key?: string; value?: string; rawValue?: Buffer | Uint8Array }[] };
  path?: string;
  host?: string;
  scheme?: string;
  size?: string | { toString(): string };
  protocol?: string;
  body?: string;
  rawBody?: Buffer | Uint8Array;
};

const EMPTY: Record<string, string> = Object.freeze({}) as Record<string, string>;
const utf8 = new TextDecoder('utf-8', { fatal: false });
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * What a transport hands the pipeline: the request's parts, before they are checked. The gRPC transport reads them
 * from Envoy's CheckRequest (partsOf); the HTTP mode builds them from the HTTP request it was asked about.
 */
export interface RequestParts {
  method: string;
  /** The path as sent, with its query. */
  path: string;
  host: string;
  scheme: string;
  protocol: string;
  /** Lower-case names; repeated headers joined with "," as Envoy does. */
  headers: Record<string, string>;
  body: string | null;
  contextExtensions: Record<string, string>;
  /** CheckRequest fields the policy may read, passed through: request.http.id and size, and the rest. */
  id: string;
  size: string;
  time: unknown;
  source: unknown;
  destination: unknown;
  metadataContext: unknown;
  routeMetadataContext: unknown;
}

/** A CheckRequest, normalised. */
export function normalize(req: unknown, limits: Config['limits']): NormalizedRequest | Denial {
  const parts = partsOf(req, limits.max_headers);
  return parts instanceof Denial ? parts : normalizeParts(parts, limits);
}

/** The parts of an Envoy CheckRequest (fields, else the pseudo-headers). */
export function partsOf(req: unknown, maxHeaders: number): RequestParts | Denial {
  const attrs = ((req as { attributes?: Attrs } | null)?.attributes ?? {}) as Attrs;
  const http = attrs.request?.http;
  if (!http) return bad('the check request carries no HTTP request attributes');
  const headers = collectHeaders(http, maxHeaders);
  if (headers instanceof Denial) return headers;
  return {
    method: http.method || headers[':method'] || '',
    path: http.path || headers[':path'] || '',
    host: http.host || headers[':authority'] || headers['host'] || '',
    scheme: http.scheme ?? headers[':scheme'] ?? '',
    protocol: http.protocol ?? '',
    headers,
    // An unset string field may arrive as "" (a decoded message) or be absent (a plain object): both mean no body.
    body: http.body ? http.body : http.rawBody && http.rawBody.length ? utf8.decode(http.rawBody) : null,
    contextExtensions: attrs.contextExtensions ?? EMPTY,
    id: http.id ?? '',
    // int64: a string from proto-loader, a Long from a decoded message; protojson writes a string.
    size: String(http.size ?? '0'),
    time: attrs.request?.time ?? null,
    source: attrs.source,
    destination: attrs.destination,
    metadataContext: attrs.metadataContext,
    routeMetadataContext: attrs.routeMetadataContext,
  };
}

/** Checks the parts and canonicalises them: method, path (ambiguous ones refused), query, body truncation. */
export function normalizeParts(p: RequestParts, limits: Config['limits']): NormalizedRequest | Denial {
  const method = p.method.toUpperCase();
  if (!method) return bad('the request has no method');
  if (!TOKEN.test(method)) return bad('the request method is malformed');
  const rawPath = p.path;
  if (!rawPath) return bad('the request has no path');
  if (rawPath.length > limits.max_path_bytes) return bad(`the request path is longer than ${limits.max_path_bytes} bytes`);

  const parts = pathPartsOf(rawPath, limits.reject_ambiguous_paths);
  if (parts instanceof Denial) return parts;

  const { headers, body } = p;
  const contentLength = Number(headers['content-length']);
  const truncatedBody =
    headers['x-envoy-auth-partial-body'] === 'true' ||
    (body !== null && Number.isFinite(contentLength) && Buffer.byteLength(body) < contentLength);
  return {
    method,
    path: parts.path,
    parsedPath: parts.parsedPath,
    parsedQuery: parts.parsedQuery,
    headers,
    host: p.host,
    scheme: p.scheme,
    contextExtensions: p.contextExtensions,
    body,
    // Filled by parseBody (body.ts) once the caller is known, if the policy reads the body.
    parsedBody: null,
    bodyError: null,
    truncatedBody,
    attributes: attributesOf(p, method),
  };
}

/** What a request's path and query become: shared by every request with the same raw path, so frozen. */
interface PathParts {
  path: string;
  parsedPath: string[];
  parsedQuery: Record<string, string[]>;
}

// The same few paths come again and again (a GenAI platform's are mostly one), and their parsing (split, decode,
// the ambiguity checks, URLSearchParams) was most of normalize's 5 µs a check under load (bench/README.md). Short paths
// only, so that what the memo holds stays small (about 256 KB at most) whatever paths a client sends.
const PATH_MEMO_SIZE = 1000;
const PATH_MEMO_MAX_LENGTH = 256;
const pathMemos = [false, true].map(() => new LRUCache<string, PathParts>({ max: PATH_MEMO_SIZE }));

function pathPartsOf(rawPath: string, strict: boolean): PathParts | Denial {
  const memo = rawPath.length <= PATH_MEMO_MAX_LENGTH ? pathMemos[strict ? 1 : 0]! : undefined;
  const known = memo?.get(rawPath);
  if (known) return known;
  const q = rawPath.indexOf('?');
  let pathPart = q < 0 ? rawPath : rawPath.slice(0, q);
  let query = q < 0 ? '' : rawPath.slice(q + 1);
  const hash = query.indexOf('#');
  if (hash >= 0) query = query.slice(0, hash);
  const frag = pathPart.indexOf('#');
  if (frag >= 0) pathPart = pathPart.slice(0, frag);
  const parsedPath = canonicalSegments(pathPart, strict);
  // A refusal is not kept: its reason may be changed on the way out, and ambiguous paths are rare.
  if (parsedPath instanceof Denial) return parsedPath;
  const parsedQuery = parseQuery(query);
  for (const k in parsedQuery) Object.freeze(parsedQuery[k]);
  const parts: PathParts = Object.freeze({ path: '/' + parsedPath.join('/'), parsedPath: Object.freeze(parsedPath) as string[], parsedQuery: Object.freeze(parsedQuery) });
  // The key copied: the raw path is a slice of the decoded request, which the memo would keep alive whole.
  memo?.set(copyOf(rawPath), parts);
  return parts;
}

/** CheckRequest.attributes in protojson names, for OPA-Envoy compatible policies. */
function attributesOf(p: RequestParts, method: string): Record<string, unknown> {
  return {
    source: p.source ?? {},
    destination: p.destination ?? {},
    request: {
      time: p.time,
      http: {
        id: p.id,
        method,
        headers: p.headers,
        path: p.path,
        host: p.host,
        scheme: p.scheme,
        size: p.size,
        protocol: p.protocol,
        ...(p.body !== null ? { body: p.body } : {}),
      },
    },
    contextExtensions: p.contextExtensions,
    metadataContext: p.metadataContext ?? {},
    routeMetadataContext: p.routeMetadataContext ?? {},
  };
}

function bad(reason: string): Denial {
  return deny('bad_request', reason);
}

function collectHeaders(http: HttpReq, max: number): Record<string, string> | Denial {
  // Envoy sends either the `headers` map or, with encode_raw_headers, the repeated `header_map`.
  const list = http.headerMap?.headers;
  if (list && list.length) {
    if (list.length > max) return bad(`the request has more than ${max} headers`);
    const out = dataObject<string>();
    for (const h of list) {
      if (!h.key) continue;
      const key = h.key.toLowerCase();
      const value = h.rawValue && h.rawValue.length ? utf8.decode(h.rawValue) : (h.value ?? '');
      const prev = out[key];
      out[key] = prev === undefined ? value : key === 'cookie' ? `${prev}; ${value}` : `${prev},${value}`;
    }
    return out;
  }
  const map = http.headers;
  if (!map) return {};
  const keys = Object.keys(map);
  if (keys.length > max) return bad(`the request has more than ${max} headers`);
  for (const k of keys) {
    // Envoy always sends lower-case names; a direct caller may not. Copy only when needed.
    if (k !== k.toLowerCase()) {
      const out = dataObject<string>();
      for (const key of keys) {
        const lk = key.toLowerCase();
        out[lk] = out[lk] === undefined ? map[key]! : `${out[lk]},${map[key]}`;
      }
      return out;
    }
  }
  return map;
}

/**
 * The path's segments, percent-decoded. With `strict` (limits.reject_ambiguous_paths, the default), a path that
 * upstream servers read in different ways is refused rather than guessed at, because Envoy forwards the raw path
 * and a guess that differs from the upstream's is a way around a route (SECURITY.md, "How paths and hosts are matched"):
 * dot segments (raw or encoded), empty segments, ";" path parameters (raw or encoded), backslashes, encoded "/" or backslash, and double
 * percent-encoding. A trailing slash is not ambiguous and is dropped. Without `strict`, "." and ".." are resolved
 * (RFC 3986 remove_dot_segments, clamped at the root) and empty segments dropped, for a proxy that normalises
 * paths itself before the check (Envoy's normalize_path, merge_slashes, path_with_escaped_slashes_action).
 */
export function canonicalSegments(pathPart: string, strict = true): string[] | Denial {
  if (pathPart[0] !== '/' && pathPart !== '*') return bad('the request path must start with "/"');
  if (strict) {
    // Encoded too: some servers decode "%3b" before they split off path parameters.
    if (PATH_PARAMETER.test(pathPart)) return ambiguous('";" path parameters');
    if (pathPart.includes('\\')) return ambiguous('a backslash');
    if (ENCODED_SEPARATOR.test(pathPart)) return ambiguous('an encoded separator');
  }
  let decoded: string;
  try {
    decoded = pathPart.includes('%') ? decodeURIComponent(pathPart) : pathPart;
  } catch {
    return bad('the request path has an invalid percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return bad('the request path contains control characters');
  if (decoded.includes('\uFFFD')) return bad('the request path is not valid UTF-8');
  if (strict && decoded !== pathPart && PERCENT.test(decoded)) return ambiguous('double percent-encoding');
  const segs = decoded === '*' ? ['*'] : decoded.split(strict ? '/' : /[/\\]/);
  const out: string[] = [];
  // segs[0] is the empty string before the leading "/".
  for (let i = decoded === '*' ? 0 : 1; i < segs.length; i++) {
    const seg = segs[i]!;
    if (strict) {
      if (seg === '.' || seg === '..') return ambiguous('a dot segment');
      if (seg === '') {
        if (i === segs.length - 1) break; // a trailing slash
        return ambiguous('an empty segment');
      }
      out.push(seg);
      continue;
    }
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out;
}

const ENCODED_SEPARATOR = /%(2f|5c)/i;
const PATH_PARAMETER = /;|%3b/i;
const PERCENT = /%[0-9a-f]{2}/i;

function ambiguous(what: string): Denial {
  return bad(`the request path is ambiguous (${what}): upstream servers read such paths differently, so it is refused`);
}

export function parseQuery(query: string): Record<string, string[]> {
  const out = dataObject<string[]>();
  if (!query) return out;
  for (const [k, v] of new URLSearchParams(query)) (out[k] ??= []).push(v);
  return out;
}
