/*
 * manifest.c - the secondary's description of its copy (manifest.h).
 */
#include "manifest.h"
#include "exclude.h"
#include "fs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LIST_MAX  65536
#define VALUE_MAX 65536

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int replicd_xattr_hash(int fd, uint8_t out[REPLICD_HASH_BYTES])
{
	char proc[64];
	char *names = malloc(LIST_MAX);
	uint8_t *value = malloc(VALUE_MAX);
	const char *sorted[1024];
	size_t n = 0;
	crypto_generichash_state st;
	int r = 0;

	crypto_generichash_init(&st, NULL, 0, REPLICD_HASH_BYTES);
	if (!names || !value) {
		r = -ENOMEM;
		goto out;
	}
	replicd_fs_fd_path(fd, proc, sizeof(proc));
	ssize_t len = listxattr(proc, names, LIST_MAX);
	for (ssize_t i = 0; len > 0 && i < len;
	     i += (ssize_t)strlen(names + i) + 1) {
		if ((strncmp(names + i, "user.", 5) == 0 ||
		     strncmp(names + i, "trusted.", 8) == 0) &&
		    n < SKY_ARRAY_SIZE(sorted))
			sorted[n++] = names + i;
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		ssize_t v = getxattr(proc, sorted[i], value, VALUE_MAX);
		if (v < 0)
			continue;
		uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
				 (uint8_t)(v >> 8), (uint8_t)v};
		crypto_generichash_update(&st, (const uint8_t *)sorted[i],
					  strlen(sorted[i]) + 1);
		crypto_generichash_update(&st, be, 4);
		crypto_generichash_update(&st, value, (size_t)v);
	}
out:
	crypto_generichash_final(&st, out, REPLICD_HASH_BYTES);
	free(names);
	free(value);
	return r;
}

/* --- secondary: the walk ----------------------------------------------- */

struct walk_item {
	uint8_t dir;
	char *path;
};

struct replicd_manifest_walk {
	int roots[REPLICD_MAX_DIRS];
	const struct replicd_exclude *ex; /* not described (exclude.h) */
	bool links_apart; /* a file of several names: described as no file */
	struct walk_item *stack;
	size_t sn, scap;
	/* the regular file being hashed */
	int fd;
	uint8_t dir;
	char *path;
	struct stat st;
	uint64_t zone;
	uint8_t *buf; /* xattr hash + zone hashes of one operation */
	size_t nhashes;
	uint64_t first; /* zone of buf's first hash */
	uint8_t *zbuf;
};

static int push(struct replicd_manifest_walk *w, uint8_t dir, const char *path)
{
	if (w->sn == w->scap) {
		size_t cap = w->scap ? w->scap * 2 : 64;
		struct walk_item *s = realloc(w->stack, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		w->stack = s;
		w->scap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	w->stack[w->sn++] = (struct walk_item){.dir = dir, .path = p};
	return 0;
}

void replicd_manifest_walk_free(struct replicd_manifest_walk **wp)
{
	struct replicd_manifest_walk *w = *wp;
	if (!w)
		return;
	for (size_t i = 0; i < w->sn; i++)
		free(w->stack[i].path);
	free(w->stack);
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w->buf);
	free(w->zbuf);
	free(w);
	*wp = NULL;
}

int replicd_manifest_walk_new(struct replicd_manifest_walk **out,
			      const int *roots, size_t count)
{
	struct replicd_manifest_walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->buf = malloc(REPLICD_DATA_MAX);
	w->zbuf = malloc(REPLICD_ZONE_SIZE);
	if (!w->buf || !w->zbuf)
		goto fail;
	if (count > REPLICD_MAX_DIRS)
		count = REPLICD_MAX_DIRS;
	memcpy(w->roots, roots, count * sizeof(*roots));
	/* Pushed in reverse: directory 0 is described first. */
	for (size_t i = count; i-- > 0;)
		if (push(w, (uint8_t)i, "") < 0)
			goto fail;
	*out = w;
	return 0;
fail:
	replicd_manifest_walk_free(&w);
	return -ENOMEM;
}

static int emit_entry(uint8_t dir, const char *path, const struct stat *st,
		      const uint8_t *data, size_t len, uint64_t first,
		      replicd_emit_fn emit, void *ctx)
{
	struct replicd_op op = {
		.type = ROP_HASHES,
		.dir = dir,
		.path = path,
		.mode = st->st_mode,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.offset = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0,
		.length = first,
		.data = data,
		.data_len = len};
	return emit(ctx, &op);
}

/* Emit the hashes gathered for the current file. */
static int flush_file(struct replicd_manifest_walk *w, replicd_emit_fn emit,
		      void *ctx)
{
	int r = emit_entry(w->dir, w->path, &w->st, w->buf,
			   REPLICD_HASH_BYTES * (1 + w->nhashes), w->first,
			   emit, ctx);
	w->first += w->nhashes;
	w->nhashes = 0;
	return r;
}

static void end_file(struct replicd_manifest_walk *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->path);
	w->path = NULL;
}

