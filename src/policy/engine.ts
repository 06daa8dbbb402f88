// The policy engine: the compiled Rego (WASM) instantiated once with its static data, evaluated in-process.
// A new bundle is swapped in atomically; a bundle that fails to load leaves the current one serving.
//
// Decisions are cached per bundle, keyed by the projected input (the only thing besides the bundle a pure policy
// can depend on): requests of one caller on one route give the same projected input, and a hit skips WASM. The
// cache is off when the bundle has no projection (the whole input, request ids and all, would be the key) or when
// the policy calls a builtin whose answer can change between calls (time, randomness, HTTP, ...). The cache is keyed
// by the context's objects and the JSON of the rest (decision-key.ts).
import { LRUCache } from 'lru-cache';
import { Denial, type Decision } from '../core/types.js';
import type { PolicyBundle } from './bundle.js';
import { bundleProjection, project, type Projection } from './deps.js';
import { DecisionKeys } from './decision-key.js';
import { deny } from '../core/denials.js';
import { LIMIT_FIELDS } from '../core/limits.js';
import { WasmPolicy } from './wasm/host.js';
import { HOST_BUILTINS, unsupportedBuiltins } from './builtins/index.js';

interface Active {
  policy: WasmPolicy;
  entrypoint: number;
  revision: string;
  /** The parts of the input the policy reads (opa deps), when known. */
  projection: Projection | undefined;
  /** Whether it can read the parsed body (no projection: it may read anything). */
  readsBody: boolean;
  /** The caches' keys, when they are on. */
  keys: DecisionKeys | undefined;
  decisions: LRUCache<string, Decision | Denial> | undefined;
  /** The OPA-Envoy mode's entrypoint values, cached on the same terms. */
  raws: LRUCache<string, RawResult> | undefined;
}

/** Builtins whose result is not a function of their arguments: a policy using one is never cached. */
const IMPURE_BUILTINS = /^(time\.now_ns|rand\.|uuid\.rfc4122|http\.send|opa\.runtime|net\.lookup|io\.jwt\.decode_verify|trace|print|crypto\.x509\.parse_and_verify)/;

export class PolicyEngine {
  private active: Active | undefined;
  readonly cacheStats = { hits: 0, misses: 0 };

  /**
   * `stableInputKeys`: top-level input keys whose values are objects never changed once made (from the caches), so
   * that the decision cache can key them by identity (decision-key.ts); the pipeline's are STABLE_INPUT_KEYS.
   */
  constructor(
    private readonly entrypointName: string,
    private readonly decisionCacheSize = 0,
    private readonly stableInputKeys: readonly string[] = [],
  ) {}

  /** Whether the loaded bundle's decisions are cached (see the top of this file). */
  get caching(): boolean {
    return this.active?.decisions !== undefined;
  }

  /** Whether the loaded policy can read the parsed body (unknown: yes), so that the body is parsed only then. */
  get readsBody(): boolean {
    return this.active?.readsBody ?? true;
  }

  get revision(): string {
    return this.active?.revision ?? '';
  }

  /** The parts of the input the loaded policy reads (opa deps), when known: undefined, it may read anything. */
  get projection(): Projection | undefined {
    return this.active?.projection;
  }

  /** Instantiates and checks the bundle, then swaps it in. Throws (and keeps the old one) if it is unusable. */
  async load(bundle: PolicyBundle): Promise<void> {
    const policy = await WasmPolicy.load(bundle.wasm, HOST_BUILTINS);
    const missing = await unsupportedBuiltins(policy.importedBuiltins);
    if (missing.length) throw new Error(`the policy calls builtins tenantgate does not provide: ${missing.join('; ')}`);
    const entrypoint = policy.entrypoints[this.entrypointName];
    if (entrypoint === undefined) {
      throw new Error(`the policy bundle has no entrypoint ${this.entrypointName} (has: ${Object.keys(policy.entrypoints).join(', ')})`);
    }
    const impure = policy.importedBuiltins.some((b) => IMPURE_BUILTINS.test(b));
    policy.setData(JSON.stringify(bundle.data));
    const projection = bundleProjection(bundle.data);
    const cacheable = this.decisionCacheSize > 0 && projection !== undefined && !impure;
    const readsBody = projection === undefined || 'parsed_body' in projection || 'body_error' in projection;
    const cache = <T extends object>() => (cacheable ? new LRUCache<string, T>({ max: this.decisionCacheSize }) : undefined);
    const keys = cacheable ? new DecisionKeys(projection, this.stableInputKeys) : undefined;
    this.active = { policy, entrypoint, revision: bundle.revision, projection, readsBody, keys, decisions: cache<Decision | Denial>(), raws: cache<RawResult>() };
  }

  /** The entrypoint's value, as it is (no decision contract): for the OPA-Envoy mode. Cached like decisions. */
  evaluateRaw(input: unknown): RawResult {
    const active = this.active;
    if (!active) return { error: 'no policy is loaded' };
    return this.cached(active.raws, active, input, runRaw, keepValue);
  }

  /** The decision for an input. A cached decision is shared: callers must not change it. */
  evaluate(input: unknown): Decision | Denial {
    const active = this.active;
    if (!active) return policyError('no policy is loaded');
    return this.cached(active.decisions, active, input, run, keepDecision);
  }

