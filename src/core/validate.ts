// What a change to the store must satisfy, whatever the engine: the checks both SQLite and PostgreSQL run before
// they write, each failing with a StoreError that names the field and what it takes.
import { randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';
import type { FederationGrant } from './federation.js';
import { TENANT_ID_PATTERN, TIERS, isValidTenantId, type Tier } from './tenants.js';
import { ROLES, type MembershipRole } from './groups.js';
import { LIMIT_FIELDS, type LimitSet } from './limits.js';

export function checkTenantId(id: string): void {
  if (!isValidTenantId(id)) throw new StoreError(`invalid tenant id "${id}": must match ${TENANT_ID_PATTERN.source}`, 'invalid');
}

export function checkTier(tier: string): asserts tier is Tier {
  if (!TIERS.includes(tier as Tier)) throw new StoreError(`invalid tier "${tier}": one of ${TIERS.join(', ')}`, 'invalid');
}

export function checkTenantName(name: string): void {
  if (!name.trim()) throw new StoreError('tenant name must not be empty', 'invalid');
}

export function checkUpstream(upstream: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(upstream)) {
    throw new StoreError(`invalid upstream "${upstream}": a cluster name (letters, digits, "_", ".", ":", "-")`, 'invalid');
  }
}

export function checkAnchorDay(d: number | null): void {
  if (d !== null && (!Number.isInteger(d) || d < 1 || d > 28)) throw new StoreError(`invalid billing anchor day ${d}: 1 to 28`, 'invalid');
}

/** An expiry as ISO 8601 in UTC, or null; anything unreadable is refused. */
export function isoExpiry(text: string | null | undefined): string | null {
  if (!text) return null;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new StoreError(`invalid expiry "${text}": use ISO 8601`, 'invalid');
  return new Date(t).toISOString();
}

export function checkUser(user: string): void {
  if (!user.trim()) throw new StoreError('user must not be empty', 'invalid');
}

export function checkRole(role: string): asserts role is MembershipRole {
  if (!ROLES.includes(role as MembershipRole)) throw new StoreError(`invalid role "${role}": one of ${ROLES.join(', ')}`, 'invalid');
}

const SCOPE = /^(\*|[a-z0-9][a-z0-9_.-]*):(\*|[a-z0-9][a-z0-9_.-]*)$/;

export function checkScopes(scopes: readonly string[]): void {
  for (const s of scopes) if (!SCOPE.test(s)) throw new StoreError(`invalid scope "${s}": use action:resource (e.g. read:completions, read:*)`, 'invalid');
}

const RESOURCE = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;

/** A new federation grant from its fields, checked (the tenants' existence is the store's to check). */
export function newGrant(o: { source: string; target: string; resource_type: string; resource_id?: string | null; access: string; expires_at: string }): FederationGrant {
  const expires = checkGrant(o);
  return {
    id: `fg_${randomBytes(8).toString('hex')}`,
    source_tenant: o.source,
    target_tenant: o.target,
    resource_type: o.resource_type,
    resource_id: o.resource_id ?? null,
    access: o.access as FederationGrant['access'],
    created_at: new Date().toISOString(),
    expires_at: expires,
    revoked_at: null,
  };
}

/** A federation grant's fields (the tenants' existence is the store's to check); its expiry as ISO 8601. */
function checkGrant(o: { source: string; target: string; resource_type: string; resource_id?: string | null; access: string; expires_at: string }): string {
  if (o.source === o.target) throw new StoreError('a federation grant needs two different tenants', 'invalid');
  if (o.access !== 'read' && o.access !== 'write') throw new StoreError(`invalid access "${o.access}": read or write`, 'invalid');
  if (!RESOURCE.test(o.resource_type)) throw new StoreError(`invalid resource type "${o.resource_type}"`, 'invalid');
  if (o.resource_id != null && !RESOURCE.test(o.resource_id)) throw new StoreError(`invalid resource id "${o.resource_id}"`, 'invalid');
  const exp = Date.parse(o.expires_at);
  if (Number.isNaN(exp)) throw new StoreError(`invalid expiry "${o.expires_at}": use ISO 8601 or a duration such as 7d`, 'invalid');
  if (exp <= Date.now()) throw new StoreError('the grant would already be expired', 'invalid');
  return new Date(exp).toISOString();
}

export function checkLimits(change: LimitSet): void {
  for (const f of LIMIT_FIELDS) {
    const v = change[f];
    if (v != null && (!Number.isFinite(v) || v <= 0 || (f !== 'rate' && !Number.isInteger(v)))) {
      throw new StoreError(`invalid ${f.replace('_', '-')} ${v}: a positive ${f === 'rate' ? 'number' : 'whole number'}`, 'invalid');
    }
  }
}

/** The limits after a change: the named fields set (null clears one), the others as they were. */
export function mergeLimits(before: LimitSet | undefined, change: LimitSet): Record<string, number | null> {
  const row: Record<string, number | null> = {};
  for (const f of LIMIT_FIELDS) row[f] = change[f] !== undefined ? change[f]! : (before?.[f] ?? null);
  return row;
}
