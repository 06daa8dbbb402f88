# The route table (data.tenantgate.settings.routes): method + path (exact, or a prefix ending in "*") → the permission a request needs, whether it is
# public, the data level it touches, and its kind (e.g. "completions" for body-aware GenAI rules).
package tenantgate.routes

# The first matching route, in table order; undefined when none matches.
route := matched if matched != null

# The match itself is always defined (null for none): OPA's WASM keeps a rule's value for the rest of the evaluation
# only when it is defined, and many rules read the route, so an undefined match would be searched for again each time.
matched := data.tenantgate.settings.routes[i] if {
	i := min({j | some j, r in data.tenantgate.settings.routes; matches(r)})
} else := null

matches(r) if {
	r.method in {"*", input.attributes.request.http.method}
	path_matches(r.path, input_path)
}

# A route path is exact, or a prefix when it ends with "*" (no regular expressions: they are slow in WASM).
path_matches(pattern, path) if pattern == path

path_matches(pattern, path) if {
	endswith(pattern, "*")
	startswith(path, trim_suffix(pattern, "*"))
}

# The canonical path tenantgate normalised ("/" + parsed_path).
input_path := concat("/", array.concat([""], input.parsed_path))

default public := false

public if route.public == true

public if input.attributes.contextExtensions.public == "true"

public if {
	some prefix in data.tenantgate.settings.public_paths
	under(input_path, prefix)
}

# The path is the prefix itself or below it, segment-wise (/healthz matches /healthz/live, not /healthzx).
under(path, prefix) if path == prefix

under(path, prefix) if startswith(path, concat("", [prefix, "/"]))

required_permission := route.permission

# A route that is not in the table: "authenticated" (any identity of an active tenant) or "deny".
unmatched_denied if {
	not route
	data.tenantgate.settings.unmatched_route == "deny"
}
