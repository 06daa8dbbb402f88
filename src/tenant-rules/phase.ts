// The tenant-rules phase: after the platform's policy allowed a request, the caller's tenant's own rules and Rego
// may still deny it, add headers for the upstream and tighter quota limits. Nothing here can turn a denial into an
// allow: the pipeline runs this phase only on an allowed decision. A tenant without rules costs one look-up.
import { Denial } from '../core/types.js';
import { deny } from '../core/denials.js';
import type { NormalizedRequest } from '../core/request.js';
import type { EffectiveContext } from '../core/limits.js';
import type { TenantPolicyLoader, LoadedPolicy } from './loader.js';
import type { RuleEffects } from './rule-set.js';

/** What a tenant's rules made of a request: a denial naming the rule, or what they add to it. */
export type TenantVerdict =
  | { denial: Denial; rule: string }
  | (RuleEffects & { denial?: undefined });

const NOTHING: RuleEffects = Object.freeze({ headers: undefined, buckets: undefined });

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
    let effects: RuleEffects = NOTHING;
    if (p.rules) {
      const r = p.rules.evaluate(req, sourceOf(req), effective ? effective.groups : NO_GROUPS, this.clock());
      if ('denial' in r) return r;
      effects = r;
    }
    if (!p.module) return effects;
    const { headers, buckets } = effects;
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

const NO_GROUPS: readonly { id: string }[] = Object.freeze([]);

/** The downstream address Envoy reports (attributes.source), '' when there is none. */
function sourceOf(req: NormalizedRequest): string {
  const a = (req.attributes.source as { address?: { socketAddress?: { address?: unknown } } } | undefined)?.address?.socketAddress?.address;
  return typeof a === 'string' ? a : '';
}
