# SPIFFE principals of the calling workload (Istio mTLS): input.source_principal, and the peer certificate's URI.
package envoy.authz

default allow := false

allow if input.source_principal == "spiffe://cluster.local/ns/default/sa/frontend"

allow if {
	input.attributes.source.principal == "spiffe://cluster.local/ns/default/sa/batch"
	input.attributes.request.http.method == "GET"
}
