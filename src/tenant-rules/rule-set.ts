// A tenant's rules compiled once when they are loaded (schemas, networks, time zones, route matchers), and their
// evaluation for one request the platform's policy allowed: the first rule whose condition fails denies; the rules
// that apply add headers (the first to name one wins) and quota buckets.
import { Denial } from '../core/types.js';
import { deny, type DenialCode } from '../core/denials.js';
import type { TenantRule } from '../core/tenant-rules.js';
import type { LimitSet } from '../core/limits.js';
import { compileBodySchema, describeFailure, type BodyValidator } from './body-schema.js';
import { inList, networkList, type NetworkList } from './networks.js';
import { Schedule } from './schedule.js';

/** What the rules read of the request (a NormalizedRequest is one). */
export interface RuleRequest {
  method: string;
  path: string;
  /** The parsed body (JSON or form), null when there is none. */
  parsedBody: unknown;
  bodyError: string | null;
  truncatedBody: boolean;
}

/** A denial, and the rule that gave it (for the explanation and the decision log). */
export interface RuleDenial {
  denial: Denial;
  rule: string;
}

export interface RuleEffects {
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Tighter limits, each a bucket of its own named after its rule. */
  readonly buckets: readonly { readonly rule: string; readonly limits: LimitSet }[] | undefined;
}

/** Exact paths, and prefixes ending in "*". */
class Routes {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  constructor(routes: readonly string[]) {
    this.exact = new Set(routes.filter((r) => !r.endsWith('*')));
    this.prefixes = routes.filter((r) => r.endsWith('*')).map((r) => r.slice(0, -1));
  }
  has(path: string): boolean {
    if (this.exact.has(path)) return true;
    for (const p of this.prefixes) if (path.startsWith(p)) return true;
    return false;
  }
}

interface Compiled {
  name: string;
  reason: string | undefined;
  routes?: Routes;
  methods?: ReadonlySet<string>;
  groups?: ReadonlySet<string>;
  deny: boolean;
  allowRoutes?: Routes;
  allowMethods?: ReadonlySet<string>;
  modelsAllow?: ReadonlySet<string>;
  modelsDeny?: ReadonlySet<string>;
  ipsAllow?: NetworkList;
  ipsDeny?: NetworkList;
  schedule?: Schedule;
  body?: BodyValidator;
  headers?: readonly [string, string][];
  quota?: LimitSet;
}

const set = <T>(xs: readonly T[] | undefined): ReadonlySet<T> | undefined => (xs ? new Set(xs) : undefined);

export class RuleSet {
  private readonly rules: readonly Compiled[];
  /** Whether any rule reads the body (a schema, a model restriction). */
  readonly readsBody: boolean;

  /** Compiles checked rules; throws naming the rule when a schema, a network or a time zone is not valid. */
  constructor(rules: readonly TenantRule[]) {
    this.rules = rules.map((r) => {
      try {
        return compile(r);
      } catch (err) {
        throw new Error(`rule "${r.name}": ${(err as Error).message}`);
      }
    });
    this.readsBody = rules.some((r) => r.body_schema !== undefined || r.models !== undefined);
  }

  /**
   * The first rule that denies the request, or what the rules that apply add to it. What they add is one frozen
   * object per combination of rules, made once: a check allocates nothing here, and an allowed answer's encoding,
   * kept per caller while its inputs stay the same objects (check/allow-template.ts), is reused.
   */
  evaluate(req: RuleRequest, sourceIp: string, groups: readonly { id: string }[], now: number): RuleDenial | RuleEffects {
    // Which rules with effects applied: a bit each for the first 31, their indexes as text beyond.
    let bits = 0;
    let more = '';
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (!applies(r, req, groups)) continue;
      const refused = check(r, req, sourceIp, now);
      if (refused) return { denial: refused, rule: r.name };
      if (r.headers || r.quota) {
        if (i < 31) bits |= 1 << i;
        else more += `,${i}`;
      }
    }
    if (bits === 0 && more === '') return NO_EFFECTS;
    const key = more ? `${bits}${more}` : bits;
    let e = this.effects.get(key);
    if (!e) {
      e = this.effectsOf(bits, more);
      // Bounded: combinations are as many as the traffic makes, in principle 2^rules.
      if (this.effects.size < 4096) this.effects.set(key, e);
    }
    return e;
  }

  private readonly effects = new Map<number | string, RuleEffects>();

  private effectsOf(bits: number, more: string): RuleEffects {
    const beyond = new Set(more.split(',').filter(Boolean).map(Number));
    const applied = this.rules.filter((_, i) => (i < 31 ? (bits & (1 << i)) !== 0 : beyond.has(i)));
    const headers: Record<string, string> = {};
    for (const r of applied) for (const [k, v] of r.headers ?? []) if (!(k in headers)) headers[k] = v;
    const buckets = applied.filter((r) => r.quota).map((r) => Object.freeze({ rule: r.name, limits: r.quota! }));
    return Object.freeze({ headers: Object.keys(headers).length ? Object.freeze(headers) : undefined, buckets: buckets.length ? Object.freeze(buckets) : undefined });
  }
}

