/*
 * render.h - skyctl's human view of heartbeatd's status object.
 *
 * The status object (docs/protocol.md) comes from another process and is
 * treated as hostile: every field's type is checked, every string is bounded
 * and stripped of bytes that could steer a terminal, and a missing or odd
 * field shows as "?" instead of failing. The functions here do no I/O other
 * than writing to the FILE* they are given, so unit tests drive them with
 * open_memstream().
 */
#ifndef SKYCTL_RENDER_H
#define SKYCTL_RENDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline void skyctl_json_decrefp(json_t **p)
{
	json_decref(*p);
}
#define _cleanup_json_ __attribute__((cleanup(skyctl_json_decrefp)))

/*
 * Write the status at a glance: a header (module, cluster, epoch, quorum),
 * one table row per node, then networks, witness, last transition, pending
 * step, actuators and dropped packet counters. status may be anything,
 * NULL included. Returns 0, or -EIO if writing to out failed.
 */
int skyctl_render_status(FILE *out, const json_t *status);

/* "120 ms", "5.2 s", "3 min 4 s", "2 h 5 min", "3 d 4 h"; "?" if ms < 0. */
void skyctl_format_duration(int64_t ms, char *buf, size_t size);

/*
 * A string from the daemon, made safe to print: at most size-1 bytes (cut
 * on a character boundary and marked "..."), control characters, C1
 * controls and bidirectional overrides replaced by '?'. Anything that is not
 * a JSON string gives "?". Returns buf.
 */
const char *skyctl_safe_text(const json_t *value, char *buf, size_t size);

#endif
