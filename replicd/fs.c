/*
 * fs.c - safe *at() operations under a replicated directory (see fs.h).
 */
#include "fs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RESOLVE_SAFE                                                           \
	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

int replicd_fs_open(int root, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_SAFE,
	};
	long fd;

	do {
		fd = syscall(SYS_openat2, root, *rel ? rel : ".", &how,
			     sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

int replicd_fs_parent(int root, const char *rel, int *dirfd, const char **base)
{
	char parent[REPLICD_PATH_MAX + 1];
	const char *slash = strrchr(rel, '/');
	int fd;

	if (!*rel)
		return -EINVAL;
	if (!slash) {
		parent[0] = '\0';
		*base = rel;
	} else {
		size_t n = (size_t)(slash - rel);
		if (n >= sizeof(parent))
			return -ENAMETOOLONG;
		memcpy(parent, rel, n);
		parent[n] = '\0';
		*base = slash + 1;
	}
	fd = replicd_fs_open(root, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	*dirfd = fd;
	return 0;
}

void replicd_fs_fd_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static int neg(int r)
{
	return r < 0 ? -errno : r;
}

static int write_all(int fd, const uint8_t *data, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, data + done, len - done,
				   (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return done ? (int)done : -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

/* The file of a handle operation: fd, or op->path opened for it. */
static int file_fd(int root, const struct replicd_op *op, int fd, int flags,
		   int *owned)
{
	*owned = -1;
	if (fd >= 0)
		return fd;
	if (!op->path)
		return -EBADF;
	fd = replicd_fs_open(root, op->path, flags | O_NOFOLLOW, 0);
	if (fd >= 0)
		*owned = fd;
	return fd;
}

static int set_owner(int dirfd, const char *base, const struct replicd_op *op)
{
	if (op->uid == UINT32_MAX && op->gid == UINT32_MAX)
		return 0;
	return neg(
		fchownat(dirfd, base, op->uid, op->gid, AT_SYMLINK_NOFOLLOW));
}

static int do_chmod(int dirfd, const char *base, mode_t mode);

static int do_create(int dirfd, const char *base, const struct replicd_op *op,
		     int open_flags, int *fd_out)
{
	mode_t perm = op->mode & 07777;
	int r;

	if (S_ISREG(op->mode) || (op->mode & S_IFMT) == 0) {
		int flags = O_NOFOLLOW | O_CLOEXEC |
			    (fd_out ? open_flags : O_WRONLY);
		flags &= ~(O_CREAT | O_EXCL | O_TRUNC);
		/* Owner and mode are set only on a file this call created,
		 * as open(O_CREAT) does. */
		int fd = openat(dirfd, base, flags | O_CREAT | O_EXCL, perm);
		bool created = fd >= 0;
		if (fd < 0 && errno == EEXIST && !(op->flags & ROP_CREATE_EXCL))
			fd = openat(dirfd, base,
				    flags | (op->flags & ROP_CREATE_TRUNC
						     ? O_TRUNC
						     : 0));
		if (fd < 0)
			return -errno;
		r = 0;
		if (created && (op->uid != UINT32_MAX || op->gid != UINT32_MAX))
			r = fchown(fd, op->uid, op->gid) < 0 ? -errno : 0;
		/* chown cleared the setuid and setgid bits: open(O_CREAT)
		 * keeps them. */
		if (r == 0 && created && (perm & (S_ISUID | S_ISGID)))
			r = fchmod(fd, perm) < 0 ? -errno : 0;
		if (r < 0 || !fd_out)
			close(fd);
		else
			*fd_out = fd;
		return r;
	}
	if (mknodat(dirfd, base, op->mode, (dev_t)op->rdev) < 0)
		return -errno;
	r = set_owner(dirfd, base, op);
	if (r == 0 && (perm & (S_ISUID | S_ISGID)))
		r = do_chmod(dirfd, base, perm); /* as above */
	return r;
}

static int do_chmod(int dirfd, const char *base, mode_t mode)
{
	char proc[64];
	struct stat st;
	_cleanup_close_ int fd =
		openat(dirfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EOPNOTSUPP; /* as lchmod */
	replicd_fs_fd_path(fd, proc, sizeof(proc));
	return neg(chmod(proc, mode & 07777));
}

static int do_xattr(int root, const struct replicd_op *op)
{
	char proc[64];
	int flags = (op->flags & ROP_XATTR_CREATE ? XATTR_CREATE : 0) |
		    (op->flags & ROP_XATTR_REPLACE ? XATTR_REPLACE : 0);
	_cleanup_close_ int fd =
		replicd_fs_open(root, op->path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	replicd_fs_fd_path(fd, proc, sizeof(proc));
	if (op->type == ROP_SETXATTR)
		return neg(setxattr(proc, op->name, op->data, op->data_len,
				    flags));
	return neg(removexattr(proc, op->name));
}

/* Remove base under dirfd, and everything under it if a directory. */
static int remove_tree(int dirfd, const char *base, int depth)
{
	struct stat st;
	if (depth > REPLICD_PATH_MAX / 2)
		return -ELOOP;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, base, 0) < 0 && errno != ENOENT ? -errno
								       : 0;
	int fd = openat(dirfd, base,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = replicd_fs_empty_dir(fd, depth + 1);
	close(fd);
	if (r < 0)
		return r;
	return unlinkat(dirfd, base, AT_REMOVEDIR) < 0 && errno != ENOENT
		       ? -errno
		       : 0;
}

int replicd_fs_empty_dir(int fd, int depth)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	DIR *dp = fdopendir(dup_fd);
	if (!dp) {
		close(dup_fd);
		return -errno;
	}
	rewinddir(dp); /* the offset is shared with fd */
	int r = 0;
	struct dirent *de;
	while (r == 0 && (errno = 0, de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		r = remove_tree(fd, de->d_name, depth);
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(dp);
	return r;
}

static int ensure_dir(int root, const struct replicd_op *op)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	struct stat st;
	int r;

	if (!*op->path) {
		r = neg(fchmod(root, op->mode & 07777));
		return r < 0 ? r : neg(fchown(root, op->uid, op->gid));
	}
	r = replicd_fs_parent(root, op->path, &dirfd, &base);
	if (r < 0)
		return r;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			r = do_chmod(dirfd, base, op->mode);
			return r < 0 ? r : set_owner(dirfd, base, op);
		}
		r = remove_tree(dirfd, base, 0);
		if (r < 0)
			return r;
	}
	if (mkdirat(dirfd, base, op->mode & 07777) < 0)
		return -errno;
	r = do_chmod(dirfd, base, op->mode); /* no umask, whatever it is */
	return r < 0 ? r : set_owner(dirfd, base, op);
}

static int clear_xattrs(int root, const struct replicd_op *op)
{
	char proc[64], names[65536];
	_cleanup_close_ int fd =
		replicd_fs_open(root, op->path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	replicd_fs_fd_path(fd, proc, sizeof(proc));
	ssize_t n = listxattr(proc, names, sizeof(names));
	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		/* ACLs travel with the mode; security labels are the
		 * node's own. */
		if (strncmp(names + i, "user.", 5) != 0 &&
		    strncmp(names + i, "trusted.", 8) != 0)
			continue;
		if (removexattr(proc, names + i) < 0 && errno != ENODATA)
			return -errno;
	}
	return 0;
}

static int falloc_mode(uint32_t f)
{
	return (f & ROP_FALLOC_KEEP_SIZE ? FALLOC_FL_KEEP_SIZE : 0) |
	       (f & ROP_FALLOC_PUNCH_HOLE ? FALLOC_FL_PUNCH_HOLE : 0) |
	       (f & ROP_FALLOC_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE : 0);
}

/* Operations on one name: create, mkdir, unlink, rmdir, symlink... */
static int apply_named(int root, const struct replicd_op *op, int open_flags,
		       int *fd_out)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	int r;

	if (!*op->path) {
		/* The replicated directory itself. */
		switch (op->type) {
		case ROP_CHMOD:
			return neg(fchmod(root, op->mode & 07777));
		case ROP_CHOWN:
			return neg(fchown(root, op->uid, op->gid));
		case ROP_UTIMENS: {
			struct timespec t[2] = {op->atime, op->mtime};
			return neg(futimens(root, t));
		}
		default:
			return -EBUSY;
		}
	}
	r = replicd_fs_parent(root, op->path, &dirfd, &base);
	if (r < 0)
		return r;
	switch (op->type) {
	case ROP_CREATE:
		return do_create(dirfd, base, op, open_flags, fd_out);
	case ROP_MKDIR:
		if (mkdirat(dirfd, base, op->mode & 07777) < 0)
			return -errno;
		return set_owner(dirfd, base, op);
	case ROP_UNLINK:
		return neg(unlinkat(dirfd, base, 0));
	case ROP_RMDIR:
		return neg(unlinkat(dirfd, base, AT_REMOVEDIR));
	case ROP_SYMLINK:
		if (symlinkat(op->target, dirfd, base) < 0)
			return -errno;
		return set_owner(dirfd, base, op);
	case ROP_CHMOD:
		return do_chmod(dirfd, base, op->mode);
	case ROP_CHOWN:
		return neg(fchownat(dirfd, base, op->uid, op->gid,
				    AT_SYMLINK_NOFOLLOW));
	case ROP_UTIMENS: {
		struct timespec t[2] = {op->atime, op->mtime};
		return neg(utimensat(dirfd, base, t, AT_SYMLINK_NOFOLLOW));
	}
	default:
		return -EINVAL;
	}
}

static int apply_two(int root, const struct replicd_op *op)
{
	_cleanup_close_ int d1 = -1, d2 = -1;
	const char *b1, *b2;
	int r = replicd_fs_parent(root, op->path, &d1, &b1);
	if (r == 0)
		r = replicd_fs_parent(root, op->path2, &d2, &b2);
	if (r < 0)
		return r == -EINVAL ? -EBUSY : r;
	if (op->type == ROP_LINK)
		return neg(linkat(d1, b1, d2, b2, 0));
	unsigned flags =
		(op->flags & ROP_RENAME_NOREPLACE ? RENAME_NOREPLACE : 0) |
		(op->flags & ROP_RENAME_EXCHANGE ? RENAME_EXCHANGE : 0);
	return neg(renameat2(d1, b1, d2, b2, flags));
}

/*
 * A metadata operation on the open file fd (any descriptor, O_PATH too):
 * a file unlinked while open has no path left.
 */
static int apply_fd_meta(int fd, const struct replicd_op *op)
{
	char proc[64];
	int flags = (op->flags & ROP_XATTR_CREATE ? XATTR_CREATE : 0) |
		    (op->flags & ROP_XATTR_REPLACE ? XATTR_REPLACE : 0);
	struct timespec t[2] = {op->atime, op->mtime};

	replicd_fs_fd_path(fd, proc, sizeof(proc));
	switch (op->type) {
	case ROP_CHMOD:
		return neg(chmod(proc, op->mode & 07777));
	case ROP_CHOWN:
		return neg(fchownat(fd, "", op->uid, op->gid, AT_EMPTY_PATH));
	case ROP_UTIMENS:
		return neg(utimensat(AT_FDCWD, proc, t, 0));
	case ROP_SETXATTR:
		return neg(setxattr(proc, op->name, op->data, op->data_len,
				    flags));
	case ROP_REMOVEXATTR:
		return neg(removexattr(proc, op->name));
	default:
		return -EINVAL;
	}
}

int replicd_fs_apply(int root, const struct replicd_op *op, int fd,
		     int open_flags, int *fd_out)
{
	int owned = -1, r;

	if (fd >= 0 && (op->type == ROP_CHMOD || op->type == ROP_CHOWN ||
			op->type == ROP_UTIMENS || op->type == ROP_SETXATTR ||
			op->type == ROP_REMOVEXATTR))
		return apply_fd_meta(fd, op);
	switch (op->type) {
	case ROP_WRITE:
		fd = file_fd(root, op, fd, O_WRONLY, &owned);
		r = fd < 0 ? fd
			   : write_all(fd, op->data, op->data_len, op->offset);
		break;
	case ROP_TRUNCATE:
		fd = file_fd(root, op, fd, O_WRONLY, &owned);
		r = fd < 0 ? fd : neg(ftruncate(fd, (off_t)op->offset));
		break;
	case ROP_FALLOCATE:
		fd = file_fd(root, op, fd, O_WRONLY, &owned);
		r = fd < 0 ? fd
			   : neg(fallocate(fd, falloc_mode(op->flags),
					   (off_t)op->offset,
					   (off_t)op->length));
		break;
	case ROP_FSYNC:
		fd = file_fd(root, op, fd, O_RDONLY, &owned);
		if (fd >= 0)
			r = neg(op->flags & ROP_FSYNC_DATASYNC ? fdatasync(fd)
							       : fsync(fd));
		else
			r = fd;
		break;
	case ROP_CREATE:
	case ROP_MKDIR:
	case ROP_UNLINK:
	case ROP_RMDIR:
	case ROP_SYMLINK:
	case ROP_CHMOD:
	case ROP_CHOWN:
	case ROP_UTIMENS:
		return apply_named(root, op, open_flags,
				   op->type == ROP_CREATE ? fd_out : NULL);
	case ROP_RENAME:
	case ROP_LINK:
		return apply_two(root, op);
	case ROP_SETXATTR:
	case ROP_REMOVEXATTR:
		return do_xattr(root, op);
	case ROP_REMOVE: {
		_cleanup_close_ int dirfd = -1;
		const char *base;
		if (!*op->path)
			return replicd_fs_empty_dir(root, 0);
		r = replicd_fs_parent(root, op->path, &dirfd, &base);
		if (r == -ENOENT || r == -ENOTDIR)
			return 0; /* a parent is gone: so is the entry */
		return r < 0 ? r : remove_tree(dirfd, base, 0);
	}
	case ROP_ENSURE_DIR:
		return ensure_dir(root, op);
	case ROP_CLEAR_XATTRS:
		return clear_xattrs(root, op);
	case ROP_FLUSH:
		return neg(syncfs(root));
	default:
		return -EINVAL;
	}
	if (owned >= 0)
		close(owned);
	return r;
}
