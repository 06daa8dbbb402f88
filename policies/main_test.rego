package tenantgate.authz_test

import data.tenantgate.authz

acme := {"id": "acme", "name": "Acme", "tier": "premium", "status": "active", "upstream": null}

globex := {"id": "globex", "name": "Globex", "tier": "basic", "status": "active", "upstream": null}

jwt_identity := {"kind": "jwt", "subject": "alice", "issuer": "https://idp.example.com/", "tenant_id": "acme", "claims": {}, "api_key_id": null, "scopes": []}

anonymous := {"kind": "anonymous", "subject": null, "issuer": null, "tenant_id": null, "claims": {}, "api_key_id": null, "scopes": []}

analyst := {
	"permissions": ["query:*", "read:*"],
	"data_access_level": "internal",
	"allowed_levels": ["public", "internal"],
	"routing_strategy": "cost",
	"preferred_providers": [],
	"limits": {"max_tokens_per_request": 1000, "allowed_models": ["gpt-4o-mini"], "allowed_providers": null},
	"primary_group": "analyst",
}

req(method, path, overrides) := object.union(
	{
		"attributes": {"request": {"http": {"method": method, "headers": {}}}, "contextExtensions": {}},
		"parsed_path": [s | some s in split(trim(path, "/"), "/"); s != ""],
		"parsed_body": null,
		"truncated_body": false,
		"identity": jwt_identity,
		"tenant": acme,
		"effective": analyst,
		"request_tenant_hints": [],
		"federation": null,
		"target_tenant": null,
	},
	overrides,
)

get(path) := req("GET", path, {})

with_header(r, name, value) := json.patch(r, [{"op": "add", "path": sprintf("/attributes/request/http/headers/%s", [name]), "value": value}])

test_allows_active_tenant_on_unlisted_route if {
	authz.decision == {"allowed": true} with input as get("/api/v1/items")
}

test_anonymous_denied_401 if {
	d := authz.decision with input as req("GET", "/api/v1/items", {"identity": anonymous, "tenant": null, "effective": null})
	d == {"allowed": false, "http_status": 401, "code": "unauthenticated", "reason": "credentials are required"}
}

test_anonymous_allowed_on_public_path if {
	authz.decision == {"allowed": true} with input as req("GET", "/healthz", {"identity": anonymous, "tenant": null})
}

test_anonymous_allowed_on_route_marked_public if {
	r := req("GET", "/docs", {"identity": anonymous, "tenant": null})
	authz.decision == {"allowed": true} with input as json.patch(r, [{"op": "add", "path": "/attributes/contextExtensions/public", "value": "true"}])
}

test_unknown_tenant if {
	d := authz.decision with input as req("GET", "/api/v1/x", {"tenant": null, "effective": null})
	d.code == "unknown_tenant"
	d.reason == "tenant acme is not known"
}

test_suspended_tenant if {
	d := authz.decision with input as req("GET", "/api/v1/x", {"tenant": object.union(acme, {"status": "suspended"})})
	[d.http_status, d.code] == [403, "tenant_suspended"]
}

test_mismatch_without_federation_token if {
	d := authz.decision with input as req("GET", "/api/v1/x", {"request_tenant_hints": [{"source": "header", "id": "evil"}]})
	[d.http_status, d.code] == [403, "tenant_mismatch"]
	d.reason == "the request names tenant evil (header) but the credential is for tenant acme"
}

test_matching_hint_allowed if {
	authz.decision == {"allowed": true} with input as req("GET", "/api/v1/x", {"request_tenant_hints": [{"source": "header", "id": "acme"}]})
}

test_unknown_checked_before_mismatch if {
	d := authz.decision with input as req("GET", "/api/v1/x", {"tenant": null, "request_tenant_hints": [{"source": "path", "id": "evil"}]})
	d.code == "unknown_tenant"
}

# Permissions

test_route_permission_granted_by_wildcard if {
	authz.decision == {"allowed": true} with input as req("GET", "/api/v1/models/gpt-4o", {})
}

test_missing_permission_names_it if {
	d := authz.decision with input as req("POST", "/api/v1/models", {})
	d == {"allowed": false, "http_status": 403, "code": "insufficient_permission", "reason": "missing permission write:models"}
}

test_admin_route_needs_admin if {
	d := authz.decision with input as get("/api/v1/admin/users")
	d.reason == "missing permission admin:*"
}

test_admin_allowed_for_star_star if {
	admin := object.union(analyst, {"permissions": ["*:*"], "data_access_level": "confidential"})
	authz.decision == {"allowed": true} with input as req("DELETE", "/api/v1/admin/users", {"effective": admin})
}

