# A gRPC service behind Envoy: the request message, decoded with the descriptor set, is input.parsed_body.
package envoy.authz

default allow := false

allow := {"allowed": true, "headers": {"x-body": sprintf("%v|%v", [input.parsed_body, input.truncated_body])}} if not input.parsed_body.name == "mallory"
