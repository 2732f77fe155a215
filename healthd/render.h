/*
 * render.h - the answers healthd builds from its module table: the /status
 * JSON and the /metrics Prometheus text. Pure functions of the table and
 * the clock; the unit tests feed them hand-made (and hostile) statuses.
 */
#ifndef HEALTHD_RENDER_H
#define HEALTHD_RENDER_H

#include "guard.h"
#include "modules.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* HTTP answers counted for /metrics, by status code. */
enum healthd_code {
	HEALTHD_CODE_200 = 0,
	HEALTHD_CODE_404,
	HEALTHD_CODE_405,
	HEALTHD_CODE_503,
	HEALTHD_CODE_OTHER,
	HEALTHD_CODE_COUNT,
};

struct healthd_stats {
	uint64_t requests[HEALTHD_CODE_COUNT];
	unsigned connections; /* open now, filled in before rendering */
	struct healthd_guard_counters conn; /* likewise */
	int64_t started_ms;		    /* monotonic */
};

enum healthd_code healthd_code_of(unsigned status);

/*
 * {"host":..., "healthd":{...}, "modules":{NAME:{health, reason,
 * connected, age_ms, transitions:[newest first], status:{...}}}}.
 * NULL only when out of memory.
 */
json_t *healthd_render_status(const struct healthd_table *t,
			      const struct healthd_stats *stats,
			      const char *host, int64_t now_ms);

/*
 * The Prometheus text exposition (version 0.0.4) of every module and of
 * healthd itself, in a malloc'ed buffer. Returns 0 or -ENOMEM.
 */
int healthd_render_metrics(const struct healthd_table *t,
			   const struct healthd_stats *stats, int64_t now_ms,
			   char **out, size_t *out_len);

#endif
