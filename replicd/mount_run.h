/*
 * mount_run.h - how a write-type operation of the mount runs, between the
 * FUSE operations (mount.c) and the replication queue (repl.h): recorded,
 * applied here, numbered and queued for the peer, waited for as the mode
 * says (mount_run.c). Private to replicd's mount*.c.
 */
#ifndef REPLICD_MOUNT_RUN_H
#define REPLICD_MOUNT_RUN_H

#include "mount.h"
#include "op.h"

#include <stdbool.h>

/*
 * Apply op to m's real directory, then replicate it. fd, open_flags,
 * fd_out: as replicd_fs_apply's. Refused before any change: EROFS unless
 * primary, ENAMETOOLONG for a path beyond REPLICD_PATH_MAX, EIO if the
 * change record cannot hold it. Returns >= 0 or -errno.
 */
int replicd_mount_run_op(struct replicd_mount *m, struct replicd_op *op, int fd,
			 bool force_wait, int open_flags, int *fd_out);
/* A write, sent in pieces of REPLICD_PIECE: the bytes written or -errno. */
int replicd_mount_run_write(struct replicd_mount *m, struct replicd_op *op,
			    int fd);
/* An fsync here and on the peer at the same time; 0 or -errno. */
int replicd_mount_run_fsync(struct replicd_mount *m, struct replicd_op *op,
			    int fd);

/* The FUSE operations (mount.c), mounted by mount_setup.c. */
struct fuse_operations;
extern const struct fuse_operations replicd_mount_ops;

#endif
