// A real HTTP JWKS endpoint on loopback, with an optional delay and a request counter.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as jose from 'jose';

export interface JwksServer {
  url: string;
  requests: number;
  delayMs: number;
  jwks: jose.JSONWebKeySet;
  close(): Promise<void>;
}

export async function startJwksServer(jwks: jose.JSONWebKeySet, delayMs = 0): Promise<JwksServer> {
  const state = { requests: 0, delayMs, jwks };
  const server: Server = createServer((_req, res) => {
    state.requests++;
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(state.jwks));
    }, state.delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  }) as JwksServer;
}
