package tenantgate.permissions_test

import data.tenantgate.permissions

test_wildcards if {
	permissions.covered(["read:completions"], "read:completions")
	permissions.covered(["read:*"], "read:models")
	permissions.covered(["*:models"], "write:models")
	permissions.covered(["*:*"], "admin:*")
	permissions.covered(["admin:*"], "admin:*")
	not permissions.covered(["read:*"], "write:models")
	not permissions.covered(["read:public"], "admin:*")
}

test_scopes if {
	permissions.granted("read:models") with input as {"effective": {"permissions": ["*:*"]}, "identity": {"scopes": []}}
	permissions.granted("read:models") with input as {"effective": {"permissions": ["*:*"]}, "identity": {"scopes": ["read:*"]}}
	not permissions.granted("write:models") with input as {"effective": {"permissions": ["*:*"]}, "identity": {"scopes": ["read:*"]}}
	not permissions.granted("write:models") with input as {"effective": {"permissions": ["read:*"]}, "identity": {"scopes": ["write:models"]}}
}
