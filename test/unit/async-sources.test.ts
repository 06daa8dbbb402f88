// The phases on an asynchronous store (PostgreSQL): a miss waits for its query without holding up the checks that
// hit, concurrent misses for one key share one query, and a change drops exactly the entries it affects.
import { describe, expect, it } from 'vitest';
import { ContextLoader, type GroupSource, type TenantSource } from '../../src/tenancy/context.js';
import { ApiKeyVerifier, type ApiKeySource } from '../../src/identity/apikey.js';
import { parseConfig } from '../../src/core/config.js';
import type { Tenant } from '../../src/core/tenants.js';
import type { MemberGroupRow } from '../../src/core/groups.js';
import { memberGroupFromRow } from '../../src/store/groups.js';
import { sha256Hex } from '../../src/util/digest.js';
import type { ApiKeyRecord } from '../../src/core/api-keys.js';

const tenant = (id: string): Tenant => ({ id, name: id, tier: 'premium', status: 'active', upstream: null, billing_anchor_day: null, created_at: '', updated_at: '' });
const row = (id: string): MemberGroupRow => ({
  tenant_id: 't', id, name: id, description: '', type: 'role', permissions: '[{"resource":"*","actions":["read"]}]', data_access_rules: '{}', data_access_level: 'public',
  resource_limits: '{}', routing: '{}', active: 1, created_at: '', updated_at: '', role: 'member', membership_expires_at: null,
});

/** A store that answers later, counting its queries. */
function slowStore() {
  const calls = { tenants: 0, groups: 0, keys: 0 };
  const later = <T>(v: T) => new Promise<T>((r) => setTimeout(() => r(v), 20));
  const tenants: TenantSource = { get: (id) => (calls.tenants++, later(id === 'nope' ? undefined : tenant(id))) };
  const groups: GroupSource = { activeGroupRowsOf: () => (calls.groups++, later([row('viewer')])), get: () => later(undefined), fromRow: memberGroupFromRow };
  const key: ApiKeyRecord = { id: '0123456789abcdef', tenant_id: 't', user_id: 'svc', name: '', scopes: [], tier: null, created_at: '', expires_at: null, revoked_at: null, rotated_to: null, last_used_at: null, secret_hash: sha256Hex('s'.repeat(43)) };
  const keys: ApiKeySource = { get: (id) => (calls.keys++, later(id === key.id ? key : undefined)) };
  return { calls, tenants, groups, keys };
}

describe('an asynchronous store behind the caches', () => {
  it('concurrent misses for one tenant, user or key share one query; hits answer at once', async () => {
    const s = slowStore();
    const loader = new ContextLoader(parseConfig({}), s.tenants, s.groups);
    const ts = await Promise.all(Array.from({ length: 10 }, () => loader.tenant('t')));
    expect(new Set(ts).size).toBe(1);
    expect(s.calls.tenants).toBe(1);
    // A hit is not a promise: nothing waits.
    expect(loader.tenant('t')).toBe(ts[0]);
    const ctxs = await Promise.all(Array.from({ length: 10 }, () => loader.user(ts[0]!, 'alice', [])));
    expect(new Set(ctxs).size).toBe(1);
    expect(s.calls.groups).toBe(1);
    expect(await loader.tenant('nope')).toBeNull();

    const verifier = new ApiKeyVerifier(s.keys, 100, () => undefined);
    const key = `tgk_0123456789abcdef_${'s'.repeat(43)}`;
    const ids = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(key)));
    expect(ids.every((i) => 'subject' in i && i.subject === 'svc')).toBe(true);
    expect(s.calls.keys).toBe(1);
    expect(verifier.verify(key)).not.toBeInstanceOf(Promise);
    // A wrong secret for a known id: refused from the cache, no query.
    expect(verifier.verify(`tgk_0123456789abcdef_${'x'.repeat(43)}`)).toMatchObject({ code: 'invalid_api_key' });
    expect(s.calls.keys).toBe(1);
  });

  it('a change drops exactly the entries it affects', async () => {
    const s = slowStore();
    const loader = new ContextLoader(parseConfig({}), s.tenants, s.groups);
    const t = (await loader.tenant('t'))!;
    const u = (await loader.tenant('u'))!;
    for (const [tn, user] of [[t, 'alice'], [t, 'bob'], [u, 'alice']] as const) await loader.user(tn, user, []);
    const before = s.calls.groups;
    loader.invalidateUser('t', 'alice');
    expect(loader.user(t, 'bob', [])).not.toBeInstanceOf(Promise); // still cached
    expect(loader.user(u, 'alice', [])).not.toBeInstanceOf(Promise); // another tenant's alice too
    expect(loader.user(t, 'alice', [])).toBeInstanceOf(Promise); // hers went
    await loader.user(t, 'alice', []);
    expect(s.calls.groups).toBe(before + 1);
    loader.invalidateTenant('t');
    expect(loader.tenant('t')).toBeInstanceOf(Promise);
    expect(loader.tenant('u')).not.toBeInstanceOf(Promise);
    expect(loader.user(u, 'alice', [])).not.toBeInstanceOf(Promise);
  });
});
