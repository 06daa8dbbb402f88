# The decision entrypoint (tenantgate/authz/decision). Input and decision shapes: DESIGN.md section 4.
# Denials are tried in order; the first that applies is the answer. The chain is total; should it ever be
# undefined, the engine fails closed (503 policy_error).
package tenantgate.authz

import data.tenantgate.data_access
import data.tenantgate.federation
import data.tenantgate.genai
import data.tenantgate.permissions
import data.tenantgate.routes
import data.tenantgate.routing
import data.tenantgate.tenant

authenticated if input.identity.kind != "anonymous"

names_other_tenant if count(tenant.mismatched) > 0

has_federation_token if input.federation != null

# Every tenant the request names, other than the caller's, is the one grant target.
single_target if count({h.id | some h in tenant.mismatched}) == 1

decision := deny(401, "unauthenticated", "credentials are required") if {
	not authenticated
	not routes.public
} else := {"allowed": true} if {
	not authenticated
} else := deny(403, "unknown_tenant", sprintf("tenant %s is not known", [input.identity.tenant_id])) if {
	tenant.unknown
} else := deny(403, "tenant_suspended", sprintf("tenant %s is suspended", [input.identity.tenant_id])) if {
	tenant.suspended
} else := deny(403, "tenant_mismatch", mismatch_reason) if {
	names_other_tenant
	not has_federation_token
} else := deny(403, "federation_denied", "the request names more than one other tenant") if {
	names_other_tenant
	not single_target
} else := deny(403, "federation_denied", federation_reason) if {
	names_other_tenant
	not federation.allowed
} else := deny(405, "method_not_allowed", sprintf("%s is not allowed on this path", [input.attributes.request.http.method])) if {
	routes.method_not_allowed
	not routes.public
} else := deny(403, "route_not_allowed", "this route is not open to tenants") if {
	routes.unmatched_denied
} else := deny(403, "insufficient_permission", sprintf("missing permission %s", [permission])) if {
	not routes.public
	permission := routes.required_permission
	not permissions.granted(permission)
} else := deny(403, "insufficient_permission", "the API key's scopes do not cover this route") if {
	# A route open to any identity is not open to a key whose scopes limit it: scopes are an allow-list.
	not routes.public
	not routes.required_permission
	count(input.identity.scopes) > 0
} else := deny(400, "bad_request", sprintf("unknown data classification %s", [level])) if {
	some level in data_access.unknown_level
} else := deny(403, "data_access_denied", sprintf("data classified %s needs access level %s; the user has %s", [level, level, input.effective.data_access_level])) if {
	some level in data_access.denied
} else := deny(400, "bad_request", genai.bad_body) if {
	genai.bad_body
} else := deny(403, "model_not_allowed", sprintf("model %s is not allowed", [genai.model])) if {
	genai.model_denied
} else := deny(403, "token_limit_exceeded", sprintf("max_tokens %v exceeds the limit of %v", [genai.requested_tokens, genai.token_limit])) if {
	genai.tokens_exceeded
} else := object.union_n([{"allowed": true}, provider_part, federation_part])

# Several hints may disagree; name one of them (sets iterate in sorted order, so the choice is stable).
mismatch_reason := sprintf("the request names tenant %s (%s) but the credential is for tenant %s", [h.id, h.source, input.identity.tenant_id]) if {
	h := [x | some x in tenant.mismatched][0]
}

federation_reason := federation.denial if federation.denial

else := "the federation grant does not cover this request"

provider_part := {"upstream_provider": routing.provider} if routing.provider

else := {}

federation_part := {"federation": {
	"source": input.identity.tenant_id,
	"target": federation.target,
	"access": federation.access,
	"grant_id": federation.grant.id,
}} if {
	names_other_tenant
	federation.allowed
} else := {}

deny(status, code, reason) := {
	"allowed": false,
	"http_status": status,
	"code": code,
	"reason": reason,
}
