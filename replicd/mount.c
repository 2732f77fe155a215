/*
 * mount.c - the FUSE file system of one replicated directory (mount.h).
 *
 * Reads are served straight from the real files. A write-type operation
 * runs as: replicd_repl_begin (EROFS unless primary; takes the order
 * lock), replicd_fs_apply on the real directory, replicd_repl_submit (the
 * op gets its sequence number and is queued for the peer), release the
 * order lock, then replicd_repl_wait (sync mode: until the peer acked).
 * An fsync is queued first, then runs here while it runs on the peer
 * (run_fsync).
 * The application's call returns only after that. Both ends pass
 * heartbeatd's fence (fence.h): nothing is changed or acknowledged here on a
 * word that expired.
 */
#define FUSE_USE_VERSION 35

#include "mount.h"
#include "fs.h"
#include "log.h"
#include "track.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* An open file: our descriptor and the handle id the peer knows it by. */
struct rfile {
	int fd;
	uint64_t id;
};

struct rdir {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

static atomic_uint_fast64_t next_handle = 1;

static struct replicd_mount *self(void)
{
	return fuse_get_context()->private_data;
}

/* FUSE paths start with '/'; ours are relative ("" is the root). */
static const char *rel(const char *path)
{
	return path ? path + 1 : NULL;
}

static struct rfile *rf(const struct fuse_file_info *fi)
{
	return (struct rfile *)(uintptr_t)fi->fh;
}

static int fd_of(const struct fuse_file_info *fi)
{
	return fi ? rf(fi)->fd : -1;
}

/* Beyond this many zones a range is recorded as the whole file. */
#define TRACK_RANGE_MAX 4096

static uint64_t zone_of(uint64_t off)
{
	return off >> REPLICD_ZONE_SHIFT;
}

/* Record a byte range of path (as zones, or the whole entry if huge). */
static int track_range(struct replicd_track *t, uint8_t dir, const char *path,
		       uint64_t from, uint64_t to, bool connected)
{
	if (to <= from)
		return 0;
	uint64_t first = zone_of(from), last = zone_of(to - 1);
	if (connected) {
		/* Activity-log extents: fewer syncs while the peer gets
		 * every change anyway. */
		first -= first % REPLICD_AL_ZONES;
		last += REPLICD_AL_ZONES - 1 - last % REPLICD_AL_ZONES;
	}
	if (last - first >= TRACK_RANGE_MAX)
		return replicd_track_mark(t, dir, path, TRK_ENTRY, 0, 0,
					  !connected);
	return replicd_track_mark(t, dir, path, TRK_ZONES, first,
				  last - first + 1, !connected);
}

static bool is_dir(int root, const char *path)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	struct stat st;
	if (!*path)
		return true;
	return replicd_fs_parent(root, path, &dirfd, &base) == 0 &&
	       fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/*
 * Durably record what op may change, before it reaches the disk (track.h).
 * Order lock held. Without a peer session, also record that this node
 * acknowledges changes the peer lacks.
 */
static int track_op(struct replicd_mount *m, const struct replicd_op *op,
		    int fd)
{
	struct replicd_track *t = m->repl->track;
	uint8_t dir = m->index;
	struct stat st;
	int r;

	if (!t || !replicd_op_changes_data(op->type) || op->type == ROP_FSYNC)
		return 0;
	bool connected = replicd_repl_connected(m->repl);
	if (!connected && (r = replicd_track_mark_alone(t)) < 0)
		return r;
	if (!op->path)
		return 0; /* unlinked but open: the peer cannot see it */
	switch (op->type) {
	case ROP_WRITE:
		return track_range(t, dir, op->path, op->offset,
				   op->offset + op->data_len, connected);
	case ROP_TRUNCATE:
	case ROP_FALLOCATE: {
		/* The zones between the old and the new end change too. */
		uint64_t size = 0, from = op->offset, to = op->offset;
		_cleanup_close_ int own = -1;
		if (fd < 0)
			fd = own = replicd_fs_open(m->root, op->path,
						   O_RDONLY | O_NOFOLLOW, 0);
		if (fd >= 0 && fstat(fd, &st) == 0)
			size = (uint64_t)st.st_size;
		if (op->type == ROP_FALLOCATE)
			to = op->offset + op->length;
		if (size < from)
			from = size;
		if (size > to)
			to = size;
		r = replicd_track_mark(t, dir, op->path, TRK_META, 0, 0,
				       !connected);
		return r < 0 ? r
			     : track_range(t, dir, op->path, from, to,
					   connected);
	}
	case ROP_CREATE:
	case ROP_MKDIR:
	case ROP_UNLINK:
	case ROP_SYMLINK:
		return replicd_track_mark(t, dir, op->path, TRK_ENTRY, 0, 0,
					  !connected);
	case ROP_RMDIR:
		return replicd_track_mark(t, dir, op->path, TRK_TREE, 0, 0,
					  !connected);
	case ROP_LINK:
		/* Both names: a resync copies one and links the other. */
		r = replicd_track_mark(t, dir, op->path, TRK_ENTRY, 0, 0,
				       !connected);
		return r < 0 ? r
			     : replicd_track_mark(t, dir, op->path2, TRK_ENTRY,
						  0, 0, !connected);
	case ROP_RENAME: {
		/* A renamed directory moves a whole tree. */
		uint8_t k1 = is_dir(m->root, op->path) ? TRK_TREE : TRK_ENTRY;
		uint8_t k2 = is_dir(m->root, op->path2) ? TRK_TREE : TRK_ENTRY;
		if (k1 == TRK_TREE)
			k2 = TRK_TREE;
		r = replicd_track_mark(t, dir, op->path, k1 | k2, 0, 0,
				       !connected);
		return r < 0 ? r
			     : replicd_track_mark(t, dir, op->path2, k1 | k2, 0,
						  0, !connected);
	}
	default:
		return replicd_track_mark(t, dir, op->path, TRK_META, 0, 0,
					  !connected);
	}
}

/*
 * replicd_repl_begin once heartbeatd's word lets this node change data:
 * wait at the fence without the order lock, check it again with it.
 */
static int begin_fenced(struct replicd_mount *m, int refused)
{
	for (;;) {
		int r = replicd_fence_pass(m->fence, refused);
		if (r < 0)
			return r;
		r = replicd_repl_begin(m->repl);
		if (r < 0 || !replicd_fence_expired(m->fence))
			return r;
		replicd_repl_end(m->repl); /* expired meanwhile */
	}
}

/* About to tell the caller that r succeeded: only on a word still valid. */
static int fenced_ack(struct replicd_mount *m, int r)
{
	if (r < 0 || replicd_fence_pass(m->fence, -EIO) == 0)
		return r;
	return -EIO;
}

/*
 * Take the order lock (EROFS unless primary) and record what op may change
 * (track_op); on success the caller holds the order lock.
 */
static int begin_tracked(struct replicd_mount *m, struct replicd_op *op,
			 int fd)
{
	int r = begin_fenced(m, -EROFS);
	if (r < 0)
		return r;
	op->dir = m->index;
	r = track_op(m, op, fd);
	if (r < 0) {
		log_warning("cannot record %s of '%s' for resync: %s; "
			    "refusing it",
			    replicd_op_name(op->type), op->path ? op->path : "",
			    strerror(-r));
		replicd_repl_end(m->repl);
		return -EIO;
	}
	return 0;
}

/* Apply a write-type op here, then replicate it (see the top). */
static int run_op(struct replicd_op *op, int fd, bool force_wait,
		  int open_flags, int *fd_out)
{
	struct replicd_mount *m = self();
	struct replicd_ticket t = {0};
	int r = begin_tracked(m, op, fd);
	if (r < 0)
		return r;
	r = replicd_fs_apply(m->root, op, fd, open_flags, fd_out);
	/* A path-less op (a file unlinked while open) has nothing to
	 * replicate: the peer's copy is unreachable too. */
	if (r >= 0 && (op->path || op->handle)) {
		int q = replicd_repl_submit(m->repl, op, force_wait, &t);
		if (q < 0)
			log_warning("replication of %s failed: %s",
				    replicd_op_name(op->type), strerror(-q));
	}
	replicd_repl_end(m->repl);
	if (r < 0)
		return r;
	replicd_repl_wait(m->repl, &t);
	r = fenced_ack(m, r);
	if (r < 0 && fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return r;
}

/* Owner of a new entry: the caller, or the directory's group if setgid. */
static void new_owner(const char *path, struct replicd_op *op)
{
	struct fuse_context *ctx = fuse_get_context();
	struct replicd_mount *m = self();
	_cleanup_close_ int dirfd = -1;
	const char *base;
	struct stat st;

	op->uid = ctx->uid;
	op->gid = ctx->gid;
	if (replicd_fs_parent(m->root, path, &dirfd, &base) == 0 &&
	    fstat(dirfd, &st) == 0 && (st.st_mode & S_ISGID))
		op->gid = st.st_gid;
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct replicd_mount *m = self();
	_cleanup_close_ int dirfd = -1;
	const char *base;
	int r;

	if (fi)
		return fstat(fd_of(fi), st) < 0 ? -errno : 0;
	if (!*rel(path))
		return fstat(m->root, st) < 0 ? -errno : 0;
	r = replicd_fs_parent(m->root, rel(path), &dirfd, &base);
	if (r < 0)
		return r;
	return fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	int r = replicd_fs_parent(self()->root, rel(path), &dirfd, &base);
	if (r < 0)
		return r;
	if (size == 0)
		return -EINVAL;
	ssize_t n = readlinkat(dirfd, base, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct replicd_op op = {.type = ROP_CREATE,
				.path = rel(path),
				.mode = mode,
				.rdev = rdev,
				.flags = ROP_CREATE_EXCL};
	new_owner(rel(path), &op);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct replicd_op op = {
		.type = ROP_MKDIR, .path = rel(path), .mode = mode & 07777};
	new_owner(rel(path), &op);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_unlink(const char *path)
{
	struct replicd_op op = {.type = ROP_UNLINK, .path = rel(path)};
	return run_op(&op, -1, false, 0, NULL);
}

static int op_rmdir(const char *path)
{
	struct replicd_op op = {.type = ROP_RMDIR, .path = rel(path)};
	return run_op(&op, -1, false, 0, NULL);
}

static int op_symlink(const char *target, const char *path)
{
	struct replicd_op op = {
		.type = ROP_SYMLINK, .path = rel(path), .target = target};
	new_owner(rel(path), &op);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	struct replicd_op op = {
		.type = ROP_RENAME, .path = rel(from), .path2 = rel(to)};
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	op.flags = (flags & RENAME_NOREPLACE ? ROP_RENAME_NOREPLACE : 0) |
		   (flags & RENAME_EXCHANGE ? ROP_RENAME_EXCHANGE : 0);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_link(const char *from, const char *to)
{
	struct replicd_op op = {
		.type = ROP_LINK, .path = rel(from), .path2 = rel(to)};
	return run_op(&op, -1, false, 0, NULL);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct replicd_op op = {
		.type = ROP_CHMOD, .path = rel(path), .mode = mode & 07777};
	if (!path) {
		/* Unlinked but open: nothing the peer can see. */
		int r = replicd_repl_begin(self()->repl);
		if (r == 0) {
			r = fchmod(fd_of(fi), mode & 07777) < 0 ? -errno : 0;
			replicd_repl_end(self()->repl);
		}
		return r;
	}
	return run_op(&op, -1, false, 0, NULL);
}

static int op_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	struct replicd_op op = {
		.type = ROP_CHOWN, .path = rel(path), .uid = uid, .gid = gid};
	if (!path) {
		int r = replicd_repl_begin(self()->repl);
		if (r == 0) {
			r = fchown(fd_of(fi), uid, gid) < 0 ? -errno : 0;
			replicd_repl_end(self()->repl);
		}
		return r;
	}
	return run_op(&op, -1, false, 0, NULL);
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_TRUNCATE,
				.path = rel(path),
				.offset = (uint64_t)size,
				.handle = fi ? rf(fi)->id : 0};
	if (size < 0)
		return -EINVAL;
	return run_op(&op, fd_of(fi), false, 0, NULL);
}

static int op_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_UTIMENS, .path = rel(path)};
	struct timespec now;

	/* "Now" must be the same instant on both nodes. */
	clock_gettime(CLOCK_REALTIME, &now);
	op.atime = tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
	op.mtime = tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
	if (!path) {
		struct timespec t[2] = {op.atime, op.mtime};
		int r = replicd_repl_begin(self()->repl);
		if (r == 0) {
			r = futimens(fd_of(fi), t) < 0 ? -errno : 0;
			replicd_repl_end(self()->repl);
		}
		return r;
	}
	return run_op(&op, -1, false, 0, NULL);
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static struct rfile *new_rfile(int fd)
{
	struct rfile *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	f->fd = fd;
	f->id = atomic_fetch_add(&next_handle, 1);
	return f;
}

/*
 * Our own descriptor never has O_APPEND (the kernel gives each write its
 * offset, which the peer must get too) nor O_DIRECT (alignment is the
 * FUSE page cache's business, not the application's buffers').
 */
static int own_flags(int flags)
{
	return flags &
	       ~(O_APPEND | O_DIRECT | O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct replicd_mount *m = self();
	struct rfile *f;
	int fd, r;

	if (wants_write(fi->flags)) {
		pthread_mutex_lock(&m->repl->lock);
		bool w = m->repl->writable;
		pthread_mutex_unlock(&m->repl->lock);
		if (!w)
			return -EROFS;
	}
	fd = replicd_fs_open(m->root, rel(path),
			     own_flags(fi->flags) | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	f = new_rfile(fd);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	if (fi->flags & O_TRUNC) {
		struct replicd_op op = {.type = ROP_TRUNCATE,
					.path = rel(path),
					.handle = f->id};
		r = run_op(&op, fd, false, 0, NULL);
		if (r < 0) {
			close(fd);
			free(f);
			return r;
		}
	}
	fi->fh = (uintptr_t)f;
	return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_CREATE,
				.path = rel(path),
				.mode = S_IFREG | (mode & 07777)};
	int fd = -1, r;

	op.flags = (fi->flags & O_EXCL ? ROP_CREATE_EXCL : 0) |
		   (fi->flags & O_TRUNC ? ROP_CREATE_TRUNC : 0);
	new_owner(rel(path), &op);
	r = run_op(&op, -1, false, own_flags(fi->flags), &fd);
	if (r < 0)
		return r;
	struct rfile *f = new_rfile(fd);
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	fi->fh = (uintptr_t)f;
	return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread(fd_of(fi), buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/*
 * A write goes to the peer in pieces of REPLICD_PIECE bytes, each its own
 * operation, so that the stages overlap: while we write piece i+1 here,
 * the loop seals and sends piece i and the peer opens piece i-1. As one
 * operation, the four stages of a 1 MiB write ran one after another, with
 * a core idle most of the time. Each piece is written here before it is
 * numbered (run_op's rule), so a short or failed write sends exactly the
 * bytes that reached our disk, and the caller hears that count. The
 * caller returns once the last piece is acknowledged (acks are
 * cumulative), or, for a piece that could not be sent, once that may be
 * acknowledged without the peer.
 */
static int run_write(struct replicd_op *op, int fd)
{
	struct replicd_mount *m = self();
	struct replicd_ticket tickets[REPLICD_DATA_MAX / REPLICD_PIECE];
	size_t done = 0, count = 0;
	int r = begin_tracked(m, op, fd);
	if (r < 0)
		return r;
	while (done < op->data_len) {
		struct replicd_op piece = *op;
		size_t want = op->data_len - done;
		if (want > REPLICD_PIECE)
			want = REPLICD_PIECE;
		piece.offset += done;
		piece.data += done;
		piece.data_len = want;
		r = replicd_fs_apply(m->root, &piece, fd, 0, NULL);
		if (r <= 0)
			break;
		piece.data_len = (size_t)r;
		if (op->path || op->handle) {
			int q = replicd_repl_submit(m->repl, &piece, false,
						    &tickets[count++]);
			if (q < 0)
				log_warning("replication of write failed: %s",
					    strerror(-q));
		}
		done += (size_t)r;
		if ((size_t)r < want)
			break; /* short: the caller hears how much */
	}
	replicd_repl_end(m->repl);
	size_t last_wait = count;
	for (size_t i = 0; i < count; i++) {
		if (tickets[i].degraded)
			replicd_repl_wait(m->repl, &tickets[i]);
		else if (tickets[i].wait)
			last_wait = i;
	}
	if (last_wait < count)
		replicd_repl_wait(m->repl, &tickets[last_wait]);
	return fenced_ack(m, done ? (int)done : r);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_WRITE,
				.path = rel(path),
				.handle = rf(fi)->id,
				.offset = (uint64_t)off,
				.data = (const uint8_t *)buf,
				.data_len = size};
	if (size > REPLICD_DATA_MAX)
		return -EFBIG;
	return run_write(&op, fd_of(fi));
}

static int op_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return fstatvfs(self()->root, st) < 0 ? -errno : 0;
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct rfile *f = rf(fi);
	struct replicd_op op = {
		.type = ROP_RELEASE, .handle = f->id, .dir = self()->index};
	(void)path;
	close(f->fd);
	if (wants_write(fi->flags))
		replicd_repl_notify(self()->repl, &op);
	free(f);
	return 0;
}

/*
 * An fsync changes no data, so unlike run_op it need not reach our disk
 * before it is numbered: it is queued first, then our own fsync runs while
 * the peer does its own, outside the order lock (other writers go on
 * meanwhile). It returns only once both are done: every write acknowledged
 * before it was applied here and received by the peer, so both fsyncs
 * cover it.
 */
static int run_fsync(struct replicd_op *op, int fd)
{
	struct replicd_mount *m = self();
	struct replicd_ticket t = {0};
	/* EIO, not EROFS: op_fsync must not answer a held fsync locally. */
	int r = begin_fenced(m, -EIO);
	if (r < 0)
		return r;
	op->dir = m->index;
	if (op->path || op->handle) {
		int q = replicd_repl_submit(m->repl, op, true, &t);
		if (q < 0)
			log_warning("replication of %s failed: %s",
				    replicd_op_name(op->type), strerror(-q));
	}
	replicd_repl_end(m->repl);
	r = replicd_fs_apply(m->root, op, fd, 0, NULL);
	/* Even if ours failed: the caller hears of no fsync before the
	 * peer's ended. */
	replicd_repl_wait(m->repl, &t);
	return fenced_ack(m, r < 0 ? r : 0);
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_FSYNC,
				.path = rel(path),
				.handle = fi ? rf(fi)->id : 0,
				.flags = datasync ? ROP_FSYNC_DATASYNC : 0};
	int r = run_fsync(&op, fd_of(fi));
	/* A secondary can fsync what it serves read-only. */
	if (r == -EROFS && fi)
		r = (datasync ? fdatasync(fd_of(fi)) : fsync(fd_of(fi))) < 0
			    ? -errno
			    : 0;
	return r;
}

static int op_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	struct replicd_op op = {.type = ROP_SETXATTR,
				.path = rel(path),
				.name = name,
				.data = (const uint8_t *)value,
				.data_len = size};
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > REPLICD_DATA_MAX)
		return -E2BIG;
	if (!*name || strlen(name) > REPLICD_NAME_MAX)
		return -ERANGE;
	op.flags = (flags & XATTR_CREATE ? ROP_XATTR_CREATE : 0) |
		   (flags & XATTR_REPLACE ? ROP_XATTR_REPLACE : 0);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_removexattr(const char *path, const char *name)
{
	struct replicd_op op = {
		.type = ROP_REMOVEXATTR, .path = rel(path), .name = name};
	if (!*name || strlen(name) > REPLICD_NAME_MAX)
		return -ERANGE;
	return run_op(&op, -1, false, 0, NULL);
}

static int xattr_path(const char *path, int *fd, char *proc, size_t size)
{
	*fd = replicd_fs_open(self()->root, rel(path), O_PATH | O_NOFOLLOW, 0);
	if (*fd < 0)
		return *fd;
	replicd_fs_fd_path(*fd, proc, size);
	return 0;
}

static int op_getxattr(const char *path, const char *name, char *value,
		       size_t size)
{
	_cleanup_close_ int fd = -1;
	char proc[64];
	int r = xattr_path(path, &fd, proc, sizeof(proc));
	if (r < 0)
		return r;
	ssize_t n = getxattr(proc, name, value, size);
	return n < 0 ? -errno : (int)n;
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	_cleanup_close_ int fd = -1;
	char proc[64];
	int r = xattr_path(path, &fd, proc, sizeof(proc));
	if (r < 0)
		return r;
	ssize_t n = listxattr(proc, list, size);
	return n < 0 ? -errno : (int)n;
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct rdir *d = calloc(1, sizeof(*d));
	int fd;

	if (!d)
		return -ENOMEM;
	fd = replicd_fs_open(self()->root, rel(path),
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0) {
		free(d);
		return fd;
	}
	d->dp = fdopendir(fd);
	if (!d->dp) {
		int e = errno;
		close(fd);
		free(d);
		return -e;
	}
	fi->fh = (uintptr_t)d;
	return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct rdir *d = (struct rdir *)(uintptr_t)fi->fh;
	(void)path;
	(void)flags;

	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry)
				return errno ? -errno : 0;
		}
		struct stat st = {.st_ino = d->entry->d_ino,
				  .st_mode = (mode_t)d->entry->d_type << 12};
		off_t next = telldir(d->dp);
		if (filler(buf, d->entry->d_name, &st, next, 0))
			return 0;
		d->entry = NULL;
		d->offset = next;
	}
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct rdir *d = (struct rdir *)(uintptr_t)fi->fh;
	(void)path;
	closedir(d->dp);
	free(d);
	return 0;
}

