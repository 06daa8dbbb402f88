// Who may manage a tenant's own rules besides the platform operator: an admin or owner of one of the tenant's
// groups, with the same credential they call the API with (a JWT or an API key), verified as a check verifies it.
import { Denial, type Identity } from '../core/types.js';
import type { TenantAdminCheck } from '../admin/api.js';
import type { JwtVerifier } from '../identity/jwt.js';
import type { ApiKeyVerifier } from '../identity/apikey.js';
import type { AdminStore } from '../core/admin-store.js';

export function tenantAdminCheck(jwt: JwtVerifier, apiKeys: ApiKeyVerifier, store: AdminStore): TenantAdminCheck {
  return async ({ bearer, apiKey }) => {
    let id: Identity | Denial;
    if (apiKey) id = await apiKeys.verify(apiKey);
    else if (bearer) id = await jwt.verify(bearer);
    else return null;
    if (id instanceof Denial || !id.tenant_id || !id.subject) return null;
    const now = Date.now();
    const roles = await store.groups.memberships(id.tenant_id, id.subject);
    const admin = roles.some((m) => (m.role === 'admin' || m.role === 'owner') && (m.expires_at === null || Date.parse(m.expires_at) > now));
    return admin ? { tenant: id.tenant_id, user: id.subject } : null;
  };
}
