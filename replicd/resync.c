/*
 * resync.c - the primary's resync plan and its execution (resync.h).
 *
 * The plan is an array of items sorted by (dir, path), one per path, with
 * the kinds and zone ranges of every record entry for it merged. Items are
 * handled in order, parents before children; a directory copied whole
 * pushes its children on a stack handled before the next item. One item
 * is handled in stages (entry, content, attributes) so a large file spans
 * several steps.
 */
#include "resync.h"
#include "exclude.h"
#include "fs.h"
#include "log.h"
#include "manifest.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define CHUNK	  REPLICD_DATA_MAX
#define XATTR_MAX 65536
#define LIST_MAX  65536

struct rs_range {
	uint64_t first, count;
};

struct rs_item {
	uint8_t dir;
	uint8_t kinds;
	bool copy;    /* under a tree being copied: the peer has nothing here */
	bool compare; /* hash mode: compare with the peer's manifest */
	char *path;
	struct rs_range *ranges;
	size_t nranges;
	uint64_t planned; /* the ranges' bytes, counted in bytes_total */
};

enum rs_stage { ST_START, ST_CONTENT, ST_ATTRS };

struct rs_link {
	dev_t dev;
	ino_t ino;
	uint8_t dir;
	char *path;
};

struct replicd_resync {
	int roots[REPLICD_MAX_DIRS];
	const struct replicd_exclude *ex; /* left alone on both sides */
	bool verify; /* a verify: a file is compared up to its size at open */
	off_t open_size;
	size_t dir_count;
	struct rs_item *items;
	size_t n, next;
	struct rs_item *stack;
	size_t sn, scap;
	/* the item in progress */
	struct rs_item cur;
	bool have_cur;
	enum rs_stage stage;
	int fd;
	struct stat st;
	bool whole; /* content: every data extent, else cur.ranges */
	uint64_t offset;
	size_t range_i;
	/* hash mode: the peer's manifest (borrowed), the entry of the item
	 * in progress, and the removal of what only the peer has */
	struct replicd_manifest *mf;
	struct replicd_manifest_entry *cmp;
	struct replicd_manifest_entry *rm_next;
	bool removing;
	uint64_t compared;
	struct rs_link *links;
	size_t nlinks;
	uint8_t *buf;
	struct replicd_resync_stats stats;
};

static void item_free(struct rs_item *it)
{
	free(it->path);
	free(it->ranges);
	memset(it, 0, sizeof(*it));
}

