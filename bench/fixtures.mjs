// Bench data: a real SQLite store (tenants, memberships, API keys), a signing key with its JWKS, and a mix of
// realistic Envoy CheckRequests (about 20 headers, a path with a query) with about 10% denials of several kinds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';
import { openDatabase } from '../dist/store/database.js';
import { Admin } from '../dist/admin/operations.js';
import { parseConfig } from '../dist/core/config.js';
import { buildCheckRequest } from '../dist/check/envoy-request.js';

export const ISSUER = 'https://idp.bench.local/';
export const AUDIENCE = 'tenantgate';

/** Small deterministic PRNG, so two runs measure the same mix. */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/**
 * `completions`: every request a chat completion (POST with a JSON body, as a GenAI platform's traffic is) instead of
 * the GET mix: for the tenant-rules comparison, whose typical rule set checks the body.
 */
export async function makeFixtures(dir, { tenants = 50, usersPerTenant = 20, requests = 4000, apiKeyShare = 0.2, completions = false } = {}) {
  mkdirSync(dir, { recursive: true });
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));

  const dbPath = join(dir, 'tenantgate.db');
  const config = parseConfig({ store: { path: dbPath } }, dir);
  const db = openDatabase(dbPath);
  const admin = new Admin(db, config, 'bench');
  const tenantIds = [];
  const opaTenants = {};
  const keys = new Map();
  db.transaction(() => {
    for (let t = 0; t < tenants; t++) {
      const id = `tenant-${t}`;
      const tier = ['free', 'basic', 'premium', 'enterprise'][t % 4];
      const status = t === tenants - 1 ? 'suspended' : 'active';
      admin.tenants.create({ id, name: `Tenant ${t}`, tier, status });
      opaTenants[id] = { tier, status };
      tenantIds.push(id);
      for (let u = 0; u < usersPerTenant; u++) {
        admin.groups.addMembership({ tenant_id: id, user_id: `user-${u}`, group_id: ['admin', 'analyst', 'viewer'][u % 3] });
        if (u < 3) keys.set(`${id}/user-${u}`, admin.apiKeys.create({ tenant_id: id, user_id: `user-${u}` }).key);
      }
    }
  })();
  db.close();
  // The same world for the OPA-Envoy comparison (bench/opa-envoy/policy.rego).
  writeFileSync(join(dir, 'opa-data.json'), JSON.stringify({ bench: { verify: { cert: JSON.stringify({ keys: [jwk] }) }, issuer: ISSUER, audience: AUDIENCE, tenants: opaTenants } }));

  const rand = rng(42);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims, exp = now + 6 * 3600) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'bench-1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime(exp).sign(privateKey);
  // A pool of tokens per tenant, reused the way real clients reuse theirs.
  const tokens = new Map();
  // No scope claim: a scoped token reaches only the routes its scopes name (docs/model.md), and the mix is meant to
  // be mostly allowed requests, as real traffic is.
  for (const id of tenantIds) for (let u = 0; u < 5; u++) tokens.set(`${id}/user-${u}`, await sign({ sub: `user-${u}`, tenant_id: id }));
  const expired = await sign({ sub: 'user-0', tenant_id: tenantIds[0] }, now - 3600);
  const unknownTenant = await sign({ sub: 'user-0', tenant_id: 'no-such-tenant' });

  const paths = ['/api/v1/items?limit=20&sort=desc', '/api/v1/models?provider=openai', '/api/v1/documents/42?fields=id,title', '/api/v1/search?q=quarterly+report&page=2'];
  const out = [];
  const kinds = {};
  for (let i = 0; i < requests; i++) {
    const active = tenantIds.slice(0, -1);
    const tenant = pick(active);
    const user = `user-${Math.floor(rand() * 5)}`;
    const r = rand();
    let kind = 'allow';
    const headers = [
      ['accept', 'application/json'],
      ['accept-encoding', 'gzip, deflate, br'],
      ['accept-language', 'en-US,en;q=0.9'],
      ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
      ['x-forwarded-for', `203.0.113.${i % 250}`],
      ['x-forwarded-proto', 'https'],
      ['x-request-id', `req-${i.toString(16).padStart(8, '0')}`],
      ['x-b3-traceid', `${(i * 7919).toString(16).padStart(16, '0')}`],
      ['x-b3-spanid', `${(i * 104729).toString(16).padStart(16, '0')}`],
      ['x-b3-sampled', '1'],
      ['x-envoy-expected-rq-timeout-ms', '15000'],
      ['x-client-version', '4.2.1'],
      ['content-type', 'application/json'],
      ['cache-control', 'no-cache'],
      ['x-correlation-id', `corr-${i}`],
    ];
    if (r < 0.03) {
      kind = 'deny_missing_credentials';
    } else if (r < 0.05) {
      kind = 'deny_expired_token';
      headers.push(['authorization', `Bearer ${expired}`]);
    } else if (r < 0.07) {
      kind = 'deny_unknown_tenant';
      headers.push(['authorization', `Bearer ${unknownTenant}`]);
    } else if (r < 0.085) {
      kind = 'deny_suspended_tenant';
      headers.push(['authorization', `Bearer ${tokens.get(`${tenantIds.at(-1)}/user-0`)}`]);
    } else if (r < 0.1) {
      kind = 'deny_tenant_mismatch';
      headers.push(['authorization', `Bearer ${tokens.get(`${tenant}/${user}`)}`], ['x-tenant-id', pick(active.filter((t) => t !== tenant))]);
    } else if (r < 0.1 + apiKeyShare) {
      kind = 'allow_api_key';
      headers.push(['x-api-key', keys.get(`${tenant}/user-${Math.floor(rand() * 3)}`)]);
    } else {
      headers.push(['authorization', `Bearer ${tokens.get(`${tenant}/${user}`)}`], ['x-tenant-id', tenant]);
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const body = completions ? JSON.stringify({ model: pick(['gpt-4o-mini', 'claude-3-5-haiku']), messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: `Summarise report ${i % 97}.` }], max_tokens: 256, user: user }) : undefined;
    const req = buildCheckRequest({ method: completions ? 'POST' : 'GET', path: completions ? '/api/v1/chat/completions' : pick(paths), host: `${tenant}.api.example.com`, headers, scheme: 'https', protocol: 'HTTP/2', body });
    // protojson writes a Timestamp as an RFC 3339 string.
    req.attributes.request.time = new Date().toISOString();
    out.push(req);
  }
  const requestsFile = join(dir, 'requests.json');
  writeFileSync(requestsFile, JSON.stringify(out));
  return { dbPath, jwksFile: join(dir, 'jwks.json'), requestsFile, kinds, tenants: tenantIds.length };
}
