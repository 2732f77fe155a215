/*
 * mount.c - the FUSE operations of one replicated directory (mount.h).
 *
 * Reads are served straight from the real files. A write-type operation
 * is described as a struct replicd_op and run by mount_run.c: recorded,
 * applied to the real directory, replicated; the application's call
 * returns once that is done. Mounting and unmounting: mount_setup.c.
 */
#define FUSE_USE_VERSION 35

#include "mount.h"

#include "fs.h"
#include "log.h"
#include "mount_run.h"
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
	struct replicd_open open; /* in the mount's set of open files */
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

/* The write path (mount_run.c), for this thread's mount. */
static int run_op(struct replicd_op *op, int fd, bool force_wait,
		  int open_flags, int *fd_out)
{
	return replicd_mount_run_op(self(), op, fd, force_wait, open_flags,
				    fd_out);
}

static int run_write(struct replicd_op *op, int fd)
{
	return replicd_mount_run_write(self(), op, fd);
}

static int run_fsync(struct replicd_op *op, int fd)
{
	return replicd_mount_run_fsync(self(), op, fd);
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

/* --- files unlinked while open (unlinked.h) ---------------------------- */

/* If path is the hidden name of a kept file: its descriptor (the caller
 * closes it) and the peer's handle; else -ENOENT. */
static int kept_of(const char *path, int *fd, uint64_t *handle)
{
	return replicd_unlinked_get(&self()->unlinked, rel(path), fd, handle);
}

/* The kept file (an O_PATH descriptor) opened again with flags. */
static int reopen(int kept, int flags)
{
	char proc[64];
	replicd_fs_fd_path(kept, proc, sizeof(proc));
	int fd = open(proc, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Apply op to a kept file (by fd, or the kept descriptor itself), then
 * replicate it by the handle the peer opened it with. If the file still
 * has other names, the change record cannot say where it changed: the next
 * resync then compares both copies. Closes kept.
 */
static int run_kept(struct replicd_op *op, int kept, uint64_t handle, int fd)
{
	struct replicd_mount *m = self();
	struct stat st;
	int r = 0;

	op->path = NULL;
	op->handle = handle;
	if (m->repl->track && fstat(kept, &st) == 0 && st.st_nlink > 0)
		r = replicd_track_set_incomplete(m->repl->track);
	if (r < 0) {
		log_warning("cannot mark the change record incomplete for %s "
			    "of a file unlinked while open: %s; refusing it",
			    replicd_op_name(op->type), strerror(-r));
		r = -EIO; /* as begin_tracked */
	} else {
		r = run_op(op, fd >= 0 ? fd : kept, false, 0, NULL);
	}
	close(kept);
	return r;
}

/* The peer forgets a handle. */
static void release_handle(struct replicd_mount *m, uint64_t handle)
{
	struct replicd_op op = {
		.type = ROP_RELEASE, .handle = handle, .dir = m->index};
	replicd_repl_notify(m->repl, &op);
}

/*
 * libfuse hides an open file that is unlinked or renamed over: a rename of
 * path to name (unlinked.h). Keep its descriptor under name; the peer
 * opens it too, by path while it still has one (a write of nothing by a
 * new handle); inside an unlink, unlink it for real.
 */
static int hide(const char *path, const char *name, bool unlink)
{
	struct replicd_mount *m = self();
	uint64_t handle = atomic_fetch_add(&next_handle, 1);
	int fd = replicd_fs_open(m->root, path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	struct replicd_op reg = {
		.type = ROP_WRITE, .path = path, .handle = handle};
	int r = run_op(&reg, fd, false, 0, NULL);
	if (r == 0 && unlink) {
		struct replicd_op op = {.type = ROP_UNLINK, .path = path};
		r = run_op(&op, -1, false, 0, NULL);
	}
	if (r == 0)
		return replicd_unlinked_add(&m->unlinked, name, fd, handle);
	close(fd);
	if (r != -EROFS)
		release_handle(m, handle);
	return r;
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct replicd_mount *m = self();
	_cleanup_close_ int dirfd = -1;
	const char *base;
	uint64_t handle;
	int r;

	bool kept = kept_of(path, &dirfd, &handle) == 0;
	if (fi || kept) {
		if (fstat(fi ? fd_of(fi) : dirfd, st) < 0)
			return -errno;
		/* libfuse counts one link less for a hidden file (its own
		 * hidden files keep their name); ours has none left. */
		if (kept)
			st->st_nlink++;
		return 0;
	}
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
	uint64_t handle;
	int kept;
	/* libfuse unlinks a hidden name once its last handle is released
	 * (only then): nothing on disk has that name. */
	if (replicd_req_opcode() == REPLICD_FUSE_RELEASE) {
		if (replicd_unlinked_drop(&self()->unlinked, rel(path),
					  &handle) == 0)
			release_handle(self(), handle);
		return 0;
	}
	if (kept_of(path, &kept, &handle) == 0) {
		close(kept);
		return -ENOENT; /* not a name an application made */
	}
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
	const char *to_base = strrchr(to, '/') + 1;
	uint64_t handle;
	int kept;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (kept_of(from, &kept, &handle) == 0) {
		close(kept);
		return -ENOENT;
	}
	/* libfuse's hiding rename (unlinked.h), not the application's. */
	uint32_t req = replicd_req_opcode();
	if (replicd_hidden_name(to_base) && flags == 0 &&
	    !replicd_req_renames_to(to_base) &&
	    (req == REPLICD_FUSE_UNLINK || req == REPLICD_FUSE_RENAME ||
	     req == REPLICD_FUSE_RENAME2))
		return hide(rel(from), to_base, req == REPLICD_FUSE_UNLINK);
	op.flags = (flags & RENAME_NOREPLACE ? ROP_RENAME_NOREPLACE : 0) |
		   (flags & RENAME_EXCHANGE ? ROP_RENAME_EXCHANGE : 0);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_link(const char *from, const char *to)
{
	struct replicd_op op = {
		.type = ROP_LINK, .path = rel(from), .path2 = rel(to)};
	uint64_t handle;
	int kept;
	if (kept_of(from, &kept, &handle) == 0) {
		close(kept);
		return -ENOENT; /* as linkat of an unlinked file */
	}
	return run_op(&op, -1, false, 0, NULL);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct replicd_op op = {
		.type = ROP_CHMOD, .path = rel(path), .mode = mode & 07777};
	uint64_t handle;
	int kept;
	if (kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, -1);
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
	uint64_t handle;
	int kept;
	if (kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, -1);
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
	uint64_t handle;
	int kept;
	if (size < 0)
		return -EINVAL;
	if (kept_of(path, &kept, &handle) == 0) {
		_cleanup_close_ int own = fi ? -1 : reopen(kept, O_WRONLY);
		if (!fi && own < 0) {
			close(kept);
			return own;
		}
		return run_kept(&op, kept, handle, fi ? fd_of(fi) : own);
	}
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
	uint64_t handle;
	int kept;
	if (kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, -1);
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

/* A new open file for fd (consumed: closed on failure), or NULL. */
static struct rfile *new_rfile(int fd)
{
	struct rfile *f = malloc(sizeof(*f));
	if (!f ||
	    replicd_unlinked_opened(&self()->unlinked, &f->open, fd) < 0) {
		free(f);
		close(fd);
		return NULL;
	}
	f->fd = fd;
	f->id = atomic_fetch_add(&next_handle, 1);
	return f;
}

/*
 * Close f. pathless: libfuse had no path for it, so it will not unlink a
 * hidden name of its file; the kept files that only f held go then.
 */
static void free_rfile(struct rfile *f, bool pathless)
{
	struct replicd_mount *m = self();
	struct replicd_unlinked *gone =
		replicd_unlinked_closed(&m->unlinked, &f->open, pathless);
	while (gone) {
		struct replicd_unlinked *u = gone;
		gone = u->next;
		release_handle(m, u->handle);
		free(u);
	}
	close(f->fd);
	free(f);
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

/* open(O_TRUNC) truncates, with O_RDONLY too: through a descriptor that
 * can write (the file's own, or one opened for it). */
static int truncate_at_open(const char *path, const struct rfile *f, int flags)
{
	struct replicd_op op = {
		.type = ROP_TRUNCATE, .path = rel(path), .handle = f->id};
	bool ro = (flags & O_ACCMODE) == O_RDONLY;
	uint64_t handle;
	int kept;

	if (kept_of(path, &kept, &handle) != 0)
		return run_op(&op, ro ? -1 : f->fd, false, 0, NULL);
	_cleanup_close_ int w = ro ? reopen(kept, O_WRONLY) : -1;
	if (ro && w < 0) {
		close(kept);
		return w;
	}
	return run_kept(&op, kept, handle, ro ? w : f->fd);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct replicd_mount *m = self();
	struct rfile *f;
	uint64_t handle;
	int fd, kept, r;

	if (wants_write(fi->flags)) {
		pthread_mutex_lock(&m->repl->lock);
		bool w = m->repl->writable;
		pthread_mutex_unlock(&m->repl->lock);
		if (!w)
			return -EROFS;
	}
	if (kept_of(path, &kept, &handle) == 0) {
		/* A kept file opened again through /proc/PID/fd/N. */
		fd = reopen(kept, own_flags(fi->flags));
		close(kept);
	} else {
		fd = replicd_fs_open(m->root, rel(path),
				     own_flags(fi->flags) | O_NOFOLLOW, 0);
	}
	if (fd < 0)
		return fd;
	f = new_rfile(fd);
	if (!f)
		return -ENOMEM;
	if (fi->flags & O_TRUNC) {
		r = truncate_at_open(path, f, fi->flags);
		if (r < 0) {
			free_rfile(f, false);
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
	if (!f)
		return -ENOMEM;
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
	int kept;
	if (kept_of(path, &kept, &op.handle) == 0) {
		struct stat st;
		int r = 0;
		op.path = NULL;
		if (self()->repl->track && fstat(kept, &st) == 0 &&
		    st.st_nlink > 0)
			r = replicd_track_set_incomplete(self()->repl->track);
		close(kept);
		if (r < 0)
			return -EIO;
	}
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
	if (wants_write(fi->flags))
		replicd_repl_notify(self()->repl, &op);
	free_rfile(f, !path);
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct replicd_op op = {.type = ROP_FSYNC,
				.path = rel(path),
				.handle = fi ? rf(fi)->id : 0,
				.flags = datasync ? ROP_FSYNC_DATASYNC : 0};
	int kept;
	if (kept_of(path, &kept, &op.handle) == 0) {
		op.path = NULL;
		close(kept);
	}
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
	uint64_t handle;
	int kept;
	if (kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, -1);
	return run_op(&op, -1, false, 0, NULL);
}

static int op_removexattr(const char *path, const char *name)
{
	struct replicd_op op = {
		.type = ROP_REMOVEXATTR, .path = rel(path), .name = name};
	if (!*name || strlen(name) > REPLICD_NAME_MAX)
		return -ERANGE;
	uint64_t handle;
	int kept;
	if (kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, -1);
	return run_op(&op, -1, false, 0, NULL);
}

static int xattr_path(const char *path, int *fd, char *proc, size_t size)
{
	uint64_t handle;
	if (kept_of(path, fd, &handle) != 0)
		*fd = replicd_fs_open(self()->root, rel(path),
				      O_PATH | O_NOFOLLOW, 0);
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
	uint64_t handle;
	int kept;
	if (fi && kept_of(path, &kept, &handle) == 0)
		return run_kept(&op, kept, handle, fd_of(fi));
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
	/* libfuse hides a file unlinked (or renamed over) while open: we
	 * keep it without a name on disk (unlinked.h), so that fstat,
	 * fchmod... still reach it. Paths are computed for every call (the
	 * peer needs them); a file whose directory was removed too gets a
	 * NULL path, which every handler accepts. */
	cfg->hard_remove = 0;
	cfg->nullpath_ok = 0;
	return fuse_get_context()->private_data;
}

const struct fuse_operations replicd_mount_ops = {
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
