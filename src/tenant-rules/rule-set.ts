// A tenant's rules compiled once when they are loaded (schemas, networks, time zones, route matchers), and their
// evaluation for one request the platform's policy allowed: the first rule whose condition fails denies; the rules
// that apply add headers (the first to name one wins) and quota buckets.
import type { BlockList } from 'node:net';
import { Denial } from '../core/types.js';
import { deny, type DenialCode } from '../core/denials.js';
import type { TenantRule } from '../core/tenant-rules.js';
import type { LimitSet } from '../core/limits.js';
import { compileBodySchema, describeFailure, type BodyValidator } from './body-schema.js';
import { inList, networkList } from './networks.js';
import { Schedule } from './schedule.js';

/** What the rules read of a request. */
export interface RuleRequest {
  method: string;
  path: string;
  /** The downstream address Envoy reports (attributes.source), '' when unknown. */
  sourceIp: string;
  /** The caller's group ids in the tenant. */
  groups: readonly { id: string }[];
  /** The parsed body (JSON or form), undefined when there is none. */
  body: unknown;
  bodyError: string | null;
  truncatedBody: boolean;
  now: number;
}

/** A denial, and the rule that gave it (for the explanation and the decision log). */
export interface RuleDenial {
  denial: Denial;
  rule: string;
}

export interface RuleEffects {
  headers: Record<string, string> | undefined;
  /** Tighter limits, each a bucket of its own named after its rule. */
  buckets: { rule: string; limits: LimitSet }[] | undefined;
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
  ipsAllow?: BlockList;
  ipsDeny?: BlockList;
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

  get size(): number {
    return this.rules.length;
  }

  /** The first rule that denies the request, or what the rules that apply add to it. */
  evaluate(req: RuleRequest): RuleDenial | RuleEffects {
    let headers: Record<string, string> | undefined;
    let buckets: RuleEffects['buckets'];
    for (const r of this.rules) {
      if (!applies(r, req)) continue;
      const refused = check(r, req);
      if (refused) return { denial: refused, rule: r.name };
      if (r.headers) {
        headers ??= {};
        for (const [k, v] of r.headers) if (!(k in headers)) headers[k] = v;
      }
      if (r.quota) (buckets ??= []).push({ rule: r.name, limits: r.quota });
    }
    return { headers, buckets };
  }
}

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

function applies(r: Compiled, req: RuleRequest): boolean {
  if (r.routes && !r.routes.has(req.path)) return false;
  if (r.methods && !r.methods.has(req.method)) return false;
  if (r.groups && !req.groups.some((g) => r.groups!.has(g.id))) return false;
  return true;
}

/** The rule's first condition that does not hold, as a denial; undefined when all hold. */
function check(r: Compiled, req: RuleRequest): Denial | undefined {
  const no = (code: DenialCode, why: string) => deny(code, `tenant rule "${r.name}": ${r.reason ?? why}`);
  if (r.deny) return no('tenant_rule_denied', `${req.method} ${req.path} is not allowed`);
  if (r.allowRoutes && !r.allowRoutes.has(req.path)) return no('route_not_allowed', `the route ${req.path} is not allowed`);
  if (r.allowMethods && !r.allowMethods.has(req.method)) return no('method_not_allowed', `the method ${req.method} is not allowed here`);
  if (r.ipsDeny && inList(r.ipsDeny, req.sourceIp)) return no('network_not_allowed', `the source address ${req.sourceIp} is denied`);
  if (r.ipsAllow && !inList(r.ipsAllow, req.sourceIp)) return no('network_not_allowed', `the source address ${req.sourceIp || '(unknown)'} is not in the allowed networks`);
  if (r.schedule && !r.schedule.allows(req.now)) return no('outside_allowed_hours', `requests are allowed only ${r.schedule.describe()}`);
  if (r.modelsAllow || r.modelsDeny) {
    const model = modelOf(req.body);
    if (model !== undefined && ((r.modelsDeny && r.modelsDeny.has(model)) || (r.modelsAllow && !r.modelsAllow.has(model)))) return no('model_not_allowed', `the model "${model}" is not allowed`);
  }
  if (r.body) {
    if (req.truncatedBody) return no('invalid_request_body', 'the body was cut short by the proxy, so it cannot be checked (raise with_request_body.max_request_bytes)');
    if (req.bodyError) return no('invalid_request_body', req.bodyError);
    if (!r.body(req.body ?? null)) return deny('invalid_request_body', `tenant rule "${r.name}": ${describeFailure(r.body.errors)}`);
  }
  return undefined;
}

function modelOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const m = (body as { model?: unknown }).model;
  return typeof m === 'string' ? m : Array.isArray(m) && typeof m[0] === 'string' ? m[0] : undefined;
}
