// Wires the sidecar: store, caches, identity, policy, quotas, the Check pipeline, and the servers: gRPC
// (ext_authz v3 + grpc.health.v1 + reflection), the HTTP port (metrics, health, HTTP authorization mode) and
// the admin API. Everything is built once here, before the first call.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { HealthImplementation } from 'grpc-health-check';
import type { Config } from './core/config.js';
import { openDatabase, watchDataVersion, type Db } from './store/database.js';
import { TenantRepository } from './store/tenants.js';
import { GroupRepository } from './store/groups.js';
import { ApiKeyRepository } from './store/apikeys.js';
import { FederationRepository } from './store/federation.js';
import { QuotaRepository } from './store/quotas.js';
import { WriteBehind } from './store/write-behind.js';
import { StoreWriter } from './store/writes.js';
import { startStoreThread } from './store/store-thread.js';
import { ContextLoader } from './tenancy/context.js';
import { TenantResolver } from './tenancy/resolve.js';
import { JwtVerifier } from './identity/jwt.js';
import { ApiKeyVerifier } from './identity/apikey.js';
import { FederationVerifier } from './identity/federation.js';
import { PolicyManager } from './policy/manager.js';
import type { PolicyEngine } from './policy/engine.js';
import { LocalLimiter } from './quota/limiter.js';
import type { RedisLimiter } from './quota/redis.js';
import { QuotaService } from './quota/service.js';
import { UsageFlusher } from './quota/persist.js';
import { CheckPipeline } from './check/pipeline.js';
import { CheckService } from './check/service.js';
import { FAILSAFE_RESPONSE } from './check/respond.js';
import { AUTH_SERVICE, MalformedRequest, authServiceForServer, loadPackageDefinition } from './check/protos.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { Metrics } from './telemetry/metrics.js';
import { DecisionLog } from './telemetry/decision-log.js';
import { RepeatedLog } from './telemetry/repeated-log.js';
import { startHttpPort, type HttpPort } from './http/server.js';
import { adminToken, startAdminApi } from './admin/api.js';
import { listenerTls, peerOf } from './tls/listener-tls.js';

export interface RunningServer {
  /** host:port actually bound (port 0 in the config picks a free one). */
  address: string;
  port: number;
  httpAddress: string | undefined;
  adminAddress: string | undefined;
  pipeline: CheckPipeline;
  service: CheckService;
  policy: PolicyEngine;
  policies: PolicyManager;
  metrics: Metrics;
  db: Db;
  quota: QuotaService | undefined;
  redisLimiter: RedisLimiter | undefined;
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
  const repeated = new RepeatedLog(log);
  const env = opts.env ?? process.env;

  let metrics: Metrics | undefined;
  const policies = new PolicyManager(config, log, {
    onReload: (result, source, revision) => {
      metrics?.reloads.inc({ result, source });
      if (result === 'success') metrics?.setRevision('live', revision);
    },
  });
  await policies.start();
  const policy = policies.live;

  const jwt = new JwtVerifier(config.auth.jwt, env);
  const db = openDatabase(config.store.path, { cacheMb: config.store.cache_mb });
  const storeThread =
    config.store.checkpoint_interval_ms > 0
      ? startStoreThread(db, config.store.checkpoint_interval_ms, (err) => log.warn({ err }, 'store thread failed; checkpoints and key last-use writes on the serving thread again'))
      : undefined;
  const writer = new StoreWriter(db, storeThread);
  const writes = new WriteBehind(writer, 1000, (err) => log.error({ err }, 'write-behind flush failed'));
  const context = new ContextLoader(config, new TenantRepository(db), new GroupRepository(db));
  const apiKeys = new ApiKeyVerifier(new ApiKeyRepository(db), config.auth.api_keys.cache_size, (id) => writes.keyUsed(id));
  const federation = new FederationVerifier(config.federation.signing_key_file, new FederationRepository(db));

