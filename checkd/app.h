/*
 * app.h - the application's lifecycle on this node, as a pure state machine.
 *
 * Inputs: heartbeatd's target for checkd (up, down, or not asked yet), the
 * epoch, whether the module runs at all here (role other than STOP), the
 * end of each action (script or unit job), restart and failure requests.
 * Output: the next action to run (at most one at a time) and the state to
 * publish. Rules:
 *  - start_both runs once the module runs here (any role but STOP), before
 *    start_prim; stop_both once it is STOPped, after stop_prim.
 *  - start_prim only while the target is up; stop_prim when it is down.
 *  - A start that fails or times out is followed by stop_prim (never a
 *    half-started application) and reported "failed" for that epoch; it is
 *    not retried until the epoch or the target changes.
 *  - stop_prim also runs once at start-up when the target is down, to clear
 *    an application left behind by a crashed checkd or node.
 *  - While heartbeatd's word is too old to serve on (silenced, see
 *    shared/desired.h) a target of up counts as down: stop_prim runs, and
 *    nothing starts until a fresh desired state arrives.
 *  - A restart (stop_prim then start_prim) of an application that was up
 *    is reported "up": it is checkd's business, not a lost promotion. If
 *    its start_prim fails, stop_prim cleans up, the application is held
 *    stopped and restart_failed tells the daemon to decide (restart again,
 *    fail over, or stop).
 */
#ifndef SKYHA_CHECKD_APP_H
#define SKYHA_CHECKD_APP_H

#include <stdbool.h>
#include <stdint.h>

enum checkd_app_state {
	CHECKD_APP_STOPPED = 0,
	CHECKD_APP_STARTING,
	CHECKD_APP_RUNNING,
	CHECKD_APP_STOPPING,
};

enum checkd_job {
	CHECKD_JOB_NONE = 0,
	CHECKD_JOB_START_PRIM,
	CHECKD_JOB_STOP_PRIM,
	CHECKD_JOB_START_BOTH,
	CHECKD_JOB_STOP_BOTH,
};
const char *checkd_job_name(enum checkd_job j);

#define CHECKD_REASON_MAX 256

struct checkd_app {
	bool has_both; /* start_both/stop_both configured */
	/* heartbeatd's wish */
	bool have_desired; /* a target other than null was heard */
	bool want_up;
	bool silenced; /* heartbeatd's word expired: up counts as down */
	bool module_started;
	uint64_t epoch;
	/* where the application is */
	enum checkd_app_state state;
	enum checkd_job job; /* running now, or NONE */
	bool both_started;
	bool cleanup_pending;
	bool restart_requested;
	bool restarting;
	bool up_this_term;   /* reached up since the target became up */
	bool hold;	     /* do not start (a failover is being asked) */
	bool restart_failed; /* start_prim of a restart failed: decide */
	bool failed;	     /* for failed_epoch, while the target is up */
	uint64_t failed_epoch;
	char reason[CHECKD_REASON_MAX];
};

void checkd_app_init(struct checkd_app *a, bool has_both);
/* heartbeatd's desired state (target NULL: not asked yet). */
void checkd_app_desired(struct checkd_app *a, const char *target,
			bool module_started, uint64_t epoch);
/* heartbeatd's word expired (true) or is fresh again (false). */
void checkd_app_silence(struct checkd_app *a, bool silenced);
/* heartbeatd already counted checkd up for this epoch (checkd restarted). */
void checkd_app_resume_term(struct checkd_app *a);
/* The next action to run now, or NONE; marks it running. */
enum checkd_job checkd_app_next(struct checkd_app *a);
/* The running action ended (ok: exit 0 within its timeout). */
void checkd_app_done(struct checkd_app *a, bool ok, const char *why);
/* Stop and start again (ignored unless running with the target up). */
void checkd_app_restart(struct checkd_app *a);
/* Hold the application stopped (true) or let it start again (false). */
void checkd_app_hold(struct checkd_app *a, bool hold);
/* Give up here for this epoch: stop, and report failed with reason. */
void checkd_app_fail(struct checkd_app *a, const char *reason);
/* What to publish: "up", "down", "failed", "starting" or "stopping". */
const char *checkd_app_report(const struct checkd_app *a);
/* The application as a human reads it: running, stopped, restarting... */
const char *checkd_app_describe(const struct checkd_app *a);
bool checkd_app_failed_now(const struct checkd_app *a);

#endif