  /**
   * The policy's answer for an input, from the cache when the bundle's answers are cached (decision-key.ts); on a
   * miss the projected input's JSON is what WASM receives. `keep`: what to cache of an answer (undefined: nothing).
   */
  private cached<T extends object>(cache: LRUCache<string, T> | undefined, active: Active, input: unknown, evaluate: (a: Active, json: string) => T, keep: (v: T) => T | undefined): T {
    if (!cache || !active.keys) return evaluate(active, projectedJson(active, input));
    const key = active.keys.key(input);
    const hit = cache.get(key);
    if (hit) {
      this.cacheStats.hits++;
      return hit;
    }
    this.cacheStats.misses++;
    const v = evaluate(active, projectedJson(active, input));
    const kept = keep(v);
    if (kept) cache.set(key, kept);
    return v;
  }
}

/** The entrypoint's value for an input, unvalidated (the OPA-Envoy mode reads it as the plugin does). */
export type RawResult = { value: unknown } | { error: string };

const UNDEFINED = 'undefined decision';

// What the caches keep of an answer (frozen: it is shared by every check that hits it), or nothing. A failure to
// evaluate is not an answer of the policy.
const keepDecision = (d: Decision | Denial): Decision | Denial | undefined => (d instanceof Denial && d.code === 'policy_error' ? undefined : Object.freeze(d));
const keepValue = (r: RawResult): RawResult | undefined => ('error' in r ? undefined : deepFreeze(r));

/** A cached value is shared by every check that hits it: nothing may change it. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function runRaw(active: Active, input: string): RawResult {
  let results: { result?: unknown }[];
  try {
    results = JSON.parse(active.policy.evaluate(input, active.entrypoint)) as { result?: unknown }[];
  } catch (err) {
    return { error: `the policy failed to evaluate: ${(err as Error).message}` };
  }
  if (results.length === 0 || !('result' in results[0]!)) return { error: UNDEFINED };
  return { value: results[0]!.result };
}

function run(active: Active, input: string): Decision | Denial {
  const r = runRaw(active, input);
  if (!('error' in r)) return validateDecision(r.value);
  // An undefined decision is judged by the contract like any other value; a failure is the evaluation's.
  return r.error === UNDEFINED ? validateDecision(undefined) : policyError('the policy failed to evaluate');
}

function policyError(reason: string): Denial {
  return deny('policy_error', reason);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The decision contract (docs/architecture.md, "Policy contract"). Anything else fails closed rather than guessing. */
export function validateDecision(result: unknown): Decision | Denial {
  if (typeof result === 'boolean') return { allowed: result };
  if (!isObject(result) || typeof result.allowed !== 'boolean') return policyError('the policy decision has no boolean "allowed"');
  const d: Decision = { allowed: result.allowed };
  if (result.http_status !== undefined) {
    const s = result.http_status;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 100 || s > 599) return policyError('the policy decision has an invalid http_status');
    d.http_status = s;
  }
  if (typeof result.code === 'string') d.code = result.code;
  if (typeof result.reason === 'string') d.reason = result.reason;
  for (const key of ['headers', 'response_headers_to_add'] as const) {
    const h = result[key];
    if (h === undefined) continue;
    if (!isObject(h)) return policyError(`the policy decision's ${key} is not an object`);
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(h)) {
      if (typeof value === 'object' || value === undefined) return policyError(`the policy decision's ${key}.${name} is not a string`);
      out[name.toLowerCase()] = String(value);
    }
    d[key] = out;
  }
  const rm = result.request_headers_to_remove;
  if (rm !== undefined) {
    if (!Array.isArray(rm) || !rm.every((x) => typeof x === 'string')) return policyError('request_headers_to_remove must be a list of names');
    d.request_headers_to_remove = rm.map((x) => x.toLowerCase());
  }
  if (typeof result.upstream_provider === 'string') d.upstream_provider = result.upstream_provider;
  const f = result.federation;
  if (f !== undefined) {
    if (!isObject(f) || !['source', 'target', 'access', 'grant_id'].every((k) => typeof f[k] === 'string')) {
      return policyError('the policy decision has an invalid federation');
    }
    d.federation = f as Decision['federation'];
  }
  const q = result.quota;
  if (q !== undefined) {
    if (!isObject(q) || typeof q.bucket !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(q.bucket) || !isObject(q.limits)) {
      return policyError('the policy decision has an invalid quota (want {"bucket": name, "limits": {...}})');
    }
    const limits: Record<string, number> = {};
    for (const k of LIMIT_FIELDS) {
      const v = q.limits[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v > 0)) return policyError(`the policy decision's quota.limits.${k} must be a positive number`);
      limits[k] = v;
    }
    d.quota = { bucket: q.bucket, limits };
  }
  if (result.dynamic_metadata !== undefined) {
    if (!isObject(result.dynamic_metadata)) return policyError('dynamic_metadata must be an object');
    d.dynamic_metadata = result.dynamic_metadata;
  }
  return d;
}

/** What WASM receives: the input as the policy reads it (projected), as JSON. Only on a miss: a hit needs the key alone. */
function projectedJson(active: Active, input: unknown): string {
  return JSON.stringify(active.projection ? project(input, active.projection) : input) ?? 'null';
}
