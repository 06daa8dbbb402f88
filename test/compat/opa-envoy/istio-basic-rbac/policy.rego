# In the style of the plugin's Istio example: Basic credentials, users with roles, role permissions.
package istio.authz

default allow := false

allow if {
	some permission in user_permissions
	permission.method == input.attributes.request.http.method
	permission.path == input.parsed_path[0]
}

user_name := name if {
	[_, encoded] := split(input.attributes.request.http.headers.authorization, " ")
	[name, _] := split(base64.decode(encoded), ":")
}

user_permissions contains p if {
	some role in data.user_roles[user_name]
	some p in data.role_perms[role]
}
