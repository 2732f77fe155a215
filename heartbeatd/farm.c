/*
 * farm.c - the farm and light modules' node state (see farm.h).
 */
#include "farm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void farm_init(struct farm *f, const struct sky_config *cfg,
	       const struct sky_node *self, int64_t rejoin_after_ms)
{
	memset(f, 0, sizeof(*f));
	f->node_count = cfg->node_count;
	for (size_t i = 0; i < cfg->node_count; i++) {
		sky_strlcpy(f->names[i], cfg->nodes[i].name,
			    sizeof(f->names[i]));
		if (&cfg->nodes[i] == self)
			f->self_index = i;
	}
	f->rejoin_after_ms = rejoin_after_ms;
	f->quorum_required = cfg->quorum_etcd;
	snprintf(f->quorum_refusal, sizeof(f->quorum_refusal),
		 "no etcd lease yet");
}

__attribute__((format(printf, 4, 5))) static void
enter(struct sm *sm, int64_t now, enum sky_role role, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sm_set_role(sm, now, role, fmt, ap);
	va_end(ap);
}

/* The members in this view, sorted by name (insertion: at most 16). */
static void compute_members(struct farm *f, const struct sm *sm,
			    const struct farm_node_input *in)
{
	char members[SKY_MAX_NODES][SKY_NAME_MAX + 1];
	size_t count = 0;

	memset(members, 0, sizeof(members)); /* compared whole below */

	for (size_t i = 0; i < f->node_count; i++) {
		bool serves = i == f->self_index
				      ? sm->role == SKY_ROLE_UP && f->ready
				      : in[i].visible &&
						in[i].role == SKY_ROLE_UP &&
						in[i].ready;
		if (!serves)
			continue;
		size_t at = count;
		while (at > 0 && strcmp(members[at - 1], f->names[i]) > 0) {
			memcpy(members[at], members[at - 1],
			       sizeof(members[at]));
			at--;
		}
		sky_strlcpy(members[at], f->names[i], sizeof(members[at]));
		count++;
	}
	if (count != f->member_count ||
	    memcmp(members, f->members, count * sizeof(members[0])) != 0) {
		memcpy(f->members, members, sizeof(members));
		f->member_count = count;
		f->members_changed = true;
		f->membership_changes++;
	}
}

void farm_step(struct farm *f, struct sm *sm, int64_t now,
	       const struct farm_node_input *in)
{
	sm->waiting_for[0] = '\0';
	if (sm->role != SKY_ROLE_UP)
		f->ready = false;
	switch (sm->role) {
	case SKY_ROLE_STOP:
		break;
	case SKY_ROLE_UP:
		/* Out of etcd's majority's view: stop serving before the
		 * lease can end (the others, who see etcd, go on). */
		if (f->quorum_required && !f->quorum_ok)
			enter(sm, now, SKY_ROLE_WAIT,
			      "no quorum: %s; not serving", f->quorum_refusal);
		break;
	default: /* WAIT (and anything a mirror's file left) */
		if (sm->role != SKY_ROLE_WAIT) {
			enter(sm, now, SKY_ROLE_WAIT, "starting");
			break;
		}
		if (f->quorum_required && !f->quorum_ok) {
			snprintf(sm->waiting_for, sizeof(sm->waiting_for),
				 "no quorum: %s", f->quorum_refusal);
			break;
		}
		if (f->failed) {
			int64_t since = now - f->failed_at_ms;
			bool rejoin = f->rejoin_after_ms > 0 &&
				      since >= f->rejoin_after_ms;
			if (!rejoin) {
				if (f->rejoin_after_ms > 0)
					snprintf(
						sm->waiting_for,
						sizeof(sm->waiting_for),
						"the application failed (%s): "
						"rejoining in %lld ms, or on "
						"skyctl start",
						f->failure,
						(long long)(f->rejoin_after_ms -
							    since));
				else
					snprintf(sm->waiting_for,
						 sizeof(sm->waiting_for),
						 "the application failed (%s): "
						 "skyctl start rejoins",
						 f->failure);
				break;
			}
			f->failed = false;
			sm->epoch++;
			enter(sm, now, SKY_ROLE_UP,
			      "rejoining %lld ms after the application failed",
			      (long long)since);
			break;
		}
		sm->epoch++;
		enter(sm, now, SKY_ROLE_UP, "starting the application");
		break;
	}
	compute_members(f, sm, in);
}

void farm_fail(struct farm *f, struct sm *sm, int64_t now, const char *reason)
{
	f->failed = true;
	f->failed_at_ms = now;
	f->ready = false;
	sky_strlcpy(f->failure, reason, sizeof(f->failure));
	enter(sm, now, SKY_ROLE_WAIT, "the application failed: %s", reason);
}

int farm_command(struct farm *f, struct sm *sm, int64_t now,
		 enum sm_command cmd, char *msg, size_t size)
{
	switch (cmd) {
	case SM_CMD_START:
		if (sm->role == SKY_ROLE_WAIT && f->failed) {
			f->failed = false;
			snprintf(msg, size,
				 "rejoining: the application starts again");
			return 0;
		}
		if (sm->role != SKY_ROLE_STOP) {
			snprintf(msg, size, "already started (%s)",
				 sky_role_name(sm->role));
			return 0;
		}
		sm->stopped = false;
		f->failed = false;
		enter(sm, now, SKY_ROLE_WAIT, "started by the operator");
		snprintf(msg, size, "started: the application starts here");
		return 0;
	case SM_CMD_STOP:
		sm->stopped = true;
		f->ready = false;
		enter(sm, now, SKY_ROLE_STOP, "stopped by the operator");
		snprintf(msg, size,
			 "stopped: the other nodes take this node's share");
		return 0;
	case SM_CMD_FAILOVER:
		/* checkd gave up on the application here. */
		if (sm->role != SKY_ROLE_UP) {
			snprintf(msg, size, "not UP here (%s): nothing to stop",
				 sky_role_name(sm->role));
			return -EAGAIN;
		}
		farm_fail(f, sm, now, "checkd asked to fail over");
		snprintf(msg, size,
			 "the application stops here; the other nodes take "
			 "its share");
		return 0;
	case SM_CMD_SWAP:
	case SM_CMD_PRIM:
	case SM_CMD_SECOND:
		break;
	}
	snprintf(msg, size,
		 "a farm has no primary: every UP node serves (use "
		 "skyctl stop and skyctl start)");
	return -EPERM;
}

bool farm_is_member(const struct farm *f, const char *name)
{
	for (size_t i = 0; i < f->member_count; i++)
		if (strcmp(f->members[i], name) == 0)
			return true;
	return false;
}
