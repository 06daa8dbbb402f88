# Tenant rules: the identity's tenant is authoritative; it must exist, be active, and agree with every tenant
# the request names (x-tenant-id header, /tenants/{id}/ path, host, context_extensions.tenant_id).
package tenantgate.tenant

# The identity's tenant is not in the store.
# Read by id (not `input.tenant == null`), so that only the fields the policy uses go into its input (opa deps).
unknown if not input.tenant.id

suspended if input.tenant.status == "suspended"

# A tenant named by the request that is not the identity's tenant.
mismatched contains hint if {
	some hint in input.request_tenant_hints
	hint.id != input.identity.tenant_id
}
