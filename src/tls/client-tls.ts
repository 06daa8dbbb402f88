// TLS for tenantgate's own clients (`tenantgate check`, the data commands' --server): the CA that signs the
// server's certificate and, for a listener with mTLS, the client certificate and key. Files, read once.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';

export interface ClientTlsFiles {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** grpc-js channel credentials: TLS when a CA or a client certificate is given, else plaintext. */
export function clientCredentials(o: ClientTlsFiles = {}): grpc.ChannelCredentials {
  if (!o.tlsCa && !o.tlsCert) return grpc.credentials.createInsecure();
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
  const read = (f: string | undefined) => (f ? readFileSync(f) : null);
  return grpc.credentials.createSsl(read(o.tlsCa), read(o.tlsKey), read(o.tlsCert));
}

/** The options that carry the files on the command line. */
export const CLIENT_TLS_OPTIONS: [string, string][] = [
  ['--tls-ca <file>', 'CA certificate (PEM) that signs the server certificate: connect with TLS'],
  ['--tls-cert <file>', 'client certificate (PEM) for a server that requires mTLS'],
  ['--tls-key <file>', 'key (PEM) of --tls-cert'],
];
