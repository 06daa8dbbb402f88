// Property: tenant isolation, against a model of the rules. Each case is a new random world (tenants, group
// memberships, API keys, federation grants of every type, id and access, some revoked) and a batch of random
// requests in it; the model predicts each request's exact outcome (allowed as the caller's own tenant, allowed as
// another tenant through a grant, or the denial code) from the documented rules, and the real server (real WASM,
// real SQLite) must agree, with the headers naming the right tenant and user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bearer, metric, mint, startTestServer, storeChanges, waitFor, type TestServer } from '../support/server.js';
import { join } from 'node:path';
import { parseConfig } from '../../src/core/config.js';
import type { AdminStore } from '../../src/core/admin-store.js';
import { openDatabase } from '../../src/store/database.js';
import { Admin } from '../../src/admin/operations.js';
import { openPool } from '../../src/store/pg/connect.js';
import { PgAdmin } from '../../src/store/pg/admin.js';
import { startPostgres } from '../support/postgres.js';

const USERS = ['u1', 'u2', 'u3'];
const GROUPS = ['admin', 'analyst', 'viewer'] as const;
// The default groups' permissions (docs/model.md); a user in no group gets read:public.
const GROUP_PERMISSIONS: Record<(typeof GROUPS)[number], string[]> = { admin: ['*:*'], analyst: ['read:*', 'query:*'], viewer: ['read:*'] };
const RESOURCES = ['/api/v1/documents/1', '/api/v1/documents/2', '/api/v1/reports/2', '/api/v1/models', '/api/v1/items'];
const METHODS = ['GET', 'POST', 'DELETE'];

interface World {
  tenants: string[];
  memberships: { tenant: number; user: string; group: (typeof GROUPS)[number] }[];
  grants: { source: number; target: number; type: string; id: string | null; access: 'read' | 'write'; revoked: boolean }[];
}
interface Req {
  tenant: number;
  user: string;
  credential: 'jwt' | 'api_key';
  named: number | null;
  where: 'header' | 'path' | 'context';
  method: string;
  resource: string;
  grant: number | null;
}

const worldArb = fc.record({
  memberships: fc.array(fc.record({ tenant: fc.nat({ max: 2 }), user: fc.constantFrom(...USERS), group: fc.constantFrom(...GROUPS) }), { minLength: 3, maxLength: 12 }),
  grants: fc.array(
    fc.record({
      source: fc.nat({ max: 2 }),
      target: fc.nat({ max: 2 }),
      type: fc.constantFrom('documents', 'reports', 'models', '*'),
      id: fc.option(fc.constantFrom('1', '2'), { nil: null }),
      access: fc.constantFrom('read' as const, 'write' as const),
      revoked: fc.boolean(),
    }),
    { minLength: 3, maxLength: 8 },
  ),
}).map((w) => ({ ...w, grants: w.grants.filter((g) => g.source !== g.target) }));

const requestArb = (w: World) => {
  const random = fc.record({
    tenant: fc.nat({ max: 2 }),
    user: fc.constantFrom(...USERS),
    credential: fc.constantFrom('jwt' as const, 'api_key' as const),
    // Mostly the caller's own tenant, so permissions and methods are reached too, not only the tenant rules.
    named: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: fc.nat({ max: 2 }) }),
    where: fc.constantFrom('header' as const, 'path' as const, 'context' as const),
    method: fc.constantFrom(...METHODS),
    resource: fc.constantFrom(...RESOURCES),
    // As often without a federation token as with one, so that a named tenant without a grant is common too.
    grant: w.grants.length ? fc.oneof(fc.constant(null), fc.nat({ max: w.grants.length - 1 })) : fc.constant(null),
  });
  if (!w.grants.length) return random;
  // Requests shaped after a grant (its source, target, type, id and access), so that allowed federation is reached.
  const shaped = fc.record({ i: fc.nat({ max: w.grants.length - 1 }), user: fc.constantFrom(...USERS), credential: fc.constantFrom('jwt' as const, 'api_key' as const), where: fc.constantFrom('header' as const, 'path' as const, 'context' as const), read: fc.boolean() }).map((x): Req => {
    const g = w.grants[x.i]!;
    return {
      tenant: g.source,
      user: x.user,
      credential: x.credential,
      named: g.target,
      where: x.where,
      method: (g.access === 'read') === x.read ? 'GET' : 'POST',
      resource: `/api/v1/${g.type === '*' ? 'documents' : g.type}${g.type === 'models' ? '' : `/${g.id ?? '1'}`}`,
      grant: x.i,
    };
  });
  return fc.oneof(random, shaped, shaped);
};