const NO_EFFECTS: RuleEffects = Object.freeze({ headers: undefined, buckets: undefined });

function compile(r: TenantRule): Compiled {
  return {
    name: r.name,
    reason: r.reason,
    routes: r.match.routes ? new Routes(r.match.routes) : undefined,
    methods: set(r.match.methods),
    groups: set(r.match.groups),
    deny: r.deny === true,
    allowRoutes: r.allow_routes ? new Routes(r.allow_routes) : undefined,
    allowMethods: set(r.allow_methods),
    modelsAllow: set(r.models?.allow),
    modelsDeny: set(r.models?.deny),
    ipsAllow: r.source_ips?.allow ? networkList(r.source_ips.allow) : undefined,
    ipsDeny: r.source_ips?.deny ? networkList(r.source_ips.deny) : undefined,
    schedule: r.schedule ? new Schedule(r.schedule) : undefined,
    body: r.body_schema ? compileBodySchema(r.body_schema) : undefined,
    headers: r.headers ? Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]) : undefined,
    quota: r.quota,
  };
}

function applies(r: Compiled, req: RuleRequest, groups: readonly { id: string }[]): boolean {
  if (r.routes && !r.routes.has(req.path)) return false;
  if (r.methods && !r.methods.has(req.method)) return false;
  if (r.groups && !groups.some((g) => r.groups!.has(g.id))) return false;
  return true;
}

const fail = (r: Compiled, code: DenialCode, why: string): Denial => deny(code, `tenant rule "${r.name}": ${r.reason ?? why}`);

/** The rule's first condition that does not hold, as a denial; undefined when all hold. */
function check(r: Compiled, req: RuleRequest, sourceIp: string, now: number): Denial | undefined {
  if (r.deny) return fail(r, 'tenant_rule_denied', `${req.method} ${req.path} is not allowed`);
  if (r.allowRoutes && !r.allowRoutes.has(req.path)) return fail(r, 'route_not_allowed', `the route ${req.path} is not allowed`);
  if (r.allowMethods && !r.allowMethods.has(req.method)) return fail(r, 'method_not_allowed', `the method ${req.method} is not allowed here`);
  if (r.ipsDeny && inList(r.ipsDeny, sourceIp)) return fail(r, 'network_not_allowed', `the source address ${sourceIp} is denied`);
  if (r.ipsAllow && !inList(r.ipsAllow, sourceIp)) return fail(r, 'network_not_allowed', `the source address ${sourceIp || '(unknown)'} is not in the allowed networks`);
  if (r.schedule && !r.schedule.allows(now)) return fail(r, 'outside_allowed_hours', `requests are allowed only ${r.schedule.describe()}`);
  if (r.modelsAllow || r.modelsDeny) {
    const model = modelOf(req.parsedBody);
    if (model !== undefined && ((r.modelsDeny && r.modelsDeny.has(model)) || (r.modelsAllow && !r.modelsAllow.has(model)))) return fail(r, 'model_not_allowed', `the model "${model}" is not allowed`);
  }
  if (r.body) {
    if (req.truncatedBody) return fail(r, 'invalid_request_body', 'the body was cut short by the proxy, so it cannot be checked (raise with_request_body.max_request_bytes)');
    if (req.bodyError) return fail(r, 'invalid_request_body', req.bodyError);
    if (!r.body(req.parsedBody ?? null)) return deny('invalid_request_body', `tenant rule "${r.name}": ${describeFailure(r.body.errors)}`);
  }
  return undefined;
}

function modelOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const m = (body as { model?: unknown }).model;
  return typeof m === 'string' ? m : Array.isArray(m) && typeof m[0] === 'string' ? m[0] : undefined;
}
