/*
 * goal.h - what `skyctl wait` waits for and what `skyctl state` answers,
 * read from heartbeatd's status object (hostile input: every field is
 * type-checked; a missing one never matches).
 *
 * A goal is a comma-separated list of states, any of which ends the wait:
 * roles (STOP, WAIT, SECOND, ALONE, PRIM, UP), "serving" (PRIM, ALONE or
 * UP), and replication states as replicd reports them (insync, resyncing,
 * degraded, waiting, diverged, stopped; "in-sync" is accepted for insync).
 */
#ifndef SKYCTL_GOAL_H
#define SKYCTL_GOAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* skyctl state's exit status: SKYCTL_STATE_EXIT_BASE + the role's number
 * (STOP 10, WAIT 11, SECOND 12, ALONE 13, PRIM 14, UP 15). */
#define SKYCTL_STATE_EXIT_BASE 10

struct skyctl_goal {
	unsigned roles; /* bit (1 << enum sky_role) */
	unsigned syncs; /* bit i: sync_names[i] (goal.c) */
};

/* 0, or -EINVAL with err naming the word that is not a state. */
int skyctl_goal_parse(const char *text, struct skyctl_goal *goal, char *err,
		      size_t err_size);
/* "PRIM or ALONE or insync": for messages. */
void skyctl_goal_describe(const struct skyctl_goal *goal, char *buf,
			  size_t size);
bool skyctl_goal_reached(const json_t *status, const struct skyctl_goal *goal);

/* This node's role in a status object, or -1 if it has none that parses. */
int skyctl_status_role(const json_t *status);
/* replicd's sync word in a status object, or NULL. */
const char *skyctl_status_sync(const json_t *status);

#endif
