/*
 * actual.h - checking an actuator's actual state (MODULE.DAEMON.actual,
 * docs/protocol.md) before heartbeatd believes a word of it.
 *
 * Anything that can connect to the actual endpoint can publish, and what
 * replicd, vipd and checkd say moves transitions and decides promotions.
 * actual_check() checks the topic and every field heartbeatd uses, for its
 * JSON type and allowed values: a message with one bad field is dropped
 * whole (the daemon publishes again within a second), never half believed.
 * Pure: no I/O.
 */
#ifndef SKYHA_ACTUAL_H
#define SKYHA_ACTUAL_H

#include "bus.h"

#include <stddef.h>

#define ACTUAL_STATE_MAX 15 /* bytes of "state": a word */

/*
 * 0 when topic is MODULE.DAEMON.actual for an actuator and msg is that
 * daemon's actual state for this module and node, with every field it
 * carries well typed; *which is the daemon. -EINVAL otherwise, with err
 * naming the topic or the field and what is wrong with it.
 */
int actual_check(const char *topic, const json_t *msg, const char *module,
		 const char *node, enum sky_actuator *which, char *err,
		 size_t err_size);

#endif
