/*
 * restore.c - write a snapshot's trees back to disk (restore.h).
 */
#include "restore.h"
#include "log.h"
#include "tree.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct restore {
	struct bk_repo *repo;
	const struct bk_snapshot *snap;
	const char *dest;
	const char *const *only;
	size_t only_count;
	struct bk_restore_result *res;
};

/* Is the original path wanted: itself or under a chosen path (want), or
 * above one (descend only)? */
static void wanted(const struct restore *x, const char *orig, bool *want,
		   bool *descend)
{
	*want = *descend = x->only_count == 0;
	for (size_t i = 0; i < x->only_count && !*want; i++) {
		const char *o = x->only[i];
		size_t ol = strlen(o), pl = strlen(orig);
		while (ol > 1 && o[ol - 1] == '/')
			ol--;
		if (pl >= ol && !strncmp(orig, o, ol) &&
		    (orig[ol] == 0 || orig[ol] == '/'))
			*want = *descend = true;
		else if (ol > pl && !strncmp(orig, o, pl) && o[pl] == '/')
			*descend = true;
	}
}

/* a/b/c: no empty, "." or ".." component (a hard link's target from a
 * tree is hostile: it must stay inside DEST). */
static bool relative_path_ok(const char *p)
{
	if (!*p)
		return false;
	for (const char *c = p; c; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

static void set_meta(const struct bk_entry *e, const char *path)
{
	bool is_link = e->type == BK_SYMLINK;
	if (geteuid() == 0 && lchown(path, e->uid, e->gid) < 0)
		log_warning("%s: chown: %m", path);
	if (!is_link && chmod(path, e->mode) < 0)
		log_warning("%s: chmod: %m", path);
	for (size_t i = 0; i < e->xattr_count; i++)
		if (lsetxattr(path, e->xattrs[i].name, e->xattrs[i].value,
			      e->xattrs[i].len, 0) < 0)
			log_warning("%s: xattr %s: %m", path,
				    e->xattrs[i].name);
	struct timespec ts[2] = {
		{e->atime_ns / 1000000000LL, e->atime_ns % 1000000000LL},
		{e->mtime_ns / 1000000000LL, e->mtime_ns % 1000000000LL},
	};
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		log_warning("%s: times: %m", path);
}

struct chunk_out {
	struct restore *x;
	int fd;
};

static int write_chunk(void *ctx, const struct bk_chunk_ref *c,
		       const uint8_t *buf, size_t len)
{
	struct chunk_out *o = ctx;
	if (len != c->len) {
		snprintf(o->x->repo->why, sizeof(o->x->repo->why),
			 "chunk at %llu: %zu bytes, the tree says %u",
			 (unsigned long long)c->off, len, c->len);
		return -EBADMSG;
	}
	if (pwrite(o->fd, buf, len, (off_t)c->off) != (ssize_t)len) {
		int err = errno ? -errno : -EIO;
		snprintf(o->x->repo->why, sizeof(o->x->repo->why),
			 "writing: %s", strerror(-err));
		return err;
	}
	o->x->res->bytes += len;
	return 0;
}

static int restore_file(struct restore *x, const struct bk_entry *e,
			const char *path)
{
	unlink(path);
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)e->size) < 0)
		return -errno;
	struct chunk_out out = {x, fd};
	for (size_t i = 0; i < e->chunk_count;) {
		size_t done = 0;
		int r = bk_repo_read_data_run(x->repo, e->chunks + i,
					      e->chunk_count - i, write_chunk,
					      &out, &done);
		if (r < 0) {
			log_error("restore: %s: %s: refused, file removed",
				  path, x->repo->why);
			unlink(path);
			return r;
		}
		i += done;
	}
	/* durable all at once at the end (syncfs): a fsync per file
	 * made a tree of small files crawl */
	x->res->files++;
	return 0;
}

static int restore_tree(struct restore *x, const uint8_t id[BK_ID_LEN],
			const char *path, const char *orig);
