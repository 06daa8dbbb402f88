# The OPA-Envoy equivalent of tenantgate's core decision, for the bench: the same JWT verification (keys in data),
# the same tenant existence / status / mismatch rules, and the same headers. Path: tenantgate_bench/allow.
# Data (written by the bench runner): data.bench.verify ({"cert": <JWKS as a JSON string>}), data.bench.issuer,
# data.bench.audience, data.bench.tenants ({id: {"tier", "status"}}).
package tenantgate_bench

headers := input.attributes.request.http.headers

token := t if {
	auth := headers.authorization
	startswith(auth, "Bearer ")
	t := substring(auth, 7, -1)
}

claims := c if {
	[valid, _, c] := io.jwt.decode_verify(token, object.union(data.bench.verify, {"iss": data.bench.issuer, "aud": data.bench.audience}))
	valid
}

tenant_id := claims.tenant_id

tenant := data.bench.tenants[tenant_id]

path_segments := [s | some s in split(split(input.attributes.request.http.path, "?")[0], "/"); s != ""]

hints contains headers["x-tenant-id"] if headers["x-tenant-id"]

hints contains path_segments[1] if path_segments[0] == "tenants"

mismatch if {
	some h in hints
	h != tenant_id
}

deny(status, code) := {"allowed": false, "http_status": status, "body": json.marshal({"error": code}), "headers": {"content-type": "application/json"}}

allow := deny(401, "unauthenticated") if {
	not token
} else := deny(401, "invalid_token") if {
	not claims
} else := deny(403, "unknown_tenant") if {
	not tenant
} else := deny(403, "tenant_suspended") if {
	tenant.status == "suspended"
} else := deny(403, "tenant_mismatch") if {
	mismatch
} else := {
	"allowed": true,
	"headers": {
		"x-tenant-id": tenant_id,
		"x-tenant-tier": tenant.tier,
		"x-user-id": claims.sub,
		"x-tenant-partition": concat("", ["TENANT#", tenant_id]),
		"x-tenant-storage-prefix": concat("", ["tenant-", tenant_id, "/"]),
	},
	"request_headers_to_remove": ["x-user-groups", "x-primary-group", "x-data-access-level"],
}
