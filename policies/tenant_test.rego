package tenantgate.tenant_test

import data.tenantgate.tenant

test_unknown_when_no_tenant_record if {
	tenant.unknown with input as {"tenant": null}
}

test_known_tenant_is_not_unknown if {
	not tenant.unknown with input as {"tenant": {"id": "acme", "status": "active"}}
}

test_suspended if {
	tenant.suspended with input as {"tenant": {"id": "acme", "status": "suspended"}}
	not tenant.suspended with input as {"tenant": {"id": "acme", "status": "active"}}
}

test_mismatched_hints if {
	m := tenant.mismatched with input as {
		"identity": {"tenant_id": "acme"},
		"request_tenant_hints": [{"source": "header", "id": "acme"}, {"source": "path", "id": "evil"}],
	}
	m == {{"source": "path", "id": "evil"}}
}
