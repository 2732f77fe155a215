/*
 * orchestrate.h - ordering the actuators through a transition.
 *
 * To become primary: replication primary-ready, then the VIP, then the
 * application (transitions.order); to stop being primary, the reverse. Each
 * step is asked for only once the previous one is reported reached (with
 * the current epoch), and must be reached within step_timeout_ms; a step
 * that fails or times out fails the transition, and heartbeatd puts the
 * module in WAIT rather than leave half a primary. Pure: no I/O, no clock.
 *
 * Between transitions too, every actuator is watched: one that reports a
 * state below its target again (it restarted) is asked again and has
 * step_timeout_ms to get back (recovery in place); one that says nothing
 * for silent_ms while the node serves (it died, or hangs) fails the
 * primary role, so the peer can take over.
 */
#ifndef SKYHA_ORCHESTRATE_H
#define SKYHA_ORCHESTRATE_H

#include "bus.h"

#include <stdbool.h>
#include <stdint.h>

struct orch_actuator {
	enum sky_actuator which;
	const char *target; /* what we ask for now; NULL: not yet asked */
	bool heard;
	char state[16];
	uint64_t epoch;
	int64_t heard_at_ms;
	char reason[256];
};

struct orch {
	struct orch_actuator acts[SKY_ACT_COUNT];
	size_t count;
	int64_t step_timeout_ms;
	int64_t silent_ms; /* 0: not watched (transitions.actuator_silent_ms) */
	int64_t now;	   /* of the last orch_step */
	enum sky_role role;
	uint64_t epoch;
	int step; /* index of the actuator being waited for, -1 if settled */
	int64_t step_started_ms;
	bool failed;
	char failure[192];
	char pending[48];
	/* Set when a step asks something new or the goal is reached: the
	 * caller publishes at once instead of at the next period. */
	bool news;
	bool was_settled;
};

void orch_init(struct orch *o, const enum sky_actuator *order, size_t count,
	       int64_t step_timeout_ms);
/* A new desired role/epoch: restarts the sequence if it changed. */
void orch_goal(struct orch *o, enum sky_role role, uint64_t epoch, int64_t now);
/* An actual-state report; -EINVAL for a daemon not in the order. */
int orch_actual(struct orch *o, const char *daemon, const char *state,
		uint64_t epoch, const char *reason, int64_t now);
/* Advance: set the next target, detect failures and timeouts. */
void orch_step(struct orch *o, int64_t now);
/* Every actuator reached its target for the current goal. */
bool orch_settled(const struct orch *o);

#endif
