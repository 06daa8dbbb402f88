# Upstream provider choice: among the user's preferred providers (narrowed to the allowed ones), the cheapest
# for "cost", the fastest for "performance", the first compliant one for "compliance"; ties keep preference order.
package tenantgate.routing

providers := data.tenantgate.settings.providers

allowed := input.effective.limits.allowed_providers

candidates := [p | some p in input.effective.preferred_providers; permitted(p)]

permitted(p) if allowed == null

permitted(p) if p in allowed

strategy := input.effective.routing_strategy

ranked := sort([[rank(p), i, p] | some i, p in candidates; eligible(p)])

rank(p) := object.get(providers, [p, strategy], 99) if strategy != "compliance"

rank(p) := 0 if strategy == "compliance"

eligible(p) if strategy != "compliance"

eligible(p) if {
	strategy == "compliance"
	providers[p].compliant == true
}

provider := ranked[0][2]
