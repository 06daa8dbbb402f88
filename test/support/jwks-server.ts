// A real HTTP JWKS endpoint on loopback, with an optional delay and a request counter.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type * as jose from 'jose';

export interface JwksServer {
  url: string;
  requests: number;
  delayMs: number;
  jwks: jose.JSONWebKeySet;
  close(): Promise<void>;
}

/** With `tls` (certificate and key files), the endpoint is https. */
export async function startJwksServer(jwks: jose.JSONWebKeySet, delayMs = 0, tls?: { cert: string; key: string }): Promise<JwksServer> {
  const state = { requests: 0, delayMs, jwks };
  const handler = (_req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(state.jwks));
    }, state.delayMs);
  };
  const server: Server = tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  }) as JwksServer;
}
