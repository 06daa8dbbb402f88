// Starts the sidecar: the object graph (serve/wiring.ts), the gRPC listener (serve/grpc-server.ts), the HTTP port
// and the admin API, and the shutdown that stops them in order (serve/lifecycle.ts).
import type { Config } from './core/config.js';
import type { Registry } from 'prom-client';
import { createLogger, type Logger } from './telemetry/logger.js';
import { startHttpPort } from './http/server.js';
import { adminTokenChecker, adminTokens, startAdminApi } from './admin/api.js';
import { listenerTls } from './tls/listener-tls.js';
import { Lifecycle } from './serve/lifecycle.js';
import { wire, type Graph } from './serve/wiring.js';
import { serveGrpc } from './serve/grpc-server.js';
import { explainer } from './serve/explain.js';
import { tenantAdminCheck } from './serve/tenant-admins.js';
import { startExtProc } from './serve/ext-proc-server.js';
import { redactUrl } from './util/redact-url.js';

export interface RunningServer {
  /** host:port actually bound (port 0 in the config picks a free one). */
  address: string;
  port: number;
  httpAddress: string | undefined;
  adminAddress: string | undefined;
  /** The ExternalProcessor listener (genai.ext_proc_address), when on. */
  extProcAddress: string | undefined;
  /** The revision of the policy serving now. */
  readonly policyRevision: string;
  /** The Prometheus registry that /metrics serves. */
  readonly metrics: Registry;
  /** Rebuild the policy (what SIGHUP does). */
  reloadPolicy(): Promise<void>;
  /** Health to NOT_SERVING, let in-flight calls finish, then close. Idempotent. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** The quotas' clock (tests freeze it); Date.now by default. */
  clock?: () => number;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? createLogger(config.log.level);
  const env = opts.env ?? process.env;
  const life = new Lifecycle();
  const graph = await wire(config, log, env, life, opts.clock);
  const policy = graph.policies.live;
  const grpc = await serveGrpc(config, graph.service, log, graph.store.ready);
  let stopping = false;
  const tokens = adminTokens(config, env);
  const holder = adminTokenChecker(tokens);
  const report = graph.quota?.budgets && tokens.length ? (r: Record<string, unknown>) => graph.usage.report(r as never) : undefined;
  const http = config.server.http_address
    ? await startHttpPort({ address: config.server.http_address, tls: listenerTls(config.server.http_tls), metrics: graph.metrics, service: graph.service, ready: () => !stopping && policy.revision !== '' && graph.store.ready(), maxBodyBytes: config.server.max_request_bytes, log, clientAddressHeader: config.server.http_client_address_header, usageReport: report && { holder, report } })
    : undefined;
  if (http) life.add('http port', () => http.close());
  const explain = explainer(config, graph);
  const admin = tokens.length ? await startAdminApi({ config, admin: graph.store.admin, tokens, tls: listenerTls(config.server.admin_tls), onChange: graph.store.adminChanged, explain, tenantAdmin: tenantAdminCheck(graph.jwt, graph.apiKeys, graph.store.admin('tenant-admin-check')), reportUsage: report }) : undefined;
  if (admin) life.add('admin API', () => admin.close());
  const extProc = config.genai.ext_proc_address ? await startExtProc({ config, tls: listenerTls(config.server.tls), usage: graph.usage, log }) : undefined;
  if (extProc) life.add('ext_proc', () => extProc.close());
  log.info({ address: grpc.address, http: http?.address, admin: admin?.address, ext_proc: extProc?.address, policy_revision: policy.revision, store: config.store.url ? redactUrl(config.store.url) : config.store.path, gc: gcMode(), malloc_arenas: process.env.MALLOC_ARENA_MAX ?? 'default' }, 'tenantgate serving');

  let closing: Promise<void> | undefined;
  // First the checks stop (health NOT_SERVING, /readyz 503, the calls in flight answered), then the rest closes in
  // the reverse of the order it started in.
  const shutdown = () =>
    (closing ??= (async () => {
      stopping = true;
      await grpc.drain();
      await life.close(log);
      log.info('tenantgate stopped');
    })());

  const running: RunningServer = {
    address: grpc.address,
    port: grpc.port,
    httpAddress: http?.address,
    adminAddress: admin?.address,
    extProcAddress: extProc?.address,
    get policyRevision() {
      return policy.revision;
    },
    metrics: graph.metrics.registry,
    reloadPolicy: () => graph.policies.reload('sighup'),
    shutdown,
  };
  graphs.set(running, graph);
  return running;
}

const graphs = new WeakMap<RunningServer, Graph>();

/** The object graph behind a running server: for the tests and the bench that drive a phase or the store directly. */
export function internalsOf(server: RunningServer): Graph {
  const graph = graphs.get(server);
  if (!graph) throw new Error('not a server started by startServer');
  return graph;
}

/** How V8 collects garbage here: bin/tenantgate.js starts node with --single-threaded-gc (its comment says why). */
function gcMode(): 'single-threaded' | 'concurrent' {
  return process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'concurrent';
}