/** The model: what the documented rules say about a request in a world. */
function expected(w: World, r: Req): string {
  const path = pathOf(w, r);
  const target = r.named !== null && r.named !== r.tenant ? r.named : null;
  if (target !== null) {
    if (r.grant === null) return 'tenant_mismatch';
    const g = w.grants[r.grant]!;
    // The token must be the caller's tenant's, live, for the named tenant, and cover type, id and access.
    if (g.source !== r.tenant || g.revoked || g.target !== target) return 'federation_denied';
    const [type, id] = r.resource.split('/').slice(3) as [string, string | undefined];
    if (g.type !== '*' && g.type !== type) return 'federation_denied';
    if (g.id !== null && g.id !== (id ?? null)) return 'federation_denied';
    if (g.access !== (r.method === 'GET' ? 'read' : 'write')) return 'federation_denied';
  }
  const routeDenial = routeCheck(w, r, path);
  if (routeDenial) return routeDenial;
  return target === null ? 'allow-own' : 'allow-federated';
}

function routeCheck(w: World, r: Req, path: string): string | null {
  // The demo route table: /api/v1/models* needs read:models (GET) or write:models (POST); other methods are 405.
  // /api/v1/* and /tenants/* need no permission.
  if (!path.startsWith('/api/v1/models')) return null;
  if (r.method !== 'GET' && r.method !== 'POST') return 'method_not_allowed';
  const required = r.method === 'GET' ? 'read:models' : 'write:models';
  const groups = w.memberships.filter((m) => m.tenant === r.tenant && m.user === r.user).map((m) => m.group);
  const perms = groups.length ? groups.flatMap((g) => GROUP_PERMISSIONS[g]) : ['read:public'];
  const [action, resource] = required.split(':');
  return [required, `${action}:*`, `*:${resource}`, '*:*'].some((p) => perms.includes(p)) ? null : 'insufficient_permission';
}

function pathOf(w: World, r: Req): string {
  return r.named !== null && r.where === 'path' ? `/tenants/${w.tenants[r.named]}${r.resource}` : r.resource;
}

let worlds = 0;

/** A server on either engine, and its store's admin operations (on a connection of their own, as the CLI's). */
interface Engine {
  t: TestServer;
  admin: AdminStore;
  /**
   * Whether the server has seen every change made so far. SQLite's poll sees them coalesced: a change counted after
   * the last write (made when the count was `beforeLast`) means all; on PostgreSQL the replica's version says.
   */
  seen(beforeLast: number): Promise<boolean>;
  close(): Promise<void>;
}

async function sqliteEngine(): Promise<Engine> {
  const t = await startTestServer({ tenants: [] });
  const db = openDatabase(t.dbPath);
  // The server's signing key: the federation tokens made here must verify there.
  const config = parseConfig({ federation: { signing_key_file: join(t.dir, 'federation-key.json') } }, t.dir);
  return { t, admin: new Admin(db, config, 'test'), seen: async (beforeLast) => (await storeChanges(t.server)) > beforeLast, close: async () => (db.close(), t.close()) };
}

async function postgresEngine(): Promise<Engine> {
  const pg = await startPostgres();
  const url = await pg.createDatabase('isolation');
  const t = await startTestServer({ tenants: [], config: { store: { url } } });
  const pool = openPool({ ...parseConfig({}).store, url });
  return {
    t,
    admin: new PgAdmin(pool, parseConfig({ federation: { signing_key_file: join(t.dir, 'federation-key.json') } }, t.dir), 'test'),
    // Caught up with the store's version after the last write (the replica's tenantgate_store_version).
    seen: async () => (await metric(t.server, 'tenantgate_store_version')) >= ((await pool.query<{ version: number }>('SELECT version FROM store_version')).rows[0]!.version),
    close: async () => {
      await pool.end();
      await t.close();
      pg.close();
    },
  };
}

