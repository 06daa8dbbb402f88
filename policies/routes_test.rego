package tenantgate.routes_test

import data.tenantgate.routes

inp(method, path) := {
	"attributes": {"request": {"http": {"method": method}}, "contextExtensions": {}},
	"parsed_path": [s | some s in split(trim(path, "/"), "/"); s != ""],
}

test_first_matching_route if {
	routes.route.permission == "read:completions" with input as inp("POST", "/api/v1/completions")
	routes.route.kind == "completions" with input as inp("POST", "/api/v1/completions")
	routes.required_permission == "read:models" with input as inp("GET", "/api/v1/models/gpt-4o")
	routes.required_permission == "write:models" with input as inp("POST", "/api/v1/models")
	routes.required_permission == "admin:*" with input as inp("PATCH", "/api/v1/admin/tenants")
}

test_method_must_match if {
	not routes.route with input as inp("GET", "/api/v1/completions")
}

test_unmatched_route if {
	not routes.route with input as inp("GET", "/api/v2/other")
	not routes.unmatched_denied with input as inp("GET", "/api/v2/other")
	routes.unmatched_denied with input as inp("GET", "/api/v2/other") with data.tenantgate.settings.unmatched_route as "deny"
}

test_public_paths_per_segment if {
	routes.public with input as inp("GET", "/healthz")
	routes.public with input as inp("GET", "/.well-known/jwks.json")
	not routes.public with input as inp("GET", "/healthzx")
}

test_public_route_in_table if {
	routes.public with input as inp("GET", "/status") with data.tenantgate.settings.routes as [{"method": "GET", "path": "/status", "public": true}]
}
