/*
 * fs.h - operations on the real files under a replicated directory.
 *
 * Everything is relative to the directory's descriptor, opened before the
 * FUSE mount hid it. Paths are resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): a symlink (or "..") planted
 * in the tree can never lead an operation outside it; the last component
 * is acted on with *at() calls and AT_SYMLINK_NOFOLLOW / O_NOFOLLOW where
 * the operation must not follow it.
 *
 * replicd_fs_apply() is the one place a write-type operation touches the
 * disk: the primary's FUSE threads call it for the application, the
 * secondary's loop for the peer's frames, so both apply the same thing.
 */
#ifndef REPLICD_FS_H
#define REPLICD_FS_H

#include "op.h"

#include <sys/types.h>

/* open() relative to root ("" is root itself); returns the fd or -errno. */
int replicd_fs_open(int root, const char *rel, int flags, mode_t mode);
/*
 * The parent directory of rel (an O_PATH fd the caller closes) and the
 * last component; rel must not be "".
 */
int replicd_fs_parent(int root, const char *rel, int *dirfd, const char **base);
/* "/proc/self/fd/N" for calls that have no *at() form. */
void replicd_fs_fd_path(int fd, char *buf, size_t size);

/* Remove everything in the directory fd (not fd itself). */
int replicd_fs_empty_dir(int fd, int depth);

/*
 * Apply op under root. fd: an open descriptor of the file for handle
 * operations (write, truncate, fallocate, fsync; chmod, chown, utimens and
 * xattrs of a file unlinked while open, where any descriptor, O_PATH too,
 * will do), or -1 to go by op->path.
 * With fd_out (create of a regular file only), the new file's descriptor
 * opened with open_flags is returned there instead of being closed.
 * Returns >= 0 (a write: the bytes written) or -errno.
 */
int replicd_fs_apply(int root, const struct replicd_op *op, int fd,
		     int open_flags, int *fd_out);

#endif
