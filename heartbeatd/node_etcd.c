/*
 * node_etcd.c - the mirror's turn of the loop with quorum: etcd: what the
 * worker (etcd.c) learnt, handed to the state machine as the witness
 * client would have handed it, and what the state machine wants, handed
 * back. The worker's log lines are logged here, on the loop's thread.
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Log the worker's queued lines, then take its view: both module kinds. */
static void take_worker_news(struct node *n)
{
	struct etcd_log_line lines[8];
	size_t count;

	while ((count = etcd_client_take_log(n->etcd, lines,
					     SKY_ARRAY_SIZE(lines))) > 0)
		for (size_t i = 0; i < count; i++)
			sky_log(lines[i].priority, "etcd: %s", lines[i].text);
	etcd_client_get_view(n->etcd, &n->etcd_view);
}

/*
 * quorum: etcd: what the worker learnt, as the witness client would have
 * told it (state.h's sm_witness); each answer and grant is handed over once.
 */
void node_etcd_inputs(struct node *n, int64_t now)
{
	struct etcd_view *v = &n->etcd_view;
	struct sm_witness *w = &n->witness_view;

	take_worker_news(n);
	w->lease_valid = now < v->valid_until_ms;
	w->epoch_floor = w->lease_valid ? (uint64_t)v->leader_revision : 0;
	if (v->answer_seq != n->etcd_answer_seq) {
		if (!n->etcd_answered_ever || v->answer != w->last_answer)
			log_info("etcd answers %s%s%s",
				 lease_answer_name(v->answer),
				 v->holder[0] ? ", leader " : "", v->holder);
		n->etcd_answer_seq = v->answer_seq;
		n->etcd_answered_ever = true;
		w->answered = true;
		w->last_answer = v->answer;
		sky_strlcpy(w->holder, v->holder, sizeof(w->holder));
		w->newest_generation = v->newest_generation;
	}
	if (v->grant_seq != n->etcd_grant_seq) {
		n->etcd_grant_seq = v->grant_seq;
		w->generation_granted = true;
		w->granted_generation = v->granted_generation;
	}
}

void node_etcd_farm_inputs(struct node *n, int64_t now)
{
	const struct etcd_view *v = &n->etcd_view;

	take_worker_news(n);
	n->farm.quorum_ok = now < v->lease_valid_until_ms;
	if (n->farm.quorum_ok)
		n->farm.quorum_refusal[0] = '\0';
	else if (v->last_error[0])
		snprintf(n->farm.quorum_refusal, sizeof(n->farm.quorum_refusal),
			 "etcd lease not renewed (%s)", v->last_error);
	else
		snprintf(n->farm.quorum_refusal, sizeof(n->farm.quorum_refusal),
			 "no etcd lease yet");
}

void node_etcd_tell_want(struct node *n)
{
	struct etcd_want want = {
		.leader = n->sm.want_lease,
		.new_generation = n->sm.want_new_generation,
		.forced = n->sm.forced,
		.generation = n->sm.generation,
	};
	etcd_client_set_want(n->etcd, &want);
}

void node_watchdog_turn(struct node *n, int64_t now)
{
	struct hb_watchdog *wd = &n->watchdog;
	const struct etcd_view *v = &n->etcd_view;
	char why[PATH_MAX + 160];

	if (!wd->path[0])
		return;
	if (!sky_role_serves(n->sm.role)) {
		if (hb_watchdog_armed(wd))
			log_notice("watchdog %s disarmed: no longer serving",
				   wd->path);
		hb_watchdog_disarm(wd);
		return;
	}
	if (!hb_watchdog_armed(wd)) {
		int r = hb_watchdog_arm(wd, now, why, sizeof(why));
		if (r < 0) {
			/* Serving without it would break the promise. */
			log_error("watchdog: %s", why);
			sm_fail(&n->sm, now, "the watchdog cannot be armed");
			return;
		}
		log_notice("watchdog %s armed: %d s, petted while the etcd "
			   "lease holds%s",
			   wd->path, wd->timeout_s,
			   wd->no_ioctl ? " (not a watchdog driver: its "
					  "timeout is not set)"
					: "");
	}
	/* The lease ends in etcd its TTL after the keepalive was sent; the
	 * worker's valid_until is 10% of the TTL before that. */
	int64_t lease_end = v->valid_until_ms
				    ? v->valid_until_ms + v->lease_ttl_ms / 10
				    : 0;
	int r = hb_watchdog_may_pet(now, lease_end, wd->timeout_s)
			? hb_watchdog_pet(wd, now)
			: 0;
	if (r < 0)
		sky_log_ratelimited(&n->rl_watchdog, LOG_ERR,
				    "watchdog %s: cannot pet it: %s", wd->path,
				    strerror(-r));
}
