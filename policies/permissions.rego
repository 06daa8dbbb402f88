# Permissions are "action:resource"; a grant may use "*" for either side. An API key's scopes narrow what its
# user may do (the key can do only what both the user's groups and its scopes allow).
package tenantgate.permissions

granted(required) if {
	covered(input.effective.permissions, required)
	scopes_allow(required)
}

covered(perms, required) if {
	parts := split(required, ":")
	some candidate in {required, concat(":", [parts[0], "*"]), concat(":", ["*", parts[1]]), "*:*"}
	candidate in perms
}

scopes_allow(_) if count(input.identity.scopes) == 0

scopes_allow(required) if covered(input.identity.scopes, required)
