/*
 * msg.c - see msg.h.
 */
#include "msg.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int checkd_msg_desired(const json_t *msg, const char *module, const char *node,
		       struct checkd_desired *out, char *why, size_t why_size)
{
	const char *m = json_string_value(json_object_get(msg, "module"));
	const char *n = json_string_value(json_object_get(msg, "node"));
	const char *role = json_string_value(json_object_get(msg, "role"));
	json_t *epoch = json_object_get(msg, "epoch");
	json_t *targets = json_object_get(msg, "targets");
	json_t *t;

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
	t = json_object_get(targets, "checkd");
	if (!t || json_is_null(t)) {
		out->target = NULL;
	} else if (json_is_string(t) &&
		   strcmp(json_string_value(t), "up") == 0) {
		out->target = "up";
	} else if (json_is_string(t) &&
		   strcmp(json_string_value(t), "down") == 0) {
		out->target = "down";
	} else {
		snprintf(why, why_size,
			 "targets.checkd must be up, down or null");
		return -EINVAL;
	}
	return 0;
}

bool checkd_msg_status_counts_up(const json_t *status, uint64_t epoch)
{
	json_t *a =
		json_object_get(json_object_get(status, "actuators"), "checkd");
	const char *state = json_string_value(json_object_get(a, "state"));
	json_t *e = json_object_get(a, "epoch");
	return state && strcmp(state, "up") == 0 && json_is_integer(e) &&
	       json_integer_value(e) >= 0 &&
	       (uint64_t)json_integer_value(e) == epoch;
}
