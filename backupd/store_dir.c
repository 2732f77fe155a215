/*
 * store_dir.c - a target that is a directory (local disk, NFS): each object
 * a file under the target's path, sub-folders made as names need them.
 *
 * A put writes "<name>.tmp.<pid>.<n>", fsyncs it, renames it over the name
 * and fsyncs the folder, so a reader (or a crash) never sees half an
 * object, and two writers never share a temporary file. Leftover
 * temporary files (a writer killed mid-put) are skipped by list and are
 * harmless.
 */
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir_store {
	struct bk_store base;
	int root; /* O_PATH|O_DIRECTORY fd of the target's path */
	char path[BK_FIELD_MAX];
	uint64_t tmp_seq;
};

static struct dir_store *dir_of(struct bk_store *s)
{
	return (struct dir_store *)s;
}

/* mkdir -p of the folders above name, relative to root. */
static int make_parents(int root, const char *name)
{
	char part[BK_NAME_MAX + 1];

	for (const char *slash = strchr(name, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		size_t n = (size_t)(slash - name);
		memcpy(part, name, n);
		part[n] = '\0';
		if (mkdirat(root, part, 0750) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int parent_fd(int root, const char *name)
{
	char part[BK_NAME_MAX + 1];
	const char *slash = strrchr(name, '/');

	if (!slash)
		return openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	memcpy(part, name, (size_t)(slash - name));
	part[slash - name] = '\0';
	return openat(root, part, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int dir_put(struct bk_store *s, const char *name, const void *buf,
		   size_t len)
{
	struct dir_store *d = dir_of(s);
	char tmp[BK_NAME_MAX + 48];
	_cleanup_close_ int fd = -1;
	_cleanup_close_ int pfd = -1;
	int r;

	if (!bk_store_name_ok(name))
		return bk_store_refuse_name(s, name);
	r = make_parents(d->root, name);
	if (r < 0)
		goto fail;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%llu", name, (long)getpid(),
		 (unsigned long long)++d->tmp_seq);
	fd = openat(d->root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0640);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(d->root, tmp, d->root, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(d->root, tmp, 0);
		goto fail;
	}
	pfd = parent_fd(d->root, name);
	if (pfd < 0 || fsync(pfd) < 0) {
		r = -errno;
		goto fail;
	}
	s->bytes_up += len;
	s->requests++;
	return 0;
fail:
	snprintf(s->reason, sizeof(s->reason), "%s/%s: write: %s", d->path,
		 name, strerror(-r));
	return r;
}

static int read_exact(int fd, uint8_t *out, size_t len, uint64_t offset)
{
	while (len > 0) {
		ssize_t n = pread(fd, out, len, (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* shorter than asked */
		out += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int open_object(struct dir_store *d, const char *name, int *fd,
		       uint64_t *size)
{
	struct stat st;

	*fd = openat(d->root, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int r = S_ISREG(st.st_mode) ? -errno : -EIO;
		close(*fd);
		*fd = -1;
		return r;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int dir_get(struct bk_store *s, const char *name, size_t max,
		   uint8_t **buf, size_t *len)
{
	struct dir_store *d = dir_of(s);
	_cleanup_close_ int fd = -1;
	uint64_t size;
	int r;

	if (!bk_store_name_ok(name))
		return bk_store_refuse_name(s, name);
	r = open_object(d, name, &fd, &size);
	if (r < 0)
		goto fail;
	if (size > max) {
		r = -EFBIG;
		goto fail;
	}
	uint8_t *b = malloc(size ? size : 1);

	if (!b) {
		r = -ENOMEM;
		goto fail;
	}
	r = read_exact(fd, b, size, 0);
	if (r < 0) {
		free(b);
		goto fail;
	}
	*buf = b;
	*len = size;
	s->bytes_down += size;
	s->requests++;
	return 0;
fail:
	if (r != -ENOENT)
		snprintf(s->reason, sizeof(s->reason), "%s/%s: read: %s",
			 d->path, name, strerror(-r));
	return r;
}

static int dir_get_range(struct bk_store *s, const char *name, uint64_t offset,
			 size_t len, uint8_t *out)
{
	struct dir_store *d = dir_of(s);
	_cleanup_close_ int fd = -1;
	uint64_t size;
	int r;

	if (!bk_store_name_ok(name))
		return bk_store_refuse_name(s, name);
	r = open_object(d, name, &fd, &size);
	if (r == 0 && (offset > size || len > size - offset))
		r = -EIO;
	if (r == 0)
		r = read_exact(fd, out, len, offset);
	if (r < 0) {
		if (r != -ENOENT)
			snprintf(s->reason, sizeof(s->reason),
				 "%s/%s: read %zu bytes at %llu: %s", d->path,
				 name, len, (unsigned long long)offset,
				 strerror(-r));
		return r;
	}
	s->bytes_down += len;
	s->requests++;
	return 0;
}

/* A temporary file of a put in progress or killed: not an object. */
static bool is_tmp(const char *leaf)
{
	return strstr(leaf, ".tmp.") != NULL;
}

static int walk(struct dir_store *d, char *rel, size_t rel_len,
		const char *prefix,
		int (*fn)(void *ctx, const char *name, uint64_t size),
		void *ctx, int depth)
{
	if (depth > 16)
		return 0;
	int fd = rel_len ? openat(d->root, rel,
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			 : openat(d->root, ".",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int r = -errno;
		close(fd);
		return r;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || is_tmp(e->d_name))
			continue;
		size_t n = strlen(e->d_name);
		if (rel_len + 1 + n > BK_NAME_MAX)
			continue;
		size_t at = rel_len;
		if (at)
			rel[at++] = '/';
		memcpy(rel + at, e->d_name, n + 1);
		/* Only descend where the prefix can still match. */
		size_t cmp = strlen(prefix) < at + n ? strlen(prefix) : at + n;
		if (strncmp(rel, prefix, cmp) != 0) {
			rel[rel_len] = '\0';
			continue;
		}
		struct stat st;
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			rel[rel_len] = '\0';
			continue; /* gone meanwhile */
		}
		if (S_ISDIR(st.st_mode))
			r = walk(d, rel, at + n, prefix, fn, ctx, depth + 1);
		else if (S_ISREG(st.st_mode) && bk_store_name_ok(rel) &&
			 strncmp(rel, prefix, strlen(prefix)) == 0)
			r = fn(ctx, rel, (uint64_t)st.st_size) ? 1 : 0;
		rel[rel_len] = '\0';
	}
	closedir(dir);
	return r < 0 ? r : 0;
}

static int dir_list(struct bk_store *s, const char *prefix,
		    int (*fn)(void *ctx, const char *name, uint64_t size),
		    void *ctx)
{
	struct dir_store *d = dir_of(s);
	char rel[BK_NAME_MAX + 2] = "";

	s->requests++;
	int r = walk(d, rel, 0, prefix ? prefix : "", fn, ctx, 0);
	if (r < 0)
		snprintf(s->reason, sizeof(s->reason), "%s: list %s: %s",
			 d->path, prefix ? prefix : "", strerror(-r));
	return r;
}

static int dir_del(struct bk_store *s, const char *name)
{
	struct dir_store *d = dir_of(s);

	if (!bk_store_name_ok(name))
		return bk_store_refuse_name(s, name);
	s->requests++;
	if (unlinkat(d->root, name, 0) < 0 && errno != ENOENT) {
		int r = -errno;
		snprintf(s->reason, sizeof(s->reason), "%s/%s: delete: %s",
			 d->path, name, strerror(-r));
		return r;
	}
	return 0;
}

static void dir_close(struct bk_store *s)
{
	struct dir_store *d = dir_of(s);

	if (d->root >= 0)
		close(d->root);
	free(d);
}

static const struct bk_store_ops dir_ops = {
	.put = dir_put,
	.get = dir_get,
	.get_range = dir_get_range,
	.list = dir_list,
	.del = dir_del,
	.close = dir_close,
};

int bk_store_dir_open(const struct bk_target_cfg *t, struct bk_store **out,
		      char *why, size_t why_size)
{
	if (t->path[0] != '/') {
		snprintf(why, why_size,
			 "target %s: path must be absolute, not \"%s\"",
			 t->name, t->path);
		return -EINVAL;
	}
	int r = sky_mkdir_p(t->path, 0750);
	if (r < 0) {
		snprintf(why, why_size, "target %s: cannot create %s: %s",
			 t->name, t->path, strerror(-r));
		return r;
	}
	struct dir_store *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.ops = &dir_ops;
	sky_strlcpy(d->path, t->path, sizeof(d->path));
	d->root = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->root < 0) {
		r = -errno;
		snprintf(why, why_size, "target %s: cannot open %s: %s",
			 t->name, t->path, strerror(-r));
		free(d);
		return r;
	}
	*out = &d->base;
	return 0;
}