  const quotaRepo = new QuotaRepository(db);
  const localLimiter = new LocalLimiter(quotaRepo);
  let redisLimiter: RedisLimiter | undefined;
  if (config.quota.enabled && config.quota.store === 'redis') {
    // Loaded only when asked for: ioredis alone is about 10 MB of memory.
    const { RedisLimiter } = await import('./quota/redis.js');
    redisLimiter = new RedisLimiter(
      {
        url: config.quota.redis_url!,
        prefix: config.quota.redis_prefix,
        timeoutMs: config.quota.redis_timeout_ms,
        failure: config.quota.redis_failure,
        onFailure: (err) => repeated.warn('redis_quota_failed', { err: (err as Error).message, mode: config.quota.redis_failure }, 'redis quota store failed'),
        tls: redisTls(config.quota),
        breakerFailures: config.quota.redis_breaker_failures,
        breakerProbeMs: config.quota.redis_breaker_probe_ms,
        onBreaker: (open) =>
          open
            ? log.warn({ mode: config.quota.redis_failure, failures: config.quota.redis_breaker_failures }, 'redis quota store circuit open: checks use the failure mode until a probe succeeds')
            : log.info('redis quota store answers again: circuit closed'),
      },
      localLimiter,
    );
  }
  if (redisLimiter && !(await redisLimiter.ready(2000))) {
    log.warn({ mode: config.quota.redis_failure }, 'redis quota store not reachable yet; serving with the configured failure mode until it is');
  }
  const quota = config.quota.enabled ? new QuotaService(config, quotaRepo, redisLimiter ?? localLimiter, opts.clock) : undefined;
  const usage = new UsageFlusher(localLimiter, writer, config.quota.flush_interval_ms, (err) => log.error({ err }, 'usage flush failed'));
  const invalidate = () => {
    metrics?.storeChanges.inc();
    context.invalidate();
    apiKeys.invalidate();
    quota?.invalidate();
  };
  const stopWatching = watchDataVersion(db, config.store.poll_interval_ms, invalidate);

  const pipeline = new CheckPipeline({
    config,
    jwt,
    apiKeys,
    federation,
    resolver: new TenantResolver(config.tenancy),
    context,
    policy,
    audit: (entry) => writes.record(entry),
    quota,
    log: repeated,
  });

  metrics = new Metrics(
    config.metrics.tenant_labels,
    { context: () => context, jwt: () => jwt.stats, decisions: () => policy.cacheStats },
    { redisFailures: redisLimiter ? () => redisLimiter.failures : undefined, redisShortCircuited: redisLimiter ? () => redisLimiter.breaker.shortCircuited : undefined, logSuppressed: () => repeated.totalSuppressed, decisionLogTruncated: () => decisionLog?.truncated ?? 0, decisionLogDropped: () => decisionLog?.dropped ?? 0 },
  );
  metrics.setRevision('live', policy.revision);
  if (policies.shadow) metrics.setRevision('shadow', policies.shadow.revision);
  const decisionLog = config.decision_log.enabled
    ? new DecisionLog({ output: config.decision_log.output, sampleAllows: config.decision_log.sample_allows, includeHeaders: config.decision_log.include_headers, maxValueBytes: config.decision_log.max_value_bytes, anonymousDenialsPerSecond: config.decision_log.anonymous_denials_per_second, extraRedacted: [...config.decision_log.redact_headers, config.auth.api_keys.header, config.federation.header] })
    : undefined;
  const service = new CheckService(pipeline, { metrics, decisionLog, shadow: policies.shadow, log });

