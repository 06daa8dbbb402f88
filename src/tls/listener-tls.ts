// TLS for tenantgate's listeners (ext_authz gRPC, the HTTP port, the admin API): certificate, key and client CA
// from files, re-read when they change so a renewed certificate is served without a restart and without dropping
// the connections already open. grpc-js's FileWatcherCertificateProvider reads the files; the gRPC servers take it
// as their credentials and the HTTPS port subscribes to the same updates.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsConfig } from '../core/config.js';
import type { Peer } from '../core/types.js';

export interface ListenerTls {
  enabled: boolean;
  /** Credentials for a grpc-js server (insecure when TLS is off). */
  grpc: grpc.ServerCredentials;
  /** Whether clients present certificates (mTLS), so the peer's principal is worth reading. */
  clientCerts: boolean;
  /** Calls `apply` with the current files now and whenever they change (the HTTPS port); returns a stop. */
  watch(apply: (ctx: SecureContextOptions) => void): () => void;
  /** Resolves once the certificate files have been read into the credentials: grpc-js drops connections until
   *  then, so a server awaits it after binding and before it says it serves. */
  ready(): Promise<void>;
  /** The options an https server starts with. */
  initial(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
}

const INSECURE: ListenerTls = {
  enabled: false,
  grpc: grpc.ServerCredentials.createInsecure(),
  clientCerts: false,
  watch: () => () => undefined,
  ready: () => Promise.resolve(),
  initial: () => ({ requestCert: false, rejectUnauthorized: false }),
};

export function listenerTls(cfg: TlsConfig | undefined): ListenerTls {
  if (!cfg) return INSECURE;
  // Read once here so that a missing or unreadable file fails start-up with its name, not later and silently.
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`TLS ${what} ${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const first = { cert: read('certificate', cfg.cert_file), key: read('key', cfg.key_file), ca: cfg.client_ca_file ? read('client CA', cfg.client_ca_file) : undefined };
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: cfg.cert_file,
    privateKeyFile: cfg.key_file,
    caCertificateFile: cfg.client_ca_file,
    refreshIntervalMs: cfg.reload_interval_ms,
  });
  const require = cfg.client_ca_file !== undefined && cfg.require_client_cert;
  // grpc-js 1.14 hands this function's first argument to the credentials as the *identity* provider and the second
  // as the CA provider (its typings name them the other way round): one provider serves both here, and none as
  // the CA when no client CA is configured. Both shapes are tested.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, cfg.client_ca_file ? provider : null, require);
  let latest: SecureContextOptions = first;
  return {
    enabled: true,
    grpc: credentials,
    clientCerts: cfg.client_ca_file !== undefined,
    // Listeners run in the order they were added: one added after the server's (at bind) runs after it.
    ready: () =>
      new Promise<void>((resolve) => {
        const once = (u: grpc.experimental.IdentityCertificateUpdate | null) => {
          if (!u) return;
          provider.removeIdentityCertificateListener(once);
          resolve();
        };
        provider.addIdentityCertificateListener(once);
      }),
    initial: () => ({ ...first, requestCert: cfg.client_ca_file !== undefined, rejectUnauthorized: require }),
    watch(apply) {
      const onIdentity = (u: grpc.experimental.IdentityCertificateUpdate | null) => {
        if (!u) return;
        latest = { ...latest, cert: u.certificate, key: u.privateKey };
        apply(latest);
      };
      const onCa = (u: grpc.experimental.CaCertificateUpdate | null) => {
        if (!u) return;
        latest = { ...latest, ca: u.caCertificate };
        apply(latest);
      };
      provider.addIdentityCertificateListener(onIdentity);
      if (cfg.client_ca_file) provider.addCaCertificateListener(onCa);
      return () => {
        provider.removeIdentityCertificateListener(onIdentity);
        provider.removeCaCertificateListener(onCa);
      };
    },
  };
}

const peers = new Map<string, Peer>();

/**
 * A client certificate's principal as Envoy derives source.principal: the first URI SAN (a SPIFFE ID), else the
 * first DNS SAN, else the subject (RFC 2253 order). Kept per certificate fingerprint: a connection presents the
 * same certificate on every call.
 */
export function peerOf(cert: PeerCertificate | undefined): Peer | null {
  if (!cert?.raw) return null;
  const key = cert.fingerprint256;
  let peer = peers.get(key);
  if (!peer) {
    const x = new X509Certificate(cert.raw);
    const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
    const uri = sans.find((s) => s.startsWith('URI:'))?.slice(4);
    const dns = sans.find((s) => s.startsWith('DNS:'))?.slice(4);
    const subject = x.subject.split('\n').reverse().join(',');
    peer = { principal: uri ?? dns ?? subject, spiffe_id: uri?.startsWith('spiffe://') ? uri : null, subject };
    if (peers.size >= 10_000) peers.clear();
    peers.set(key, peer);
  }
  return peer;
}
