# The route table (data.tenantgate.settings.routes): method + path glob → the permission a request needs, whether it is
# public, the data level it touches, and its kind (e.g. "completions" for body-aware GenAI rules).
package tenantgate.routes

# The first matching route, in table order.
route := data.tenantgate.settings.routes[i] if {
	i := min({j | some j, r in data.tenantgate.settings.routes; matches(r)})
}

matches(r) if {
	r.method in {"*", input.attributes.request.http.method}
	glob.match(r.path, [], input_path)
}

# The canonical path tenantgate normalised ("/" + parsed_path).
input_path := concat("/", array.concat([""], input.parsed_path))

default public := false

public if route.public == true

public if input.attributes.contextExtensions.public == "true"

public if {
	some prefix in data.tenantgate.settings.public_paths
	path_has_prefix(input.parsed_path, prefix)
}

path_has_prefix(segments, prefix) if {
	wanted := [s | some s in split(trim(prefix, "/"), "/"); s != ""]
	count(wanted) <= count(segments)
	array.slice(segments, 0, count(wanted)) == wanted
}

required_permission := route.permission

# A route that is not in the table: "authenticated" (any identity of an active tenant) or "deny".
unmatched_denied if {
	not route
	data.tenantgate.settings.unmatched_route == "deny"
}
