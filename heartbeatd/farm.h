/*
 * farm.h - the farm and light modules' node state, as a pure function.
 *
 * A farm runs the application on every node; a light module is a farm of
 * one. A node is STOP (the operator said so), WAIT (not serving: starting,
 * or its application failed) or UP (the application runs here). There is
 * no election, no data and no quorum: every node that can run the
 * application serves, and a partition leaves each side serving the whole
 * load (docs/architecture.md, "Farm").
 *
 * The members are the nodes that serve in this node's view: this node
 * when UP and ready (its actuators settled: the application started, its
 * checkers passing), and every other node whose last heartbeat, within
 * heartbeat.timeout_ms, says UP and ready. Every node that hears the same
 * heartbeats computes the same list, sorted by name; vipd spreads the load
 * over it (docs/protocol.md, "members").
 *
 * Like state.h, no I/O and no clock: node.c passes the time and what the
 * heartbeats say; tests drive it with a fake clock.
 */
#ifndef SKYHA_FARM_H
#define SKYHA_FARM_H

#include "config.h"
#include "state.h"

/* Heartbeat flag of a farm node: UP, and its actuators settled. */
#define HB_FLAG_READY 0x80

/* Another node, as its heartbeats show it (node.c fills one per node). */
struct farm_node_input {
	bool visible; /* a valid heartbeat within heartbeat.timeout_ms */
	enum sky_role role;
	bool ready;
};

struct farm {
	size_t node_count;
	size_t self_index;
	char names[SKY_MAX_NODES][SKY_NAME_MAX + 1]; /* the config's order */
	int64_t rejoin_after_ms; /* 0: a failed node waits for skyctl start */

	/* Runtime. */
	bool failed; /* left UP: the application failed here */
	int64_t failed_at_ms;
	char failure[160];
	bool ready; /* input: UP and the actuators settled */
	/* quorum: etcd: serve only while this node's etcd lease lives (the
	 * majority of etcd sees it). Inputs, set before each farm_step. */
	bool quorum_required;
	bool quorum_ok;
	char quorum_refusal[160]; /* why not, for the reason and status */

	/* Output: the members, sorted by name. */
	char members[SKY_MAX_NODES][SKY_NAME_MAX + 1];
	size_t member_count;
	bool members_changed; /* set by farm_step; the caller clears */
	uint64_t membership_changes;
};

void farm_init(struct farm *f, const struct sky_config *cfg,
	       const struct sky_node *self, int64_t rejoin_after_ms);

/* One turn: the role in sm (STOP, WAIT, UP) and the members. in[i] is
 * node i of the config (in[self_index] is ignored). */
void farm_step(struct farm *f, struct sm *sm, int64_t now,
	       const struct farm_node_input *in);

/* The application failed here (checkd gave up, a step timed out): WAIT,
 * and rejoin after rejoin_after_ms, or on `skyctl start`. */
void farm_fail(struct farm *f, struct sm *sm, int64_t now, const char *reason);

/* An operator's command (start, stop); the others are the mirror's and
 * are refused with why. Returns 0 or -EPERM/-EAGAIN, with msg filled. */
int farm_command(struct farm *f, struct sm *sm, int64_t now,
		 enum sm_command cmd, char *msg, size_t size);

/* Is `name` one of the members? */
bool farm_is_member(const struct farm *f, const char *name);

#endif
