/*
 * policy.h - checkd's decisions, as pure functions of their inputs.
 *
 * A checker's raw results are damped (fail_after consecutive failures
 * before it counts as failed, ok_after consecutive successes before it
 * counts as ok again), so a checker flapping around its threshold never
 * acts. A failed checker's action is then weighed against the restarts
 * already made in the sliding window: restart while under restart.max,
 * then escalate (failover or stop). No I/O, no clock: the caller passes
 * the time, so unit tests drive it with a fake one.
 */
#ifndef SKYHA_CHECKD_POLICY_H
#define SKYHA_CHECKD_POLICY_H

#include "cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum checkd_health {
	CHECKD_HEALTH_UNKNOWN = 0, /* not enough runs yet */
	CHECKD_HEALTH_OK,
	CHECKD_HEALTH_FAILED,
};
const char *checkd_health_name(enum checkd_health h);

struct checkd_damper {
	uint32_t fail_after, ok_after;
	enum checkd_health state;
	uint32_t consecutive; /* runs in a row with the last result */
	bool last_ok;
	uint64_t runs;
};

void checkd_damper_init(struct checkd_damper *d, uint32_t fail_after,
			uint32_t ok_after);
/* Forget the history (the application was started again). */
void checkd_damper_reset(struct checkd_damper *d);
/* Count one run; true when the damped state changed. */
bool checkd_damper_feed(struct checkd_damper *d, bool ok);

#define CHECKD_RESTART_HISTORY 128 /* > the largest restart.max (100) */

struct checkd_restarts {
	int64_t at[CHECKD_RESTART_HISTORY]; /* oldest first */
	size_t count;
	uint32_t max;
	int64_t window_ms;
};

void checkd_restarts_init(struct checkd_restarts *r, uint32_t max,
			  int64_t window_ms);
/* Restarts within (now - window, now]; older ones are forgotten. */
size_t checkd_restarts_in_window(struct checkd_restarts *r, int64_t now);
void checkd_restarts_record(struct checkd_restarts *r, int64_t now);

enum checkd_decision {
	CHECKD_DO_NOTHING = 0,
	CHECKD_DO_RESTART,
	CHECKD_DO_FAILOVER,
	CHECKD_DO_STOP,
};
const char *checkd_decision_name(enum checkd_decision d);

/*
 * A checker reached FAILED with this action. restart: a restart while
 * fewer than restart.max were made in the window, else the escalation.
 * failover and stop: as they say.
 */
enum checkd_decision checkd_decide(const struct checkd_cfg *cfg,
				   enum checkd_action action,
				   size_t restarts_in_window);
/* heartbeatd refused (or never carried out) the failover. */
enum checkd_decision checkd_decide_refused(const struct checkd_cfg *cfg);

#endif
