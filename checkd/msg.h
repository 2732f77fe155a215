/*
 * msg.h - checkd's side of the bus (docs/protocol.md), parsed and built
 * without I/O so that hostile messages can be fed to it in unit tests.
 */
#ifndef SKYHA_CHECKD_MSG_H
#define SKYHA_CHECKD_MSG_H

#include "bus.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct checkd_desired {
	enum sky_role role;
	uint64_t epoch;
	const char *target;  /* "up", "down" (static strings) or NULL */
	int64_t valid_ms;    /* see struct sky_desired */
	int64_t sent_ms;     /* likewise */
	int64_t app_restart; /* changes when the operator asks for a restart
			      * in place; 0: never asked */
	bool checkers_off;   /* the operator turned the checkers off */
};

/*
 * MODULE.heartbeatd.desired for this module and node. Every field is
 * checked; -EINVAL with why filled for anything else.
 */
int checkd_msg_desired(const json_t *msg, const char *module, const char *node,
		       struct checkd_desired *out, char *why, size_t why_size);

/*
 * From MODULE.heartbeatd.status: did heartbeatd count checkd as "up" for
 * this epoch already? (A restarted checkd then restarts the application as
 * a restart, not as a new promotion.)
 */
bool checkd_msg_status_counts_up(const json_t *status, uint64_t epoch);

#endif
