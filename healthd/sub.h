/*
 * sub.h - healthd's side of the bus: find the modules of the node and
 * follow each one's heartbeatd.
 *
 * Modules are found in the run directory (every DIR/MODULE/ that holds a
 * `desired` socket, rescanned every HEALTHD_SCAN_MS) and/or named with
 * --module. For each, a SUB socket connects to ipc://DIR/MODULE/desired and
 * subscribes to MODULE.heartbeatd.status only; a ZeroMQ socket monitor
 * reports when the connection comes up or goes away, so a heartbeatd that
 * dies stops the module's OK at once (modules.h). A discovered module is
 * forgotten when its directory disappears; a --module never is.
 */
#ifndef HEALTHD_SUB_H
#define HEALTHD_SUB_H

#include "log.h"
#include "modules.h"

#include <limits.h>
#include <stddef.h>
#include <zmq.h>

#define HEALTHD_SCAN_MS 1000

struct healthd_bus {
	char run_dir[PATH_MAX];
	bool scan; /* discover modules in run_dir */
	struct healthd_table *table;
	unsigned monitor_serial;
	int64_t next_scan_ms;
	struct sky_ratelimit rl_bad, rl_field, rl_scan;
};

void healthd_bus_init(struct healthd_bus *b, struct healthd_table *table,
		      const char *run_dir, bool scan);
/* Follow a module (idempotent); explicit modules are never forgotten. */
int healthd_bus_follow(struct healthd_bus *b, const char *name,
		       bool explicit_module);
/* Rescan the run directory if due. */
void healthd_bus_scan(struct healthd_bus *b, int64_t now_ms, bool force);
/* Add every module's sockets to items; returns how many were added. */
size_t healthd_bus_poll_items(const struct healthd_bus *b,
			      zmq_pollitem_t *items, size_t max);
/* Read every pending connection event and status (never blocks). */
void healthd_bus_drain(struct healthd_bus *b, int64_t now_ms);
/* Close every socket and forget every module. */
void healthd_bus_close(struct healthd_bus *b);

#endif
