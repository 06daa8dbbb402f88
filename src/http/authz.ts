// The HTTP authorization mode: the same pipeline for gateways that ask over plain HTTP.
// - Envoy http_service with path_prefix /authz: the original method, and the original path after the prefix.
// - nginx auth_request: x-original-method / x-original-uri. nginx only passes 401/403 through, so other
//   denials are answered 403 with x-authz-status, and nginx's error_page fetches the full answer from
//   /decisions/<id> (see envoy/nginx-auth-request.conf).
// - Traefik ForwardAuth, APISIX forward-auth: x-forwarded-method / x-forwarded-uri / x-forwarded-host.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { CheckService } from '../check/service.js';
import type { RequestParts } from '../check/normalize.js';
import type { Peer } from '../core/types.js';
import type { OkResponse } from '../core/response.js';
import { dataObject } from '../util/data-object.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

const META = new Set(['x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-host', 'x-forwarded-proto', 'x-original-method', 'x-original-uri', 'x-original-url', 'x-original-host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive']);

export class HttpAuthz {
  // Full denials kept briefly for nginx's error_page to fetch by decision id.
  private readonly replays = new LRUCache<string, HttpAnswer>({ max: 10_000, ttl: 30_000 });

  constructor(
    private readonly service: CheckService,
    private readonly prefix = '/authz',
    /** When set: the client's address is this header's (set by the gateway), not the gateway's connection's. */
    private readonly clientAddressHeader?: string,
  ) {}

  replay(decisionId: string): HttpAnswer | undefined {
    return this.replays.get(decisionId);
  }

  async handle(req: IncomingMessage, body: string | undefined, peer: Peer | null = null): Promise<HttpAnswer> {
    const h = req.headers;
    const one = (name: string) => {
      const v = h[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    const nginx = one('x-original-uri') !== undefined || one('x-original-url') !== undefined;
    const url = req.url ?? '/';
    const rest = url.slice(this.prefix.length);
    const uri = one('x-forwarded-uri') ?? one('x-original-uri') ?? one('x-original-url') ?? (rest.startsWith('/') ? rest : undefined);
    if (!uri) {
      return json(400, { error: 'bad_request', reason: `send the original request as ${this.prefix}/<path>, or with x-forwarded-uri / x-original-uri`, decision_id: '' });
    }
    const method = (one('x-forwarded-method') ?? one('x-original-method') ?? req.method ?? 'GET').toUpperCase();
    const host = one('x-forwarded-host') ?? one('x-original-host') ?? one('host') ?? 'localhost';
    const parts = requestParts(req, method, uri, host, one('x-forwarded-proto') ?? 'http', body, peer);
    if (this.clientAddressHeader) {
      // Only a single address counts: a list (a client's own copy the gateway appended to) is no address at all.
      const a = one(this.clientAddressHeader)?.trim() ?? '';
      parts.source = { address: { socketAddress: { address: isIP(a) ? a : '', portValue: 0 } } };
    }
    const { response, outcome } = await this.service.checkParts(parts, peer);
    if (response.okResponse) return allowAnswer(response.okResponse);
    const denied = response.deniedResponse!;
    const answer: HttpAnswer = { status: denied.status.code, headers: { 'x-decision-id': outcome.decisionId }, body: denied.body };
    for (const o of denied.headers) answer.headers[o.header.key] = o.header.value;
    if (nginx && answer.status !== 401 && answer.status !== 403) {
      this.replays.set(outcome.decisionId, answer);
      return { status: 403, headers: { ...answer.headers, 'x-authz-status': String(answer.status) }, body: answer.body };
    }
    if (nginx) this.replays.set(outcome.decisionId, answer);
    return answer;
  }
}

/**
 * The request the gateway asks about, as the pipeline takes it: the headers it forwarded (lower-case, as Node gives
 * them, without the gateway's own x-forwarded-* / x-original-* and hop-by-hop ones) with Envoy's pseudo-headers, and
 * the connection it came on as the source (its principal with mTLS: the client of this port is the source here).
 */
function requestParts(req: IncomingMessage, method: string, path: string, host: string, scheme: string, body: string | undefined, peer: Peer | null): RequestParts {
  const headers = Object.assign(dataObject<string>(), { ':authority': host, ':method': method, ':path': path, ':scheme': scheme });
  for (const [k, v] of Object.entries(req.headers)) {
    // A client-sent x-envoy-auth-partial-body is dropped, as Envoy drops it.
    if (v === undefined || META.has(k) || k === 'x-envoy-auth-partial-body') continue;
    headers[k] = Array.isArray(v) ? v.join(',') : v;
  }
  if (body !== undefined) headers['x-envoy-auth-partial-body'] = 'false';
  const now = Date.now();
  const socket = (s: string | undefined, port: number | undefined) => ({ address: { socketAddress: { address: s ?? '', portValue: port ?? 0 } } });
  return {
    method,
    path,
    host,
    scheme,
    protocol: `HTTP/${req.httpVersion}`,
    headers,
    body: body ?? null,
    contextExtensions: {},
    id: '',
    size: String(body ? Buffer.byteLength(body) : 0),
    time: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1e6 },
    source: { ...socket(req.socket.remoteAddress, req.socket.remotePort), ...(peer ? { principal: peer.principal } : {}) },
    destination: socket(req.socket.localAddress, req.socket.localPort),
    metadataContext: {},
    routeMetadataContext: {},
  };
}

/**
 * An allow over HTTP. A gateway copies the headers it is told to from this answer onto the upstream request, but
 * gateways differ on a header the answer lacks: nginx's proxy_set_header and Traefik drop the client's copy, APISIX
 * forward-auth keeps it. So every header the gRPC answer would remove is sent here empty (which overwrites a
 * client's copy wherever the gateway copies it) and named in x-envoy-auth-headers-to-remove (which Envoy's
 * http_service honours by removing it).
 */
function allowAnswer(ok: OkResponse): HttpAnswer {
  const out: Record<string, string> = {};
  for (const o of [...ok.headers, ...(ok.responseHeadersToAdd ?? [])]) out[o.header.key] = o.header.value;
  const remove = ok.headersToRemove;
  for (const name of remove) out[name] ??= '';
  if (remove.length) out['x-envoy-auth-headers-to-remove'] = remove.join(',');
  return { status: 200, headers: out, body: '' };
}

export function json(status: number, value: unknown): HttpAnswer {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}
