/*
 * restore.h - a snapshot (or chosen paths of it) back into a directory
 * (docs/backup.md, "Restore").
 *
 * Each of the snapshot's paths is restored under DEST with its full path
 * (DEST/srv/app/data/...). Data byte for byte, holes left as holes, and
 * the metadata: mode, owner (when run as root), atime/mtime, xattrs,
 * symlinks, hard links, fifos and devices. A blob that fails
 * authentication is refused: the file it belongs to is removed, named in
 * the log, and the restore ends nonzero.
 */
#ifndef BACKUPD_RESTORE_H
#define BACKUPD_RESTORE_H

#include "repo.h"
#include "snapshot.h"

struct bk_restore_result {
	uint64_t files, bytes, errors;
};

/* only: NULL, or original absolute paths to restore (with what is under
 * them). 0 when everything was restored, -EIO when something was not. */
int bk_restore(struct bk_repo *r, const struct bk_snapshot *s, const char *dest,
	       const char *const *only, size_t only_count,
	       struct bk_restore_result *res);

#endif
