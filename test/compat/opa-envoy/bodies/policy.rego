# Bodies: JSON, forms, multipart, truncated, and gRPC messages decoded with a descriptor set.
package envoy.authz

default allow := false

allow := {"allowed": true, "headers": {"x-body": sprintf("%v|%v", [input.parsed_body, input.truncated_body]), "x-query": sprintf("%v", [input.parsed_query])}}
