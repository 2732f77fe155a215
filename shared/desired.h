/*
 * desired.h - an actuator's reading of MODULE.heartbeatd.desired.
 *
 * Every actuator daemon (replicd, vipd, checkd) follows the same message:
 * {module, node, role, epoch, generation, valid_ms, sent_ms, targets:{replicd,
 * vipd,checkd}, ack_alone?, discard_local?, members?, app_restart?,
 * checkers?}. sky_desired_parse() checks the type and range
 * of every field (docs/protocol.md) as hostile input and accepts for the
 * actuator's target only the values sky_actuator_target() can produce for
 * it (or null: not asked yet).
 *
 * The word of a heartbeatd that stops speaking (frozen, stuck, killed
 * without its unit noticing) must not keep this node serving: each desired
 * state is valid for valid_ms from its publication (sent_ms, heartbeatd's
 * CLOCK_MONOTONIC: the same clock on the same host), or from its receipt
 * when it carries none. A word read late (the actuator itself was stalled,
 * as in a paused VM, with the message waiting in its socket) must not
 * count as fresh: read after its deadline, it serves nothing. struct sky_desired_lease
 * keeps the deadline, and an actuator asked to serve stops serving on its
 * own once sky_desired_lease_expired() says so, until a fresh desired
 * state arrives. heartbeatd chooses valid_ms so that the deadline comes
 * before its peer can be promoted (docs/architecture.md).
 */
#ifndef SKYHA_DESIRED_H
#define SKYHA_DESIRED_H

#include "bus.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A farm's members: at most this many (SKY_MAX_NODES). */
#define SKY_DESIRED_MEMBERS_MAX 16

/* valid_ms is 1..this (heartbeat.timeout_ms is at most 600000). */
#define SKY_DESIRED_VALID_MAX_MS 600000

struct sky_desired {
	enum sky_role role;
	uint64_t epoch;
	const char *target; /* a static string from sky_actuator_target, or
			     * NULL when heartbeatd has not asked yet */
	int64_t valid_ms;   /* 0: the message carries none (a heartbeatd
			     * older than valid_ms): a serving target is
			     * expired at once, other targets are obeyed */
	int64_t sent_ms;    /* heartbeatd's CLOCK_MONOTONIC ms when it
			     * published; 0: absent (count from receipt) */
	/* A farm's nodes that serve in this node's view (UP, this node
	 * included when it is), sorted by name; none in a mirror's. */
	char members[SKY_DESIRED_MEMBERS_MAX][SKY_NAME_MAX + 1];
	size_t member_count;
	/* checkd: restart the application in place when this changes (0:
	 * never asked); checkers off while "checkers": false. */
	int64_t app_restart;
	bool checkers_off;
};

/* 0, or -EINVAL with why filled ("epoch: not an integer"...). */
int sky_desired_parse(const json_t *msg, const char *module, const char *node,
		      enum sky_actuator which, struct sky_desired *out,
		      char *why, size_t why_size);

/*
 * How long heartbeatd's word holds, counted on CLOCK_MONOTONIC. Once a
 * serving word expired, the actuator stays silenced until a fresh desired
 * state either asks it to serve with a role that serves (PRIM, ALONE), or
 * asks it for something else: a heartbeatd that wakes up and demotes
 * itself keeps the serving targets of its later steps for a while (the
 * reverse order of transitions.order), and those must not bring back what
 * the silence took down while the peer may be serving.
 */
struct sky_desired_lease {
	int64_t heard_ms; /* receipt of the last valid desired state; 0: none */
	int64_t deadline_ms; /* sent (or heard) + valid_ms */
	bool serving;	     /* its target asks this actuator to serve */
	bool role_serves;    /* its role is PRIM or ALONE */
	bool silenced;	     /* a serving word expired since (see above) */
	int64_t silent_ms;   /* how long heartbeatd had been silent then */
	bool legacy;	     /* it carried no valid_ms */
};

/* A valid desired state d for actuator `which` was received at now (a
 * serving word already past its deadline silences, as an expiry would). */
void sky_desired_lease_renew(struct sky_desired_lease *l,
			     enum sky_actuator which,
			     const struct sky_desired *d, int64_t now);
/*
 * Must the actuator stop serving? True when the last desired state asks it
 * to serve (replicd primary, vipd or checkd up) and now is at or past its
 * deadline, or it is silenced (above); false when it asks for anything
 * else, or nothing was heard.
 */
bool sky_desired_lease_expired(const struct sky_desired_lease *l, int64_t now);
/*
 * Why, for a log line and the actual state's reason: "heartbeatd silent
 * for 260 ms", "heartbeatd was silent for 2040 ms and no longer serves"
 * or "heartbeatd's desired state carries no valid_ms (...)".
 */
void sky_desired_lease_why(const struct sky_desired_lease *l, int64_t now,
			   char *buf, size_t size);

#endif
