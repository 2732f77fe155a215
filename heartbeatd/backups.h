/*
 * backups.h - the last backups of this node, for the status object.
 *
 * backupd (a oneshot run by a timer) leaves its result per target in
 * <state>/<module>/backup/<target>.json (docs/backup.md, "Status").
 * heartbeatd puts a checked summary of each in its status, so `skyctl
 * status`, healthd's /status and /metrics and the console show the last
 * success (when, snapshot, bytes, duration), the last failure after it
 * (when, why), and whether the last success is older than the target's
 * max_age. The files are read at most every BACKUPS_REREAD_MS.
 *
 * The files are written by another program: each is bounded in size, every
 * field type-checked and every string bounded and checked as a name or
 * made printable; a file that does not parse shows as such, not as a
 * crash or a lie.
 */
#ifndef SKYHA_BACKUPS_H
#define SKYHA_BACKUPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BACKUPS_FILE_MAX    (64 * 1024)
#define BACKUPS_TARGETS_MAX 16
#define BACKUPS_REREAD_MS   2000

/*
 * One state file's bytes -> {target, last_success: {time, time_ms,
 * duration_ms, snapshot, bytes_read, bytes_uploaded} | null, last_failure:
 * {time, time_ms, reason} | null (only when after the last success),
 * max_age_s, age_s (since the last success, or null), stale (bool)} (pure).
 * -EBADMSG for bytes that are not such a file.
 */
int node_backup_parse(const char *buf, size_t len, int64_t wall_now_ms,
		      json_t **out);

/* Every <dir>/<target>.json, as an array (empty when none). */
json_t *node_backups_read(const char *dir, int64_t wall_now_ms);

#endif
