// The tenant-rules phase: after the platform's policy allowed a request, the caller's tenant's own rules and Rego
// may still deny it, add headers for the upstream and tighter quota limits. Nothing here can turn a denial into an
// allow: the pipeline runs this phase only on an allowed decision. A tenant without rules costs one look-up.
import { Denial } from '../core/types.js';
import { deny } from '../core/denials.js';
import type { NormalizedRequest } from '../core/request.js';
import type { EffectiveContext, LimitSet } from '../core/limits.js';
import type { TenantPolicyLoader, LoadedPolicy } from './loader.js';
import type { RuleRequest } from './rule-set.js';

/** What a tenant's rules made of a request: a denial naming the rule, or what they add to it. */
export type TenantVerdict =
  | { denial: Denial; rule: string }
  | { denial?: undefined; headers: Record<string, string> | undefined; buckets: { rule: string; limits: LimitSet }[] | undefined };

const NOTHING: TenantVerdict = Object.freeze({ headers: undefined, buckets: undefined });

export class TenantRulesPhase {
  constructor(
    private readonly loader: TenantPolicyLoader,
    /** Parses the body when a tenant's rules read it and the platform's policy did not; a Denial when it is refused. */
    private readonly parseBody: (req: NormalizedRequest) => Denial | undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The tenant's verdict on an allowed request, NOTHING when it has no rules. `input`: the platform policy's input,
   * which the tenant's module reads too. At once unless the tenant's policy is being loaded.
   */
  apply(tenantId: string, req: NormalizedRequest, effective: EffectiveContext | null, input: Record<string, unknown>): TenantVerdict | Promise<TenantVerdict> {
    const p = this.loader.get(tenantId);
    if (p === null) return NOTHING;
    if (p instanceof Promise) return p.then((x) => (x ? this.run(x, tenantId, req, effective, input) : NOTHING));
    return this.run(p, tenantId, req, effective, input);
  }

  private run(p: LoadedPolicy, tenantId: string, req: NormalizedRequest, effective: EffectiveContext | null, input: Record<string, unknown>): TenantVerdict | Promise<TenantVerdict> {
    if (p.broken) return { denial: deny('tenant_policy_error', `the policy of tenant ${tenantId} cannot be used: ${p.broken}`), rule: 'policy' };
    if (p.readsBody && req.parsedBody === null && req.bodyError === null && req.body) {
      const refused = this.parseBody(req);
      if (refused) return { denial: refused, rule: 'body' };
      input.parsed_body = req.parsedBody;
      input.body_error = req.bodyError;
    }
    let headers: Record<string, string> | undefined;
    let buckets: { rule: string; limits: LimitSet }[] | undefined;
    if (p.rules) {
      const r = p.rules.evaluate(ruleRequest(req, effective, this.clock()));
      if ('denial' in r) return r;
      headers = r.headers;
      buckets = r.buckets;
    }
    if (!p.module) return { headers, buckets };
    const done = (a: Awaited<ReturnType<NonNullable<LoadedPolicy['module']>['evaluate']>>): TenantVerdict => {
      if ('error' in a) return { denial: deny('tenant_policy_error', `the policy of tenant ${tenantId} failed: ${a.error}`), rule: 'rego' };
      if (a.deny.length) return { denial: deny('tenant_policy_denied', `tenant policy: ${a.deny[0]}`), rule: 'rego' };
      const merged = Object.keys(a.headers).length ? { ...a.headers, ...headers } : headers;
      return { headers: merged, buckets };
    };
    const a = p.module.evaluate(input);
    return a instanceof Promise ? a.then(done) : done(a);
  }
}

function ruleRequest(req: NormalizedRequest, effective: EffectiveContext | null, now: number): RuleRequest {
  const source = (req.attributes.source as { address?: { socketAddress?: { address?: unknown } } } | undefined)?.address?.socketAddress?.address;
  return {
    method: req.method,
    path: req.path,
    sourceIp: typeof source === 'string' ? source : '',
    groups: effective ? effective.groups : [],
    body: req.parsedBody,
    bodyError: req.bodyError,
    truncatedBody: req.truncatedBody,
    now,
  };
}
