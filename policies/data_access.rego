# Data-access levels: public < internal < confidential. A request may ask for a level (x-data-classification)
# or the route may imply one; either must not exceed the user's level.
package tenantgate.data_access

import data.tenantgate.routes

levels := {"public": 0, "internal": 1, "confidential": 2}

requested contains level if level := input.attributes.request.http.headers["x-data-classification"]

requested contains level if level := routes.route.data_level

# A classification that is not a known level.
unknown_level contains level if {
	some level in requested
	not levels[level]
}

denied contains level if {
	some level in requested
	levels[level] > levels[input.effective.data_access_level]
}
