/*
 * status.h - the result of each run, kept for healthd and skyctl status
 * (docs/backup.md, "Status"): <state dir>/backup/<target>.json, replaced
 * atomically, with the last run, the last success and the last failure:
 *
 *   {"target": "local", "module": "app", "node": "node2",
 *    "last_run": {...}, "last_success": {...} | null,
 *    "last_failure": {...} | null, "max_age_s": 172800}
 *
 * each run: {"ok", "time" (ISO UTC), "time_ms", "duration_ms",
 * "snapshot", "bytes_read", "bytes_new", "bytes_uploaded", "files",
 * "chunks_new", "chunks_reused", "files_unlisted_changed", "reason"}.
 */
#ifndef BACKUPD_STATUS_H
#define BACKUPD_STATUS_H

#include "snapshot.h"

#include <jansson.h>
#include <stdbool.h>

/* The run as JSON (snap NULL on failure; reason "" on success). */
json_t *bk_run_json(bool ok, int64_t start_wall_ms, int64_t duration_ms,
		    const struct bk_snapshot *snap, const char *reason);
/* Merge the run into the target's state file. */
int bk_status_write(const char *state_dir, const char *module, const char *node,
		    const char *target, uint64_t max_age_s, json_t *run);

#endif
