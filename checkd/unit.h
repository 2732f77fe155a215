/*
 * unit.h - the application as a systemd unit, driven over sd-bus.
 *
 * With `unit: NAME` in the config, start_prim/stop_prim become StartUnit /
 * StopUnit (mode "replace") on the system manager, and the action is done
 * when ActiveState reaches "active" (start) or "inactive"/"failed" (stop),
 * polled from the event loop, within unit_timeout_ms. Needs systemd as PID
 * 1 (sd_booted()); libsystemd's 0/-errno convention needs no wrapping.
 */
#ifndef SKYHA_CHECKD_UNIT_H
#define SKYHA_CHECKD_UNIT_H

#include <stdbool.h>
#include <stddef.h>

struct checkd_unit {
	void *bus; /* sd_bus * */
	char name[256];
	char path[512]; /* the unit's object path */
};

int checkd_unit_open(struct checkd_unit *u, const char *name, char *err,
		     size_t err_size);
void checkd_unit_close(struct checkd_unit *u);
/* StartUnit or StopUnit, mode "replace". */
int checkd_unit_request(struct checkd_unit *u, bool start, char *err,
			size_t err_size);
/* ActiveState: "active", "activating", "inactive", "failed"... */
int checkd_unit_state(struct checkd_unit *u, char *out, size_t size);

#endif
