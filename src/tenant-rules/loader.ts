// Each tenant's compiled rules and module, loaded on first use and dropped when they change. A tenant without any
// is remembered as such, so its checks cost one cache look-up.
import { LRUCache } from 'lru-cache';
import type { TenantPolicy } from '../core/tenant-rules.js';
import { loadOnce } from '../util/shared.js';
import { RuleSet } from './rule-set.js';
import { TenantModule, type ModuleBudget } from './module.js';
import { tenantPackage } from './rego.js';

/** Where the loader reads a tenant's stored policy (the store implements it). */
export interface TenantPolicySource {
  get(tenantId: string): TenantPolicy | undefined | Promise<TenantPolicy | undefined>;
}

/** A tenant's policy, ready: its rules and module, or why it could not be made ready (its requests fail closed). */
export interface LoadedPolicy {
  revision: number;
  rules: RuleSet | undefined;
  module: TenantModule | undefined;
  readsBody: boolean;
  broken: string | undefined;
}

const NONE = Symbol('none');

export class TenantPolicyLoader {
  private readonly cache: LRUCache<string, LoadedPolicy | typeof NONE>;
  private readonly pending = new Map<string, Promise<unknown>>();
  private generation = 0;

  constructor(
    private readonly source: TenantPolicySource,
    private readonly budget: ModuleBudget,
    size: number,
  ) {
    this.cache = new LRUCache({ max: size });
  }

  /** The tenant's policy, null when it has none; at once when cached or read from SQLite without Rego. */
  get(tenantId: string): LoadedPolicy | null | Promise<LoadedPolicy | null> {
    const hit = this.cache.get(tenantId);
    if (hit !== undefined) return hit === NONE ? null : hit;
    return loadOnce(this.pending, tenantId, () => {
      const gen = this.generation;
      const stored = this.source.get(tenantId);
      return stored instanceof Promise ? stored.then((p) => this.prepare(tenantId, p, gen)) : this.prepare(tenantId, stored, gen);
    });
  }

  private prepare(tenantId: string, p: TenantPolicy | undefined, gen: number): LoadedPolicy | null | Promise<LoadedPolicy | null> {
    if (!p || (!p.rules.length && !p.wasm)) return this.keep(tenantId, null, gen);
    let rules: RuleSet | undefined;
    try {
      rules = p.rules.length ? new RuleSet(p.rules) : undefined;
    } catch (err) {
      return this.keep(tenantId, broken(p, (err as Error).message), gen);
    }
    const ready = (module: TenantModule | undefined): LoadedPolicy => ({ revision: p.revision, rules, module, readsBody: (rules?.readsBody ?? false) || (module?.readsBody ?? false), broken: undefined });
    if (!p.wasm) return this.keep(tenantId, ready(undefined), gen);
    return TenantModule.load(p.wasm, p.projection, tenantPackage(tenantId).entrypoint, this.budget).then(
      (m) => this.keep(tenantId, ready(m), gen),
      (err: unknown) => this.keep(tenantId, broken(p, `its module could not be loaded: ${(err as Error).message}`), gen),
    );
  }

  private keep<T extends LoadedPolicy | null>(tenantId: string, v: T, gen: number): T {
    if (gen === this.generation) this.cache.set(tenantId, v ?? NONE);
    return v;
  }

  /** A tenant's policy (or its record) changed. */
  invalidateTenant(tenantId: string): void {
    this.generation++;
    this.pending.delete(tenantId);
    this.cache.delete(tenantId);
  }

  invalidate(): void {
    this.generation++;
    this.pending.clear();
    this.cache.clear();
  }
}

function broken(p: TenantPolicy, why: string): LoadedPolicy {
  return { revision: p.revision, rules: undefined, module: undefined, readsBody: false, broken: why };
}
