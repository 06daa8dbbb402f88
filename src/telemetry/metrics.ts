// Prometheus metrics (prom-client). Counters on the hot path are plain increments; cache ratios and other
// derived values are read from their owners only when /metrics is scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export interface CacheStats {
  hits: number;
  misses: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly checks: Counter<'decision' | 'code'>;
  readonly checkDuration: FastHistogram;
  readonly policyEval: FastHistogram;
  readonly quotaDenials: Counter<'code'>;
  readonly policyRevision: Gauge<'revision' | 'role'>;
  readonly reloads: Counter<'result' | 'source'>;
  readonly shadowDivergences: Counter;
  readonly storeChanges: Counter;
  private readonly genaiTokens: Counter<'tenant' | 'kind'>;
  private readonly genaiCost: Counter<'tenant'>;
  /** Checks per tenant since start (an object per tenant: one map lookup per check), to rank them. */
  private readonly tenantCounts = new Map<string, { count: number }>();
  private topTenants = new Set<string>();
  // The hot path's counters count into plain numbers, added to prom-client's series when they are read: its inc()
  // hashes and validates the labels on every call, even through a bound child.
  private readonly checkTally = new Tally<'decision' | 'code'>((code) => (code === '' ? { decision: 'allow', code: 'ok' } : { decision: 'deny', code }));
  private readonly quotaDenialTally = new Tally<'code'>((code) => ({ code }));
  private readonly tenantTally = new Tally<'tenant'>((tenant) => ({ tenant }));

  constructor(
    private readonly tenantLabels: number,
    caches: Record<string, () => CacheStats>,
    extra: { redisFailures?: () => number; redisShortCircuited?: () => number; redisCircuitOpen?: () => number; logSuppressed?: () => number; decisionLogTruncated?: () => number; decisionLogDropped?: () => number; storeVersion?: () => number } = {},
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'tenantgate_' });
    this.checks = new Counter({ name: 'tenantgate_checks_total', help: 'Check decisions by outcome and code', labelNames: ['decision', 'code'], registers: [r], collect: tallied(this.checkTally) });
    this.checkDuration = new FastHistogram('tenantgate_check_duration_seconds', 'Time to decide one check', LATENCY_BUCKETS, 'transport', r);
    this.policyEval = new FastHistogram('tenantgate_policy_eval_duration_seconds', 'Time in the WASM policy per check', LATENCY_BUCKETS, undefined, r);
    this.quotaDenials = new Counter({ name: 'tenantgate_quota_denials_total', help: 'Requests denied by quotas', labelNames: ['code'], registers: [r], collect: tallied(this.quotaDenialTally) });
    this.policyRevision = new Gauge({ name: 'tenantgate_policy_revision_info', help: 'The policy revision in service (value 1)', labelNames: ['revision', 'role'], registers: [r] });
    this.reloads = new Counter({ name: 'tenantgate_policy_reloads_total', help: 'Policy reloads by result', labelNames: ['result', 'source'], registers: [r] });
    this.shadowDivergences = new Counter({ name: 'tenantgate_shadow_divergences_total', help: 'Checks where the shadow policy decided differently', registers: [r] });
    this.storeChanges = new Counter({ name: 'tenantgate_store_changes_total', help: 'Store changes the server has seen (its caches dropped and rebuilt)', registers: [r] });
    new Counter({ name: 'tenantgate_tenant_checks_total', help: 'Checks per tenant (the busiest N tenants; the rest as "_other")', labelNames: ['tenant'], registers: [r], collect: tallied(this.tenantTally) });
    this.genaiTokens = new Counter({ name: 'tenantgate_genai_tokens_total', help: 'LLM tokens the responses reported (ext_proc), by tenant (the busiest N; the rest "_other") and kind (input, output)', labelNames: ['tenant', 'kind'], registers: [r] });
    this.genaiCost = new Counter({ name: 'tenantgate_genai_cost_usd_total', help: 'Their cost in US dollars (genai.models prices), by tenant as above', labelNames: ['tenant'], registers: [r] });
    new Gauge({
      name: 'tenantgate_cache_hit_ratio',
      help: 'Cache hits / lookups since start',
      labelNames: ['cache'],
      registers: [r],
      collect() {
        for (const [name, stats] of Object.entries(caches)) {
          const s = stats();
          const total = s.hits + s.misses;
          this.set({ cache: name }, total ? s.hits / total : 0);
        }
      },
    });
    new Gauge({
      name: 'tenantgate_cache_lookups',
      help: 'Cache lookups since start, by result',
      labelNames: ['cache', 'result'],
      registers: [r],
      collect() {
        for (const [name, stats] of Object.entries(caches)) {
          const s = stats();
          this.set({ cache: name, result: 'hit' }, s.hits);
          this.set({ cache: name, result: 'miss' }, s.misses);
        }
      },
    });
    const counted = (name: string, help: string, read: (() => number) | undefined) => {
      if (read) new Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
    };
    counted('tenantgate_quota_redis_failures', 'Quota checks that Redis failed (fail_open fell back to local limits)', extra.redisFailures);
    counted('tenantgate_quota_redis_short_circuited', 'Quota checks answered by the failure mode while the Redis circuit breaker was open', extra.redisShortCircuited);
    counted('tenantgate_quota_redis_circuit_open', 'Whether the Redis circuit breaker is open (1) or closed (0)', extra.redisCircuitOpen);
    counted('tenantgate_log_lines_suppressed', 'Repeated warning and error lines not written (one per kind per 10 s is)', extra.logSuppressed);
    counted('tenantgate_decision_log_anonymous_denials_dropped', 'Denials of anonymous callers over decision_log.anonymous_denials_per_second, not logged', extra.decisionLogDropped);
    counted('tenantgate_store_version', "The store's change version this replica's caches are current with (PostgreSQL: compare replicas)", extra.storeVersion);
    counted('tenantgate_decision_log_truncated_values', 'Header, path and host values cut short in the decision log', extra.decisionLogTruncated);
    // Which tenants get their own label: recomputed every 10 s from the counts, so the label set stays bounded.
    setInterval(() => this.rankTenants(), 10_000).unref();
  }

  private readonly revisions = new Map<'live' | 'shadow', string>();

  /** One series per role: a reload replaces the live revision and leaves the shadow one alone. */
  setRevision(role: 'live' | 'shadow', revision: string): void {
    const old = this.revisions.get(role);
    if (old !== undefined) this.policyRevision.remove({ revision: old, role });
    this.revisions.set(role, revision);
    this.policyRevision.set({ revision, role }, 1);
  }

  /** One decided check: its outcome (`code` null when allowed) and how long it took over which transport. */
  checked(code: string | null, transport: 'grpc' | 'http', seconds: number): void {
    this.checkTally.count(code ?? '');
    this.checkDuration.labelled(transport).observe(seconds);
  }

  /** A request quotas denied (`code`: quota_exceeded, capacity_exceeded, quota_unavailable), its series held. */
  quotaDenied(code: string): void {
    this.quotaDenialTally.count(code);
  }

  tenantCheck(tenant: string): void {
    let t = this.tenantCounts.get(tenant);
    if (!t) this.tenantCounts.set(tenant, (t = { count: 0 }));
    t.count++;
    if (this.tenantLabels > 0) {
      if (this.topTenants.size < this.tenantLabels && !this.topTenants.has(tenant)) this.topTenants.add(tenant);
      const label = this.topTenants.has(tenant) ? tenant : '_other';
      this.tenantTally.count(label);
    }
  }

  /** Tokens a response used (genai/ext-proc.ts), under the tenant's label as its checks are. */
  tokensUsed(tenant: string | null, input: number, output: number, costUsd: number | null): void {
    const label = tenant === null ? '_none' : this.tenantLabels > 0 && this.topTenants.has(tenant) ? tenant : '_other';
    this.genaiTokens.inc({ tenant: label, kind: 'input' }, input);
    this.genaiTokens.inc({ tenant: label, kind: 'output' }, output);
    if (costUsd !== null) this.genaiCost.inc({ tenant: label }, costUsd);
  }

  private rankTenants(): void {
    if (this.tenantLabels <= 0) return;
    const top = [...this.tenantCounts.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, this.tenantLabels);
    this.topTenants = new Set(top.map(([t]) => t));
  }
}

/** Counts per label set, as plain numbers until the counter is read (see Metrics). */
class Tally<L extends string> {
  private readonly all = new Map<string, { labels: Partial<Record<L, string>>; n: number }>();

  /** `labelsOf`: a series' labels from its key, made once per series. */
  constructor(private readonly labelsOf: (key: string) => Partial<Record<L, string>>) {}

  count(key: string): void {
    let s = this.all.get(key);
    if (!s) this.all.set(key, (s = { labels: this.labelsOf(key), n: 0 }));
    s.n++;
  }

  /** Adds what was counted since the last read to the counter. */
  flush(counter: Counter<L>): void {
    for (const s of this.all.values()) {
      if (s.n === 0) continue;
      counter.inc(s.labels, s.n);
      s.n = 0;
    }
  }
}

/** A counter's collect(): called by prom-client whenever the counter is read (a scrape, get()). */
function tallied<L extends string>(tally: Tally<L>): (this: Counter<L>) => void {
  return function (this: Counter<L>) {
    tally.flush(this);
  };
}
