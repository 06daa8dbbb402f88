// Builds the object graph once, before the first call: the store and its writers, the phases (identity, tenancy,
// policy, quotas), the pipeline, and telemetry. Everything opened registers its close with the lifecycle.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { opaEnvoyMode, type Config } from '../core/config.js';
import { ContextLoader } from '../tenancy/context.js';
import { NO_SPANS, type Spans } from '../core/spans.js';
import type { Tracing } from '../telemetry/tracing.js';
import { TenantResolver } from '../tenancy/resolve.js';
import { TenancyPhase } from '../tenancy/tenancy.js';
import { JwtVerifier } from '../identity/jwt.js';
import { ApiKeyVerifier } from '../identity/apikey.js';
import { FederationVerifier } from '../identity/federation.js';
import { PolicyManager } from '../policy/manager.js';
import { LocalLimiter } from '../quota/limiter.js';
import type { RedisLimiter } from '../quota/redis.js';
import { QuotaService, type TokenBudgets } from '../quota/service.js';
import { UsageFlusher } from '../quota/persist.js';
import { CheckPipeline } from '../check/pipeline.js';
import { TenantPolicyLoader } from '../tenant-rules/loader.js';
import { TenantRulesPhase } from '../tenant-rules/phase.js';
import { parseBody } from '../check/body.js';
import { TokenMeter } from '../genai/meter.js';
import { usageRecorder, type UsageRecorder } from './usage-recorder.js';
import { Reservations } from '../quota/reservations.js';
import { CheckService } from '../check/service.js';
import { OpaEnvoyCheck, type OpaEnvoyOptions } from '../check/opa-envoy.js';
import protobuf from 'protobufjs';
import type { Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { DecisionLog } from '../telemetry/decision-log.js';
import { RepeatedLog } from '../telemetry/repeated-log.js';
import type { Lifecycle } from './lifecycle.js';
import { openStore } from './stores.js';
import type { Store } from './store-contract.js';
import type { StoreChange } from '../core/admin-store.js';
import type { Db } from '../store/database.js';

export interface Graph {
  store: Store;
  /** The SQLite database, when that is the store (tests and the bench reach into it). */
  db: Db;
  policies: PolicyManager;
  pipeline: CheckPipeline;
  service: CheckService;
  metrics: Metrics;
  quota: QuotaService | undefined;
  redisLimiter: RedisLimiter | undefined;
  decisionLog: DecisionLog | undefined;
  /** The tokens the responses used (GenAI), counted for the store, when the ExternalProcessor is on. */
  tokens: TokenMeter | undefined;
  /** What a response's token usage does (settle its reservation, count it), from ext_proc or a usage report. */
  usage: UsageRecorder;
  /** The verifiers of the checks, for the admin API's tenant admins. */
  jwt: JwtVerifier;
  apiKeys: ApiKeyVerifier;
}

export async function wire(config: Config, log: Logger, env: NodeJS.ProcessEnv, life: Lifecycle, clock?: () => number): Promise<Graph> {
  const repeated = new RepeatedLog(log);
  let metrics: Metrics | undefined;
  const policies = new PolicyManager(config, log, {
    onReload: (result, source, revision) => {
      metrics?.reloads.inc({ result, source });
      if (result === 'success') metrics?.setRevision('live', revision);
    },
  });
  await policies.start();
  life.add('policies', () => policies.close());
  const policy = policies.live;

  const tracing = config.tracing.enabled ? await startTracing(config, life) : undefined;
  const spans = tracing ?? NO_SPANS;
  const store = await openStore(config, log, life, env);
  const src = store.sources;
  const jwt = new JwtVerifier(config.auth.jwt, env, spans);
  const context = new ContextLoader(config, src.tenants, src.groups, spans);
  const apiKeys = new ApiKeyVerifier(src.apiKeys, config.auth.api_keys.cache_size, (id) => store.writes.keyUsed(id), spans);
  const federation = new FederationVerifier(config.federation.signing_key_file, src.grants);
  const { quota, redisLimiter } = await buildQuota(config, store, log, repeated, life, clock, tracing);
  const tp = config.tenant_policies;
  const tenantPolicies = tp.enabled ? new TenantPolicyLoader(src.tenantPolicies, { timeMs: tp.eval_timeout_ms, memoryMb: tp.max_memory_mb }, tp.cache_size) : undefined;
  const caches = cachesOf(context, apiKeys, quota, tenantPolicies, () => metrics?.storeChanges.inc());
  store.watch(caches);

  const tenancy = new TenancyPhase(new TenantResolver(config.tenancy), context);
  const tenantRules = tenantPolicies ? new TenantRulesPhase(tenantPolicies, (req) => parseBody(req, config.limits.max_json_depth)) : undefined;
  const pipeline = new CheckPipeline({ config, jwt, apiKeys, federation, tenancy, policy, quota, tenantRules, log: repeated, tracing });
  const opaEnvoy = opaEnvoyMode(config.policies) ? new OpaEnvoyCheck(pipeline, policy, await opaEnvoyOptions(config), tracing) : undefined;
  // Quotas apply to tenantgate's own policies only (docs/opa-envoy.md); the start-up line says so.
  if (opaEnvoy) log.info({ path: config.policies.entrypoint, dry_run: config.policies.dry_run, quotas: 'not applied' }, 'OPA-Envoy mode: the policy decides alone, as on the OPA-Envoy plugin');
  const decisionLog = config.decision_log.enabled ? new DecisionLog(decisionLogOptions(config)) : undefined;
  if (decisionLog) life.add('decision log', () => decisionLog.close());
  metrics = new Metrics(
    config.metrics.tenant_labels,
    { context: () => context, jwt: () => jwt.stats, decisions: () => policy.cacheStats },
    {
      redisFailures: redisLimiter ? () => redisLimiter.failures : undefined,
      redisShortCircuited: redisLimiter ? () => redisLimiter.breaker.shortCircuited : undefined,
      redisCircuitOpen: redisLimiter ? () => (redisLimiter.breaker.open ? 1 : 0) : undefined,
      logSuppressed: () => repeated.totalSuppressed,
      decisionLogTruncated: () => decisionLog?.truncated ?? 0,
      decisionLogDropped: () => decisionLog?.dropped ?? 0,
      storeVersion: store.version,
    },
  );
  metrics.setRevision('live', policy.revision);
  if (policies.shadow) metrics.setRevision('shadow', policies.shadow.revision);
  const tokens = config.genai.ext_proc_address ? new TokenMeter(store.writer, config.quota.flush_interval_ms, (err) => log.error({ err }, 'token usage flush failed')) : undefined;
  if (tokens) life.add('token usage', () => tokens.close());
  const usage = usageRecorder({ prices: config.genai.models, metrics, decisionLog, tokens, budgets: quota?.budgets });
  const service = new CheckService(pipeline, { metrics, decisionLog, shadow: policies.shadow, log, audit: (entry) => store.writes.record(entry), opaEnvoy });
  return { store, db: store.db as Db, policies, pipeline, service, metrics, quota, redisLimiter, decisionLog, tokens, usage, jwt, apiKeys };
}

/** OpenTelemetry, loaded only when it is on; its last spans are sent at shutdown, after the checks have drained. */
async function startTracing(config: Config, life: Lifecycle): Promise<Tracing> {
  const { Tracing } = await import('../telemetry/tracing.js');
  const tracing = new Tracing(config.tracing);
  life.add('tracing', () => tracing.shutdown());
  return tracing;
}

/** The OPA-Envoy mode's options, the descriptor set read once at start-up. */
async function opaEnvoyOptions(config: Config): Promise<OpaEnvoyOptions> {
  const p = config.policies;
  let protoDescriptor: protobuf.Root | undefined;
  if (p.proto_descriptor) {
    const { default: descriptor } = await import('protobufjs/ext/descriptor/index.js');
    const set = (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet.decode(readFileSync(p.proto_descriptor));
    protoDescriptor = (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor(set);
  }
  return { dryRun: p.dry_run, skipRequestBodyParse: p.skip_request_body_parse, protoDescriptor };
}

/** What the caches drop on a store change: exactly the entries it affects, or everything. */
function cachesOf(context: ContextLoader, apiKeys: ApiKeyVerifier, quota: QuotaService | undefined, rules: TenantPolicyLoader | undefined, counted: () => void) {
  return {
    all: () => {
      counted();
      context.invalidate();
      apiKeys.invalidate();
      quota?.invalidate();
      rules?.invalidate();
    },
    change: (c: StoreChange) => {
      counted();
      if (c.kind === 'tenant') {
        context.invalidateTenant(c.tenant);
        apiKeys.invalidateTenant(c.tenant);
        quota?.invalidateTenant(c.tenant);
        rules?.invalidateTenant(c.tenant);
      } else if (c.kind === 'rules') rules?.invalidateTenant(c.tenant);
      else if (c.kind === 'user') context.invalidateUser(c.tenant, c.user);
      else if (c.kind === 'key') apiKeys.invalidateKey(c.key);
      else if (c.kind === 'quota') quota?.invalidateTenant(c.tenant);
    },
  };
}

/** Quotas: local counters (flushed to the store), or Redis in front of them; undefined when quotas are off. */
async function buildQuota(config: Config, store: Store, log: Logger, repeated: RepeatedLog, life: Lifecycle, clock?: () => number, spans?: Spans) {
  const q = config.quota;
  const localLimiter = new LocalLimiter(store.sources.usage);
  let redisLimiter: RedisLimiter | undefined;
  if (q.enabled && q.store === 'redis') {
    // Loaded only when asked for: ioredis alone is about 10 MB of memory.
    const { RedisLimiter } = await import('../quota/redis.js');
    const limiter = new RedisLimiter(
      {
        url: q.redis_url!,
        prefix: q.redis_prefix,
        timeoutMs: q.redis_timeout_ms,
        failure: q.redis_failure,
        onFailure: (err) => repeated.warn('redis_quota_failed', { err: (err as Error).message, mode: q.redis_failure }, 'redis quota store failed'),
        tls: redisTls(q),
        breakerFailures: q.redis_breaker_failures,
        breakerProbeMs: q.redis_breaker_probe_ms,
        spans,
        onBreaker: (open) =>
          open
            ? log.warn({ mode: q.redis_failure, failures: q.redis_breaker_failures }, 'redis quota store circuit open: checks use the failure mode until a probe succeeds')
            : log.info('redis quota store answers again: circuit closed'),
      },
      localLimiter,
    );
    life.add('redis', () => limiter.close());
    if (!(await limiter.ready(2000))) log.warn({ mode: q.redis_failure }, 'redis quota store not reachable yet; serving with the configured failure mode until it is');
    redisLimiter = limiter;
  }
  const usage = new UsageFlusher(localLimiter, store.writer, q.flush_interval_ms, (err) => log.error({ err }, 'usage flush failed'));
  life.add('usage flush', () => usage.close());
  const quota = q.enabled ? new QuotaService(config, store.sources.overrides, redisLimiter ?? localLimiter, clock) : undefined;
  // Token budgets come from the tiers and from overrides (quota tokens), so they are on with the quotas; a request
  // of a tenant without any reserves nothing.
  if (quota) {
    quota.budgets = tokenBudgets(config, localLimiter, redisLimiter, life, clock, (err) => repeated.warn('token_reservations_failed', { err: (err as Error).message }, 'releasing expired token reservations failed'));
  }
  return { quota, redisLimiter };
}

/** Token reservations: on the local counters, or in Redis (held by the take's script, any replica settles them). */
function tokenBudgets(config: Config, local: LocalLimiter, redis: RedisLimiter | undefined, life: Lifecycle, clock: (() => number) | undefined, failed: (err: unknown) => void): TokenBudgets {
  const ttlMs = config.genai.reservation_ttl_seconds * 1000;
  if (redis) {
    const sweep = setInterval(() => void redis.releaseExpired().catch(failed), Math.min(1000, ttlMs));
    sweep.unref();
    life.add('token reservations', () => clearInterval(sweep));
    return { ttlMs, settle: (id, used) => redis.settle(id, used).catch((err: unknown) => void failed(err)), owner: (id) => redis.owner(id).catch((err: unknown) => void failed(err)) };
  }
  const reservations = new Reservations(local, ttlMs, clock);
  life.add('token reservations', () => reservations.close());
  return { ttlMs, holdLocally: (id, items, amounts, at, owner) => reservations.hold(id, items, amounts, at, owner), settle: (id, used) => reservations.settle(id, used), owner: (id) => reservations.owner(id) };
}

function decisionLogOptions(config: Config): ConstructorParameters<typeof DecisionLog>[0] {
  const d = config.decision_log;
  return {
    output: d.output,
    sampleAllows: d.sample_allows,
    includeHeaders: d.include_headers,
    includeInput: d.include_input,
    maxValueBytes: d.max_value_bytes,
    anonymousDenialsPerSecond: d.anonymous_denials_per_second,
    extraRedacted: [...d.redact_headers, config.auth.api_keys.header, config.federation.header],
  };
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
