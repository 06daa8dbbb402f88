// Federation tokens: JWTs signed with tenantgate's own ES256 key, naming one grant (jti), bound to the source
// tenant (sub) and the target (aud). The server verifies them and looks the grant up; the policy decides coverage.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as jose from 'jose';
import type { FederationGrant, FederationInput } from '../core/federation.js';
import type { TenantHint } from '../core/types.js';
import type { Tenant } from '../core/tenants.js';

export const FEDERATION_ISSUER = 'tenantgate-federation';

export async function ensureFederationKey(file: string): Promise<void> {
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true });
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'ES256', kid: `fed-${Date.now().toString(36)}` };
  writeFileSync(file, JSON.stringify(jwk, null, 2) + '\n', { mode: 0o600 });
}

export async function signFederationToken(file: string, grant: FederationGrant): Promise<string> {
  await ensureFederationKey(file);
  const jwk = JSON.parse(readFileSync(file, 'utf8')) as jose.JWK;
  const key = await jose.importJWK(jwk, 'ES256');
  return new jose.SignJWT({ rt: grant.resource_type, rid: grant.resource_id, acc: grant.access })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'tenantgate-federation+jwt' })
    .setIssuer(FEDERATION_ISSUER)
    .setSubject(grant.source_tenant)
    .setAudience(grant.target_tenant)
    .setJti(grant.id)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.parse(grant.expires_at) / 1000))
    .sign(key);
}

/** What the policy sees as input.federation. */
/** Where the verifier reads grants by id (the store implements it). */
export interface GrantSource {
  get(id: string): FederationGrant | undefined | Promise<FederationGrant | undefined>;
}

export class FederationVerifier {
  private key: ReturnType<typeof jose.importJWK> | undefined;

  constructor(
    private readonly keyFile: string,
    private readonly grants: GrantSource,
  ) {}

  /** The key is created by the first grant, possibly after the server started: look again until it exists. */
  private loadKey(): ReturnType<typeof jose.importJWK> | undefined {
    if (!this.key && existsSync(this.keyFile)) {
      // Only the public half is needed to verify.
      const { d: _private, ...pub } = JSON.parse(readFileSync(this.keyFile, 'utf8')) as jose.JWK;
      this.key = jose.importJWK(pub, 'ES256');
    }
    return this.key;
  }

  /** Verifies the token for a request by `sourceTenant`; the grant must exist and be live. */
  async verify(token: string, sourceTenant: string): Promise<FederationInput> {
    const fail = (reason: string): FederationInput => ({ valid: false, reason, grant: null });
    const key = this.loadKey();
    if (!key) return fail('federation is not set up on this server');
    if (token.length > 4096) return fail('the federation token is malformed');
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, await key, { issuer: FEDERATION_ISSUER, algorithms: ['ES256'], clockTolerance: 5 }));
    } catch {
      return fail('the federation token is not valid');
    }
    if (payload.sub !== sourceTenant) return fail('the federation token belongs to another tenant');
    const grant = typeof payload.jti === 'string' ? await this.grants.get(payload.jti) : undefined;
    if (!grant) return fail('the federation grant does not exist');
    if (grant.revoked_at) return fail('the federation grant has been revoked');
    if (Date.parse(grant.expires_at) <= Date.now()) return fail('the federation grant has expired');
    return { valid: true, reason: null, grant };
  }
}

/**
 * Phase: a federation token, verified, when the request names a tenant other than the caller's; the target's
 * record goes with it. Null when there is nothing to verify.
 */
export async function federationFor(
  verifier: FederationVerifier,
  token: string | undefined,
  tenantId: string,
  hints: TenantHint[],
  tenantOf: (id: string) => Tenant | null | Promise<Tenant | null>,
): Promise<{ federation: FederationInput; targetTenant: Tenant | null } | null> {
  const other = hints.find((h) => h.id !== tenantId);
  if (token === undefined || !other) return null;
  return { federation: await verifier.verify(token, tenantId), targetTenant: await tenantOf(other.id) };
}
