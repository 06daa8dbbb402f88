# The route table (data.tenantgate.settings.routes): method + path (exact, or a prefix ending in "*") → the permission a
# request needs, whether it is public, the data level it touches, and its kind (e.g. "completions" for body-aware
# GenAI rules). A route without a permission is open to any identity of an active tenant (but not to a scoped API
# key). What the table does not name is denied: there is no implicit catch-all.
#
# Matching (SECURITY.md, "How paths and hosts are matched"):
# - on tenantgate's canonical path (percent-decoded; paths with dot segments, empty segments, ";" or encoded
#   separators are refused before the policy), so a trailing slash is insignificant;
# - without regard to case for routes (a protected route must also catch /API/V1/ADMIN on a case-insensitive
#   upstream); with case for public grants, which open a path and so must name it exactly;
# - the most specific path wins (exact, then the longest prefix), and a method the winning path does not list is
#   refused (405), so a path cannot be reached with a method the table did not think of;
# - HEAD is GET.
package tenantgate.routes

# The canonical path tenantgate normalised ("/" + parsed_path).
input_path := concat("/", array.concat([""], input.parsed_path))

match_path := lower(input_path)

method := "GET" if input.attributes.request.http.method == "HEAD"

else := input.attributes.request.http.method

table := object.get(data.tenantgate.settings, "routes", [])

# How closely each table entry's path fits the request, by index.
fit[i] := n if {
	some i, r in table
	n := path_fit(lower(r.path), match_path)
}

# Exact beats any prefix; a longer prefix beats a shorter one. A prefix ending in "/*" also covers the bare
# directory: /api/v1/admin/* covers /api/v1/admin (what /api/v1/admin/ canonicalises to).
path_fit(pattern, path) := 1000000 if pattern == path

else := count(prefix) if {
	endswith(pattern, "*")
	prefix := trim_suffix(pattern, "*")
	covers(prefix, path)
}

covers(prefix, path) if startswith(path, prefix)

covers(prefix, path) if {
	endswith(prefix, "/")
	path == trim_suffix(prefix, "/")
}

# The entries whose path fits best.
closest contains i if {
	best := max({n | some n in fit})
	some i, n in fit
	n == best
}

# The first of those, in table order, whose method matches; always defined (null for none): OPA's WASM keeps a
# rule's value for the rest of the evaluation only when it is defined, and many rules read the route.
matched := table[i] if {
	i := min({j | some j in closest; method_matches(table[j])})
} else := null

route := matched if matched != null

method_matches(r) if upper(r.method) in {"*", method}

# The path is in the table, but not for this method.
method_not_allowed if {
	count(closest) > 0
	not route
}

default public := false

public if {
	route.public == true
	path_fit(route.path, input_path)
}

public if input.attributes.contextExtensions.public == "true"

public if {
	some prefix in data.tenantgate.settings.public_paths
	under(input_path, prefix)
}

# The path is the prefix itself or below it, segment-wise (/healthz matches /healthz/live, not /healthzx).
under(path, prefix) if path == prefix

under(path, prefix) if startswith(path, concat("", [prefix, "/"]))

required_permission := route.permission if is_string(route.permission)

# Not in the table at all (and not public): denied.
unmatched_denied if {
	not route
	not method_not_allowed
	not public
}
