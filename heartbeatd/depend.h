/*
 * depend.h - module.depends_on: this module serves only on the node where
 * every module it depends on serves (SafeKit's module checker).
 *
 * heartbeatd follows each of those modules' heartbeatd on this node through
 * its bus (ipc://RUN/<module>/desired, the same desired state the
 * actuators read, parsed by sky_desired_parse as hostile input): a module
 * serves here while its word says PRIM, ALONE or UP and has not expired
 * (sent_ms + valid_ms). Silence is "not serving": a stopped or frozen
 * heartbeatd of the other module must not keep this one serving.
 *
 * The state machine gets one bool and a reason (struct sm's
 * dependency_blocked): a node blocked asks its peer to be primary instead
 * (as an operator's `second` does), never promotes itself, and hands over
 * or stops when it serves (state.c).
 */
#ifndef SKYHA_DEPEND_H
#define SKYHA_DEPEND_H

#include "config.h"
#include "desired.h"
#include "log.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct depend_one {
	char module[SKY_NAME_MAX + 1];
	void *sub; /* SUB on that module's desired endpoint */
	bool heard;
	enum sky_role role;
	int64_t deadline_ms; /* its word holds until then */
	uint64_t bad_messages;
	struct sky_ratelimit rl;
};

struct depend {
	size_t count;
	struct depend_one dep[SKY_MAX_DEPENDS];
};

/* Connect to each module's bus (it need not be running yet). */
int depend_open(struct depend *d, const struct sky_config *cfg,
		const char *run_dir);
void depend_close(struct depend *d);
/* Read what arrived (non-blocking). */
void depend_drain(struct depend *d, const char *self, int64_t now);

/*
 * One message of module m's heartbeatd for node self, received at now:
 * updates one (pure, for tests). -EINVAL (why filled) for a message that
 * is not a valid desired state of that module for this node.
 */
int depend_take(struct depend_one *one, const json_t *msg, const char *self,
		int64_t now, char *why, size_t why_size);

/* May this node serve? false with why ("module db does not serve here
 * (SECOND)") when one of them does not. */
bool depend_ok(const struct depend *d, int64_t now, char *why, size_t why_size);

#endif
