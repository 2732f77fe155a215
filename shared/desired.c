/*
 * desired.c - see desired.h.
 */
#include "desired.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int sky_desired_parse(const json_t *msg, const char *module, const char *node,
		      enum sky_actuator which, struct sky_desired *out,
		      char *why, size_t why_size)
{
	const char *m = json_string_value(json_object_get(msg, "module"));
	const char *n = json_string_value(json_object_get(msg, "node"));
	const char *role = json_string_value(json_object_get(msg, "role"));
	json_t *epoch = json_object_get(msg, "epoch");
	json_t *targets = json_object_get(msg, "targets");
	const char *name = sky_actuator_name(which);

	if (!m || strcmp(m, module) != 0 || !n || strcmp(n, node) != 0) {
		snprintf(why, why_size, "not for module %s node %s", module,
			 node);
		return -EINVAL;
	}
	if (!role || strlen(role) > 8 || sky_role_parse(role, &out->role) < 0) {
		snprintf(why, why_size, "role missing or unknown");
		return -EINVAL;
	}
	if (!json_is_integer(epoch) || json_integer_value(epoch) < 0) {
		snprintf(why, why_size, "epoch missing or negative");
		return -EINVAL;
	}
	out->epoch = (uint64_t)json_integer_value(epoch);
	if (!json_is_object(targets)) {
		snprintf(why, why_size, "targets missing");
		return -EINVAL;
	}
	json_t *t = json_object_get(targets, name);
	out->target = NULL;
	if (!t || json_is_null(t))
		return 0;
	const char *s = json_string_value(t);
	/* Only a value heartbeatd can ask of this actuator, as the static
	 * string, so callers compare pointers or strings alike. */
	for (int r = 0; s && r < SKY_ROLE_COUNT; r++) {
		const char *v = sky_actuator_target(which, (enum sky_role)r);
		if (strcmp(s, v) == 0) {
			out->target = v;
			return 0;
		}
	}
	snprintf(why, why_size, "targets.%s is not a target of %s", name, name);
	return -EINVAL;
}
