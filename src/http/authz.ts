// The HTTP authorization mode: the same pipeline for gateways that ask over plain HTTP.
// - Envoy http_service with path_prefix /authz: the original method, and the original path after the prefix.
// - nginx auth_request: x-original-method / x-original-uri. nginx only passes 401/403 through, so other
//   denials are answered 403 with x-authz-status, and nginx's error_page fetches the full answer from
//   /decisions/<id> (see envoy/nginx-auth-request.conf).
// - Traefik ForwardAuth, APISIX forward-auth: x-forwarded-method / x-forwarded-uri / x-forwarded-host.
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import { buildCheckRequest } from '../check/envoy-request.js';
import type { CheckService } from '../check/service.js';
import type { Peer } from '../core/types.js';
import type { OkResponse } from '../core/response.js';

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
    const headers: [string, string][] = [];
    for (const [k, v] of Object.entries(h)) {
      if (v === undefined || META.has(k)) continue;
      headers.push([k, Array.isArray(v) ? v.join(',') : v]);
    }
    const host = one('x-forwarded-host') ?? one('x-original-host') ?? one('host') ?? 'localhost';
    const check = buildCheckRequest({ method, path: uri, host, headers, body, scheme: one('x-forwarded-proto') ?? 'http', protocol: `HTTP/${req.httpVersion}`, principal: peer?.principal });
    const { response, outcome } = await this.service.check(check, 'http', peer);
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
