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
	routes.method_not_allowed with input as inp("GET", "/api/v1/completions")
	routes.method_not_allowed with input as inp("PUT", "/api/v1/models")
	routes.method_not_allowed with input as inp("PUT", "/api/v1/completions")
}

test_head_is_get if {
	routes.required_permission == "read:models" with input as inp("HEAD", "/api/v1/models")
}

test_case_does_not_escape_a_route if {
	routes.required_permission == "admin:*" with input as inp("GET", "/API/V1/ADMIN/users")
	routes.route.kind == "completions" with input as inp("POST", "/api/v1/Completions")
}

# /api/v1/admin/ canonicalises to /api/v1/admin: the "/*" prefix covers the directory itself.
test_prefix_covers_its_directory if {
	routes.required_permission == "admin:*" with input as inp("POST", "/api/v1/admin")
	not routes.route with input as inp("POST", "/api/v1/administrator") with data.tenantgate.settings.routes as [{"method": "*", "path": "/api/v1/admin/*"}]
}

test_most_specific_path_wins if {
	routes.required_permission == "admin:*" with input as inp("GET", "/api/v1/admin/users")
	not routes.required_permission with input as inp("GET", "/api/v1/items")
	routes.route with input as inp("GET", "/api/v1/items")
}

test_unmatched_route_denied if {
	not routes.route with input as inp("GET", "/api/v2/other")
	routes.unmatched_denied with input as inp("GET", "/api/v2/other")
	not routes.method_not_allowed with input as inp("GET", "/api/v2/other")
	not routes.unmatched_denied with input as inp("GET", "/healthz")
}

test_empty_table_denies_everything if {
	routes.unmatched_denied with input as inp("GET", "/api/v1/items") with data.tenantgate.settings.routes as []
}

test_public_route_matches_case_exactly if {
	table := [{"method": "GET", "path": "/status", "public": true}]
	routes.public with input as inp("GET", "/status") with data.tenantgate.settings.routes as table
	not routes.public with input as inp("GET", "/STATUS") with data.tenantgate.settings.routes as table
	not routes.public with input as inp("GET", "/HEALTHZ")
}

test_public_paths_per_segment if {
	routes.public with input as inp("GET", "/healthz")
	routes.public with input as inp("GET", "/.well-known/jwks.json")
	not routes.public with input as inp("GET", "/healthzx")
}

test_public_route_in_table if {
	routes.public with input as inp("GET", "/status") with data.tenantgate.settings.routes as [{"method": "GET", "path": "/status", "public": true}]
}