  const grpcTls = listenerTls(config.server.tls);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.server.max_request_bytes,
    // channelz bookkeeping costs time on every call and nobody reads it here.
    'grpc.enable_channelz': 0,
  });

  // The callbacks of the Check calls in flight: shutdown waits for them (health Watch streams never end by
  // themselves), and past shutdown_timeout_ms answers them itself. grpc-js's forceShutdown cannot cut them off:
  // with channelz off its sessions are not in the map it destroys.
  const pending = new Set<grpc.sendUnaryData<unknown>>();
  let drained: (() => void) | undefined;
  server.addService(authServiceForServer(), {
    Check: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (call.request instanceof MalformedRequest) return callback({ code: grpc.status.INVALID_ARGUMENT, details: call.request.reason });
      pending.add(callback);
      service
        .checkEncoded(call.request, grpcTls.clientCerts ? peerOf(call.getAuthContext()?.sslPeerCertificate) : null)
        // check() never rejects; this is the last line of defence, and it still answers with a decision.
        .catch(() => FAILSAFE_RESPONSE)
        .then((response) => {
          // Already answered if shutdown cut it off.
          if (!pending.delete(callback)) return;
          callback(null, response);
          if (pending.size === 0) drained?.();
        });
    },
  });

  const health = new HealthImplementation({ '': 'SERVING', [AUTH_SERVICE]: 'SERVING' });
  health.addToServer(server);
  if (config.server.reflection) {
    const { ReflectionService } = await import('@grpc/reflection');
    new ReflectionService(loadPackageDefinition()).addToServer(server);
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.server.address, grpcTls.grpc, (err, p) => (err ? reject(err) : resolve(p))),
  );
  await grpcTls.ready();
  const host = config.server.address.startsWith('unix:') ? config.server.address : config.server.address.replace(/:\d+$/, '');
  const address = config.server.address.startsWith('unix:') ? host : `${host}:${port}`;

  let serving = true;
  let http: HttpPort | undefined;
  if (config.server.http_address) {
    http = await startHttpPort({ address: config.server.http_address, tls: listenerTls(config.server.http_tls), metrics, service, ready: () => serving && policy.revision !== '', maxBodyBytes: config.server.max_request_bytes, log });
  }
  const token = adminToken(config, env);
  const admin = token ? await startAdminApi({ config, db, token, tls: listenerTls(config.server.admin_tls), onChange: invalidate }) : undefined;
  log.info({ address, http: http?.address, admin: admin?.address, policy_revision: policy.revision, store: config.store.path, gc: gcMode(), malloc_arenas: process.env.MALLOC_ARENA_MAX ?? 'default' }, 'tenantgate serving');

  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      serving = false;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(AUTH_SERVICE, 'NOT_SERVING');
      // Stop taking new calls and let the Checks in flight answer. Health Watch streams never end by themselves,
      // so once the Checks are done, give the connections a short grace to flush and close, then end the rest.
      const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await new Promise<void>((resolve) => {
        if (pending.size === 0) return resolve();
        const force = setTimeout(() => {
          log.warn({ in_flight: pending.size }, 'shutdown timeout: answering the calls still in flight UNAVAILABLE');
          for (const callback of pending) callback({ code: grpc.status.UNAVAILABLE, details: 'tenantgate is shutting down' });
          pending.clear();
          resolve();
        }, config.server.shutdown_timeout_ms);
        force.unref();
        drained = () => {
          clearTimeout(force);
          resolve();
        };
      });
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 250).unref())]);
      server.forceShutdown();
      await Promise.all([http?.close(), admin?.close()]);
      policies.close();
      stopWatching();
      await usage.close();
      redisLimiter?.close();
      await writes.close();
      await writer.close();
      await storeThread?.close();
      decisionLog?.close();
      db.close();
      log.info('tenantgate stopped');
    })());

  return {
    address,
    port,
    httpAddress: http?.address,
    adminAddress: admin?.address,
    pipeline,
    service,
    policy,
    policies,
    metrics,
    db,
    quota,
    redisLimiter,
    reloadPolicy: () => policies.reload('sighup'),
    shutdown,
  };
}

/** How V8 collects garbage here: bin/tenantgate.js starts node with --single-threaded-gc (its comment says why). */
function gcMode(): 'single-threaded' | 'concurrent' {
  return process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'concurrent';
}

/** TLS options for a rediss:// quota store, from quota.redis_tls (files read once at start-up). */
function redisTls(q: Config['quota']): ConnectionOptions | undefined {
  if (!q.redis_url?.startsWith('rediss://')) return undefined;
  const t = q.redis_tls ?? {};
  return {
    ...(t.ca_file ? { ca: readFileSync(t.ca_file) } : {}),
    ...(t.cert_file ? { cert: readFileSync(t.cert_file) } : {}),
    ...(t.key_file ? { key: readFileSync(t.key_file) } : {}),
    ...(t.server_name ? { servername: t.server_name } : {}),
  };
}