void replicd_resync_free(struct replicd_resync **rsp)
{
	struct replicd_resync *rs = *rsp;
	if (!rs)
		return;
	for (size_t i = rs->next; i < rs->n; i++)
		item_free(&rs->items[i]);
	free(rs->items);
	for (size_t i = 0; i < rs->sn; i++)
		item_free(&rs->stack[i]);
	free(rs->stack);
	if (rs->have_cur)
		item_free(&rs->cur);
	if (rs->fd >= 0)
		close(rs->fd);
	for (size_t i = 0; i < rs->nlinks; i++)
		free(rs->links[i].path);
	free(rs->links);
	free(rs->buf);
	free(rs);
	*rsp = NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct changerec_entry *x =
		*(const struct changerec_entry *const *)a;
	const struct changerec_entry *y =
		*(const struct changerec_entry *const *)b;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int cmp_range(const void *a, const void *b)
{
	const struct rs_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first ? 1 : 0;
}

/* Sort and merge overlapping or touching ranges in place. */
static size_t merge_ranges(struct rs_range *r, size_t n)
{
	size_t out = 0;
	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (size_t i = 1; i < n; i++) {
		uint64_t end = r[out].first + r[out].count;
		if (r[i].first <= end) {
			uint64_t e2 = r[i].first + r[i].count;
			if (e2 > end)
				r[out].count = e2 - r[out].first;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

int replicd_resync_new(struct replicd_resync **out,
		       const struct changerec_entry *mine, size_t n_mine,
		       const struct changerec_entry *theirs, size_t n_theirs,
		       bool full, size_t dir_count, const int *roots)
{
	struct replicd_resync *rs = calloc(1, sizeof(*rs));
	const struct changerec_entry **all = NULL;
	size_t total = n_mine + n_theirs, n = 0;
	int r = -ENOMEM;

	if (!rs)
		return -ENOMEM;
	rs->fd = -1;
	if (dir_count > REPLICD_MAX_DIRS)
		dir_count = REPLICD_MAX_DIRS;
	memcpy(rs->roots, roots, dir_count * sizeof(*roots));
	rs->dir_count = dir_count;
	rs->buf = malloc(CHUNK);
	if (!rs->buf)
		goto fail;
	if (full) {
		/* One tree per directory: the peer empties it first. */
		rs->items =
			calloc(dir_count ? dir_count : 1, sizeof(*rs->items));
		if (!rs->items)
			goto fail;
		for (size_t d = 0; d < dir_count; d++) {
			rs->items[d].dir = (uint8_t)d;
			rs->items[d].kinds = TRK_TREE;
			rs->items[d].path = strdup("");
			if (!rs->items[d].path)
				goto fail;
			rs->n = d + 1;
		}
		*out = rs;
		return 0;
	}
	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		goto fail;
	for (size_t i = 0; i < n_mine; i++)
		if (!(mine[i].kinds & TRK_ALONE) && mine[i].dir < dir_count)
			all[n++] = &mine[i];
	for (size_t i = 0; i < n_theirs; i++)
		if (!(theirs[i].kinds & TRK_ALONE) && theirs[i].dir < dir_count)
			all[n++] = &theirs[i];
	qsort(all, n, sizeof(*all), cmp_entry);
	rs->items = calloc(n ? n : 1, sizeof(*rs->items));
	if (!rs->items)
		goto fail;
	for (size_t i = 0; i < n;) {
		size_t j = i, zones = 0;
		struct rs_item *it = &rs->items[rs->n];
		while (j < n && cmp_entry(&all[i], &all[j]) == 0) {
			it->kinds |= all[j]->kinds;
			zones += (all[j]->kinds & TRK_ZONES) != 0;
			j++;
		}
		it->dir = all[i]->dir;
		it->path = strdup(all[i]->path);
		if (!it->path)
			goto fail;
		rs->n++;
		if (zones) {
			it->ranges = calloc(zones, sizeof(*it->ranges));
			if (!it->ranges)
				goto fail;
			for (size_t k = i; k < j; k++)
				if (all[k]->kinds & TRK_ZONES)
					it->ranges[it->nranges++] =
						(struct rs_range){
							all[k]->first,
							all[k]->count};
			it->nranges = merge_ranges(it->ranges, it->nranges);
			for (size_t k = 0; k < it->nranges; k++)
				it->planned +=
					it->ranges[k].count * REPLICD_ZONE_SIZE;
			rs->stats.bytes_total += it->planned;
		}
		i = j;
	}
	free(all);
	*out = rs;
	return 0;
fail:
	free(all);
	replicd_resync_free(&rs);
	return r;
}

int replicd_resync_new_compare(struct replicd_resync **out,
			       struct replicd_manifest *mf, size_t dir_count,
			       const int *roots)
{
	int r = replicd_resync_new(out, NULL, 0, NULL, 0, true, dir_count,
				   roots);
	if (r < 0)
		return r;
	(*out)->mf = mf;
	for (size_t i = 0; i < (*out)->n; i++)
		(*out)->items[i].compare = true;
	return 0;
}

void replicd_resync_stats(const struct replicd_resync *rs,
			  struct replicd_resync_stats *out)
{
	*out = rs->stats;
	out->compared = rs->compared;
}

/* --- helpers ----------------------------------------------------------- */

static int lstat_rel(int root, const char *path, struct stat *st)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	if (!*path)
		return fstat(root, st) < 0 ? -errno : 0;
	int r = replicd_fs_parent(root, path, &dirfd, &base);
	if (r < 0)
		return r;
	return fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int emit_simple(replicd_emit_fn emit, void *ctx, uint8_t type,
		       const struct rs_item *it)
{
	struct replicd_op op = {.type = type, .dir = it->dir, .path = it->path};
	return emit(ctx, &op);
}

/* The symlink at it (owner from rs->st), replacing what is there first. */
static int emit_symlink(const struct replicd_resync *rs,
			const struct rs_item *it, const char *target,
			bool remove_first, replicd_emit_fn emit, void *ctx)
{
	int r;
	if (remove_first && (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
		return r;
	struct replicd_op op = {.type = ROP_SYMLINK,
				.dir = it->dir,
				.path = it->path,
				.target = target,
				.uid = rs->st.st_uid,
				.gid = rs->st.st_gid};
	return emit(ctx, &op);
}

/* Every user./trusted. xattr of fd, as SETXATTR ops (after a clear). */
static int emit_xattrs(struct replicd_resync *rs, const struct rs_item *it,
		       int fd, replicd_emit_fn emit, void *ctx)
{
	char proc[64], *names = malloc(LIST_MAX);
	int r;
	if (!names)
		return -ENOMEM;
	r = emit_simple(emit, ctx, ROP_CLEAR_XATTRS, it);
	replicd_fs_fd_path(fd, proc, sizeof(proc));
	ssize_t n = r < 0 ? 0 : listxattr(proc, names, LIST_MAX);
	for (ssize_t i = 0; r == 0 && i < n;
	     i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if ((strncmp(name, "user.", 5) != 0 &&
		     strncmp(name, "trusted.", 8) != 0) ||
		    strlen(name) > REPLICD_NAME_MAX)
			continue;
		ssize_t v = getxattr(proc, name, rs->buf, XATTR_MAX);
		if (v < 0)
			continue; /* removed meanwhile: the live op says so */
		struct replicd_op op = {.type = ROP_SETXATTR,
					.dir = it->dir,
					.path = it->path,
					.name = name,
					.data = rs->buf,
					.data_len = (size_t)v};
		r = emit(ctx, &op);
	}
	free(names);
	return r;
}

/* A hard link to a file already copied by this resync: link it. */
static int link_known(struct replicd_resync *rs, const struct rs_item *it,
		      replicd_emit_fn emit, void *ctx, bool *done)
{
	*done = false;
	if (rs->st.st_nlink < 2)
		return 0;
	for (size_t i = 0; i < rs->nlinks; i++) {
		struct rs_link *l = &rs->links[i];
		if (l->dev != rs->st.st_dev || l->ino != rs->st.st_ino ||
		    l->dir != it->dir || strcmp(l->path, it->path) == 0)
			continue;
		int r = emit_simple(emit, ctx, ROP_REMOVE, it);
		struct replicd_op op = {.type = ROP_LINK,
					.dir = it->dir,
					.path = l->path,
					.path2 = it->path};
		if (r == 0)
			r = emit(ctx, &op);
		*done = true;
		return r;
	}
	struct rs_link *n = realloc(rs->links, (rs->nlinks + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	rs->links = n;
	n[rs->nlinks] = (struct rs_link){.dev = rs->st.st_dev,
					 .ino = rs->st.st_ino,
					 .dir = it->dir,
					 .path = strdup(it->path)};
	if (!n[rs->nlinks].path)
		return -ENOMEM;
	rs->nlinks++;
	return 0;
}

/*
 * The item's file (open in rs->fd) is another name of a file this resync
 * handled already: link it to that name and drop the item, with nothing to
 * read. 1 linked, 0 not (carry on with the item), or a negative errno.
 */
static int link_item_if_known(struct replicd_resync *rs,
			      const struct rs_item *it, replicd_emit_fn emit,
			      void *ctx)
{
	bool linked;
	int r = link_known(rs, it, emit, ctx, &linked);
	if (r < 0 || linked) {
		close(rs->fd);
		rs->fd = -1;
		rs->have_cur = false;
	}
	return r < 0 ? r : linked;
}

/* Push the children of the directory cur (copied whole) on the stack. */
static int push_children(struct replicd_resync *rs, const struct rs_item *it,
			 bool compare)
{
	int dfd = replicd_fs_open(rs->roots[it->dir], it->path,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (dfd < 0)
		return dfd == -ENOENT || dfd == -ENOTDIR ? 0 : dfd;
	DIR *dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(dp)) != NULL) {
		char path[REPLICD_PATH_MAX + 2];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int k = snprintf(path, sizeof(path), "%s%s%s", it->path,
				 *it->path ? "/" : "", de->d_name);
		if (k < 0 || (size_t)k > REPLICD_PATH_MAX) {
			rs->stats.skipped++;
			continue;
		}
		if (replicd_exclude_match(rs->ex, path))
			continue;
		if (rs->sn == rs->scap) {
			size_t cap = rs->scap ? rs->scap * 2 : 64;
			struct rs_item *s =
				realloc(rs->stack, cap * sizeof(*s));
			if (!s) {
				r = -ENOMEM;
				break;
			}
			rs->stack = s;
			rs->scap = cap;
		}
		struct rs_item *c = &rs->stack[rs->sn];
		*c = (struct rs_item){.dir = it->dir,
				      .kinds = TRK_TREE,
				      .copy = !compare,
				      .compare = compare,
				      .path = strdup(path)};
		if (!c->path) {
			r = -ENOMEM;
			break;
		}
		rs->sn++;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			rs->stats.bytes_total += (uint64_t)st.st_size;
	}
	closedir(dp);
	return r;
}

static int start_compare(struct replicd_resync *rs, replicd_emit_fn emit,
			 void *ctx);

/* Stage START: the entry itself. Sets the next stage. */
static int start_item(struct replicd_resync *rs, replicd_emit_fn emit,
		      void *ctx)
{
	struct rs_item *it = &rs->cur;
	int root = rs->roots[it->dir], r;
	bool whole = it->kinds & (TRK_TREE | TRK_ENTRY);

	/* A record made before the path was excluded: left alone. */
	if (replicd_exclude_match(rs->ex, it->path)) {
		rs->have_cur = false;
		return 0;
	}
	rs->stats.entries++;
	/* The ranges' estimate stands only if the ranges are what is sent
	 * (a regular file, not whole): added back there. A whole file's
	 * size is counted instead, so a file created and written while the
	 * peer was away counts once, not twice. */
	rs->stats.bytes_total -= it->planned;
	if (it->compare)
		return start_compare(rs, emit, ctx);
	r = lstat_rel(root, it->path, &rs->st);
	if (r == -ENOENT || r == -ENOTDIR) {
		/* Gone here: gone there (unless it is the root). */
		rs->have_cur = false;
		if (it->copy || !*it->path)
			return 0;
		return emit_simple(emit, ctx, ROP_REMOVE, it);
	}
	if (r < 0)
		return r;
	/* A removed parent (a copied tree) means nothing exists there. */
	if ((it->kinds & TRK_TREE) && *it->path && !it->copy &&
	    (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
		return r;
	if (S_ISDIR(rs->st.st_mode)) {
		if (!*it->path && (it->kinds & TRK_TREE) && !it->copy &&
		    (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
			return r; /* full: the peer empties its directory */
		struct replicd_op op = {.type = ROP_ENSURE_DIR,
					.dir = it->dir,
					.path = it->path,
					.mode = rs->st.st_mode & 07777,
					.uid = rs->st.st_uid,
					.gid = rs->st.st_gid};
		r = emit(ctx, &op);
		if (r == 0 && (it->kinds & TRK_TREE))
			r = push_children(rs, it, false);
		rs->stage = ST_ATTRS;
		return r;
	}
	if (!*it->path) {
		rs->have_cur = false;
		return 0;
	}
	if (S_ISLNK(rs->st.st_mode)) {
		char target[REPLICD_PATH_MAX + 1];
		_cleanup_close_ int dirfd = -1;
		const char *base;
		r = replicd_fs_parent(root, it->path, &dirfd, &base);
		ssize_t n = r < 0 ? -1
				  : readlinkat(dirfd, base, target,
					       sizeof(target) - 1);
		rs->have_cur = false;
		if (n <= 0)
			return 0; /* changed meanwhile: a live op follows */
		target[n] = '\0';
		return emit_symlink(rs, it, target, !it->copy, emit, ctx);
	}
	if (!S_ISREG(rs->st.st_mode)) {
		/* FIFO, socket, device: the entry is all there is. */
		rs->have_cur = false;
		if (!whole && !(it->kinds & TRK_META))
			return 0;
		if (!it->copy &&
		    (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
			return r;
		struct replicd_op op = {.type = ROP_CREATE,
					.dir = it->dir,
					.path = it->path,
					.mode = rs->st.st_mode,
					.rdev = rs->st.st_rdev,
					.uid = rs->st.st_uid,
					.gid = rs->st.st_gid,
					.flags = ROP_CREATE_EXCL};
		return emit(ctx, &op);
	}
	/* A regular file. */
	rs->fd = replicd_fs_open(root, it->path, O_RDONLY | O_NOFOLLOW, 0);
	if (rs->fd < 0) {
		rs->have_cur = false;
		return rs->fd == -ENOENT ? 0 : rs->fd;
	}
	if (fstat(rs->fd, &rs->st) < 0)
		return -errno;
	rs->whole = whole;
	rs->offset = 0;
	rs->range_i = 0;
	if (!whole)
		rs->stats.bytes_total += it->planned;
	if (whole) {
		if (!it->copy &&
		    (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
			return r;
		r = link_item_if_known(rs, it, emit, ctx);
		if (r != 0)
			return r < 0 ? r : 0;
		struct replicd_op op = {.type = ROP_CREATE,
					.dir = it->dir,
					.path = it->path,
					.mode = S_IFREG |
						(rs->st.st_mode & 07777),
					.uid = rs->st.st_uid,
					.gid = rs->st.st_gid};
		r = emit(ctx, &op);
		if (r < 0)
			return r;
		if (!it->copy)
			rs->stats.bytes_total += (uint64_t)rs->st.st_size;
	}
	rs->stage = ST_CONTENT;
	return 0;
}

/* Send [off, off+len) of the current file. */
static int emit_data(struct replicd_resync *rs, uint64_t off, size_t len,
		     replicd_emit_fn emit, void *ctx, size_t *sent)
{
	ssize_t n = pread(rs->fd, rs->buf, len, (off_t)off);
	*sent = 0;
	if (n <= 0)
		return n < 0 ? -errno : 0;
	struct replicd_op op = {.type = ROP_WRITE,
				.dir = rs->cur.dir,
				.path = rs->cur.path,
				.offset = off,
				.data = rs->buf,
				.data_len = (size_t)n};
	int r = emit(ctx, &op);
	if (r == 0) {
		*sent = (size_t)n;
		rs->stats.bytes_done += (uint64_t)n;
		rs->stats.zones += ((uint64_t)n + REPLICD_ZONE_SIZE - 1) /
				   REPLICD_ZONE_SIZE;
	}
	return r;
}

/*
 * Hash mode: read the file zone by zone and send the zones whose hash is
 * not the peer's. Reading counts against the budget too (a quarter), so a
 * step of identical zones is bounded as well.
 */
static int compare_content(struct replicd_resync *rs, uint64_t size,
			   size_t *budget, replicd_emit_fn emit, void *ctx)
{
	const struct replicd_manifest_entry *m = rs->cmp;
	uint8_t h[REPLICD_HASH_BYTES];
	/* A verify compares what existed when it reached the file: a live
	 * writer appending faster than the cap would keep it going. */
	if (rs->verify && size > (uint64_t)rs->open_size)
		size = (uint64_t)rs->open_size;
	while (*budget > 0) {
		uint64_t z = rs->offset / REPLICD_ZONE_SIZE;
		uint64_t off = z * REPLICD_ZONE_SIZE;
		if (off >= size)
			return 1;
		ssize_t n =
			pread(rs->fd, rs->buf, REPLICD_ZONE_SIZE, (off_t)off);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		rs->compared += (uint64_t)n;
		crypto_generichash(h, sizeof(h), rs->buf, (size_t)n, NULL, 0);
		rs->offset = off + REPLICD_ZONE_SIZE; /* the next zone */
		size_t cost = (size_t)n / 4 + 1;
		*budget = cost >= *budget ? 0 : *budget - cost;
		if (z < m->nzones &&
		    memcmp(h, m->data + z * REPLICD_HASH_BYTES, sizeof(h)) == 0)
			continue;
		struct replicd_op op = {.type = ROP_WRITE,
					.dir = rs->cur.dir,
					.path = rs->cur.path,
					.offset = off,
					.data = rs->buf,
					.data_len = (size_t)n};
		int r = emit(ctx, &op);
		if (r < 0)
			return r;
		rs->stats.bytes_done += (uint64_t)n;
		rs->stats.zones++;
		*budget = (size_t)n >= *budget ? 0 : *budget - (size_t)n;
	}
	return 0;
}

/* Stage CONTENT: up to budget bytes; returns 1 when the content is done. */
static int content(struct replicd_resync *rs, size_t *budget,
		   replicd_emit_fn emit, void *ctx)
{
	struct stat st;
	size_t sent;
	int r;

	if (fstat(rs->fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	if (rs->cmp)
		return compare_content(rs, size, budget, emit, ctx);
	while (*budget > 0) {
		uint64_t off, end;
		if (rs->whole) {
			off_t d = lseek(rs->fd, (off_t)rs->offset, SEEK_DATA);
			if (d < 0)
				return 1; /* ENXIO: only a hole is left */
			off_t h = lseek(rs->fd, d, SEEK_HOLE);
			off = (uint64_t)d;
			end = h < 0 ? size : (uint64_t)h;
		} else {
			if (rs->range_i >= rs->cur.nranges)
				return 1;
			const struct rs_range *g = &rs->cur.ranges[rs->range_i];
			uint64_t gs = g->first << REPLICD_ZONE_SHIFT;
			uint64_t ge = (g->first + g->count)
				      << REPLICD_ZONE_SHIFT;
			off = rs->offset > gs ? rs->offset : gs;
			end = ge < size ? ge : size;
			if (off >= end) {
				rs->range_i++;
				continue;
			}
		}
		if (off >= size)
			return 1;
		size_t len = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		r = emit_data(rs, off, len, emit, ctx, &sent);
		if (r < 0)
			return r;
		if (sent == 0)
			return 1; /* shrunk meanwhile: the live ops say so */
		rs->offset = off + sent;
		*budget = sent >= *budget ? 0 : *budget - sent;
	}
	return 0;
}

/* Stage ATTRS: size, xattrs, owner, mode, times. */
static int attrs(struct replicd_resync *rs, replicd_emit_fn emit, void *ctx)
{
	struct rs_item *it = &rs->cur;
	int r = 0, fd = rs->fd;
	_cleanup_close_ int own = -1;

	if (fd < 0) {
		fd = own = replicd_fs_open(rs->roots[it->dir], it->path,
					   O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd == -ENOENT ? 0 : fd;
	}
	if (fstat(fd, &rs->st) < 0)
		return -errno;
	bool reg = S_ISREG(rs->st.st_mode);
	if (reg) {
		struct replicd_op op = {.type = ROP_TRUNCATE,
					.dir = it->dir,
					.path = it->path,
					.offset = (uint64_t)rs->st.st_size};
		r = emit(ctx, &op);
	}
	bool meta = it->kinds & (TRK_META | TRK_ENTRY | TRK_TREE);
	bool xattrs = meta, owner = meta;
	if (rs->cmp) {
		/* Hash mode, the peer has this entry: only what differs. */
		uint8_t h[REPLICD_HASH_BYTES];
		replicd_xattr_hash(fd, h);
		xattrs = memcmp(h, rs->cmp->xattr_hash, sizeof(h)) != 0;
		owner = rs->cmp->uid != rs->st.st_uid ||
			rs->cmp->gid != rs->st.st_gid ||
			rs->cmp->mode != rs->st.st_mode;
	}
	if (r == 0 && xattrs)
		r = emit_xattrs(rs, it, fd, emit, ctx);
	if (r == 0 && owner && reg) {
		struct replicd_op own_op = {.type = ROP_CHOWN,
					    .dir = it->dir,
					    .path = it->path,
					    .uid = rs->st.st_uid,
					    .gid = rs->st.st_gid};
		struct replicd_op mode_op = {.type = ROP_CHMOD,
					     .dir = it->dir,
					     .path = it->path,
					     .mode = rs->st.st_mode & 07777};
		r = emit(ctx, &own_op);
		if (r == 0)
			r = emit(ctx, &mode_op);
	}
	if (r == 0) {
		struct replicd_op op = {.type = ROP_UTIMENS,
					.dir = it->dir,
					.path = it->path,
					.atime = rs->st.st_atim,
					.mtime = rs->st.st_mtim};
		r = emit(ctx, &op);
	}
	return r;
}

static void end_item(struct replicd_resync *rs)
{
	if (rs->fd >= 0)
		close(rs->fd);
	rs->fd = -1;
	rs->cmp = NULL;
	item_free(&rs->cur);
	rs->have_cur = false;
}

/* Hash mode, the walk done: remove what only the peer has. */
static int remove_unseen(struct replicd_resync *rs, replicd_emit_fn emit,
			 void *ctx)
{
	if (!rs->mf)
		return 0;
	if (!rs->removing) {
		rs->removing = true;
		rs->rm_next = replicd_manifest_first(rs->mf);
	}
	for (int k = 0; rs->rm_next && k < 4096; k++) {
		struct replicd_manifest_entry *e = rs->rm_next;
		rs->rm_next = e->all;
		if (e->seen || !*e->path || e->dir >= rs->dir_count ||
		    replicd_exclude_match(rs->ex, e->path))
			continue;
		struct replicd_op op = {
			.type = ROP_REMOVE, .dir = e->dir, .path = e->path};
		int r = emit(ctx, &op);
		if (r < 0)
			return r;
		rs->stats.entries++;
	}
	return rs->rm_next ? 1 : 0;
}

/* Hash mode: the entry against the peer's manifest entry. */
static int start_compare(struct replicd_resync *rs, replicd_emit_fn emit,
			 void *ctx)
{
	struct rs_item *it = &rs->cur;
	int root = rs->roots[it->dir], r;
	struct replicd_manifest_entry *m =
		replicd_manifest_find(rs->mf, it->dir, it->path);
	if (m)
		m->seen = true;
	r = lstat_rel(root, it->path, &rs->st);
	if (r < 0) {
		rs->have_cur = false;
		return r == -ENOENT || r == -ENOTDIR ? 0 : r;
	}
	mode_t type = rs->st.st_mode & S_IFMT;
	bool same_type = m && (m->mode & S_IFMT) == type;
	if (!same_type) {
		/* Not there, or something else: the whole entry. */
		it->compare = false;
		it->copy = m == NULL;
		if (m && !*it->path)
			return -EIO; /* the root is a directory on both */
		if (m && (r = emit_simple(emit, ctx, ROP_REMOVE, it)) < 0)
			return r;
		it->copy = true;
		rs->stats.entries--;
		return start_item(rs, emit, ctx);
	}
	if (S_ISDIR(rs->st.st_mode)) {
		if (m->mode != rs->st.st_mode || m->uid != rs->st.st_uid ||
		    m->gid != rs->st.st_gid) {
			struct replicd_op op = {.type = ROP_ENSURE_DIR,
						.dir = it->dir,
						.path = it->path,
						.mode = rs->st.st_mode & 07777,
						.uid = rs->st.st_uid,
						.gid = rs->st.st_gid};
			if ((r = emit(ctx, &op)) < 0)
				return r;
		}
		rs->cmp = m;
		rs->stage = ST_ATTRS;
		return push_children(rs, it, true);
	}
	if (S_ISLNK(rs->st.st_mode)) {
		char target[REPLICD_PATH_MAX + 1];
		_cleanup_close_ int dirfd = -1;
		const char *base;
		r = replicd_fs_parent(root, it->path, &dirfd, &base);
		ssize_t n = r < 0 ? -1
				  : readlinkat(dirfd, base, target,
					       sizeof(target) - 1);
		bool same = n >= 0 && (size_t)n == m->data_len &&
			    memcmp(target, m->data, (size_t)n) == 0 &&
			    m->uid == rs->st.st_uid && m->gid == rs->st.st_gid;
		rs->have_cur = false;
		if (same || n <= 0)
			return 0;
		target[n] = '\0';
		return emit_symlink(rs, it, target, true, emit, ctx);
	}
	if (!S_ISREG(rs->st.st_mode)) {
		rs->have_cur = false;
		if (m->mode == rs->st.st_mode && m->uid == rs->st.st_uid &&
		    m->gid == rs->st.st_gid)
			return 0;
		it->compare = false;
		it->copy = false;
		it->kinds = TRK_ENTRY;
		rs->have_cur = true;
		rs->stats.entries--;
		return start_item(rs, emit, ctx);
	}
	rs->fd = replicd_fs_open(root, it->path, O_RDONLY | O_NOFOLLOW, 0);
	if (rs->fd < 0) {
		rs->have_cur = false;
		return rs->fd == -ENOENT ? 0 : rs->fd;
	}
	if (fstat(rs->fd, &rs->st) < 0)
		return -errno;
	if (!rs->verify) {
		/* Another name of this file was handled already: link
		 * this one to it, as a resync from the record does. */
		r = link_item_if_known(rs, it, emit, ctx);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	rs->stats.bytes_total += (uint64_t)rs->st.st_size;
	rs->open_size = rs->st.st_size;
	rs->cmp = m;
	rs->whole = false;
	rs->offset = 0;
	rs->stage = ST_CONTENT;
	return 0;
}

void replicd_resync_set_exclude(struct replicd_resync *rs,
				const struct replicd_exclude *ex)
{
	rs->ex = ex;
}

void replicd_resync_set_verify(struct replicd_resync *rs)
{
	rs->verify = true;
}

int replicd_resync_step(struct replicd_resync *rs, size_t budget,
			replicd_emit_fn emit, void *ctx)
{
	int r;
	for (int items = 0; items < 256 && budget > 0; items++) {
		if (!rs->have_cur) {
			if (rs->sn > 0) {
				rs->cur = rs->stack[--rs->sn];
			} else if (rs->next < rs->n) {
				rs->cur = rs->items[rs->next];
				memset(&rs->items[rs->next], 0,
				       sizeof(rs->items[rs->next]));
				rs->next++;
			} else {
				return remove_unseen(rs, emit, ctx);
			}
			rs->have_cur = true;
			rs->stage = ST_START;
		}
		if (rs->stage == ST_START) {
			r = start_item(rs, emit, ctx);
			if (r < 0)
				return r;
			if (!rs->have_cur) {
				item_free(&rs->cur);
				continue;
			}
			if (rs->stage == ST_START)
				rs->stage = ST_CONTENT;
		}
		if (rs->stage == ST_CONTENT) {
			if (rs->fd >= 0) {
				r = content(rs, &budget, emit, ctx);
				if (r < 0)
					return r;
				if (r == 0)
					return 1; /* budget spent */
			}
			rs->stage = ST_ATTRS;
		}
		r = attrs(rs, emit, ctx);
		end_item(rs);
		if (r < 0)
			return r;
	}
	return 1;
}