/* Hash zones of the current file; 1 when it is done. */
static int hash_file(struct replicd_manifest_walk *w, size_t *budget,
		     replicd_emit_fn emit, void *ctx)
{
	uint64_t zones = ((uint64_t)w->st.st_size + REPLICD_ZONE_SIZE - 1) /
			 REPLICD_ZONE_SIZE;
	while (w->zone<zones && * budget> 0) {
		ssize_t n = pread(w->fd, w->zbuf, REPLICD_ZONE_SIZE,
				  (off_t)(w->zone * REPLICD_ZONE_SIZE));
		if (n < 0)
			return -errno;
		crypto_generichash(
			w->buf + REPLICD_HASH_BYTES * (1 + w->nhashes),
			REPLICD_HASH_BYTES, w->zbuf, (size_t)n, NULL, 0);
		w->nhashes++;
		w->zone++;
		*budget = (size_t)n >= *budget ? 0 : *budget - (size_t)n;
		if (w->nhashes == REPLICD_MANIFEST_ZONES) {
			int r = flush_file(w, emit, ctx);
			if (r < 0)
				return r;
		}
	}
	if (w->zone < zones)
		return 0;
	int r = w->nhashes || w->first == 0 ? flush_file(w, emit, ctx) : 0;
	end_file(w);
	return r < 0 ? r : 1;
}

static int push_children(struct replicd_manifest_walk *w, uint8_t dir,
			 const char *path, int dfd)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	rewinddir(dp);
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(dp)) != NULL) {
		char child[REPLICD_PATH_MAX + 2];
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int k = snprintf(child, sizeof(child), "%s%s%s", path,
				 *path ? "/" : "", de->d_name);
		if (k < 0 || (size_t)k > REPLICD_PATH_MAX)
			continue; /* cannot be named on the wire */
		if (replicd_exclude_match(w->ex, child))
			continue;
		r = push(w, dir, child);
	}
	closedir(dp);
	return r;
}

