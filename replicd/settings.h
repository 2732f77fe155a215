/*
 * settings.h - the `replicd:` section of the module configuration.
 *
 *   replicd:
 *     directories: [/srv/app/data, /srv/app/etc]   # required, 1..16
 *     port: 7410          # TCP, on nodes[].addresses[0] (default 7410)
 *     mode: sync          # sync (default), async or commit
 *     timeout_ms: 3000    # longest wait for the peer (default 3000)
 *
 * Parsed once, fully validated, then handed over (docs/config.md). Errors
 * read "file:line:col: replicd.field: why".
 */
#ifndef REPLICD_SETTINGS_H
#define REPLICD_SETTINGS_H

#include "op.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_DEFAULT_PORT	   7410
#define REPLICD_DEFAULT_TIMEOUT_MS 3000

struct replicd_settings {
	char dirs[REPLICD_MAX_DIRS][PATH_MAX];
	size_t dir_count;
	uint16_t port;
	bool async;  /* mode: async */
	bool commit; /* mode: commit (docs/replication.md) */
	uint32_t timeout_ms;
};

int replicd_settings_parse(const char *path, const char *text, size_t len,
			   struct replicd_settings *out, char *err,
			   size_t err_size);
int replicd_settings_load(const char *path, struct replicd_settings *out,
			  char *err, size_t err_size);

#endif
