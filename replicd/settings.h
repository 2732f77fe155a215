/*
 * settings.h - the `replicd:` section of the module configuration.
 *
 *   replicd:
 *     directories: [/srv/app/data, /srv/app/etc]   # required, 1..16
 *     port: 7410          # TCP, on nodes[].addresses[0] (default 7410)
 *     mode: sync          # sync (default), async or commit
 *     timeout_ms: 3000    # longest wait for the peer (default 3000)
 *     resync_max_bytes_per_s: 0   # cap on the resync's bytes (0: none)
 *     resync_compress: none       # none (default) or zstd
 *     resync_compress_level: 3    # zstd level, 1..19 (default 3)
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
/* The smallest cap: below it a resync of any size would never end. */
#define REPLICD_RESYNC_CAP_MIN (64u << 10)

/* Backup holds (docs/replication.md, "Backups"). */
#define REPLICD_HOLD_LOST_AFTER_MS 15000
#define REPLICD_HOLD_MAX_BYTES	   (1ull << 30)
#define REPLICD_HOLD_MAX_BYTES_MIN (16ull << 20)

struct replicd_settings {
	char dirs[REPLICD_MAX_DIRS][PATH_MAX];
	size_t dir_count;
	uint16_t port;
	bool async;  /* mode: async */
	bool commit; /* mode: commit (docs/replication.md) */
	uint32_t timeout_ms;
	uint32_t resync_max_bytes_per_s; /* 0: no cap */
	bool resync_zstd;		 /* offer and use write-z */
	int resync_compress_level;
	/* A hold ends (failed) after backupd's silence for this long. */
	uint32_t backup_hold_lost_after_ms;
	/* ... or when its journal would grow beyond this. */
	uint64_t backup_hold_max_bytes;
};

int replicd_settings_parse(const char *path, const char *text, size_t len,
			   struct replicd_settings *out, char *err,
			   size_t err_size);
int replicd_settings_load(const char *path, struct replicd_settings *out,
			  char *err, size_t err_size);

#endif
