# The decision entrypoint (tenantgate/authz/decision). Input and decision shapes: DESIGN.md section 4.
# Denials are tried in order; the first that applies is the answer. The chain is total; should it ever be
# undefined, the engine fails closed (503 policy_error).
package tenantgate.authz

import data.tenantgate.tenant

authenticated if input.identity.kind != "anonymous"

# Routes that anonymous callers may use: data.tenantgate.public_paths, or a route marked public in Envoy's
# per-route context_extensions (trusted configuration, never visible to clients).
public_route if input.attributes.contextExtensions.public == "true"

public_route if {
	some prefix in data.tenantgate.public_paths
	path_has_prefix(input.parsed_path, prefix)
}

path_has_prefix(segments, prefix) if {
	wanted := [s | some s in split(trim(prefix, "/"), "/"); s != ""]
	count(wanted) <= count(segments)
	array.slice(segments, 0, count(wanted)) == wanted
}

decision := deny(401, "unauthenticated", "credentials are required") if {
	not authenticated
	not public_route
} else := {"allowed": true} if {
	not authenticated
} else := deny(403, "unknown_tenant", sprintf("tenant %s is not known", [input.identity.tenant_id])) if {
	tenant.unknown
} else := deny(403, "tenant_suspended", sprintf("tenant %s is suspended", [input.identity.tenant_id])) if {
	tenant.suspended
} else := deny(403, "tenant_mismatch", mismatch_reason) if {
	count(tenant.mismatched) > 0
} else := {"allowed": true}

# Several hints may disagree; name one of them (sets iterate in sorted order, so the choice is stable).
mismatch_reason := sprintf("the request names tenant %s (%s) but the credential is for tenant %s", [h.id, h.source, input.identity.tenant_id]) if {
	h := [x | some x in tenant.mismatched][0]
}

deny(status, code, reason) := {
	"allowed": false,
	"http_status": status,
	"code": code,
	"reason": reason,
}
