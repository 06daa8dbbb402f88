// Phase: the tenant of an identified caller. The credential's tenant (authoritative), every tenant the request
// names, the tenant's record and the caller's effective context.
import { Denial, type Identity, type TenantHint } from '../core/types.js';
import type { Tenant } from '../core/tenants.js';
import type { EffectiveContext } from '../core/limits.js';
import type { NormalizedRequest } from '../core/request.js';
import type { TenantResolver } from './resolve.js';
import type { ContextLoader } from './context.js';

export interface Tenancy {
  tenantId: string;
  tenant: Tenant | null;
  effective: EffectiveContext | null;
  hints: TenantHint[];
}

const NO_GROUPS: readonly string[] = Object.freeze([]);

export class TenancyPhase {
  constructor(
    private readonly resolver: TenantResolver,
    private readonly context: ContextLoader,
  ) {}

  /** At once when the caches (or SQLite) answer; a promise when a PostgreSQL store must be asked first. */
  resolve(req: NormalizedRequest, identity: Identity): Tenancy | Denial | Promise<Tenancy | Denial> {
    const tenantId = this.resolver.identityTenant(identity);
    if (tenantId instanceof Denial) return tenantId;
    const hints = this.resolver.hints(req);
    if (hints instanceof Denial) return hints;
    const tenant = this.context.tenant(tenantId);
    if (tenant instanceof Promise) return tenant.then((t) => this.withContext(tenantId, t, hints, identity));
    return this.withContext(tenantId, tenant, hints, identity);
  }

  private withContext(tenantId: string, tenant: Tenant | null, hints: TenantHint[], identity: Identity): Tenancy | Promise<Tenancy> {
    const effective = tenant ? this.context.user(tenant, identity.subject ?? '', identity.claim_groups ?? NO_GROUPS, identity) : null;
    if (effective instanceof Promise) return effective.then((e) => ({ tenantId, tenant, effective: e, hints }));
    return { tenantId, tenant, effective, hints };
  }

  /** Another tenant's record (a federation target). */
  tenant(id: string): Tenant | null | Promise<Tenant | null> {
    return this.context.tenant(id);
  }
}
