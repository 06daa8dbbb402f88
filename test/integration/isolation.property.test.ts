// Property: over random tenants, groups, memberships, grants and requests, nothing authenticated for tenant A
// is ever allowed to act as tenant B without a live grant, and the headers always name the right tenant.
// Real server, real WASM, real SQLite; fast-check generates the world and the requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bearer, mint, startTestServer, type TestServer } from '../support/server.js';
import type { FederationGrant } from '../../src/store/federation.js';

const TENANTS = ['t-one', 't-two', 't-three', 't-four'];
const USERS = ['u1', 'u2', 'u3'];
const GROUPS = ['admin', 'analyst', 'viewer'];

interface Grant extends FederationGrant {
  token: string;
}

let t: TestServer;
const grants: Grant[] = [];
const apiKeys = new Map<string, string>(); // "tenant/user" → key

beforeAll(async () => {
  t = await startTestServer({ tenants: TENANTS.map((id) => ({ id, tier: 'premium' as const })) });
  // A random but reproducible world.
  const world = fc.sample(
    fc.record({
      memberships: fc.array(fc.record({ tenant: fc.constantFrom(...TENANTS), user: fc.constantFrom(...USERS), group: fc.constantFrom(...GROUPS) }), { maxLength: 20 }),
      grants: fc.array(
        fc.record({
          source: fc.constantFrom(...TENANTS),
          target: fc.constantFrom(...TENANTS),
          type: fc.constantFrom('documents', 'reports', '*'),
          id: fc.option(fc.constantFrom('1', '2'), { nil: null }),
          access: fc.constantFrom('read', 'write'),
          revoked: fc.boolean(),
        }),
        { minLength: 4, maxLength: 10 },
      ),
    }),
    { numRuns: 1, seed: 4242 },
  )[0]!;
  t.admin((a) => {
    for (const m of world.memberships) a.memberAdd({ tenant_id: m.tenant, user_id: m.user, group_id: m.group });
    for (const tenant of TENANTS) for (const user of USERS) apiKeys.set(`${tenant}/${user}`, a.apiKeyCreate({ tenant_id: tenant, user_id: user }).key);
  });
  for (const g of world.grants) {
    if (g.source === g.target) continue;
    const r = await t.adminAsync((a) =>
      a.federationGrant({ source: g.source, target: g.target, resource_type: g.type, resource_id: g.id, access: g.access, expires_at: '2099-01-01T00:00:00Z' }),
    );
    if (g.revoked) t.admin((a) => a.federationRevoke(g.source, r.grant.id));
    grants.push({ ...t.admin((a) => a.federation.get(r.grant.id))!, token: r.token });
  }
  await new Promise((r) => setTimeout(r, 300)); // let the server see the writes
});
afterAll(async () => {
  await t?.close();
});

const liveGrantCovers = (source: string, target: string) => grants.some((g) => g.source_tenant === source && g.target_tenant === target && !g.revoked_at);

describe('tenant isolation', () => {
  it('never lets tenant A act as tenant B without a live grant; headers name the right tenant', async () => {
    const random = fc.record({
      tenant: fc.constantFrom(...TENANTS),
      user: fc.constantFrom(...USERS),
      credential: fc.constantFrom('jwt', 'api_key'),
      named: fc.option(fc.constantFrom(...TENANTS), { nil: undefined }),
      where: fc.constantFrom('header', 'path', 'context'),
      method: fc.constantFrom('GET', 'POST', 'DELETE'),
      resource: fc.constantFrom('/api/v1/documents/1', '/api/v1/reports/2', '/api/v1/models', '/api/v1/items'),
      grant: fc.option(fc.nat({ max: 50 }), { nil: undefined }),
      spoof: fc.boolean(),
    });
    // Requests shaped after a grant (its source, target, type and access), so allowed federation is reached too.
    const fromGrant = fc.record({ i: fc.nat({ max: 50 }), user: fc.constantFrom(...USERS), credential: fc.constantFrom('jwt', 'api_key'), where: fc.constantFrom('header', 'path', 'context'), spoof: fc.boolean() }).map((x) => {
      const g = grants[x.i % grants.length]!;
      const type = g.resource_type === '*' ? 'documents' : g.resource_type;
      return {
        tenant: g.source_tenant,
        user: x.user,
        credential: x.credential,
        named: g.target_tenant as string | undefined,
        where: x.where,
        method: g.access === 'read' ? 'GET' : 'POST',
        resource: `/api/v1/${type}/${g.resource_id ?? '1'}`,
        grant: x.i % grants.length as number | undefined,
        spoof: x.spoof,
      };
    });
    const request = fc.oneof(random, fromGrant);
    let allowedFederated = 0;
    let allowedOwn = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: [string, string][] = [];
        if (r.credential === 'jwt') headers.push(bearer(await mint({ tenant: r.tenant, sub: r.user })));
        else headers.push(['x-api-key', apiKeys.get(`${r.tenant}/${r.user}`)!]);
        let path = r.resource;
        const contextExtensions: Record<string, string> = {};
        if (r.named) {
          if (r.where === 'header') headers.push(['x-tenant-id', r.named]);
          else if (r.where === 'path') path = `/tenants/${r.named}${r.resource}`;
          else contextExtensions.tenant_id = r.named;
        }
        if (r.grant !== undefined && grants.length) headers.push(['x-federation-token', grants[r.grant % grants.length]!.token]);
        if (r.spoof) headers.push(['x-federation-source', r.named ?? 'x'], ['x-user-id', 'root']);

        const res = await t.envoy({ method: r.method, path, headers, contextExtensions });
        expect(res.outcome).not.toBe('error');
        if (res.outcome !== 'upstream') return;
        const tenantHeader = res.headers['x-tenant-id'];
        expect(tenantHeader).toHaveLength(1);
        expect(res.headers['x-user-id']).toEqual([r.user]);
        const actingAs = tenantHeader![0]!;
        if (actingAs === r.tenant) {
          allowedOwn++;
          expect(res.headers['x-federation-source']).toBeUndefined();
          // A request naming another tenant is never allowed as the caller's own.
          if (r.named) expect(r.named).toBe(r.tenant);
        } else {
          allowedFederated++;
          expect(actingAs).toBe(r.named);
          expect(res.headers['x-federation-source']).toEqual([r.tenant]);
          expect(liveGrantCovers(r.tenant, actingAs)).toBe(true);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
    // The generator must reach both kinds of allow, or the property proves little.
    expect(allowedOwn).toBeGreaterThan(20);
    expect(allowedFederated).toBeGreaterThan(0);
  });
});
