/*
 * relay.h - the emulator's loop: frames from each interface through their
 * direction's line (line.h) to the other interface, on time.
 *
 * One thread, one loop: drain both receive rings (a bounded batch each turn,
 * so neither side starves the other), send what is due in sendmmsg batches,
 * then sleep in ppoll until the next departure or the next frame, with the
 * timer slack at 1 ns (a departure is late only by the scheduler's wake-up).
 * Signals are blocked except inside ppoll: SIGHUP re-reads the control file,
 * SIGUSR1 prints the counters, SIGTERM/SIGINT end the loop.
 */
#ifndef WANEM_RELAY_H
#define WANEM_RELAY_H

#include "line.h"
#include "params.h"
#include "port.h"

#include <stdbool.h>
#include <stdio.h>

struct wanem_relay {
	struct wanem_port port[2];
	struct wanem_line line[2];  /* line[d]: from port[d] to port[1 - d] */
	struct wanem_params base;   /* the command line's */
	struct wanem_params params; /* in force */
	const char *control_path;   /* NULL: no run-time changes */
	unsigned generation;	    /* control files applied */
	bool blocked[2];	    /* port[i]'s send buffer is full */
};

/* Open both ports and the lines. 0 or -errno (logged here, with names). */
int wanem_relay_open(struct wanem_relay *r, const char *if_a, const char *if_b,
		     uint32_t limit);
void wanem_relay_close(struct wanem_relay *r);

/* Until SIGTERM/SIGINT. 0, or -errno if the loop itself failed. */
int wanem_relay_run(struct wanem_relay *r);

/* Re-read the control file and apply it; a bad file changes nothing. */
int wanem_relay_reload(struct wanem_relay *r);

/* One line per direction: "wanem: counters a>b rx_frames=... ". */
void wanem_relay_print_counters(struct wanem_relay *r, FILE *out);

/* Block the signals the loop takes and install their handlers. */
void wanem_relay_signals_install(void);

#endif