test_api_key_scopes_narrow_permissions if {
	key := object.union(jwt_identity, {"kind": "api_key", "scopes": ["read:completions"]})
	d := authz.decision with input as req("GET", "/api/v1/models", {"identity": key})
	d.code == "insufficient_permission"
}

test_api_key_scope_allows if {
	key := object.union(jwt_identity, {"kind": "api_key", "scopes": ["read:*"]})
	authz.decision == {"allowed": true} with input as req("GET", "/api/v1/models", {"identity": key})
}

test_public_route_skips_permission if {
	viewer := object.union(analyst, {"permissions": []})
	authz.decision == {"allowed": true} with input as req("GET", "/healthz", {"effective": viewer})
}

test_unmatched_route_denied if {
	d := authz.decision with input as get("/elsewhere")
	d == {"allowed": false, "http_status": 403, "code": "route_not_allowed", "reason": "this route is not open to tenants"}
}

test_unlisted_method_denied if {
	d := authz.decision with input as req("PUT", "/api/v1/models", {})
	d == {"allowed": false, "http_status": 405, "code": "method_not_allowed", "reason": "PUT is not allowed on this path"}
}

test_head_needs_the_get_permission if {
	viewer := object.union(analyst, {"permissions": ["read:completions"]})
	d := authz.decision with input as req("HEAD", "/api/v1/models", {"effective": viewer})
	d.reason == "missing permission read:models"
}

test_upper_case_path_needs_admin if {
	d := authz.decision with input as get("/API/V1/ADMIN/users")
	d.reason == "missing permission admin:*"
}

test_scoped_key_refused_on_route_without_permission if {
	key := object.union(jwt_identity, {"kind": "api_key", "scopes": ["read:models"]})
	d := authz.decision with input as req("GET", "/api/v1/items", {"identity": key})
	d == {"allowed": false, "http_status": 403, "code": "insufficient_permission", "reason": "the API key's scopes do not cover this route"}
}

test_authenticated_caller_reaches_public_path if {
	authz.decision == {"allowed": true} with input as get("/healthz")
}

# Data access

test_classification_above_level_denied if {
	d := authz.decision with input as with_header(get("/api/v1/x"), "x-data-classification", "confidential")
	d == {"allowed": false, "http_status": 403, "code": "data_access_denied", "reason": "data classified confidential needs access level confidential; the user has internal"}
}

test_classification_within_level_allowed if {
	authz.decision == {"allowed": true} with input as with_header(get("/api/v1/x"), "x-data-classification", "internal")
}

test_unknown_classification_is_bad_request if {
	d := authz.decision with input as with_header(get("/api/v1/x"), "x-data-classification", "secret")
	[d.http_status, d.code] == [400, "bad_request"]
}

test_route_level_denied if {
	admin_no_level := object.union(analyst, {"permissions": ["admin:*"]})
	d := authz.decision with input as req("GET", "/api/v1/admin/x", {"effective": admin_no_level})
	d.code == "data_access_denied"
}

# GenAI

completion(body) := req("POST", "/api/v1/completions", {"parsed_body": body, "effective": object.union(analyst, {"permissions": ["read:completions"]})})

test_completion_allowed if {
	authz.decision == {"allowed": true} with input as completion({"model": "gpt-4o-mini", "max_tokens": 1000})
}

test_completion_without_max_tokens_refused_under_a_limit if {
	d := authz.decision with input as completion({"model": "gpt-4o-mini"})
	d == {"allowed": false, "http_status": 400, "code": "bad_request", "reason": "max_tokens is required: the token limit is 1000"}
}

test_completion_without_max_tokens_allowed_without_a_limit if {
	e := object.union(analyst, {"permissions": ["read:completions"], "limits": {"allowed_models": null, "max_tokens_per_request": null}})
	authz.decision == {"allowed": true} with input as req("POST", "/api/v1/completions", {"parsed_body": {"model": "x"}, "effective": e})
}

test_max_completion_tokens_counts_too if {
	d := authz.decision with input as completion({"model": "gpt-4o-mini", "max_tokens": 10, "max_completion_tokens": 5000})
	d.reason == "max_tokens 5000 exceeds the limit of 1000"
	d2 := authz.decision with input as completion({"model": "gpt-4o-mini", "max_completion_tokens": 0})
	d2.reason == "max_tokens must be a positive integer"
	authz.decision == {"allowed": true} with input as completion({"model": "gpt-4o-mini", "max_completion_tokens": 900})
}

