/*
 * apply.c - the secondary applies the primary's operations.
 *
 * Operations come in sequence order (frames.c); writes go to the applier's
 * threads (applier.h), everything else is applied here on the open handles
 * the primary's FUSE threads mirror. A failure is either expected during a
 * resync (a path the resync has not reached yet) or the disk's own, which
 * makes the copy inconsistent (docs/replication.md).
 */
#include "daemon.h"
#include "fs.h"
#include "log.h"
#include "track_op.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* --- secondary: open handles ------------------------------------------- */

static struct replicd_handle **handle_slot(struct replicd *d, uint64_t id,
					   uint8_t dir)
{
	struct replicd_handle **p = &d->handles[id % REPLICD_HANDLE_BUCKETS];
	while (*p && ((*p)->id != id || (*p)->dir != dir))
		p = &(*p)->next;
	return p;
}

static void handle_drop(struct replicd *d, uint64_t id, uint8_t dir)
{
	struct replicd_handle **p = handle_slot(d, id, dir), *h = *p;
	if (!h)
		return;
	*p = h->next;
	close(h->fd);
	free(h);
}

void replicd_handles_clear(struct replicd *d)
{
	for (size_t i = 0; i < REPLICD_HANDLE_BUCKETS; i++) {
		while (d->handles[i]) {
			struct replicd_handle *h = d->handles[i];
			d->handles[i] = h->next;
			close(h->fd);
			free(h);
		}
	}
}

/* The descriptor for a handle operation; -ENOENT: skip (see apply). */
static int handle_fd(struct replicd *d, const struct replicd_op *op)
{
	struct replicd_handle **p = handle_slot(d, op->handle, op->dir), *h;
	if (*p)
		return (*p)->fd;
	if (!op->path || !*op->path)
		return -ENOENT;
	int fd = replicd_fs_open(d->mounts[op->dir].root, op->path,
				 O_WRONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	h = malloc(sizeof(*h));
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	*h = (struct replicd_handle){
		.id = op->handle, .dir = op->dir, .fd = fd};
	*p = h;
	return fd;
}

static void apply_failed(struct replicd *d, uint8_t type, const char *path,
			 uint64_t seq, int err)
{
	d->apply_errors++;
	sky_log_ratelimited(&d->rl_apply, LOG_ERR,
			    "cannot apply %s of '%s' (seq %llu): %s; this "
			    "node's data now differs from the primary's: "
			    "reconnecting for a resync",
			    replicd_op_name(type), path ? path : "",
			    (unsigned long long)seq, strerror(-err));
}

/* A failure to apply op: expected during a resync (a live change to a path
 * the resync has not reached yet, which it sends whole), so only counted,
 * unless this disk cannot hold the data (full, failing); else logged.
 * Returns 0 or err. */
static int apply_error(struct replicd *d, const struct replicd_op *op, int err)
{
	if (d->sec_resyncing && !replicd_apply_err_is_local(err)) {
		d->apply_errors_resync++;
		return 0;
	}
	apply_failed(d, op->type, op->path, op->seq, err);
	return err;
}

/* The descriptor of op: its handle's, or -1 to go by path. Returns 0, 1 to
 * skip op (a file unlinked on the primary: unreachable), or -errno. */
static int op_fd(struct replicd *d, const struct replicd_op *op, int *fd)
{
	*fd = -1;
	if (op->handle == 0 ||
	    (op->type != ROP_WRITE && op->type != ROP_TRUNCATE &&
	     op->type != ROP_FALLOCATE && op->type != ROP_FSYNC &&
	     op->type != ROP_CHMOD && op->type != ROP_CHOWN &&
	     op->type != ROP_UTIMENS && op->type != ROP_SETXATTR &&
	     op->type != ROP_REMOVEXATTR))
		return 0;
	int h = handle_fd(d, op);
	if (h == -ENOENT && (!op->path || !*op->path))
		return 1;
	if (h < 0)
		return h;
	*fd = h;
	return 0;
}

/*
 * Apply one operation on its directory: 0 (applied and counted, or nothing
 * to do), or -errno as it failed. Both callers below share it: a live
 * operation and one replayed from a hold journal must land alike.
 */
static int apply_one(struct replicd *d, const struct replicd_op *op)
{
	int fd, r;

	if (op->type == ROP_RELEASE) {
		handle_drop(d, op->handle, op->dir);
		return 0;
	}
	r = op_fd(d, op, &fd);
	if (r > 0)
		return 0;
	if (r == 0) {
		replicd_backup_op(d->backup, d->mounts[op->dir].root, op, fd);
		r = replicd_fs_apply(d->mounts[op->dir].root, op, fd, 0, NULL);
		if (r >= 0 && op->type == ROP_WRITE &&
		    (size_t)r != op->data_len)
			r = -EIO;
	}
	if (r >= 0)
		d->applied++;
	return r < 0 ? r : 0;
}

/* Apply one operation of the primary; -errno if it failed. */
int replicd_apply_op(struct replicd *d, const struct replicd_op *op)
{
	int r = apply_one(d, op);

	return r < 0 ? apply_error(d, op, r) : 0;
}

int replicd_apply_replayed(struct replicd *d, const struct replicd_op *op)
{
	if (op->dir >= d->mount_count)
		return -EINVAL;
	return apply_one(d, op);
}

/*
 * Hand a write to the applier thread; apply anything else here, once the
 * applier has written everything before it (applier.h). Frees job.
 */
int replicd_apply_or_queue(struct replicd *d, struct replicd_write_job *job)
{
	const struct replicd_op *op = &job->op;
	int r;

	/* Held for a backup (backup.h): journaled, not applied. */
	if (d->bk.held && replicd_backup_take(d, op) > 0) {
		free(job);
		return 0;
	}
	if (op->type != ROP_WRITE) {
		replicd_applier_drain(&d->applier);
		r = replicd_apply_op(d, op);
		free(job);
		return r;
	}
	r = op_fd(d, op, &job->fd);
	if (r != 0) {
		r = r > 0 ? 0 : apply_error(d, op, r);
		free(job);
		return r;
	}
	job->root = d->mounts[op->dir].root;
	replicd_backup_op(d->backup, job->root, op, job->fd);
	job->resyncing = d->sec_resyncing;
	replicd_applier_push(&d->applier, job);
	return 0;
}

/* Did a write of the applier fail? Then as for apply's own failure. */
int replicd_applier_failed(struct replicd *d)
{
	struct replicd_apply_failure f;
	if (!replicd_applier_take_failure(&d->applier, &f))
		return 0;
	apply_failed(d, ROP_WRITE, f.path, f.seq, f.err);
	return f.err;
}
