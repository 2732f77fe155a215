/*
 * goal.c - the states `skyctl wait` can wait for, and this node's role in a
 * status object (see goal.h).
 */
#include "goal.h"
#include "bus.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define GOAL_TEXT_MAX 256

/* replicd's words (shared/bus.h SKY_SYNC_*), in bit order. */
static const char *const sync_names[] = {
	SKY_SYNC_INSYNC,  SKY_SYNC_RESYNCING, SKY_SYNC_DEGRADED,
	SKY_SYNC_WAITING, SKY_SYNC_DIVERGED,  SKY_SYNC_STOPPED,
};

static int sync_index(const char *word)
{
	if (strcasecmp(word, "in-sync") == 0)
		return 0;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(sync_names); i++)
		if (strcasecmp(word, sync_names[i]) == 0)
			return (int)i;
	return -1;
}

static unsigned role_bit(enum sky_role role)
{
	return 1u << (unsigned)role;
}

int skyctl_goal_parse(const char *text, struct skyctl_goal *goal, char *err,
		      size_t err_size)
{
	char copy[GOAL_TEXT_MAX];
	char *save = NULL;

	*goal = (struct skyctl_goal){0};
	if (sky_strlcpy(copy, text, sizeof(copy)) < 0)
		return sky_refuse(err, err_size, "'%.32s...' is too long",
				  text);
	for (char *word = strtok_r(copy, ",", &save); word;
	     word = strtok_r(NULL, ",", &save)) {
		enum sky_role role;
		int s;

		if (strcasecmp(word, "serving") == 0)
			goal->roles |= role_bit(SKY_ROLE_PRIM) |
				       role_bit(SKY_ROLE_ALONE) |
				       role_bit(SKY_ROLE_UP);
		else if (sky_role_parse(word, &role) == 0 &&
			 role < SKY_ROLE_COUNT)
			goal->roles |= role_bit(role);
		else if ((s = sync_index(word)) >= 0)
			goal->syncs |= 1u << (unsigned)s;
		else
			return sky_refuse(err, err_size,
					  "'%.64s' is not a state (STOP, WAIT, "
					  "SECOND, ALONE, PRIM, UP, serving, "
					  "insync, resyncing, degraded, "
					  "waiting, diverged, stopped)",
					  word);
	}
	if (!goal->roles && !goal->syncs)
		return sky_refuse(err, err_size, "no state given");
	return 0;
}

void skyctl_goal_describe(const struct skyctl_goal *goal, char *buf,
			  size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int r = 0; r < SKY_ROLE_COUNT; r++) {
		if (!(goal->roles & role_bit((enum sky_role)r)))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s",
				 used ? " or " : "",
				 sky_role_name((enum sky_role)r));
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
	for (size_t i = 0; i < SKY_ARRAY_SIZE(sync_names); i++) {
		if (!(goal->syncs & (1u << i)))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s",
				 used ? " or " : "", sync_names[i]);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

int skyctl_status_role(const json_t *status)
{
	const json_t *text =
		json_object_get(json_object_get(status, "node"), "role");
	enum sky_role role;

	if (!json_is_string(text) ||
	    sky_role_parse(json_string_value(text), &role) < 0 ||
	    role >= SKY_ROLE_COUNT)
		return -1;
	return (int)role;
}

const char *skyctl_status_sync(const json_t *status)
{
	const json_t *r = json_object_get(json_object_get(status, "actuators"),
					  "replicd");
	const json_t *sync = json_object_get(r, "sync");

	return json_is_string(sync) ? json_string_value(sync) : NULL;
}

bool skyctl_goal_reached(const json_t *status, const struct skyctl_goal *goal)
{
	int role = skyctl_status_role(status);
	const char *sync = skyctl_status_sync(status);

	if (role >= 0 && (goal->roles & role_bit((enum sky_role)role)))
		return true;
	if (sync) {
		int s = sync_index(sync);
		if (s >= 0 && (goal->syncs & (1u << (unsigned)s)))
			return true;
	}
	return false;
}