static void set_meta(const struct bk_entry *e, const char *path);

/*
 * The entry at "<dir index>/<rel>" in the snapshot, read from its trees
 * (a hard link whose first path a partial restore left out). 0 with
 * *out filled (free with bk_entry_free), or -errno.
 */
static int resolve(struct restore *x, const char *target, struct bk_entry *out)
{
	char path[PATH_MAX];
	uint8_t id[BK_ID_LEN];
	memcpy(id, x->snap->tree, BK_ID_LEN);
	if (sky_strlcpy(path, target, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	char *save = NULL;
	for (char *part = strtok_r(path, "/", &save); part;
	     part = strtok_r(NULL, "/", &save)) {
		uint8_t *buf = NULL;
		size_t len = 0;
		struct bk_tree t;
		char why[BK_REASON_MAX];
		int r = bk_repo_read_blob(x->repo, BK_BLOB_TREE, id, &buf,
					  &len);
		if (r < 0)
			return r;
		r = bk_tree_parse(buf, len, &t, why, sizeof(why));
		free(buf);
		if (r < 0)
			return r;
		const struct bk_entry *e = bk_tree_find(&t, part);
		bool last = save == NULL || *save == 0;
		if (!e || (!last && e->type != BK_DIR) ||
		    (last && e->type != BK_FILE)) {
			bk_tree_free(&t);
			return -ENOENT;
		}
		if (last) {
			/* move it out of the tree before freeing the rest */
			*out = *e;
			memset((struct bk_entry *)e, 0, sizeof(*e));
			bk_tree_free(&t);
			return 0;
		}
		memcpy(id, e->subtree, BK_ID_LEN);
		bk_tree_free(&t);
	}
	return -ENOENT;
}

static int restore_entry(struct restore *x, const struct bk_entry *e,
			 const char *path, const char *orig)
{
	bool want, descend;
	wanted(x, orig, &want, &descend);
	if (!descend)
		return 0;
	int r = 0;
	switch (e->type) {
	case BK_DIR: {
		struct stat st;
		if (mkdir(path, 0700) < 0 &&
		    (errno != EEXIST || lstat(path, &st) < 0 ||
		     !S_ISDIR(st.st_mode)))
			return errno == EEXIST ? -ENOTDIR : -errno;
		/* never through a symlink that was there before */
		r = restore_tree(x, e->subtree, path, orig);
		break;
	}
	case BK_FILE:
		if (want)
			r = restore_file(x, e, path);
		break;
	case BK_SYMLINK:
		if (want) {
			unlink(path);
			r = symlink(e->target, path) < 0 ? -errno : 0;
		}
		break;
	case BK_HARDLINK: {
		if (!want)
			return 0;
		/* target: "<dir index>/<rel>" */
		char *slash = strchr(e->target, '/');
		char first[PATH_MAX];
		int64_t di;
		char idx[8] = "";
		if (!slash || (size_t)(slash - e->target) >= sizeof(idx))
			return -EBADMSG;
		memcpy(idx, e->target, (size_t)(slash - e->target));
		if (sky_parse_i64(idx, 0, (int64_t)x->snap->path_count - 1,
				  &di) < 0 ||
		    !relative_path_ok(slash + 1) ||
		    snprintf(first, sizeof(first), "%s%s%s", x->dest,
			     x->snap->paths[di], slash) >= (int)sizeof(first))
			return -EBADMSG;
		unlink(path);
		if (link(first, path) == 0)
			return 0;
		if (errno != ENOENT || x->only_count == 0) {
			log_error("restore: %s: hard link to %s: %m", path,
				  first);
			return -errno;
		}
		/* the first path was left out: this one gets the data */
		struct bk_entry data = {0};
		r = resolve(x, e->target, &data);
		if (r == 0)
			r = restore_file(x, &data, path);
		if (r == 0)
			set_meta(&data, path);
		bk_entry_free(&data);
		return r;
	}
	case BK_FIFO:
		if (want) {
			unlink(path);
			r = mkfifo(path, 0600) < 0 ? -errno : 0;
		}
		break;
	case BK_CHARDEV:
	case BK_BLOCKDEV:
		if (want) {
			unlink(path);
			mode_t t = e->type == BK_CHARDEV ? S_IFCHR : S_IFBLK;
			r = mknod(path, t | 0600, (dev_t)e->rdev) < 0 ? -errno
								      : 0;
		}
		break;
	default:
		return -EBADMSG;
	}
	if (r == 0 && want)
		set_meta(e, path);
	return r;
}

static int restore_tree(struct restore *x, const uint8_t id[BK_ID_LEN],
			const char *path, const char *orig)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct bk_tree t;
	char why[BK_REASON_MAX];
	int r = bk_repo_read_blob(x->repo, BK_BLOB_TREE, id, &buf, &len);
	if (r < 0) {
		log_error("restore: %s: %s: refused", path, x->repo->why);
		x->res->errors++;
		return 0;
	}
	r = bk_tree_parse(buf, len, &t, why, sizeof(why));
	free(buf);
	if (r < 0) {
		log_error("restore: %s: %s", path, why);
		x->res->errors++;
		return 0;
	}
	for (size_t i = 0; i < t.count; i++) {
		const struct bk_entry *e = &t.entries[i];
		char p[PATH_MAX], o[PATH_MAX];
		if (snprintf(p, sizeof(p), "%s/%s", path, e->name) >=
			    (int)sizeof(p) ||
		    snprintf(o, sizeof(o), "%s/%s", orig, e->name) >=
			    (int)sizeof(o)) {
			x->res->errors++;
			continue;
		}
		r = restore_entry(x, e, p, o);
		if (r == -ENOMEM) {
			bk_tree_free(&t);
			return r;
		}
		if (r < 0) {
			if (r != -EBADMSG)
				log_error("restore: %s: %s", p, strerror(-r));
			x->res->errors++;
		}
	}
	bk_tree_free(&t);
	return 0;
}

int bk_restore(struct bk_repo *r, const struct bk_snapshot *s, const char *dest,
	       const char *const *only, size_t only_count,
	       struct bk_restore_result *res)
{
	struct restore x = {r, s, dest, only, only_count, res};
	uint8_t *buf = NULL;
	size_t len = 0;
	struct bk_tree root;
	char why[BK_REASON_MAX];
	memset(res, 0, sizeof(*res));
	int ret = bk_repo_read_blob(r, BK_BLOB_TREE, s->tree, &buf, &len);
	if (ret < 0)
		return ret;
	ret = bk_tree_parse(buf, len, &root, why, sizeof(why));
	free(buf);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "root tree: %s", why);
		return ret;
	}
	for (size_t i = 0; i < s->path_count && ret == 0; i++) {
		char name[8], path[PATH_MAX];
		snprintf(name, sizeof(name), "%zu", i);
		const struct bk_entry *e = bk_tree_find(&root, name);
		bool want, descend;
		wanted(&x, s->paths[i], &want, &descend);
		if (!e || e->type != BK_DIR || !descend)
			continue;
		if (snprintf(path, sizeof(path), "%s%s", dest, s->paths[i]) >=
		    (int)sizeof(path)) {
			ret = -ENAMETOOLONG;
			break;
		}
		ret = sky_mkdir_p(path, 0700);
		if (ret == 0)
			ret = restore_tree(&x, e->subtree, path, s->paths[i]);
		if (ret == 0 && want)
			set_meta(e, path);
	}
	bk_tree_free(&root);
	int fd = open(dest[0] ? dest : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (syncfs(fd) < 0 && ret == 0)
			ret = -errno;
		close(fd);
	}
	if (ret == 0 && res->errors)
		ret = -EIO;
	return ret;
}
