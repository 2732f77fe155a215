/*
 * snapshot.h - a snapshot manifest, snapshots/<id> (docs/backup.md,
 * "Snapshots"): sealed JSON naming the root tree, its paths, where and
 * when it was taken, its parent, and the run's figures. The root tree has
 * one directory entry per path, named by its index ("0", "1", ...).
 */
#ifndef BACKUPD_SNAPSHOT_H
#define BACKUPD_SNAPSHOT_H

#include "crypto.h"

#include <stddef.h>
#include <stdint.h>

#define BK_SNAP_PATHS_MAX 16
#define BK_SNAP_PATH_MAX  4096

struct bk_stats {
	uint64_t files, bytes_read, bytes_new, bytes_uploaded;
	uint64_t chunks_new, chunks_reused;
	uint64_t files_unlisted_changed; /* change list was incomplete */
	uint64_t files_skipped;		 /* unreadable: logged */
	int64_t duration_ms;
};

struct bk_snapshot {
	char id[BK_HEX_ID]; /* filled when read or written */
	int64_t time_ms;    /* wall clock, ms since the epoch */
	char host[64], module[64], target[64];
	char paths[BK_SNAP_PATHS_MAX][BK_SNAP_PATH_MAX];
	size_t path_count;
	uint8_t tree[BK_ID_LEN];
	char parent[BK_HEX_ID]; /* "" for none */
	struct bk_stats stats;
};

int bk_snapshot_encode(const struct bk_snapshot *s, char **json_out);
/* Parse (hostile bytes): -EBADMSG with why naming the field. */
int bk_snapshot_parse(const uint8_t *buf, size_t len, struct bk_snapshot *out,
		      char *why, size_t why_size);

#endif
