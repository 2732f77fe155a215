/*
 * bkbackup.h - taking a snapshot of a set of directories into a repository
 * (docs/backup.md, "Backups").
 */
#ifndef BACKUPD_BACKUP_H
#define BACKUPD_BACKUP_H

#include "changes.h"
#include "repo.h"
#include "snapshot.h"

struct bk_backup_opts {
	const char *module, *host;
	const char *paths[BK_SNAP_PATHS_MAX];
	size_t path_count;
	/* NULL: none (read everything); an incomplete one counts as none */
	const struct bk_changes *changes;
	/* optional: called once the data and index are committed, before
	 * the snapshot is written; < 0: no snapshot (the run fails with
	 * repo->why set by it; what was uploaded is reused next time) */
	int (*before_snapshot)(void *ctx, char *why, size_t why_size);
	void *ctx;
	/* test hook: stop (as a crash would) after this many new packs */
	uint64_t crash_after_packs;
};

/*
 * Back the paths up: walk them, store new chunks and trees, commit the
 * index, then write the snapshot (filled in *snap, id included). The
 * parent is the newest snapshot of this host and these paths. The
 * repository must be open with its index loaded (recover) and a shared
 * lock held. 0 or -errno (repo->why or the log says why).
 */
int bk_backup_run(struct bk_repo *r, const struct bk_backup_opts *o,
		  struct bk_snapshot *snap);

/* Every snapshot (sorted by time, oldest first); *out malloc'ed. */
int bk_snapshots_load(struct bk_repo *r, struct bk_snapshot **out,
		      size_t *count);
/* Find one by id or unique id prefix (or "latest"). */
int bk_snapshot_find(struct bk_repo *r, const char *which,
		     struct bk_snapshot *out);

#endif
