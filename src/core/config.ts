// Typed configuration: YAML file + TENANTGATE_* environment overrides, validated with zod so that
// every error names the key that is wrong.
import { readFileSync, existsSync } from 'node:fs';
import { resolve, isAbsolute } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { TOKEN_LIMIT_FIELDS } from './limits.js';

const hostPort = z
  .string()
  .regex(/^(unix:.+|\[[0-9a-fA-F:]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$/, 'must be host:port (or unix:/path)');

// TLS for a listener; absent: plaintext. With client_ca_file, clients must present a certificate from that CA
// (mTLS) unless require_client_cert is false. The files are re-read every reload_interval_ms.
const tlsSchema = z
  .object({
    cert_file: z.string().min(1),
    key_file: z.string().min(1),
    client_ca_file: z.string().min(1).optional(),
    require_client_cert: z.boolean().default(true),
    reload_interval_ms: z.number().int().min(100).max(3_600_000).default(5000),
  })
  .strict();

const issuerSchema = z
  .object({
    issuer: z.string().min(1),
    audiences: z.array(z.string().min(1)).min(1).optional(),
    jwks_file: z.string().min(1).optional(),
    jwks_url: z.url().optional(),
    // HS256: the shared secret is read from this environment variable, never from the file.
    secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA', 'HS256', 'HS384', 'HS512'])).optional(),
    jwks_cooldown_seconds: z.number().int().min(0).default(30),
    // PEM file of the CA(s) that sign the jwks_url server's certificate (a private CA); default: the system's.
    jwks_ca_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((i) => [i.jwks_file, i.jwks_url, i.secret_env].filter(Boolean).length === 1, {
    message: 'exactly one of jwks_file, jwks_url or secret_env is required',
  });

const tierSchema = z
  .object({
    rate: z.number().positive().optional(),
    burst: z.number().int().positive().optional(),
    requests_per_month: z.number().int().positive().optional(),
    requests_per_minute: z.number().int().positive().optional(),
    requests_per_day: z.number().int().positive().optional(),
    max_tokens_per_request: z.number().int().positive().optional(),
    // LLM token budgets (docs/genai.md): reserved at the check, settled from the response's usage.
    ...Object.fromEntries(TOKEN_LIMIT_FIELDS.map((f) => [f, z.number().positive().optional()])) as Record<(typeof TOKEN_LIMIT_FIELDS)[number], z.ZodOptional<z.ZodNumber>>,
    // Absent: no restriction from the tier (groups may still restrict).
    allowed_models: z.array(z.string().min(1)).optional(),
    allowed_providers: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** Tier defaults; a config's `tiers.<tier>` replaces the whole entry. */
export const TIER_DEFAULTS = {
  free: { rate: 2, burst: 10, requests_per_month: 20_000, requests_per_minute: 60, requests_per_day: 1_000, max_tokens_per_request: 1_024, allowed_models: ['gpt-4o-mini', 'claude-3-5-haiku', 'llama-3.1-8b'] },
  basic: { rate: 10, burst: 50, requests_per_month: 500_000, requests_per_minute: 300, requests_per_day: 20_000, max_tokens_per_request: 4_096, allowed_models: ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku', 'claude-3-5-sonnet', 'llama-3.1-8b', 'llama-3.1-70b'] },
  premium: { rate: 50, burst: 200, requests_per_month: 5_000_000, requests_per_minute: 1_000, requests_per_day: 200_000, max_tokens_per_request: 16_384 },
  enterprise: { rate: 200, burst: 1_000, requests_per_minute: 5_000, requests_per_day: 2_000_000, max_tokens_per_request: 128_000 },
};

/** The entrypoint of tenantgate's own policies; any other turns the OPA-Envoy mode on (policies.mode: auto). */
export const TENANTGATE_ENTRYPOINT = 'tenantgate/authz/decision';

export const configSchema = z
  .object({
    server: z
      .object({
        address: hostPort.default('127.0.0.1:9191'),
        max_request_bytes: z.number().int().min(1024).default(8 * 1024 * 1024),
        shutdown_timeout_ms: z.number().int().min(0).default(10_000),
        reflection: z.boolean().default(true),
        // /metrics, /healthz, /readyz and the HTTP authorization mode (/authz); off unless set.
        http_address: hostPort.optional(),
        // The HTTP mode's client address: the request header the gateway sets from its own connection (nginx:
        // proxy_set_header X-Real-IP $remote_addr), for tenant rules' networks; unset: the gateway's connection.
        http_client_address_header: z.string().regex(/^[A-Za-z0-9-]+$/).transform((h) => h.toLowerCase()).optional(),
        // The admin gRPC API; it only runs when an admin token is configured (admin.token_file or TENANTGATE_ADMIN_TOKEN).
        admin_address: hostPort.default('127.0.0.1:9193'),
        // TLS (and mTLS with client_ca_file) for the ext_authz listener, the HTTP port and the admin API.
        tls: tlsSchema.optional(),
        http_tls: tlsSchema.optional(),
        admin_tls: tlsSchema.optional(),
        // Worker processes (Node cluster) serving the same address; 1 = this process only.
        workers: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        path: z.string().min(1).default('data/tenantgate.db'),
        // How often a running server asks SQLite whether another process changed the data.
        poll_interval_ms: z.number().int().min(50).max(1000).default(250),
        // The store thread checkpoints the WAL this often (and makes the key last-use writes); 0: no thread, SQLite
        // checkpoints and those writes happen on the serving thread.
        checkpoint_interval_ms: z.number().int().min(0).max(60_000).default(1000),
        // SQLite's page cache per connection. better-sqlite3 builds SQLite with 16 MB; the OS caches the file too,
        // so a small one costs a few reads of pages already in memory when a lookup misses tenantgate's own caches.
        cache_mb: z.number().min(0.5).max(1024).default(4),
        // Fleet mode: a PostgreSQL store shared by every replica instead of the SQLite file at path.
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
        // Its password, when the URL has none: from this environment variable, or from a file (a mounted secret).
        password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('TENANTGATE_STORE_PASSWORD'),
        password_file: z.string().min(1).optional(),
        // For sslmode=verify-ca or verify-full in the URL: the CA that signs the server's certificate.
        ssl_ca_file: z.string().min(1).optional(),
        // Connections per replica: cache misses under load run their reads side by side.
        pool_size: z.number().int().min(1).max(100).default(8),
        // Apply the schema migrations at start-up (off: run `tenantgate store migrate` yourself first).
        migrate: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        jwt: z
          .object({
            issuers: z.array(issuerSchema).default([]),
            tenant_claim: z.string().min(1).default('tenant_id'),
            user_claim: z.string().min(1).default('sub'),
            clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
            require_exp: z.boolean().default(true),
            max_token_bytes: z.number().int().min(256).default(8192),
            cache_size: z.number().int().min(0).default(10_000),
            // Group ids in this claim join the user's groups, but only groups that exist (and are active) in the tenant.
            groups_claim: z.string().min(1).optional(),
          })
          .strict()
          .prefault({}),
        api_keys: z
          .object({
            header: z.string().min(1).default('x-api-key'),
            cache_size: z.number().int().min(0).default(10_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    federation: z
      .object({
        // tenantgate's own ES256 key for federation tokens; created by the first `federation grant`.
        signing_key_file: z.string().min(1).default('data/keys/federation-key.json'),
        header: z.string().min(1).default('x-federation-token'),
      })
      .strict()
      .prefault({}),
    tiers: z
      .object({
        free: tierSchema.prefault(TIER_DEFAULTS.free),
        basic: tierSchema.prefault(TIER_DEFAULTS.basic),
        premium: tierSchema.prefault(TIER_DEFAULTS.premium),
        enterprise: tierSchema.prefault(TIER_DEFAULTS.enterprise),
      })
      .strict()
      .prefault({}),
    quota: z
      .object({
        enabled: z.boolean().default(true),
        // local: in-process counters flushed to SQLite; redis: the same limits enforced across replicas.
        store: z.enum(['local', 'redis']).default('local'),
        redis_url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
        redis_prefix: z.string().default('tg:q:'),
        // For a rediss:// URL: the CA that signs Redis' certificate, and a client certificate if Redis asks for one.
        redis_tls: z
          .object({ ca_file: z.string().min(1).optional(), cert_file: z.string().min(1).optional(), key_file: z.string().min(1).optional(), server_name: z.string().min(1).optional() })
          .strict()
          .optional(),
        redis_timeout_ms: z.number().int().min(1).max(5000).default(100),
        // Redis down: fail_open falls back to local limits; fail_closed denies with 503.
        redis_failure: z.enum(['fail_open', 'fail_closed']).default('fail_open'),
        // After this many Redis failures in a row (timeouts included), checks skip Redis and take the failure mode
        // at once, while a PING probes every redis_breaker_probe_ms until Redis answers again.
        redis_breaker_failures: z.number().int().min(1).default(5),
        redis_breaker_probe_ms: z.number().int().min(10).max(60_000).default(500),
        flush_interval_ms: z.number().int().min(50).max(60_000).default(1000),
        capacity: z
          .object({
            requests_per_second: z.number().int().min(0).default(0),
            tier_weights: z
              .object({ enterprise: z.number().min(0), premium: z.number().min(0), basic: z.number().min(0), free: z.number().min(0) })
              .strict()
              .default({ enterprise: 0.5, premium: 0.3, basic: 0.15, free: 0.05 }),
            tenant_cap: z.number().gt(0).max(1).default(0.2),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({})
      .refine((q) => q.store !== 'redis' || q.redis_url, { message: 'redis_url is required when store is redis', path: ['redis_url'] }),
    tenancy: z
      .object({
        header: z.string().min(1).default('x-tenant-id'),
        // Hosts like acme.api.example.com name tenant "acme" when ".api.example.com" is listed here.
        host_suffixes: z.array(z.string().startsWith('.')).default([]),
        cache_size: z.number().int().min(1).default(10_000),
        // Effective user contexts (aggregated groups), per tenant and user.
        context_cache_size: z.number().int().min(1).default(50_000),
      })
      .strict()
      .prefault({}),
    // GenAI token usage, read from the upstream's responses by Envoy's external processing filter (docs/genai.md).
    genai: z
      .object({
        // The ExternalProcessor service's listener (host:port); unset: off.
        ext_proc_address: z.string().min(1).optional(),
        // Price per million tokens by model, for the cost of what is used; a model's default max_tokens.
        models: z.record(z.string().min(1), z.object({ input_per_million: z.number().min(0), output_per_million: z.number().min(0), default_max_tokens: z.number().int().positive().optional() }).strict()).default({}),
        // The output reserved when a request names no max_tokens (and its model has no default).
        default_max_tokens: z.number().int().positive().default(1024),
        // The input reserved: the body's size over this (about 4 bytes a token for English text).
        bytes_per_input_token: z.number().positive().default(4),
        // A reservation no response settled is released after this long.
        reservation_ttl_seconds: z.number().min(1).max(86_400).default(300),
        // A JSON response is read up to this size for its usage (an event stream a line at a time).
        max_response_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1_048_576),
      })
      .strict()
      .prefault({}),
    // Tenants' own rules and Rego on top of the platform's policy (docs/tenant-rules.md).
    tenant_policies: z
      .object({
        enabled: z.boolean().default(true),
        // A tenant module's budget per evaluation; past it, that tenant's request is denied 503 tenant_policy_error.
        eval_timeout_ms: z.number().min(0.1).max(1000).default(5),
        max_memory_mb: z.number().int().min(1).max(1024).default(16),
        // Tenants whose compiled rules (or their absence) are kept.
        cache_size: z.number().int().min(1).default(10_000),
      })
      .strict()
      .prefault({}),
    policies: z
      .object({
        dir: z.string().min(1).default('policies'),
        // A prebuilt `opa build -t wasm` bundle; when set, the server loads it instead of compiling `dir`.
        bundle_file: z.string().min(1).optional(),
        // The decision's path (OPA-Envoy's `path`). Another path than tenantgate's own turns the OPA-Envoy mode on
        // (mode: auto): the policy decides alone, as on the OPA-Envoy plugin (docs/opa-envoy.md).
        entrypoint: z.string().default(TENANTGATE_ENTRYPOINT),
        mode: z.enum(['auto', 'tenantgate', 'opa-envoy']).default('auto'),
        // OPA-Envoy mode: answer every request as allowed and only log the decision (the plugin's dry-run).
        dry_run: z.boolean().default(false),
        // OPA-Envoy mode: no parsed_body / truncated_body in the input (the plugin's skip-request-body-parse).
        skip_request_body_parse: z.boolean().default(false),
        // OPA-Envoy mode: a protobuf descriptor set (protoc --descriptor_set_out --include_imports) whose services'
        // gRPC request bodies are decoded into parsed_body (the plugin's proto-descriptor).
        proto_descriptor: z.string().min(1).optional(),
        // An OPA bundle server: the bundle (opa build -t wasm, or plain Rego, compiled at load) is polled with ETags.
        bundle_url: z.url().optional(),
        // OPA bundle signing: bundles from bundle_file or bundle_url are used only with a valid .signatures.json.
        bundle_verification: z
          .object({
            // A PEM public key, or for HS256/384/512 the shared secret itself.
            key_file: z.string().min(1),
            key_id: z.string().min(1).default('default'),
            algorithm: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA']).default('RS256'),
            scope: z.string().optional(),
          })
          .strict()
          .optional(),
        bundle_poll_seconds: z.number().min(0.1).max(3600).default(10),
        // Rebuild and swap when files under `dir` change (debounced), and on SIGHUP.
        watch: z.boolean().default(true),
        debounce_ms: z.number().int().min(10).max(60_000).default(300),
        // Decisions cached per bundle by projected input (0: off); see src/policy/engine.ts for when it applies.
        decision_cache_size: z.number().int().min(0).default(10_000),
        // A candidate policy evaluated beside the live one; divergences are counted and logged, never enforced.
        shadow: z.object({ dir: z.string().min(1).optional(), bundle_file: z.string().min(1).optional() }).strict().optional(),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        max_path_bytes: z.number().int().min(64).default(8192),
        max_headers: z.number().int().min(8).default(256),
        // Refuse (400) paths that upstream servers read differently: dot and empty segments, ";", backslashes,
        // encoded separators, double encoding. Turn off only behind a proxy that normalises paths (SECURITY.md).
        reject_ambiguous_paths: z.boolean().default(true),
        // JSON request bodies nested deeper are refused (400) before they are parsed.
        max_json_depth: z.number().int().min(2).max(1000).default(64),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        // The bearer token the admin API requires; TENANTGATE_ADMIN_TOKEN works too. None at all: the admin API is off.
        token_file: z.string().min(1).optional(),
        // Who holds that token, as the audit log names the changes made with it (actor admin-api:<label>).
        label: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/).default('admin'),
        // More tokens, one per holder (a person, a CI job), each named in the audit log by its label.
        tokens: z
          .array(z.object({ label: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/), token_file: z.string().min(1) }).strict())
          .default([])
          .refine((ts) => new Set(ts.map((t) => t.label)).size === ts.length, 'admin.tokens: each label once'),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        // Per-tenant series only for the busiest N tenants (the rest are "_other"); 0 turns them off.
        tenant_labels: z.number().int().min(0).max(1000).default(20),
      })
      .strict()
      .prefault({}),
    decision_log: z
      .object({
        enabled: z.boolean().default(false),
        output: z.string().min(1).default('stdout'),
        // Fraction of allows logged (denials are always logged).
        sample_allows: z.number().min(0).max(1).default(1),
        include_headers: z.boolean().default(true),
        // The policy input of each decision (credential headers redacted), so that tenantgate replay can explain it.
        include_input: z.boolean().default(true),
        redact_headers: z.array(z.string()).default([]),
        // Header, path and host values longer than this are cut in the log (a 1 MB header must not be a 1 MB line).
        max_value_bytes: z.number().int().min(16).max(1_048_576).default(1024),
        // Denials of anonymous callers logged per second at most (the rest are counted); 0: no limit.
        anonymous_denials_per_second: z.number().int().min(0).default(100),
      })
      .strict()
      .prefault({}),
    // OpenTelemetry traces (docs/operations.md, "Traces"): a span per check, exported over OTLP/HTTP.
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        // The collector's OTLP/HTTP traces endpoint (protobuf): Jaeger, the OpenTelemetry Collector, a vendor's.
        endpoint: z.url().default('http://127.0.0.1:4318/v1/traces'),
        // Traces that start here are kept at this ratio; a caller's traceparent that says "sampled" is followed.
        sample_ratio: z.number().min(0).max(1).default(0.01),
        service_name: z.string().min(1).default('tenantgate'),
        // Sent with every export (a vendor's API key, say).
        headers: z.record(z.string(), z.string()).default({}),
        // Spans are sent in batches at most this far apart.
        export_interval_ms: z.number().int().min(10).max(60_000).default(1000),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ENV_PREFIX = 'TENANTGATE_';

/**
 * Environment overrides: TENANTGATE_SERVER__ADDRESS=0.0.0.0:9191 sets server.address.
 * `__` separates levels (single `_` belongs to key names); values are parsed as YAML scalars/flow.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined || !name.includes('__')) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    let node: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parseYaml(value);
  }
  return out;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const key = i.path.length ? i.path.join('.') : '(root)';
      if (i.code === 'unrecognized_keys') return `${[...i.path, ...i.keys].join('.')}: unknown key`;
      return `${key}: ${i.message}`;
    })
    .join('\n');
}

/** Whether the policy decides alone, as on the OPA-Envoy plugin (policies.mode, or auto: another entrypoint). */
export function opaEnvoyMode(p: Config['policies']): boolean {
  return p.mode === 'opa-envoy' || (p.mode === 'auto' && p.entrypoint !== TENANTGATE_ENTRYPOINT);
}

/** Validate a raw object (from YAML, env or a test) into a Config. Paths stay relative to `baseDir`. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(`invalid configuration:\n${formatIssues(result.error)}`);
  const cfg = result.data;
  if (opaEnvoyMode(cfg.policies) && cfg.policies.shadow) {
    throw new ConfigError('invalid configuration:\npolicies.shadow: not available in the OPA-Envoy mode (its policies decide alone; compare them with the plugin instead)');
  }
  const abs = (p: string) => (isAbsolute(p) || p === ':memory:' ? p : resolve(baseDir, p));
  cfg.store.path = abs(cfg.store.path);
  cfg.policies.dir = abs(cfg.policies.dir);
  if (cfg.policies.bundle_file) cfg.policies.bundle_file = abs(cfg.policies.bundle_file);
  if (cfg.policies.proto_descriptor) cfg.policies.proto_descriptor = abs(cfg.policies.proto_descriptor);
  if (cfg.policies.bundle_verification) cfg.policies.bundle_verification.key_file = abs(cfg.policies.bundle_verification.key_file);
  cfg.federation.signing_key_file = abs(cfg.federation.signing_key_file);
  if (cfg.policies.shadow?.dir) cfg.policies.shadow.dir = abs(cfg.policies.shadow.dir);
  if (cfg.policies.shadow?.bundle_file) cfg.policies.shadow.bundle_file = abs(cfg.policies.shadow.bundle_file);
  if (cfg.admin.token_file) cfg.admin.token_file = abs(cfg.admin.token_file);
  if (cfg.decision_log.output !== 'stdout') cfg.decision_log.output = abs(cfg.decision_log.output);
  for (const iss of cfg.auth.jwt.issuers) {
    if (iss.jwks_file) iss.jwks_file = abs(iss.jwks_file);
    if (iss.jwks_ca_file) iss.jwks_ca_file = abs(iss.jwks_ca_file);
  }
  for (const tls of [cfg.server.tls, cfg.server.http_tls, cfg.server.admin_tls]) {
    if (!tls) continue;
    tls.cert_file = abs(tls.cert_file);
    tls.key_file = abs(tls.key_file);
    if (tls.client_ca_file) tls.client_ca_file = abs(tls.client_ca_file);
  }
  const rt = cfg.quota.redis_tls;
  if (rt?.ca_file) rt.ca_file = abs(rt.ca_file);
  if (rt?.cert_file) rt.cert_file = abs(rt.cert_file);
  if (rt?.key_file) rt.key_file = abs(rt.key_file);
  return cfg;
}

/**
 * Load a config file (optional: without one, defaults apply) and the environment overrides.
 * Relative paths in the file are resolved against the current directory, as users type them.
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.errors.length) throw new ConfigError(`config file ${file} is not valid YAML: ${doc.errors[0]!.message}`);
    raw = doc.toJS() ?? {};
  }
  raw = deepMerge(raw, envOverrides(env));
  return parseConfig(raw, process.cwd());
}