static int visit(struct replicd_manifest_walk *w, struct walk_item *it,
		 replicd_emit_fn emit, void *ctx)
{
	int root = w->roots[it->dir], r;
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = replicd_fs_open(root, it->path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		uint8_t h[REPLICD_HASH_BYTES];
		_cleanup_close_ int dfd = replicd_fs_open(
			root, it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (dfd < 0)
			return dfd == -ENOENT ? 0 : dfd;
		replicd_xattr_hash(dfd, h);
		r = emit_entry(it->dir, it->path, &st, h, sizeof(h), 0, emit,
			       ctx);
		return r < 0 ? r : push_children(w, it->dir, it->path, dfd);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[REPLICD_PATH_MAX + 1];
		_cleanup_close_ int dirfd = -1;
		const char *base;
		r = replicd_fs_parent(root, it->path, &dirfd, &base);
		ssize_t n =
			r < 0 ? -1
			      : readlinkat(dirfd, base, target, sizeof(target));
		if (n < 0)
			return 0;
		return emit_entry(it->dir, it->path, &st, (uint8_t *)target,
				  (size_t)n, 0, emit, ctx);
	}
	if (!S_ISREG(st.st_mode))
		return emit_entry(it->dir, it->path, &st, NULL, 0, 0, emit,
				  ctx);
	if (w->links_apart && st.st_nlink > 1) {
		/* Another name may share this file here and not on the
		 * primary: a write of the resync through this name would
		 * change the other too. Described as no file (type 0, no
		 * hashes), it is replaced whole: removed, created, and
		 * linked again where the primary has it linked. */
		st.st_mode &= 07777;
		return emit_entry(it->dir, it->path, &st, NULL, 0, 0, emit,
				  ctx);
	}
	w->fd = replicd_fs_open(root, it->path, O_RDONLY | O_NOFOLLOW, 0);
	if (w->fd < 0) {
		r = w->fd;
		w->fd = -1;
		return r == -ENOENT ? 0 : r;
	}
	if (fstat(w->fd, &w->st) < 0)
		return -errno;
	replicd_xattr_hash(w->fd, w->buf);
	w->dir = it->dir;
	w->path = it->path;
	it->path = NULL;
	w->zone = w->first = 0;
	w->nhashes = 0;
	return 0;
}

int replicd_manifest_walk_step(struct replicd_manifest_walk *w, size_t budget,
			       replicd_emit_fn emit, void *ctx)
{
	for (int entries = 0; budget > 0 && entries < 512; entries++) {
		int r;
		if (w->fd >= 0) {
			r = hash_file(w, &budget, emit, ctx);
			if (r < 0)
				return r;
			if (r == 0)
				return 1;
			continue;
		}
		if (w->sn == 0)
			return 0;
		struct walk_item it = w->stack[--w->sn];
		r = visit(w, &it, emit, ctx);
		free(it.path);
		if (r < 0)
			return r;
	}
	return 1;
}

/* --- primary: the store ------------------------------------------------ */

#define BUCKETS 65536

struct replicd_manifest {
	struct replicd_manifest_entry *buckets[BUCKETS];
	struct replicd_manifest_entry *first, *last;
	uint64_t entries, bytes;
};

static uint32_t path_hash(uint8_t dir, const char *path)
{
	uint32_t h = 2166136261u ^ dir;
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % BUCKETS;
}

int replicd_manifest_new(struct replicd_manifest **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void replicd_manifest_free(struct replicd_manifest **mp)
{
	struct replicd_manifest *m = *mp;
	if (!m)
		return;
	struct replicd_manifest_entry *e = m->first;
	while (e) {
		struct replicd_manifest_entry *next = e->all;
		free(e->data);
		free(e);
		e = next;
	}
	free(m);
	*mp = NULL;
}

struct replicd_manifest_entry *
replicd_manifest_find(struct replicd_manifest *m, uint8_t dir, const char *path)
{
	for (struct replicd_manifest_entry *e =
		     m->buckets[path_hash(dir, path)];
	     e; e = e->next)
		if (e->dir == dir && strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

struct replicd_manifest_entry *
replicd_manifest_first(struct replicd_manifest *m)
{
	return m->first;
}

uint64_t replicd_manifest_bytes(const struct replicd_manifest *m)
{
	return m->bytes;
}

int replicd_manifest_add(struct replicd_manifest *m,
			 const struct replicd_op *op)
{
	struct replicd_manifest_entry *e =
		replicd_manifest_find(m, op->dir, op->path);
	bool reg = S_ISREG(op->mode), dir = S_ISDIR(op->mode);
	size_t hashes = 0;

	if ((reg || dir) && (op->data_len < REPLICD_HASH_BYTES ||
			     op->data_len % REPLICD_HASH_BYTES))
		return -EPROTO;
	if (reg)
		hashes = op->data_len / REPLICD_HASH_BYTES - 1;
	if (e) {
		/* Only a file's next chunk of zone hashes may follow. */
		if (!reg || e->mode != op->mode || e->size != op->offset ||
		    op->length != e->nzones || !hashes)
			return -EPROTO;
	} else {
		if (op->length != 0 ||
		    m->entries >= REPLICD_MANIFEST_ENTRIES_MAX)
			return op->length ? -EPROTO : -E2BIG;
		size_t plen = strlen(op->path);
		e = calloc(1, sizeof(*e) + plen + 1);
		if (!e)
			return -ENOMEM;
		memcpy(e->path, op->path, plen + 1);
		e->dir = op->dir;
		e->mode = op->mode;
		e->uid = op->uid;
		e->gid = op->gid;
		e->size = op->offset;
		if (reg || dir)
			memcpy(e->xattr_hash, op->data, REPLICD_HASH_BYTES);
		uint32_t b = path_hash(op->dir, op->path);
		e->next = m->buckets[b];
		m->buckets[b] = e;
		if (m->last)
			m->last->all = e;
		else
			m->first = e;
		m->last = e;
		m->entries++;
		m->bytes += sizeof(*e) + plen;
		if (!reg) {
			if (dir || !op->data_len)
				return 0;
			e->data = malloc(op->data_len); /* a symlink target */
			if (!e->data)
				return -ENOMEM;
			memcpy(e->data, op->data, op->data_len);
			e->data_len = op->data_len;
			return 0;
		}
	}
	uint64_t max_zones =
		(e->size + REPLICD_ZONE_SIZE - 1) / REPLICD_ZONE_SIZE;
	if (e->nzones + hashes > max_zones)
		return -EPROTO;
	if (m->bytes + hashes * REPLICD_HASH_BYTES > REPLICD_MANIFEST_BYTES_MAX)
		return -E2BIG;
	if (!hashes)
		return 0;
	uint8_t *d =
		realloc(e->data, e->data_len + hashes * REPLICD_HASH_BYTES);
	if (!d)
		return -ENOMEM;
	memcpy(d + e->data_len, op->data + REPLICD_HASH_BYTES,
	       hashes * REPLICD_HASH_BYTES);
	e->data = d;
	e->data_len += hashes * REPLICD_HASH_BYTES;
	e->nzones += hashes;
	m->bytes += hashes * REPLICD_HASH_BYTES;
	return 0;
}

void replicd_manifest_walk_set_exclude(struct replicd_manifest_walk *w,
				       const struct replicd_exclude *ex)
{
	w->ex = ex;
}

void replicd_manifest_walk_set_links_apart(struct replicd_manifest_walk *w)
{
	w->links_apart = true;
}