static int op_fsyncdir(const char *path, int datasync,
		       struct fuse_file_info *fi)
{
	struct rdir *d = (struct rdir *)(uintptr_t)fi->fh;
	struct replicd_op op = {.type = ROP_FSYNC,
				.path = rel(path),
				.flags = datasync ? ROP_FSYNC_DATASYNC : 0};
	int r = run_fsync(&op, dirfd(d->dp));
	if (r == -EROFS)
		r = fsync(dirfd(d->dp)) < 0 ? -errno : 0;
	return r;
}

static int op_access(const char *path, int mask)
{
	int r;
	if (!*rel(path))
		r = faccessat(self()->root, ".", mask, AT_EACCESS);
	else {
		_cleanup_close_ int dirfd = -1;
		const char *base;
		r = replicd_fs_parent(self()->root, rel(path), &dirfd, &base);
		if (r < 0)
			return r;
		r = faccessat(dirfd, base, mask,
			      AT_EACCESS | AT_SYMLINK_NOFOLLOW);
	}
	return r < 0 ? -errno : 0;
}

static int op_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_FALLOCATE,
				.path = rel(path),
				.handle = fi ? rf(fi)->id : 0,
				.offset = (uint64_t)off,
				.length = (uint64_t)len};
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	op.flags = (mode & FALLOC_FL_KEEP_SIZE ? ROP_FALLOC_KEEP_SIZE : 0) |
		   (mode & FALLOC_FL_PUNCH_HOLE ? ROP_FALLOC_PUNCH_HOLE : 0) |
		   (mode & FALLOC_FL_ZERO_RANGE ? ROP_FALLOC_ZERO_RANGE : 0);
	return run_op(&op, fd_of(fi), false, 0, NULL);
}

