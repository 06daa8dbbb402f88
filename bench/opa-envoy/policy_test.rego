package tenantgate_bench_test

import data.tenantgate_bench

# A throwaway HS256 key keeps the test self-contained (the bench uses the ES256 JWKS).
bench := {"verify": {"secret": "secret"}, "issuer": "https://idp.bench.local/", "audience": "tenantgate", "tenants": {"acme": {"tier": "premium", "status": "active"}, "initech": {"tier": "free", "status": "suspended"}}}

tok(claims) := io.jwt.encode_sign({"alg": "HS256"}, object.union({"iss": "https://idp.bench.local/", "aud": "tenantgate", "exp": 4102444800, "sub": "alice"}, claims), {"kty": "oct", "k": "c2VjcmV0"})

req(headers, path) := {"attributes": {"request": {"http": {"headers": headers, "path": path}}}}

test_allow_and_headers if {
	d := tenantgate_bench.allow with input as req({"authorization": concat(" ", ["Bearer", tok({"tenant_id": "acme"})])}, "/api/v1/items?x=1")
		with data.bench as bench
	d.allowed
	d.headers["x-tenant-id"] == "acme"
	d.headers["x-tenant-partition"] == "TENANT#acme"
}

test_denials if {
	codes := [json.unmarshal(d.body).error |
		some r in [
			req({}, "/x"),
			req({"authorization": "Bearer not.a.jwt"}, "/x"),
			req({"authorization": concat(" ", ["Bearer", tok({"tenant_id": "nosuch"})])}, "/x"),
			req({"authorization": concat(" ", ["Bearer", tok({"tenant_id": "initech"})])}, "/x"),
			req({"authorization": concat(" ", ["Bearer", tok({"tenant_id": "acme"})])}, "/tenants/globex/x"),
		]
		d := tenantgate_bench.allow with input as r with data.bench as bench
	]
	codes == ["unauthenticated", "invalid_token", "unknown_tenant", "tenant_suspended", "tenant_mismatch"]
}
