# Body-aware limits for GenAI completion routes: the model must be allowed and max_tokens within the limit.
# A body that is truncated or not JSON cannot be judged, so it is refused (never allowed).
package tenantgate.genai

import data.tenantgate.routes

# Defined either way so that WASM evaluates it once per request (see routes.matched).
default applies := false

applies if routes.route.kind == "completions"

bad_body := "the request body is truncated; the completion limits cannot be checked" if {
	applies
	input.truncated_body
} else := input.body_error if {
	# Not JSON at all (or refused while reading it: too deep, a key twice): say so, not "not an object".
	applies
	is_string(input.body_error)
} else := "the request body must be a JSON object" if {
	applies
	not is_object(input.parsed_body)
} else := "max_tokens must be a positive integer" if {
	applies
	some field in token_fields
	not valid_tokens(input.parsed_body[field])
} else := "model must be a string" if {
	applies
	not is_string(object.get(input.parsed_body, "model", ""))
} else := sprintf("max_tokens is required: the token limit is %v", [token_limit]) if {
	# Without it the provider picks its own default, which the limit would not bound.
	applies
	token_limit != null
	count(requested) == 0
}

valid_tokens(t) if {
	is_number(t)
	t == floor(t)
	t > 0
}

# OpenAI's newer max_completion_tokens bounds the output as max_tokens does: whichever is sent counts.
token_fields := {f | some f in {"max_tokens", "max_completion_tokens"}; object.get(input.parsed_body, f, null) != null}

requested := {input.parsed_body[f] | some f in token_fields}

requested_tokens := max(requested)

allowed_models := input.effective.limits.allowed_models

model := object.get(input.parsed_body, "model", "")

model_denied if {
	applies
	allowed_models != null
	not model in allowed_models
}

token_limit := input.effective.limits.max_tokens_per_request

tokens_exceeded if {
	applies
	token_limit != null
	requested_tokens > token_limit
}