static off_t op_lseek(const char *path, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	(void)path;
	off_t r = lseek(fd_of(fi), off, whence);
	return r < 0 ? -errno : r;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Every write must reach us (and the peer) before write() returns:
	 * no kernel write-back caching. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Fewer, larger writes: each one waits for the peer in sync mode.
	 * One write is one replicated operation, at most REPLICD_DATA_MAX. */
	conn->max_write = REPLICD_DATA_MAX;
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	/* Nothing cached in the kernel: on a secondary the files change
	 * underneath, and a promoted node must serve what it received. */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	/* Unlink for real (no .fuse_hidden files). Paths are computed for
	 * every call (the peer needs them); a file unlinked while open gets
	 * a NULL path, which every handler accepts. */
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 0;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.access = op_access,
	.create = op_create,
	.utimens = op_utimens,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
};

/* --- lifecycle ---------------------------------------------------------- */

/* Is path a mount point of ours (per /proc/self/mountinfo)? */
static bool our_mount(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint opts ... - type src */
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		char *mp = NULL;
		for (int i = 0; tok && i < 4; i++) {
			tok = strtok_r(NULL, " ", &save);
			if (i == 3)
				mp = tok;
		}
		char *dash = save ? strstr(save, " - ") : NULL;
		/* Octal escapes (\040) in mountinfo: a path with spaces
		 * simply does not match here, and mounting then fails
		 * loudly rather than silently stacking. */
		if (mp && dash && strcmp(mp, path) == 0 &&
		    strncmp(dash + 3, "fuse." REPLICD_FSNAME " ",
			    strlen("fuse." REPLICD_FSNAME " ")) == 0)
			found = true;
	}
	return found;
}

