// Effective contexts are interned by what they are built from: users (and tenants) with the same groups share one
// object, and any difference in groups, role, tier, upstream or expiry gives another.
import { describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { GroupRepository } from '../../src/store/groups.js';
import { ContextLoader } from '../../src/tenancy/context.js';
import { parseConfig } from '../../src/core/config.js';
import type { Tenant } from '../../src/core/tenants.js';
import type { EffectiveContext } from '../../src/core/limits.js';

function setup() {
  const db = openDatabase(':memory:');
  const tenants = new TenantRepository(db);
  const groups = new GroupRepository(db);
  for (const [id, tier, upstream] of [['acme', 'premium', null], ['globex', 'premium', null], ['initech', 'basic', null], ['silo', 'premium', 'silo_cluster']] as const) {
    tenants.create({ id, name: id, tier, upstream });
  }
  const loader = new ContextLoader(parseConfig({}), tenants, groups);
  // SQLite answers at once: no promise on this path.
  const ctx = (tenant: string, user: string) => loader.user(loader.tenant(tenant) as Tenant, user, []) as EffectiveContext;
  return { groups, loader, ctx };
}

describe('ContextLoader', () => {
  it('gives users with the same groups one shared context, across tenants too', () => {
    const { groups, ctx } = setup();
    for (const t of ['acme', 'globex', 'initech', 'silo']) {
      groups.addMembership({ tenant_id: t, user_id: 'a', group_id: 'analyst' });
      groups.addMembership({ tenant_id: t, user_id: 'b', group_id: 'analyst' });
    }
    groups.addMembership({ tenant_id: 'acme', user_id: 'c', group_id: 'admin' });
    groups.addMembership({ tenant_id: 'acme', user_id: 'd', group_id: 'analyst', role: 'owner' });
    groups.addMembership({ tenant_id: 'acme', user_id: 'e', group_id: 'analyst', expires_at: '2099-01-01T00:00:00Z' });

    const shared = ctx('acme', 'a');
    expect(ctx('acme', 'b')).toBe(shared);
    expect(ctx('globex', 'a')).toBe(shared); // same default groups, same tier, no upstream
    expect(shared.headers['x-user-groups']).toBe('analyst');
    // Different groups, tier, upstream, role or expiry: another object.
    for (const other of [ctx('acme', 'c'), ctx('initech', 'a'), ctx('silo', 'a'), ctx('acme', 'd'), ctx('acme', 'e')]) expect(other).not.toBe(shared);
    expect(ctx('silo', 'a').headers['x-tenant-upstream']).toBe('silo_cluster');
    expect(ctx('acme', 'e').valid_until).toBe(Date.parse('2099-01-01T00:00:00Z'));
  });

  it('tenants whose group of the same id differs in content get contexts of their own', () => {
    const { groups, ctx } = setup();
    groups.apply('globex', { id: 'viewer', name: 'Viewers', type: 'role', permissions: [{ resource: 'reports', actions: ['read'] }] });
    groups.apply('acme', { id: 'viewer', name: 'Readers', type: 'role', permissions: [{ resource: '*', actions: ['read'] }] });
    for (const t of ['acme', 'globex']) groups.addMembership({ tenant_id: t, user_id: 'a', group_id: 'viewer' });
    const acme = ctx('acme', 'a');
    const globex = ctx('globex', 'a');
    expect(globex).not.toBe(acme);
    expect(acme.permissions).toEqual(['read:*']);
    expect(globex.permissions).toEqual(['read:reports']);
  });

  it('a changed group gives new contexts after invalidation', () => {
    const { groups, loader, ctx } = setup();
    groups.addMembership({ tenant_id: 'acme', user_id: 'a', group_id: 'viewer' });
    groups.addMembership({ tenant_id: 'globex', user_id: 'a', group_id: 'viewer' });
    const before = ctx('acme', 'a');
    groups.apply('acme', { id: 'viewer', name: 'Viewer', type: 'role', permissions: [{ resource: 'reports', actions: ['read'] }] });
    loader.invalidate();
    const after = ctx('acme', 'a');
    expect(after).not.toBe(before);
    expect(after.permissions).toEqual(['read:reports']);
    expect(ctx('globex', 'a').permissions).toEqual(before.permissions);
  });
});

describe('ContextLoader, the context last found for a caller', () => {
  it('is given again only while nothing changed: a membership removed, a tenant changed, or an expiry passed takes effect', () => {
    const { groups, loader } = setup();
    const alice = Object.freeze({ subject: 'alice' });
    const ctx = (caller: object = alice) => loader.user(loader.tenant('acme') as Tenant, 'alice', [], caller) as EffectiveContext;
    groups.addMembership({ tenant_id: 'acme', user_id: 'alice', group_id: 'admin' });
    const admin = ctx();
    expect(ctx()).toBe(admin);
    expect(ctx()).toBe(admin);
    expect(admin.headers['x-user-groups']).toBe('admin');
    // Another user's change moves the generation too: the caller's context is looked up again (and is the same).
    loader.invalidateUser('acme', 'bob');
    expect(ctx()).toBe(admin);
    groups.removeMembership('acme', 'alice', 'admin');
    loader.invalidateUser('acme', 'alice');
    expect(ctx().headers['x-user-groups']).not.toBe('admin');
    expect(ctx()).toBe(ctx());
    // A membership that expires: the context ends with it, memo or not.
    groups.addMembership({ tenant_id: 'acme', user_id: 'alice', group_id: 'admin', expires_at: new Date(Date.now() + 60_000).toISOString() });
    loader.invalidateTenant('acme');
    expect(ctx().headers['x-user-groups']).toContain('admin');
    expect(ctx().headers['x-user-groups']).toContain('admin');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 120_000 });
    try {
      expect(ctx().headers['x-user-groups']).not.toContain('admin');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('GroupRepository.activeGroupRowsOf', () => {
  it('keeps the order of joining when two joins share a millisecond', () => {
    const { groups } = setup();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-11-23T06:00:00.000Z') });
    try {
      // Joined in reverse alphabetical order, within the same millisecond (joined_at ties).
      for (const g of ['viewer', 'analyst', 'admin']) groups.addMembership({ tenant_id: 'acme', user_id: 'u', group_id: g });
    } finally {
      vi.useRealTimers();
    }
    expect(groups.memberships('acme', 'u').map((m) => m.joined_at)).toEqual(Array(3).fill('2026-11-23T06:00:00.000Z'));
    expect(groups.activeGroupRowsOf('acme', 'u').map((g) => g.id)).toEqual(['viewer', 'analyst', 'admin']);
  });
});
