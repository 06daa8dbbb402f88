// Builds a CheckRequest the way Envoy's ext_authz filter does (ENVOY-EXTAUTHZ.md section 2): lower-case header
// names with pseudo-headers, repeated headers joined with ",", the path with its query, a uint64 stream id.
// Used by `tenantgate check` and by the tests that emulate Envoy.
import { randomBytes } from 'node:crypto';

export interface HttpRequestSpec {
  method: string;
  path: string;
  host?: string;
  scheme?: string;
  /** [name, value] pairs; a name may repeat. */
  headers?: [string, string][];
  body?: string;
  contextExtensions?: Record<string, string>;
  protocol?: string;
  /** The downstream client's address (attributes.source); 127.0.0.1 when not given. */
  sourceAddress?: string;
}

export function buildCheckRequest(spec: HttpRequestSpec): Record<string, unknown> {
  const host = spec.host ?? 'localhost';
  const headers: Record<string, string> = {
    ':authority': host,
    ':method': spec.method,
    ':path': spec.path,
    ':scheme': spec.scheme ?? 'http',
  };
  for (const [rawName, value] of spec.headers ?? []) {
    const name = rawName.toLowerCase();
    if (name === 'x-envoy-auth-partial-body') continue; // Envoy drops a client-sent copy.
    headers[name] = headers[name] === undefined ? value : name === 'cookie' ? `${headers[name]}; ${value}` : `${headers[name]},${value}`;
  }
  const http: Record<string, unknown> = {
    id: randomBytes(8).readBigUInt64BE().toString(),
    method: spec.method,
    headers,
    path: spec.path,
    host,
    scheme: spec.scheme ?? 'http',
    size: String(spec.body ? Buffer.byteLength(spec.body) : 0),
    protocol: spec.protocol ?? 'HTTP/1.1',
  };
  if (spec.body !== undefined) {
    http.body = spec.body;
    headers['x-envoy-auth-partial-body'] = 'false';
  }
  const now = Date.now();
  return {
    attributes: {
      source: { address: { socketAddress: { address: spec.sourceAddress ?? '127.0.0.1', portValue: 50000 } } },
      destination: { address: { socketAddress: { address: '127.0.0.1', portValue: 8000 } } },
      request: { time: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1e6 }, http },
      contextExtensions: spec.contextExtensions ?? {},
      metadataContext: {},
      routeMetadataContext: {},
    },
  };
}
