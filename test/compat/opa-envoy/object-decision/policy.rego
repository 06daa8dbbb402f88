# An object decision that uses every field the plugin honours.
package envoy.authz

default allow := {"allowed": false, "http_status": 403, "headers": {"x-ext-auth": "denied"}, "body": "forbidden by policy"}

allow := {
	"allowed": true,
	"headers": {"x-ext-auth-allow": "yes", "x-user-id": "from-policy", "x-multi": ["a", "b"]},
	"response_headers_to_add": [{"x-resp": "1"}, {"x-resp": ["2", "3"]}],
	"request_headers_to_remove": ["x-secret"],
	"query_parameters_to_remove": ["debug"],
	"query_parameters_to_set": {"lang": "en", "tag": ["x", "y"]},
	"dynamic_metadata": {"user": "alice", "score": 7, "flags": [true, null]},
} if input.parsed_path == ["ok"]

allow := {"allowed": false, "http_status": 401, "headers": {"www-authenticate": "Basic realm=\"x\"", "content-type": "text/plain"}, "body": "who are you?"} if input.parsed_path == ["login"]

allow := {"allowed": false, "http_status": 418} if input.parsed_path == ["teapot"]

allow := {"allowed": "yes"} if input.parsed_path == ["broken"]

allow := {"allowed": true, "headers": {"x-n": 1}} if input.parsed_path == ["badheader"]

allow := {"allowed": true, "headers": {"x-seen": sprintf("%v|%v|%v", [input.parsed_path, input.parsed_query, object.get(input, "source_principal", "none")])}} if input.parsed_path[0] == "echo"
