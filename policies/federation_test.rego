package tenantgate.federation_test

import data.tenantgate.federation

grant := {"id": "fg_1", "source_tenant": "acme", "target_tenant": "globex", "resource_type": "documents", "resource_id": null, "access": "read"}

inp(method, path, g) := {
	"attributes": {"request": {"http": {"method": method}}},
	"parsed_path": [s | some s in split(trim(path, "/"), "/"); s != ""],
	"identity": {"tenant_id": "acme"},
	"request_tenant_hints": [{"source": "header", "id": "globex"}],
	"federation": {"valid": true, "reason": null, "grant": g},
	"target_tenant": {"id": "globex", "status": "active"},
}

test_resource_from_path if {
	federation.resource == {"type": "documents", "id": "42"} with input as inp("GET", "/api/v1/documents/42", grant)
	federation.resource == {"type": "documents", "id": null} with input as inp("GET", "/api/v1/documents", grant)
	federation.resource == {"type": "documents", "id": "42"} with input as inp("GET", "/tenants/globex/api/v1/documents/42", grant)
	not federation.resource with input as inp("GET", "/other/v1/documents/42", grant)
	not federation.resource with input as inp("GET", "/api/v1/documents/42/extra", grant)
}

test_access_by_method if {
	federation.access == "read" with input as inp("HEAD", "/api/v1/documents/1", grant)
	federation.access == "read" with input as inp("OPTIONS", "/api/v1/documents/1", grant)
	federation.access == "write" with input as inp("PUT", "/api/v1/documents/1", grant)
}

test_type_wide_grant_covers_every_id if {
	federation.allowed with input as inp("GET", "/api/v1/documents/7", grant)
}

test_single_resource_grant if {
	one := object.union(grant, {"resource_id": "42"})
	federation.allowed with input as inp("GET", "/api/v1/documents/42", one)
	federation.denial == "the grant does not cover documents 43" with input as inp("GET", "/api/v1/documents/43", one)
	federation.denial == "the grant does not cover documents (the collection)" with input as inp("GET", "/api/v1/documents", one)
}

test_wrong_type if {
	federation.denial == "the grant does not cover invoices 1" with input as inp("GET", "/api/v1/invoices/1", grant)
}

test_star_type if {
	federation.allowed with input as inp("GET", "/api/v1/invoices/1", object.union(grant, {"resource_type": "*"}))
}

test_write_grant_covers_writes_only if {
	w := object.union(grant, {"access": "write"})
	federation.allowed with input as inp("POST", "/api/v1/documents", w)
	federation.denial == "the grant allows write, not read" with input as inp("GET", "/api/v1/documents", w)
}

test_grant_for_another_target if {
	other := object.union(grant, {"target_tenant": "initech"})
	federation.denial == "the grant is for tenant initech, not globex" with input as inp("GET", "/api/v1/documents/1", other)
}

test_not_a_resource_path if {
	federation.denial == "the request does not name a federated resource" with input as inp("GET", "/healthz", grant)
}

test_inactive_target if {
	i := json.patch(inp("GET", "/api/v1/documents/1", grant), [{"op": "replace", "path": "/target_tenant/status", "value": "suspended"}])
	federation.denial == "tenant globex is not active" with input as i
}

test_invalid_token_reason if {
	i := json.patch(inp("GET", "/api/v1/documents/1", grant), [{"op": "replace", "path": "/federation", "value": {"valid": false, "reason": "the federation token belongs to another tenant", "grant": null}}])
	federation.denial == "the federation token belongs to another tenant" with input as i
	not federation.allowed with input as i
}
