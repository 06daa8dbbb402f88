# Cross-tenant federation: a request that names another tenant is allowed only through a live grant (verified
# by tenantgate into input.federation) that covers the requested resource type and id and the access the
# method needs: read covers GET/HEAD/OPTIONS, write the other methods.
package tenantgate.federation

import data.tenantgate.tenant

# The tenant the request names that is not the caller's.
target := h.id if {
	h := [x | some x in tenant.mismatched][0]
}

# Resource path without a leading /tenants/{id}.
path := array.slice(input.parsed_path, 2, count(input.parsed_path)) if {
	input.parsed_path[0] == "tenants"
	count(input.parsed_path) >= 2
} else := input.parsed_path

pattern := [s | some s in split(trim(data.tenantgate.settings.federation_resource_pattern, "/"), "/")]

# {"type": ..., "id": ... or null} from the path and the pattern; the id may be absent (a collection).
resource := {"type": path[type_at], "id": resource_id} if {
	count(path) >= count(pattern) - 1
	count(path) <= count(pattern)
	mismatches := [i | some i, seg in pattern; i < count(path); not startswith(seg, "{"); path[i] != seg]
	count(mismatches) == 0
	some type_at, seg in pattern
	seg == "{resource_type}"
	type_at < count(path)
}

resource_id := path[i] if {
	some i, seg in pattern
	seg == "{resource_id}"
	i < count(path)
} else := null

# No null goes to sprintf: opa-wasm's JavaScript sprintf throws on one (OPA's own prints "null").
resource_name := sprintf("%s %s", [resource.type, resource.id]) if is_string(resource.id)

else := sprintf("%s (the collection)", [resource.type])

access := "read" if input.attributes.request.http.method in {"GET", "HEAD", "OPTIONS"}

else := "write"

grant := input.federation.grant if input.federation.valid

covers if {
	grant.target_tenant == target
	grant.resource_type in {"*", resource.type}
	grant.resource_id in {null, resource.id}
	grant.access == access
}

# Why a federated request is refused (only when a federation token was presented).
denial := input.federation.reason if {
	not input.federation.valid
} else := sprintf("the grant is for tenant %s, not %s", [grant.target_tenant, target]) if {
	grant.target_tenant != target
} else := "the request does not name a federated resource" if {
	not resource
} else := sprintf("the grant does not cover %s", [resource_name]) if {
	not grant.resource_type in {"*", resource.type}
} else := sprintf("the grant does not cover %s", [resource_name]) if {
	not grant.resource_id in {null, resource.id}
} else := sprintf("the grant allows %s, not %s", [grant.access, access]) if {
	grant.access != access
} else := sprintf("tenant %s is not active", [target]) if {
	input.target_tenant.status != "active"
}

allowed if {
	covers
	not denial
}
