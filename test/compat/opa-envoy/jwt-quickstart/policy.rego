# In the style of the OPA-Envoy quick start: the policy verifies its own JWTs (HS256) and checks roles and
# the request, with a boolean decision at envoy/authz/allow.
package envoy.authz

default allow := false

allow if {
	is_token_valid
	action_allowed
}

is_token_valid if {
	token.valid
	now := time.now_ns() / 1000000000
	token.payload.nbf <= now
	now < token.payload.exp
}

action_allowed if {
	input.attributes.request.http.method == "GET"
	token.payload.role == "guest"
	glob.match("/people*", ["/"], input.attributes.request.http.path)
}

action_allowed if {
	input.attributes.request.http.method == "POST"
	token.payload.role == "admin"
	glob.match("/people", ["/"], input.attributes.request.http.path)
	lower(input.parsed_body.firstname) != base64url.decode(token.payload.sub)
}

token := {"valid": valid, "payload": payload} if {
	[_, encoded] := split(input.attributes.request.http.headers.authorization, " ")
	[valid, _, payload] := io.jwt.decode_verify(encoded, {"secret": "secret"})
}
