// The embedded demo: a signing key and JWKS under data/keys, a few tenants, and tokens to try them with.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import * as jose from 'jose';
import type { Config } from '../core/config.js';
import { type Tier, type TenantStatus } from '../core/tenants.js';
import type { AdminStore } from '../core/admin-store.js';

export const DEMO_TENANTS: { id: string; name: string; tier: Tier; status: TenantStatus }[] = [
  { id: 'acme', name: 'Acme Corp', tier: 'premium', status: 'active' },
  { id: 'globex', name: 'Globex', tier: 'basic', status: 'active' },
  { id: 'initech', name: 'Initech', tier: 'free', status: 'suspended' },
];

export function signingKeyPath(jwksFile: string): string {
  return `${dirname(jwksFile)}/demo-signing-key.json`;
}

/** Creates an ES256 key pair once: the public half as the JWKS the config trusts, the private half beside it. */
export async function ensureDemoKeys(jwksFile: string): Promise<void> {
  const keyFile = signingKeyPath(jwksFile);
  if (existsSync(jwksFile) && existsSync(keyFile)) return;
  mkdirSync(dirname(jwksFile), { recursive: true });
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const kid = `demo-${Date.now().toString(36)}`;
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256' };
  writeFileSync(keyFile, JSON.stringify(priv, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(jwksFile, JSON.stringify({ keys: [pub] }, null, 2) + '\n');
}

export interface MintOptions {
  keyFile: string;
  issuer: string;
  audience?: string;
  tenantClaim: string;
  tenant?: string;
  subject: string;
  ttlSeconds: number;
  claims?: Record<string, unknown>;
}

export async function mintToken(o: MintOptions): Promise<string> {
  const jwk = JSON.parse(readFileSync(o.keyFile, 'utf8')) as jose.JWK & { alg?: string; kid?: string };
  const alg = jwk.alg ?? 'ES256';
  const key = await jose.importJWK(jwk, alg);
  const payload: Record<string, unknown> = { ...o.claims };
  if (o.tenant !== undefined) payload[o.tenantClaim] = o.tenant;
  let jwt = new jose.SignJWT(payload)
    .setProtectedHeader({ alg, kid: jwk.kid, typ: 'JWT' })
    .setIssuer(o.issuer)
    .setSubject(o.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + o.ttlSeconds);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  return jwt.sign(key);
}

/** Users of the demo tenants: alice administers acme, bob analyses globex data. */
const DEMO_MEMBERS = [
  { tenant_id: 'acme', user_id: 'alice@acme', group_id: 'admin', role: 'owner' as const },
  { tenant_id: 'globex', user_id: 'bob@globex', group_id: 'analyst', role: 'member' as const },
];

/** Seeds the demo tenants (and their members) that are not there yet; never touches existing data. */
export async function seedDemoTenants(admin: AdminStore): Promise<string[]> {
  const created: string[] = [];
  for (const t of DEMO_TENANTS) {
    if (await admin.tenants.get(t.id)) continue;
    await admin.tenantCreate(t);
    created.push(t.id);
    for (const m of DEMO_MEMBERS) if (m.tenant_id === t.id) await admin.memberAdd(m);
  }
  return created;
}

/** The first issuer with a JWKS file: the one the demo signs for. */
export function demoIssuer(config: Config): { issuer: string; audience?: string; jwksFile: string } {
  const iss = config.auth.jwt.issuers.find((i) => i.jwks_file);
  if (!iss?.jwks_file) throw new Error('the demo needs an issuer with a jwks_file in auth.jwt.issuers (see tenantgate.yaml)');
  return { issuer: iss.issuer, audience: iss.audiences?.[0], jwksFile: iss.jwks_file };
}

/** The demo's admin token: made once, in a file only the user can read (the CLI reads it with --server). */
export function ensureDemoAdminToken(file: string): void {
  if (existsSync(file)) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
}

export interface DemoEndpoints {
  grpc: string;
  http?: string;
  admin?: string;
  adminTokenFile?: string;
  store: string;
}

/** Everything the demo serves, each with a command that works as printed (in another terminal, from here). */
export function demoBanner(e: DemoEndpoints, token: string): string {
  const bearer = `-H "authorization: Bearer $TOKEN"`;
  const lines = [
    '',
    `tenantgate demo is serving (store ${e.store})`,
    `  ext_authz (gRPC)  ${e.grpc}`,
    e.http ? `  HTTP              http://${e.http}   /authz/<path>, /metrics, /healthz, /readyz` : '  HTTP              off (server.http_address)',
    e.admin ? `  admin API (gRPC)  ${e.admin}   token in ${e.adminTokenFile}` : '  admin API         off (admin.token_file or TENANTGATE_ADMIN_TOKEN)',
    'tenants: acme (premium; alice@acme owns its admin group), globex (basic; bob@globex is an analyst), initech (free, suspended)',
    '',
    'an example token for alice@acme (valid 24 h), as the commands below read it:',
    `export TOKEN=${token}`,
    '',
    'try it (in another terminal, in this folder, after the export above):',
    `  npx tenantgate check --server ${e.grpc} --method GET --path /api/v1/items ${bearer}`,
    `  npx tenantgate check --server ${e.grpc} --method GET --path /tenants/globex/items ${bearer}   # denied: exit status 2`,
    '  npx tenantgate token mint --tenant globex --sub bob@globex   # a token for another tenant',
  ];
  if (e.http) {
    lines.push(
      `  curl -si http://${e.http}/authz/api/v1/items ${bearer}`,
      `  curl -s http://${e.http}/metrics | grep '^tenantgate_checks_total'`,
      `  curl -s http://${e.http}/healthz`,
    );
  }
  if (e.admin) lines.push(`  TENANTGATE_ADMIN_TOKEN=$(cat ${e.adminTokenFile}) npx tenantgate tenant list --server ${e.admin}`);
  return lines.join('\n') + '\n\n';
}
