// The Check pipeline: normalize → identify → resolve tenant → load context → evaluate policy.
// Each phase returns its result or a typed Denial; nothing here throws to the gRPC layer.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { normalize, type NormalizedRequest } from './normalize.js';
import { buildInput } from './input.js';
import { ANONYMOUS, Denial, type Decision, type Identity, type TenantHint } from './types.js';
import { extractCredential } from '../identity/credentials.js';
import type { JwtVerifier } from '../identity/jwt.js';
import type { TenantResolver } from '../tenancy/resolve.js';
import type { TenantContextLoader } from '../tenancy/context.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Tenant } from '../store/tenants.js';

export interface Outcome {
  decisionId: string;
  decision: Decision | Denial;
  identity: Identity;
  tenant: Tenant | null;
  request: NormalizedRequest | null;
  policyRevision: string;
}

export interface PipelineDeps {
  config: Config;
  jwt: JwtVerifier;
  resolver: TenantResolver;
  context: TenantContextLoader;
  policy: PolicyEngine;
}

export class CheckPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  async check(raw: unknown): Promise<Outcome> {
    const decisionId = randomUUID();
    const revision = this.deps.policy.revision;
    const end = (decision: Decision | Denial, identity: Identity = ANONYMOUS, tenant: Tenant | null = null, request: NormalizedRequest | null = null): Outcome => ({
      decisionId,
      decision,
      identity,
      tenant,
      request,
      policyRevision: revision,
    });
    try {
      const req = normalize(raw, this.deps.config.limits);
      if (req instanceof Denial) return end(req);

      const identity = await this.identify(req);
      if (identity instanceof Denial) return end(identity, ANONYMOUS, null, req);

      let tenant: Tenant | null = null;
      let hints: TenantHint[] = [];
      if (identity.kind !== 'anonymous') {
        const tenantId = this.deps.resolver.identityTenant(identity);
        if (tenantId instanceof Denial) return end(tenantId, identity, null, req);
        const h = this.deps.resolver.hints(req);
        if (h instanceof Denial) return end(h, identity, null, req);
        hints = h;
        tenant = this.deps.context.tenant(tenantId);
      }

      const decision = this.deps.policy.evaluate(buildInput(req, identity, tenant, hints));
      return end(decision, identity, tenant, req);
    } catch {
      // A bug or a failing store must not let a request through, nor take the server down.
      return end(new Denial(503, 'internal_error', 'the authorization service failed to decide'));
    }
  }

  private identify(req: NormalizedRequest): Identity | Denial | Promise<Identity | Denial> {
    const cred = extractCredential(req.headers, this.deps.config.auth.jwt.max_token_bytes);
    if (cred instanceof Denial) return cred;
    if (cred.kind === 'none') return ANONYMOUS;
    return this.deps.jwt.cached(cred.token) ?? this.deps.jwt.verify(cred.token);
  }
}
