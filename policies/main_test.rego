package tenantgate.authz_test

import data.tenantgate.authz

acme := {"id": "acme", "name": "Acme", "tier": "premium", "status": "active"}

jwt_identity := {"kind": "jwt", "subject": "alice", "issuer": "https://idp.example.com/", "tenant_id": "acme", "claims": {}, "api_key_id": null, "scopes": []}

anonymous := {"kind": "anonymous", "subject": null, "issuer": null, "tenant_id": null, "claims": {}, "api_key_id": null, "scopes": []}

req(overrides) := object.union(
	{
		"attributes": {"contextExtensions": {}},
		"parsed_path": ["api", "v1", "items"],
		"identity": jwt_identity,
		"tenant": acme,
		"request_tenant_hints": [],
	},
	overrides,
)

test_allows_active_tenant if {
	authz.decision == {"allowed": true} with input as req({})
}

test_anonymous_denied_401 if {
	d := authz.decision with input as req({"identity": anonymous, "tenant": null})
	d.allowed == false
	d.http_status == 401
	d.code == "unauthenticated"
}

test_anonymous_allowed_on_public_path if {
	authz.decision == {"allowed": true} with input as req({"identity": anonymous, "tenant": null, "parsed_path": ["healthz"]})
}

test_public_path_prefix_is_per_segment if {
	d := authz.decision with input as req({"identity": anonymous, "tenant": null, "parsed_path": ["healthzx"]})
	d.code == "unauthenticated"
}

test_anonymous_allowed_on_route_marked_public if {
	d := authz.decision with input as req({"identity": anonymous, "tenant": null, "attributes": {"contextExtensions": {"public": "true"}}})
	d.allowed == true
}

test_unknown_tenant if {
	d := authz.decision with input as req({"tenant": null})
	d.http_status == 403
	d.code == "unknown_tenant"
	d.reason == "tenant acme is not known"
}

test_suspended_tenant if {
	d := authz.decision with input as req({"tenant": object.union(acme, {"status": "suspended"})})
	d.http_status == 403
	d.code == "tenant_suspended"
}

test_matching_hint_allowed if {
	authz.decision == {"allowed": true} with input as req({"request_tenant_hints": [{"source": "header", "id": "acme"}]})
}

test_mismatched_header_hint if {
	d := authz.decision with input as req({"request_tenant_hints": [{"source": "header", "id": "evil"}]})
	d.code == "tenant_mismatch"
	d.http_status == 403
	d.reason == "the request names tenant evil (header) but the credential is for tenant acme"
}

test_one_mismatched_hint_among_several if {
	d := authz.decision with input as req({"request_tenant_hints": [
		{"source": "header", "id": "acme"},
		{"source": "path", "id": "globex"},
		{"source": "context_extensions", "id": "initech"},
	]})
	d.code == "tenant_mismatch"
}

test_unknown_checked_before_mismatch if {
	d := authz.decision with input as req({"tenant": null, "request_tenant_hints": [{"source": "path", "id": "evil"}]})
	d.code == "unknown_tenant"
}

test_default_denies_without_identity_input if {
	d := authz.decision with input as {}
	d.allowed == false
}