describe.each([
  ['SQLite', sqliteEngine],
  ['PostgreSQL', postgresEngine],
])('tenant isolation on %s', (_name, open) => {
  let e: Engine;
  beforeAll(async () => {
    e = await open();
  }, 60_000);
  afterAll(async () => {
    await e?.close();
  });

  it('the server decides every request as the model of the rules does, in random worlds', async () => {
    const { t, admin: a } = e;
    const seen: Record<string, number> = {};
    const KINDS = ['allow-own', 'allow-federated', 'tenant_mismatch', 'federation_denied', 'insufficient_permission', 'method_not_allowed'];
    // Random worlds reach each kind of outcome often, not always: more worlds, until every kind was seen enough.
    for (let batch = 0; batch < 4 && (batch === 0 || KINDS.some((k) => (seen[k] ?? 0) < 3)); batch++) {
      await fc.assert(
        fc.asyncProperty(worldArb.chain((w) => fc.tuple(fc.constant(w), fc.array(requestArb({ ...w, tenants: [] }), { minLength: 80, maxLength: 80 }))), async ([shape, requests]) => {
          // A world of fresh tenants (ids unique to this case), its groups' members, keys and grants.
          const n = ++worlds;
          const world: World = { ...shape, tenants: [0, 1, 2].map((i) => `w${n}-t${i}`) };
          const keys = new Map<string, string>();
          const tokens: string[] = [];
          for (const id of world.tenants) await a.tenantCreate({ id, name: id, tier: 'enterprise' });
          for (const m of world.memberships) await a.memberAdd({ tenant_id: world.tenants[m.tenant]!, user_id: m.user, group_id: m.group });
          for (const id of world.tenants) for (const user of USERS) keys.set(`${id}/${user}`, (await a.apiKeyCreate({ tenant_id: id, user_id: user })).key);
          for (const g of world.grants) {
            const r = await a.federationGrant({ source: world.tenants[g.source]!, target: world.tenants[g.target]!, resource_type: g.type, resource_id: g.id, access: g.access, expires_at: '2099-01-01T00:00:00Z' });
            tokens.push(r.token);
            if (g.revoked) await a.federationRevoke(world.tenants[g.source]!, r.grant.id);
          }
          // One last write, then wait until the server has seen every change above.
          const beforeLast = await storeChanges(t.server);
          await a.tenantUpdate(world.tenants[0]!, { billing_anchor_day: 2 });
          await waitFor(() => e.seen(beforeLast), 'the server to see the store changes');

          for (const r of requests) {
            const tenant = world.tenants[r.tenant]!;
            const headers: [string, string][] = [r.credential === 'jwt' ? bearer(await mint({ tenant, sub: r.user })) : ['x-api-key', keys.get(`${tenant}/${r.user}`)!]];
            const contextExtensions: Record<string, string> = {};
            if (r.named !== null && r.where === 'header') headers.push(['x-tenant-id', world.tenants[r.named]!]);
            if (r.named !== null && r.where === 'context') contextExtensions.tenant_id = world.tenants[r.named]!;
            if (r.grant !== null) headers.push(['x-federation-token', tokens[r.grant]!]);
            headers.push(['x-federation-source', 'spoofed'], ['x-user-id', 'spoofed']);

            const res = await t.envoy({ method: r.method, path: pathOf(world, r), headers, contextExtensions });
            const want = expected(world, r);
            const got = res.outcome === 'upstream' ? (res.headers['x-federation-source'] ? 'allow-federated' : 'allow-own') : res.outcome === 'denied' ? JSON.parse(res.body).error : 'rpc-error';
            expect(got, `${JSON.stringify(r)} in ${JSON.stringify(world)}`).toBe(want);
            seen[want] = (seen[want] ?? 0) + 1;
            if (res.outcome !== 'upstream') continue;
            expect(res.headers['x-user-id']).toEqual([r.user]);
            if (want === 'allow-own') {
              expect(res.headers['x-tenant-id']).toEqual([tenant]);
              expect(res.headers['x-federation-source']).toBeUndefined();
            } else {
              expect(res.headers['x-tenant-id']).toEqual([world.tenants[r.named!]]);
              expect(res.headers['x-federation-source']).toEqual([tenant]);
            }
          }
        }),
        // No shrinking: each case builds a world on the server; the failure message names the request and world.
        { numRuns: 6, endOnFailure: true },
      );
    }
    // Every kind of outcome was reached often enough for the property to say something about it.
    for (const kind of KINDS) {
      expect(seen[kind] ?? 0, `${kind} in ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(3);
    }
  });
});