int replicd_mount_prepare(struct replicd_mount *m)
{
	struct stat st;

	m->root = -1;
	for (int tries = 0; our_mount(m->path); tries++) {
		if (stat(m->path, &st) == 0 || errno != ENOTCONN) {
			log_error("%s: still served by another replicd "
				  "(a live skyha-replicd mount)",
				  m->path);
			return -EBUSY;
		}
		if (tries >= 8 || umount2(m->path, MNT_DETACH) < 0) {
			int e = tries >= 8 ? EBUSY : errno;
			log_error("%s: cannot detach the stale mount of a "
				  "crashed replicd: %s",
				  m->path, strerror(e));
			return -e;
		}
		log_notice("%s: detached the stale mount of a crashed replicd",
			   m->path);
	}
	m->root = open(m->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->root < 0) {
		int e = errno;
		log_error("%s: %s", m->path, strerror(e));
		return -e;
	}
	return 0;
}

static void *loop_thread(void *arg)
{
	struct replicd_mount *m = arg;
	struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 16};
	int r = fuse_loop_mt(m->fuse, &cfg);
	if (r != 0)
		log_warning("%s: FUSE loop ended with %d", m->path, r);
	return NULL;
}

int replicd_mount_start(struct replicd_mount *m)
{
	char fsname[PATH_MAX + 64];
	char opts[PATH_MAX + 160];
	sigset_t all, old;

	/* fsname goes into a comma-separated option list. */
	if (strchr(m->path, ',') || strchr(m->module, ','))
		return -EINVAL;
	snprintf(fsname, sizeof(fsname), "%s:%s", m->module, m->path);
	snprintf(opts, sizeof(opts),
		 "default_permissions,subtype=" REPLICD_FSNAME ",fsname=%s%s",
		 fsname, geteuid() == 0 ? ",allow_other" : "");
	char *argv[] = {"replicd", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	m->fuse = fuse_new(&args, &ops, sizeof(ops), m);
	fuse_opt_free_args(&args);
	if (!m->fuse) {
		log_error("%s: fuse_new failed", m->path);
		return -EIO;
	}
	if (fuse_mount(m->fuse, m->path) != 0) {
		log_error("%s: cannot mount the FUSE file system (needs "
			  "CAP_SYS_ADMIN and /dev/fuse)",
			  m->path);
		fuse_destroy(m->fuse);
		m->fuse = NULL;
		return -EIO;
	}
	m->mounted = true;
	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&m->thread, NULL, loop_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		replicd_mount_stop(m);
		return -r;
	}
	m->thread_running = true;
	return 0;
}

void replicd_mount_stop(struct replicd_mount *m)
{
	if (m->fuse) {
		fuse_exit(m->fuse);
		if (m->mounted)
			fuse_unmount(m->fuse); /* root: lazy umount2 */
		m->mounted = false;
		bool joined = true;
		if (m->thread_running) {
			/* With files still open the lazily detached
			 * connection lives on and the loop keeps reading:
			 * then leave it to process exit, which ends it. */
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 2;
			joined = pthread_timedjoin_np(m->thread, NULL, &t) == 0;
			if (!joined)
				log_warning("%s: files still open; the mount "
					    "ends with the process",
					    m->path);
		}
		m->thread_running = false;
		if (joined)
			fuse_destroy(m->fuse);
		m->fuse = NULL;
	}
	if (m->root >= 0)
		close(m->root);
	m->root = -1;
}
