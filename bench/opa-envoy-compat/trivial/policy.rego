# The simplest OPA-Envoy policy: a boolean decision on the parsed path (what users moving from the plugin start with).
package envoy.authz

default allow := false

allow if input.parsed_path[0] == "api"
