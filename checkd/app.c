/*
 * app.c - see app.h.
 */
#include "app.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

const char *checkd_job_name(enum checkd_job j)
{
	switch (j) {
	case CHECKD_JOB_START_PRIM:
		return "start_prim";
	case CHECKD_JOB_STOP_PRIM:
		return "stop_prim";
	case CHECKD_JOB_START_BOTH:
		return "start_both";
	case CHECKD_JOB_STOP_BOTH:
		return "stop_both";
	default:
		return "none";
	}
}

void checkd_app_init(struct checkd_app *a, bool has_both)
{
	memset(a, 0, sizeof(*a));
	a->has_both = has_both;
	a->cleanup_pending = true; /* the first "down" clears leftovers */
}

bool checkd_app_failed_now(const struct checkd_app *a)
{
	return a->failed && a->want_up && a->failed_epoch == a->epoch;
}

void checkd_app_desired(struct checkd_app *a, const char *target,
			bool module_started, uint64_t epoch)
{
	bool up = target && strcmp(target, "up") == 0;
	a->module_started = module_started;
	if (!target) { /* not asked yet: keep doing what we do */
		a->epoch = epoch;
		return;
	}
	if (!a->have_desired || up != a->want_up) {
		a->up_this_term = false;
		a->restart_requested = false;
	}
	if (!up) {
		a->failed = false;
		a->hold = false;
		a->restart_failed = false;
	}
	/* The first word from heartbeatd is "up": nothing to clean first. */
	if (!a->have_desired && up)
		a->cleanup_pending = false;
	a->have_desired = true;
	a->want_up = up;
	a->epoch = epoch;
}

void checkd_app_silence(struct checkd_app *a, bool silenced)
{
	/* Stopped on purpose: the next start is a start, not a restart. */
	if (silenced && !a->silenced)
		a->up_this_term = false;
	a->silenced = silenced;
}

void checkd_app_resume_term(struct checkd_app *a)
{
	if (a->want_up && !a->silenced && !checkd_app_failed_now(a))
		a->up_this_term = true;
}

enum checkd_job checkd_app_next(struct checkd_app *a)
{
	enum checkd_job j = CHECKD_JOB_NONE;
	bool up = a->want_up && !a->silenced;

	if (a->job != CHECKD_JOB_NONE || !a->have_desired)
		return CHECKD_JOB_NONE;
	if (a->cleanup_pending && a->state == CHECKD_APP_STOPPED &&
	    (!up || checkd_app_failed_now(a) || a->hold)) {
		j = CHECKD_JOB_STOP_PRIM;
		a->state = CHECKD_APP_STOPPING;
	} else if (up && !checkd_app_failed_now(a) && a->hold) {
		j = CHECKD_JOB_NONE; /* held as it is */
	} else if (up && !checkd_app_failed_now(a)) {
		if (a->state == CHECKD_APP_RUNNING && a->restart_requested) {
			a->restart_requested = false;
			a->restarting = true;
			j = CHECKD_JOB_STOP_PRIM;
			a->state = CHECKD_APP_STOPPING;
		} else if (a->has_both && !a->both_started) {
			j = CHECKD_JOB_START_BOTH;
		} else if (a->state == CHECKD_APP_STOPPED) {
			j = CHECKD_JOB_START_PRIM;
			a->state = CHECKD_APP_STARTING;
		}
	} else if (a->state == CHECKD_APP_RUNNING) {
		j = CHECKD_JOB_STOP_PRIM;
		a->state = CHECKD_APP_STOPPING;
		a->restarting = false;
	} else if (!a->module_started && a->both_started) {
		j = CHECKD_JOB_STOP_BOTH;
	}
	a->job = j;
	return j;
}

static void fail(struct checkd_app *a, const char *reason)
{
	a->failed = true;
	a->failed_epoch = a->epoch;
	a->restarting = false;
	a->restart_requested = false;
	sky_strlcpy(a->reason, reason, sizeof(a->reason));
}

void checkd_app_done(struct checkd_app *a, bool ok, const char *why)
{
	char reason[CHECKD_REASON_MAX];
	enum checkd_job j = a->job;

	a->job = CHECKD_JOB_NONE;
	switch (j) {
	case CHECKD_JOB_START_BOTH:
		if (ok) {
			a->both_started = true;
		} else {
			snprintf(reason, sizeof(reason), "start_both %s", why);
			fail(a, reason);
		}
		break;
	case CHECKD_JOB_START_PRIM:
		if (!ok && a->restarting) {
			a->restarting = false;
			a->state = CHECKD_APP_STOPPED;
			a->cleanup_pending = true;
			a->hold = true;
			a->restart_failed = true;
			snprintf(a->reason, sizeof(a->reason),
				 "start_prim (restart) %s", why);
			break;
		}
		a->restarting = false;
		if (ok) {
			a->state = CHECKD_APP_RUNNING;
			a->up_this_term = true;
			a->reason[0] = '\0';
		} else {
			/* Never half-started: stop_prim cleans up next. */
			a->state = CHECKD_APP_STOPPED;
			a->cleanup_pending = true;
			snprintf(reason, sizeof(reason), "start_prim %s", why);
			fail(a, reason);
		}
		break;
	case CHECKD_JOB_STOP_PRIM:
		a->state = CHECKD_APP_STOPPED;
		a->cleanup_pending = false;
		break;
	case CHECKD_JOB_STOP_BOTH:
		a->both_started = false;
		break;
	case CHECKD_JOB_NONE:
		break;
	}
}

void checkd_app_restart(struct checkd_app *a)
{
	if (a->want_up && a->state == CHECKD_APP_RUNNING &&
	    !checkd_app_failed_now(a))
		a->restart_requested = true;
}

void checkd_app_hold(struct checkd_app *a, bool hold)
{
	a->hold = hold;
}

void checkd_app_fail(struct checkd_app *a, const char *reason)
{
	if (a->want_up)
		fail(a, reason);
}

const char *checkd_app_report(const struct checkd_app *a)
{
	if (!a->have_desired || !a->want_up || a->silenced) {
		bool stopped = a->state == CHECKD_APP_STOPPED &&
			       a->job != CHECKD_JOB_STOP_PRIM;
		return stopped ? "down" : "stopping";
	}
	if (checkd_app_failed_now(a))
		return "failed";
	if (a->state == CHECKD_APP_RUNNING && !a->restart_requested)
		return "up";
	if (a->up_this_term)
		return "up"; /* restarting: still ours to keep up */
	return "starting";
}

const char *checkd_app_describe(const struct checkd_app *a)
{
	if (a->restarting || a->restart_requested)
		return "restarting";
	if (a->hold && a->state == CHECKD_APP_STOPPED && a->want_up)
		return "held";
	if (checkd_app_failed_now(a) && a->state == CHECKD_APP_STOPPED)
		return "failed";
	switch (a->state) {
	case CHECKD_APP_STARTING:
		return "starting";
	case CHECKD_APP_RUNNING:
		return "running";
	case CHECKD_APP_STOPPING:
		return "stopping";
	default:
		return "stopped";
	}
}
