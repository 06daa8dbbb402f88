// The HTTP port: Prometheus /metrics, /healthz (alive), /readyz (serving), the HTTP authorization mode under
// /authz, and /decisions/<id> (full denials for nginx's error_page).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createSecureServer } from 'node:https';
import { TLSSocket } from 'node:tls';
import { peerOf, type ListenerTls } from '../tls/listener-tls.js';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../telemetry/metrics.js';
import { StoreError } from '../core/errors.js';
import { HttpAuthz, json, type HttpAnswer } from './authz.js';
import type { CheckService } from '../check/service.js';
import type { Logger } from '../telemetry/logger.js';

export interface HttpPort {
  address: string;
  close(): Promise<void>;
}

export interface HttpPortOptions {
  address: string;
  tls: ListenerTls;
  metrics: Metrics;
  service: CheckService;
  ready: () => boolean;
  maxBodyBytes: number;
  log: Logger;
  /** The header the gateway names its client's address in (server.http_client_address_header). */
  clientAddressHeader?: string;
  /** POST /usage, a decision's token usage: who may report it (an admin token's holder), and the report. */
  usageReport?: { holder(authorization: string | undefined): string | undefined; report(r: Record<string, unknown>): Promise<unknown> };
}

export async function startHttpPort(opts: HttpPortOptions): Promise<HttpPort> {
  const authz = new HttpAuthz(opts.service, '/authz', opts.clientAddressHeader);
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res, opts, authz).catch((err) => {
      opts.log.error({ err: (err as Error).message }, 'HTTP request failed');
      if (!res.headersSent) send(res, json(503, { error: 'internal_error', reason: 'the authorization service failed to decide', decision_id: '' }));
      else res.destroy();
    });
  };
  const secure = opts.tls.enabled ? createSecureServer(opts.tls.initial(), onRequest) : undefined;
  const server: Server = secure ?? createServer(onRequest);
  // A renewed certificate (or CA) applies to new connections; open ones keep theirs.
  const stopWatching = secure ? opts.tls.watch((ctx) => secure.setSecureContext(ctx)) : () => undefined;
  const [host, port] = splitAddress(opts.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** One request to the HTTP port, by path. */
async function route(req: IncomingMessage, res: ServerResponse, opts: HttpPortOptions, authz: HttpAuthz): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    if (path === '/authz' || path.startsWith('/authz/')) {
      const body = await readBody(req, opts.maxBodyBytes);
      if (body === null) return send(res, json(413, { error: 'payload_too_large', reason: 'the request body is too large', decision_id: '' }));
      const peer = opts.tls.clientCerts && req.socket instanceof TLSSocket ? peerOf(req.socket.getPeerCertificate()) : null;
      return send(res, await authz.handle(req, body || undefined, peer));
    }
    if (path.startsWith('/decisions/')) {
      const a = authz.replay(decodeURIComponent(path.slice('/decisions/'.length)));
      return send(res, a ?? json(404, { error: 'not_found', reason: 'no such recent decision', decision_id: '' }));
    }
    if (path === '/usage') return send(res, await usageReport(req, opts));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, json(405, { error: 'method_not_allowed' }));
    if (path === '/metrics') {
      const body = await opts.metrics.registry.metrics();
      return send(res, { status: 200, headers: { 'content-type': opts.metrics.registry.contentType }, body });
    }
    if (path === '/healthz') return send(res, json(200, { status: 'ok' }));
    if (path === '/readyz') return send(res, opts.ready() ? json(200, { status: 'ready' }) : json(503, { status: 'not ready' }));
    return send(res, json(404, { error: 'not_found' }));
}

/** POST /usage {decision_id, input_tokens, output_tokens, model?} with an admin bearer token (docs/genai.md). */
async function usageReport(req: IncomingMessage, opts: HttpPortOptions): Promise<HttpAnswer> {
  const u = opts.usageReport;
  if (!u) return json(404, { error: 'not_found', reason: 'usage reports need an admin token and token budgets (docs/genai.md)' });
  if (req.method !== 'POST') return json(405, { error: 'method_not_allowed', reason: 'POST a JSON usage report' });
  if (!u.holder(req.headers.authorization)) return json(401, { error: 'unauthenticated', reason: 'an admin bearer token is required' });
  const body = await readBody(req, 64 * 1024);
  if (body === null) return json(413, { error: 'payload_too_large', reason: 'a usage report is a small JSON object' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return json(400, { error: 'bad_request', reason: 'the body is not JSON' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return json(400, { error: 'bad_request', reason: 'the body must be a JSON object' });
  try {
    return json(200, { settled: true, usage: await u.report(parsed as Record<string, unknown>) });
  } catch (err) {
    if (err instanceof StoreError) return json(err.kind === 'invalid' ? 400 : err.kind === 'not_found' ? 404 : 409, { error: err.kind, reason: err.message });
    throw err;
  }
}

function send(res: ServerResponse, a: HttpAnswer): void {
  res.writeHead(a.status, a.headers);
  res.end(a.body);
}

function splitAddress(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))];
}

/** The body as text, or null when it is larger than the limit. */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size > max ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
