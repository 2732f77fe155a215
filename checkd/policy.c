/*
 * policy.c - see policy.h.
 */
#include "policy.h"

#include <string.h>

const char *checkd_health_name(enum checkd_health h)
{
	switch (h) {
	case CHECKD_HEALTH_OK:
		return "ok";
	case CHECKD_HEALTH_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

void checkd_damper_init(struct checkd_damper *d, uint32_t fail_after,
			uint32_t ok_after)
{
	memset(d, 0, sizeof(*d));
	d->fail_after = fail_after ? fail_after : 1;
	d->ok_after = ok_after ? ok_after : 1;
}

void checkd_damper_reset(struct checkd_damper *d)
{
	checkd_damper_init(d, d->fail_after, d->ok_after);
}

bool checkd_damper_feed(struct checkd_damper *d, bool ok)
{
	if (d->runs > 0 && ok == d->last_ok) {
		if (d->consecutive < UINT32_MAX)
			d->consecutive++;
	} else {
		d->consecutive = 1;
	}
	d->last_ok = ok;
	d->runs++;

	enum checkd_health next = d->state;
	if (ok && d->consecutive >= d->ok_after)
		next = CHECKD_HEALTH_OK;
	else if (!ok && d->consecutive >= d->fail_after)
		next = CHECKD_HEALTH_FAILED;
	if (next == d->state)
		return false;
	d->state = next;
	return true;
}

void checkd_restarts_init(struct checkd_restarts *r, uint32_t max,
			  int64_t window_ms)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->window_ms = window_ms;
}

size_t checkd_restarts_in_window(struct checkd_restarts *r, int64_t now)
{
	size_t old = 0;
	while (old < r->count && r->at[old] <= now - r->window_ms)
		old++;
	if (old) {
		memmove(r->at, r->at + old,
			(r->count - old) * sizeof(r->at[0]));
		r->count -= old;
	}
	return r->count;
}

void checkd_restarts_record(struct checkd_restarts *r, int64_t now)
{
	checkd_restarts_in_window(r, now);
	if (r->count == CHECKD_RESTART_HISTORY) { /* keep the newest */
		memmove(r->at, r->at + 1, (r->count - 1) * sizeof(r->at[0]));
		r->count--;
	}
	r->at[r->count++] = now;
}

const char *checkd_decision_name(enum checkd_decision d)
{
	switch (d) {
	case CHECKD_DO_RESTART:
		return "restart";
	case CHECKD_DO_FAILOVER:
		return "failover";
	case CHECKD_DO_STOP:
		return "stop";
	default:
		return "nothing";
	}
}

static enum checkd_decision from_action(enum checkd_action a)
{
	switch (a) {
	case CHECKD_ACTION_RESTART:
		return CHECKD_DO_RESTART;
	case CHECKD_ACTION_FAILOVER:
		return CHECKD_DO_FAILOVER;
	case CHECKD_ACTION_STOP:
		return CHECKD_DO_STOP;
	}
	return CHECKD_DO_STOP;
}

enum checkd_decision checkd_decide(const struct checkd_cfg *cfg,
				   enum checkd_action action,
				   size_t restarts_in_window)
{
	if (action != CHECKD_ACTION_RESTART)
		return from_action(action);
	if (restarts_in_window < cfg->restart_max)
		return CHECKD_DO_RESTART;
	return from_action(cfg->escalation);
}

enum checkd_decision checkd_decide_refused(const struct checkd_cfg *cfg)
{
	return cfg->failover_refused == CHECKD_ACTION_RESTART
		       ? CHECKD_DO_RESTART
		       : CHECKD_DO_STOP;
}