test_model_not_allowed if {
	d := authz.decision with input as completion({"model": "gpt-4o", "max_tokens": 10})
	d == {"allowed": false, "http_status": 403, "code": "model_not_allowed", "reason": "model gpt-4o is not allowed"}
}

test_token_limit_exceeded if {
	d := authz.decision with input as completion({"model": "gpt-4o-mini", "max_tokens": 1001})
	d == {"allowed": false, "http_status": 403, "code": "token_limit_exceeded", "reason": "max_tokens 1001 exceeds the limit of 1000"}
}

test_unrestricted_models_and_tokens if {
	open := object.union(analyst, {"permissions": ["*:*"], "limits": {"allowed_models": null, "max_tokens_per_request": null, "allowed_providers": null}})
	authz.decision == {"allowed": true} with input as req("POST", "/api/v1/completions", {"parsed_body": {"model": "anything", "max_tokens": 999999}, "effective": open})
}

test_truncated_body_is_bad_request if {
	r := object.union(completion({"model": "gpt-4o-mini"}), {"truncated_body": true})
	d := authz.decision with input as r
	[d.http_status, d.code] == [400, "bad_request"]
	d.reason == "the request body is truncated; the completion limits cannot be checked"
}

test_missing_body_is_bad_request if {
	d := authz.decision with input as completion(null)
	d.reason == "the request body must be a JSON object"
}

test_invalid_json_body_says_so if {
	r := object.union(completion(null), {"body_error": "the request body is not valid JSON"})
	d := authz.decision with input as r
	[d.http_status, d.code, d.reason] == [400, "bad_request", "the request body is not valid JSON"]
}

test_bad_max_tokens_is_bad_request if {
	d := authz.decision with input as completion({"model": "gpt-4o-mini", "max_tokens": "lots"})
	d.reason == "max_tokens must be a positive integer"
	d2 := authz.decision with input as completion({"model": "gpt-4o-mini", "max_tokens": 1.5})
	d2.code == "bad_request"
}

test_bad_model_is_bad_request if {
	d := authz.decision with input as completion({"model": 7})
	d.reason == "model must be a string"
}

# Routing

test_provider_in_allow if {
	e := object.union(analyst, {"routing_strategy": "cost", "preferred_providers": ["openai", "local"]})
	authz.decision == {"allowed": true, "upstream_provider": "local"} with input as req("GET", "/api/v1/x", {"effective": e})
}

# Federation

fed_grant := {"id": "fg_1", "source_tenant": "acme", "target_tenant": "globex", "resource_type": "documents", "resource_id": null, "access": "read", "revoked_at": null}

fed(method, path, federation) := req(method, path, {
	"request_tenant_hints": [{"source": "header", "id": "globex"}],
	"federation": federation,
	"target_tenant": globex,
})

test_federated_read_allowed if {
	d := authz.decision with input as fed("GET", "/api/v1/documents/42", {"valid": true, "reason": null, "grant": fed_grant})
	d == {"allowed": true, "federation": {"source": "acme", "target": "globex", "access": "read", "grant_id": "fg_1"}}
}

test_federation_denied_for_write_with_read_grant if {
	d := authz.decision with input as fed("DELETE", "/api/v1/documents/42", {"valid": true, "reason": null, "grant": fed_grant})
	d == {"allowed": false, "http_status": 403, "code": "federation_denied", "reason": "the grant allows read, not write"}
}

test_federation_denied_with_invalid_token if {
	d := authz.decision with input as fed("GET", "/api/v1/documents/42", {"valid": false, "reason": "the federation grant has expired", "grant": null})
	d.code == "federation_denied"
	d.reason == "the federation grant has expired"
}

test_more_than_one_other_tenant_denied if {
	r := object.union(fed("GET", "/api/v1/documents/1", {"valid": true, "reason": null, "grant": fed_grant}), {"request_tenant_hints": [{"source": "header", "id": "globex"}, {"source": "path", "id": "initech"}]})
	d := authz.decision with input as r
	d.reason == "the request names more than one other tenant"
}

test_federation_fallback_reason if {
	# Should coverage and the listed reasons ever disagree, the request is still denied, with a generic reason.
	r := fed("GET", "/api/v1/documents/1", {"valid": true, "reason": null, "grant": fed_grant})
	d := authz.decision with input as r with data.tenantgate.federation.allowed as false
	d == {"allowed": false, "http_status": 403, "code": "federation_denied", "reason": "the federation grant does not cover this request"}
}
