/*
 * desired.h - an actuator's reading of MODULE.heartbeatd.desired.
 *
 * Every actuator daemon (replicd, vipd, checkd) follows the same message:
 * {module, node, role, epoch, generation, targets:{replicd,vipd,checkd}}.
 * sky_desired_parse() checks each field it uses as hostile input and
 * accepts for the actuator's target only the values sky_actuator_target()
 * can produce for it (or null: not asked yet).
 */
#ifndef SKYHA_DESIRED_H
#define SKYHA_DESIRED_H

#include "bus.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sky_desired {
	enum sky_role role;
	uint64_t epoch;
	const char *target; /* a static string from sky_actuator_target, or
			     * NULL when heartbeatd has not asked yet */
};

/* 0, or -EINVAL with why filled ("not for module app node node1"...). */
int sky_desired_parse(const json_t *msg, const char *module, const char *node,
		      enum sky_actuator which, struct sky_desired *out,
		      char *why, size_t why_size);

#endif
