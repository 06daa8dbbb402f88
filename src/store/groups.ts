// Groups and memberships of a tenant in SQLite (the documents themselves are validated in core/groups.ts).
import type { Db } from './database.js';
import { StoreError } from '../core/errors.js';
import { parseGroup, type Group, type GroupRow, type MemberGroup, type MemberGroupRow, type Membership, type MembershipRole } from '../core/groups.js';
import type { GroupSource } from '../tenancy/context.js';
import { checkRole, checkUser, isoExpiry } from '../core/validate.js';

// Field by field rather than by rest and spread over the row, which copy it property by property on V8's generic
// path (measured with bench/miss-path.mjs).
export function groupFromRow(r: GroupRow): Group {
  return {
    tenant_id: r.tenant_id,
    id: r.id,
    name: r.name,
    description: r.description,
    type: r.type,
    permissions: JSON.parse(r.permissions),
    data_access_rules: JSON.parse(r.data_access_rules),
    data_access_level: r.data_access_level,
    resource_limits: JSON.parse(r.resource_limits),
    routing: JSON.parse(r.routing),
    active: r.active === 1,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export function memberGroupFromRow(r: MemberGroupRow): MemberGroup {
  const g = groupFromRow(r) as MemberGroup;
  g.role = r.role;
  g.membership_expires_at = r.membership_expires_at;
  return g;
}

const COLS = 'tenant_id, id, name, description, type, permissions, data_access_rules, data_access_level, resource_limits, routing, active, created_at, updated_at';

export class GroupRepository implements GroupSource {
  readonly fromRow = memberGroupFromRow;

  private readonly one;
  private readonly ofTenant;
  private readonly upsert;
  private readonly remove;
  private readonly tenantExists;
  private readonly member;
  private readonly addMember;
  private readonly removeMember;
  private readonly membersOfTenant;
  private readonly membersOfUser;
  private readonly userGroups;

  constructor(db: Db) {
    this.one = db.prepare<[string, string], GroupRow>(`SELECT ${COLS} FROM groups WHERE tenant_id = ? AND id = ?`);
    this.ofTenant = db.prepare<[string], GroupRow>(`SELECT ${COLS} FROM groups WHERE tenant_id = ? ORDER BY id`);
    this.upsert = db.prepare(
      `INSERT INTO groups (${COLS}) VALUES (@tenant_id, @id, @name, @description, @type, @permissions, @data_access_rules, @data_access_level, @resource_limits, @routing, @active, @created_at, @updated_at)
       ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, description = excluded.description, type = excluded.type,
         permissions = excluded.permissions, data_access_rules = excluded.data_access_rules, data_access_level = excluded.data_access_level,
         resource_limits = excluded.resource_limits, routing = excluded.routing, active = excluded.active, updated_at = excluded.updated_at`,
    );
    this.remove = db.prepare('DELETE FROM groups WHERE tenant_id = ? AND id = ?');
    this.tenantExists = db.prepare<[string], { id: string }>('SELECT id FROM tenants WHERE id = ?');
    this.member = db.prepare<[string, string, string], Membership>('SELECT * FROM memberships WHERE tenant_id = ? AND user_id = ? AND group_id = ?');
    this.addMember = db.prepare(
      `INSERT INTO memberships (tenant_id, user_id, group_id, role, joined_at, expires_at) VALUES (@tenant_id, @user_id, @group_id, @role, @joined_at, @expires_at)
       ON CONFLICT (tenant_id, user_id, group_id) DO UPDATE SET role = excluded.role, expires_at = excluded.expires_at`,
    );
    this.removeMember = db.prepare('DELETE FROM memberships WHERE tenant_id = ? AND user_id = ? AND group_id = ?');
    this.membersOfTenant = db.prepare<[string], Membership>('SELECT * FROM memberships WHERE tenant_id = ? ORDER BY user_id, group_id');
    this.membersOfUser = db.prepare<[string, string], Membership>('SELECT * FROM memberships WHERE tenant_id = ? AND user_id = ? ORDER BY group_id');
    this.userGroups = db.prepare<[string, string, string], MemberGroupRow>(
      `SELECT ${COLS.split(', ').map((c) => `g.${c}`).join(', ')}, m.role AS role, m.expires_at AS membership_expires_at
         FROM memberships m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
        WHERE m.tenant_id = ? AND m.user_id = ? AND g.active = 1 AND (m.expires_at IS NULL OR m.expires_at > ?)
        ORDER BY m.joined_at, m.rowid`, // rowid: two joins in the same millisecond keep the order they were made in
    );
  }

  private requireTenant(tenantId: string): void {
    if (!this.tenantExists.get(tenantId)) throw new StoreError(`unknown tenant ${tenantId}`, 'not_found');
  }

  get(tenantId: string, id: string): Group | undefined {
    const r = this.one.get(tenantId, id);
    return r && groupFromRow(r);
  }

  list(tenantId: string): Group[] {
    this.requireTenant(tenantId);
    return this.ofTenant.all(tenantId).map(groupFromRow);
  }

  /** Creates or replaces a group from a document; returns it with whether it existed before. */
  apply(tenantId: string, doc: unknown): { group: Group; before: Group | undefined } {
    this.requireTenant(tenantId);
    const g = parseGroup(doc);
    const before = this.get(tenantId, g.id);
    const now = new Date().toISOString();
    this.upsert.run({
      tenant_id: tenantId,
      id: g.id,
      name: g.name,
      description: g.description,
      type: g.type,
      permissions: JSON.stringify(g.permissions),
      data_access_rules: JSON.stringify(g.data_access_rules),
      data_access_level: g.data_access_level,
      resource_limits: JSON.stringify(g.resource_limits),
      routing: JSON.stringify(g.routing),
      active: g.active ? 1 : 0,
      created_at: before?.created_at ?? now,
      updated_at: now,
    });
    return { group: this.get(tenantId, g.id)!, before };
  }

  delete(tenantId: string, id: string): Group {
    const g = this.get(tenantId, id);
    if (!g) throw new StoreError(`unknown group ${id} in tenant ${tenantId}`, 'not_found');
    this.remove.run(tenantId, id);
    return g;
  }

  addMembership(m: { tenant_id: string; user_id: string; group_id: string; role?: MembershipRole; expires_at?: string | null }): Membership {
    this.requireTenant(m.tenant_id);
    if (!this.get(m.tenant_id, m.group_id)) throw new StoreError(`unknown group ${m.group_id} in tenant ${m.tenant_id}`, 'not_found');
    checkUser(m.user_id);
    const role = m.role ?? 'member';
    checkRole(role);
    const expires = isoExpiry(m.expires_at);
    const existing = this.member.get(m.tenant_id, m.user_id, m.group_id);
    this.addMember.run({ tenant_id: m.tenant_id, user_id: m.user_id, group_id: m.group_id, role, joined_at: existing?.joined_at ?? new Date().toISOString(), expires_at: expires });
    return this.member.get(m.tenant_id, m.user_id, m.group_id)!;
  }

  removeMembership(tenantId: string, userId: string, groupId: string): Membership {
    const m = this.member.get(tenantId, userId, groupId);
    if (!m) throw new StoreError(`${userId} is not a member of ${groupId} in tenant ${tenantId}`, 'not_found');
    this.removeMember.run(tenantId, userId, groupId);
    return m;
  }

  memberships(tenantId: string, userId?: string): Membership[] {
    this.requireTenant(tenantId);
    return userId ? this.membersOfUser.all(tenantId, userId) : this.membersOfTenant.all(tenantId);
  }

  /** The user's active groups with live memberships, oldest membership first, as stored (JSON columns unparsed:
   *  the context loader parses them, with memberGroupFromRow, only when it builds a context). */
  activeGroupRowsOf(tenantId: string, userId: string, now = new Date()): MemberGroupRow[] {
    return this.userGroups.all(tenantId, userId, now.toISOString());
  }
}
