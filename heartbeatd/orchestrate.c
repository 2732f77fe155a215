/*
 * orchestrate.c - see orchestrate.h.
 */
#include "orchestrate.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void orch_init(struct orch *o, const enum sky_actuator *order, size_t count,
	       int64_t step_timeout_ms)
{
	memset(o, 0, sizeof(*o));
	o->count = count < SKY_ACT_COUNT ? count : SKY_ACT_COUNT;
	for (size_t i = 0; i < o->count; i++)
		o->acts[i].which = order[i];
	o->step_timeout_ms = step_timeout_ms;
	o->role = SKY_ROLE_WAIT;
	o->step = -1;
}

static bool silent(const struct orch *o, const struct orch_actuator *a)
{
	return o->silent_ms > 0 && a->heard &&
	       o->now - a->heard_at_ms > o->silent_ms;
}

static bool reached(const struct orch *o, const struct orch_actuator *a)
{
	if (!a->target || !a->heard || strcmp(a->state, a->target) != 0)
		return false;
	if (silent(o, a))
		return false; /* what it said last may no longer hold */
	/* Serving must be reached for this very epoch; being down is down. */
	return !sky_role_serves(o->role) || a->epoch == o->epoch;
}

void orch_goal(struct orch *o, enum sky_role role, uint64_t epoch, int64_t now)
{
	if (role == o->role && epoch == o->epoch)
		return;
	o->role = role;
	o->epoch = epoch;
	o->failed = false;
	o->failure[0] = '\0';
	o->step = -1;
	o->step_started_ms = now;
	/* Promotion asks again from the first step; demotion keeps what was
	 * asked so the reverse order starts from the last one. */
	if (sky_role_serves(role))
		for (size_t i = 0; i < o->count; i++)
			o->acts[i].target = NULL;
}

int orch_actual(struct orch *o, const char *daemon, const char *state,
		uint64_t epoch, const char *reason, int64_t now)
{
	enum sky_actuator which;
	if (sky_actuator_parse(daemon, &which) < 0)
		return -EINVAL;
	for (size_t i = 0; i < o->count; i++) {
		struct orch_actuator *a = &o->acts[i];
		if (a->which != which)
			continue;
		a->heard = true;
		sky_strlcpy(a->state, state, sizeof(a->state));
		a->epoch = epoch;
		a->heard_at_ms = now;
		sky_strlcpy(a->reason, reason ? reason : "", sizeof(a->reason));
		return 0;
	}
	return -EINVAL;
}

void orch_step(struct orch *o, int64_t now)
{
	bool serving = sky_role_serves(o->role);
	int n = (int)o->count;

	o->pending[0] = '\0';
	o->now = now;
	if (o->failed)
		return;
	for (int k = 0; k < n; k++) {
		int i = serving ? k : n - 1 - k;
		struct orch_actuator *a = &o->acts[i];
		const char *want = sky_actuator_target(a->which, o->role);

		if (a->target != want) {
			a->target = want;
			o->step = i;
			o->step_started_ms = now;
			o->news = true;
		}
		if (reached(o, a))
			continue;
		/* A step that was reached and is no longer (a restarted
		 * actuator reporting "starting" again) gets a full timeout
		 * from now, not from when the transition began. */
		if (o->step != i) {
			o->step = i;
			o->step_started_ms = now;
		}
		o->was_settled = false;
		snprintf(o->pending, sizeof(o->pending), "%s %s",
			 sky_actuator_name(a->which), want);
		/* Only a promotion fails; a demotion keeps asking. */
		if (!serving)
			return;
		if (silent(o, a)) {
			o->failed = true;
			snprintf(o->failure, sizeof(o->failure),
				 "%s silent for %lld ms (it said '%s' last): "
				 "not serving on a daemon that may be dead",
				 sky_actuator_name(a->which),
				 (long long)(now - a->heard_at_ms), a->state);
		} else if (a->heard && strcmp(a->state, "failed") == 0 &&
			   a->epoch == o->epoch) {
			o->failed = true;
			snprintf(o->failure, sizeof(o->failure),
				 "%s failed to reach '%s': %s",
				 sky_actuator_name(a->which), want,
				 a->reason[0] ? a->reason : "no reason given");
		} else if (now - o->step_started_ms > o->step_timeout_ms) {
			o->failed = true;
			snprintf(o->failure, sizeof(o->failure),
				 "%s did not reach '%s' within %lld ms%s%s",
				 sky_actuator_name(a->which), want,
				 (long long)o->step_timeout_ms,
				 a->heard ? "" : " (never heard from it)",
				 a->reason[0] ? a->reason : "");
		}
		return;
	}
	o->step = -1;
	if (!o->was_settled)
		o->news = true;
	o->was_settled = true;
}

bool orch_settled(const struct orch *o)
{
	if (o->failed)
		return false;
	for (size_t i = 0; i < o->count; i++)
		if (!reached(o, &o->acts[i]))
			return false;
	return true;
}
