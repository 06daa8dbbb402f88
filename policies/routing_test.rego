package tenantgate.routing_test

import data.tenantgate.routing

ctx(strategy, preferred, allowed) := {"effective": {"routing_strategy": strategy, "preferred_providers": preferred, "limits": {"allowed_providers": allowed}}}

test_cost_picks_cheapest if {
	routing.provider == "local" with input as ctx("cost", ["openai", "local", "anthropic"], null)
}

test_performance_picks_fastest if {
	routing.provider == "openai" with input as ctx("performance", ["local", "anthropic", "openai"], null)
}

test_ties_keep_preference_order if {
	routing.provider == "anthropic" with input as ctx("cost", ["anthropic", "openai"], null)
}

test_compliance_picks_first_compliant if {
	routing.provider == "bedrock" with input as ctx("compliance", ["openai", "bedrock", "local"], null)
}

test_allowed_providers_narrow_the_choice if {
	routing.provider == "openai" with input as ctx("cost", ["local", "openai"], ["openai"])
}

test_no_preference_no_provider if {
	not routing.provider with input as ctx("cost", [], null)
	not routing.provider with input as ctx("compliance", ["openai"], null)
}

test_unknown_provider_ranks_last if {
	routing.provider == "anthropic" with input as ctx("cost", ["mystery", "anthropic"], null)
}
