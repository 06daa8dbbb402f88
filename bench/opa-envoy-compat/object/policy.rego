# An OPA-Envoy policy with an object decision: headers for the upstream, a header removed, a denial's status and body.
package envoy.authz

default allow := {"allowed": false, "http_status": 403, "body": "forbidden by policy"}

allow := {
	"allowed": true,
	"headers": {"x-ext-auth-allow": "yes", "x-resource": input.parsed_path[2]},
	"request_headers_to_remove": ["x-internal-debug"],
} if {
	input.parsed_path[0] == "api"
	count(input.parsed_path) > 2
}
