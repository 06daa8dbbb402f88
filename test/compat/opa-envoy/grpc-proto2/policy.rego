# A proto2 service: unset optional fields are absent from input.parsed_body (their declared defaults are not sent),
# set ones are present even at their zero value, and a float reads as the shortest decimal of its 32 bits.
package envoy.authz

default allow := false

allow := {"allowed": true, "headers": {"x-body": sprintf("%v", [input.parsed_body])}} if input.parsed_body.sku != "blocked"
