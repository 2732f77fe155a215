/*
 * msg.c - see msg.h.
 */
#include "msg.h"
#include "desired.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int checkd_msg_desired(const json_t *msg, const char *module, const char *node,
		       struct checkd_desired *out, char *why, size_t why_size)
{
	struct sky_desired d;
	int r = sky_desired_parse(msg, module, node, SKY_ACT_CHECKD, &d, why,
				  why_size);
	if (r < 0)
		return r;
	out->role = d.role;
	out->epoch = d.epoch;
	out->target = d.target;
	out->valid_ms = d.valid_ms;
	out->sent_ms = d.sent_ms;
	out->app_restart = d.app_restart;
	out->checkers_off = d.checkers_off;
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
