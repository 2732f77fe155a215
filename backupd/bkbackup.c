/*
 * bkbackup.c - walk the module's directories into a snapshot (bkbackup.h).
 *
 * Depth first, entries in name order (restore follows the same order, so
 * the first path of a hard-linked inode is restored before its links).
 * A file's data is read through SEEK_DATA/SEEK_HOLE: holes are gaps
 * between chunks. With a complete change list and a parent snapshot, a
 * file not in the list keeps its parent's chunks once its size and mtime
 * match; a large file whose zones are listed rereads those zones only.
 */
#include "bkbackup.h"
#include "log.h"
#include "tree.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define READ_WINDOW (4 * BK_CHUNK_MAX)

struct inode_seen {
	dev_t dev;
	ino_t ino;
	char *path; /* "<dir index>/<rel>" */
};

struct walk {
	struct bk_repo *repo;
	const struct bk_backup_opts *opts;
	const struct bk_changes *changes; /* NULL unless complete */
	struct bk_stats stats;
	uint8_t *buf; /* READ_WINDOW */
	struct inode_seen *inodes;
	size_t inode_count, inode_cap;
	uint64_t packs_at_start;
};

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int add_chunk(struct bk_entry *e, size_t *cap, uint64_t off,
		     uint32_t len, const uint8_t id[BK_ID_LEN])
{
	if (e->chunk_count == *cap) {
		size_t n = *cap ? 2 * *cap : 16;
		void *p = realloc(e->chunks, n * sizeof(*e->chunks));
		if (!p)
			return -ENOMEM;
		e->chunks = p;
		*cap = n;
	}
	struct bk_chunk_ref *c = &e->chunks[e->chunk_count++];
	c->off = off;
	c->len = len;
	memcpy(c->id, id, BK_ID_LEN);
	return 0;
}

static int check_crash_hook(struct walk *w)
{
	if (w->opts->crash_after_packs &&
	    w->repo->stats.packs_written - w->packs_at_start >=
		    w->opts->crash_after_packs) {
		log_warning("test hook: stopping as a crash would");
		_exit(9);
	}
	return 0;
}

/* Chunk [from, to) of the file's data (holes skipped) into e. */
static int chunk_range(struct walk *w, int fd, uint64_t from, uint64_t to,
		       bool forced, struct bk_entry *e, size_t *cap)
{
	uint64_t pos = from;
	while (pos < to) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			return 0; /* a hole to the end */
		off_t h = d >= 0 ? lseek(fd, d, SEEK_HOLE) : -1;
		if (d < 0 || h < 0) {
			/* a file system without SEEK_DATA (some FUSE
			 * ones): all of it is data */
			if (errno != EINVAL && errno != EOPNOTSUPP &&
			    errno != ENOTSUP)
				return -errno;
			d = (off_t)pos;
			h = (off_t)to;
		}
		if ((uint64_t)d >= to)
			return 0;
		uint64_t end = (uint64_t)h < to ? (uint64_t)h : to;
		/* one data region: [d, end) */
		uint64_t at = (uint64_t)d;
		size_t start = 0, have = 0;
		while (at < end) {
			if (sky_stop_requested())
				return -EINTR;
			/* the chunker needs max bytes, or all that is left */
			uint64_t left = end - at;
			size_t need = left < w->repo->chunker.max
					      ? (size_t)left
					      : w->repo->chunker.max;
			if (have < need) {
				/* refill the whole window at once: few
				 * moves, few reads */
				if (start) {
					memmove(w->buf, w->buf + start, have);
					start = 0;
				}
				size_t want = left < READ_WINDOW ? (size_t)left
								 : READ_WINDOW;
				ssize_t n =
					pread(fd, w->buf + have, want - have,
					      (off_t)(at + have));
				if (n < 0)
					return -errno;
				w->stats.bytes_read += (uint64_t)n;
				if (n == 0) { /* shrank while read */
					end = at + have;
					if (!have)
						break;
					need = have;
				}
				have += (size_t)n;
				if (have < need)
					continue;
			}
			size_t cut =
				bk_chunk_next(&w->repo->chunker, w->buf + start,
					      have, at, forced);
			uint8_t id[BK_ID_LEN];
			int r = bk_repo_put_blob(w->repo, BK_BLOB_DATA,
						 w->buf + start, cut, id);
			if (r < 0)
				return r;
			if (r == 1) {
				w->stats.chunks_new++;
				w->stats.bytes_new += cut;
				check_crash_hook(w);
			} else {
				w->stats.chunks_reused++;
			}
			r = add_chunk(e, cap, at, (uint32_t)cut, id);
			if (r < 0)
				return r;
			at += cut;
			start += cut;
			have -= cut;
			if ((r = bk_repo_lock_refresh(w->repo)) < 0)
				return r;
		}
		pos = end;
	}
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct bk_chunk_ref *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static bool zone_listed(const struct bk_change *ch, uint64_t zone)
{
	for (size_t i = 0; i < ch->zone_count; i++)
		if (zone >= ch->zones[i].first &&
		    zone - ch->zones[i].first < ch->zones[i].count)
			return true;
	return false;
}

/* Reread the listed zones of a large file, keep the parent's other chunks. */
static int file_zones(struct walk *w, int fd, const struct bk_entry *prev,
		      const struct bk_change *ch, uint64_t size,
		      struct bk_entry *e, size_t *cap)
{
	const uint64_t Z = w->repo->chunker.zone;
	uint64_t lo = prev->size < size ? prev->size : size;
	uint64_t hi = prev->size < size ? size : prev->size;
	/* the zones around a size change are reread too */
	uint64_t grown_from = prev->size == size ? UINT64_MAX : lo / Z;
	uint64_t grown_to = (hi + Z - 1) / Z;
	/* a parent chunked without zone cuts: nothing can be kept by zone */
	for (size_t i = 0; i < prev->chunk_count; i++)
		if (prev->chunks[i].off / Z !=
		    (prev->chunks[i].off + prev->chunks[i].len - 1) / Z)
			return chunk_range(w, fd, 0, size, true, e, cap);
	for (size_t i = 0; i < prev->chunk_count; i++) {
		const struct bk_chunk_ref *c = &prev->chunks[i];
		uint64_t z = c->off / Z;
		if (zone_listed(ch, z) || (z >= grown_from && z < grown_to) ||
		    c->off + c->len > size)
			continue;
		int r = add_chunk(e, cap, c->off, c->len, c->id);
		if (r < 0)
			return r;
		w->stats.chunks_reused++;
	}
	uint64_t zones = (size + Z - 1) / Z;
	for (uint64_t z = 0; z < zones; z++) {
		if (!zone_listed(ch, z) && !(z >= grown_from && z < grown_to))
			continue;
		uint64_t to = (z + 1) * Z < size ? (z + 1) * Z : size;
		int r = chunk_range(w, fd, z * Z, to, true, e, cap);
		if (r < 0)
			return r;
	}
	if (e->chunk_count > 1)
		qsort(e->chunks, e->chunk_count, sizeof(*e->chunks), by_offset);
	return 0;
}

/* Read without touching atime when allowed (the owner or root). */
static int open_source(const char *abs)
{
	int fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int file_data(struct walk *w, const char *abs, uint8_t dir,
		     const char *rel, const struct stat *st,
		     const struct bk_entry *prev, struct bk_entry *e)
{
	size_t cap = 0;
	uint64_t size = (uint64_t)st->st_size;
	bool prev_ok = prev && prev->type == BK_FILE;
	if (w->changes && prev_ok) {
		const struct bk_change *ch =
			bk_changes_find(w->changes, dir, rel);
		bool same = prev->size == size &&
			    prev->mtime_ns == ts_ns(&st->st_mtim);
		if (!ch && same) {
			if (prev->chunk_count) {
				e->chunks = malloc(prev->chunk_count *
						   sizeof(*e->chunks));
				if (!e->chunks)
					return -ENOMEM;
				memcpy(e->chunks, prev->chunks,
				       prev->chunk_count * sizeof(*e->chunks));
			}
			e->chunk_count = prev->chunk_count;
			w->stats.chunks_reused += prev->chunk_count;
			return 0;
		}
		if (!ch)
			w->stats.files_unlisted_changed++;
		else if (!ch->whole && prev->size >= BK_ZONE_FILE_MIN &&
			 size >= BK_ZONE_FILE_MIN) {
			_cleanup_close_ int fd = open_source(abs);
			if (fd < 0)
				return fd;
			return file_zones(w, fd, prev, ch, size, e, &cap);
		}
	}
	_cleanup_close_ int fd = open_source(abs);
	if (fd < 0)
		return fd;
	return chunk_range(w, fd, 0, size, size >= BK_ZONE_FILE_MIN, e, &cap);
}

static int read_xattrs(const char *abs, struct bk_entry *e)
{
	char names[8192];
	ssize_t n = llistxattr(abs, names, sizeof(names));
	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if (!name[0] || strlen(name) > 255 ||
		    e->xattr_count == BK_TREE_XATTRS_MAX)
			continue;
		ssize_t vl = lgetxattr(abs, name, NULL, 0);
		if (vl < 0 || vl > (ssize_t)BK_TREE_XATTR_VALMAX)
			continue;
		uint8_t *val = malloc(vl ? (size_t)vl : 1);
		if (!val)
			return -ENOMEM;
		vl = lgetxattr(abs, name, val, (size_t)vl);
		if (vl < 0) {
			free(val);
			continue;
		}
		void *p = realloc(e->xattrs,
				  (e->xattr_count + 1) * sizeof(*e->xattrs));
		char *nm = strdup(name);
		if (!p || !nm) {
			free(val);
			free(nm);
			if (p)
				e->xattrs = p;
			return -ENOMEM;
		}
		e->xattrs = p;
		e->xattrs[e->xattr_count].name = nm;
		e->xattrs[e->xattr_count].value = val;
		e->xattrs[e->xattr_count].len = (uint32_t)vl;
		e->xattr_count++;
	}
	return 0;
}

static int walk_dir(struct walk *w, const char *abs, uint8_t dir,
		    const char *rel, const uint8_t *prev_tree_id,
		    uint8_t tree_id[BK_ID_LEN]);

/* An inode seen before (hard link): its first path, else NULL. */
static size_t inode_slot(const struct walk *w, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)dev;
	return (size_t)(h >> 7) & (w->inode_cap - 1);
}

/* An inode seen before (hard link): its first path, else NULL (and it is
 * remembered). The table: open addressing, at most half full. */
static const char *inode_first(struct walk *w, const struct stat *st,
			       const char *path, int *err)
{
	if (w->inode_cap) {
		for (size_t i = inode_slot(w, st->st_dev, st->st_ino);
		     w->inodes[i].path; i = (i + 1) & (w->inode_cap - 1))
			if (w->inodes[i].dev == st->st_dev &&
			    w->inodes[i].ino == st->st_ino)
				return w->inodes[i].path;
	}
	if (2 * (w->inode_count + 1) > w->inode_cap) {
		size_t n = w->inode_cap ? 2 * w->inode_cap : 64;
		struct inode_seen *old = w->inodes;
		size_t old_cap = w->inode_cap;
		w->inodes = calloc(n, sizeof(*w->inodes));
		if (!w->inodes) {
			w->inodes = old;
			*err = -ENOMEM;
			return NULL;
		}
		w->inode_cap = n;
		for (size_t i = 0; i < old_cap; i++) {
			if (!old[i].path)
				continue;
			size_t j = inode_slot(w, old[i].dev, old[i].ino);
			while (w->inodes[j].path)
				j = (j + 1) & (n - 1);
			w->inodes[j] = old[i];
		}
		free(old);
	}
	size_t i = inode_slot(w, st->st_dev, st->st_ino);
	while (w->inodes[i].path)
		i = (i + 1) & (w->inode_cap - 1);
	struct inode_seen *s = &w->inodes[i];
	s->path = strdup(path);
	if (!s->path) {
		*err = -ENOMEM;
		return NULL;
	}
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	w->inode_count++;
	return NULL;
}

static int entry_of(struct walk *w, const char *abs, uint8_t dir,
		    const char *rel, const char *name,
		    const struct bk_entry *prev, struct bk_entry *e, bool *skip)
{
	struct stat st;
	if (lstat(abs, &st) < 0)
		return -errno;
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->mode = st.st_mode & 07777;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->atime_ns = ts_ns(&st.st_atim);
	e->mtime_ns = ts_ns(&st.st_mtim);
	int r = 0;
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%u/%s", dir, rel);
		const char *first = inode_first(w, &st, path, &r);
		if (r < 0)
			return r;
		if (first) {
			e->type = BK_HARDLINK;
			e->target = strdup(first);
			return e->target ? 0 : -ENOMEM;
		}
	}
	if ((r = read_xattrs(abs, e)) < 0)
		return r;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		e->type = BK_FILE;
		e->size = (uint64_t)st.st_size;
		w->stats.files++;
		return file_data(w, abs, dir, rel, &st, prev, e);
	case S_IFDIR: {
		e->type = BK_DIR;
		/* renamed in: nothing below comes from the parent */
		const struct bk_change *ch =
			w->changes ? bk_changes_find(w->changes, dir, rel)
				   : NULL;
		bool fresh = ch && ch->subtree;
		return walk_dir(w, abs, dir, rel,
				prev && prev->type == BK_DIR && !fresh
					? prev->subtree
					: NULL,
				e->subtree);
	}
	case S_IFLNK: {
		char target[BK_TREE_TARGET_MAX + 1];
		ssize_t n = readlink(abs, target, sizeof(target));
		if (n < 0)
			return -errno;
		if (n == 0 || n > BK_TREE_TARGET_MAX)
			return -ENAMETOOLONG;
		target[n] = 0;
		e->type = BK_SYMLINK;
		e->size = (uint64_t)n;
		e->target = strdup(target);
		return e->target ? 0 : -ENOMEM;
	}
	case S_IFIFO:
		e->type = BK_FIFO;
		return 0;
	case S_IFCHR:
	case S_IFBLK:
		e->type = S_ISCHR(st.st_mode) ? BK_CHARDEV : BK_BLOCKDEV;
		e->rdev = st.st_rdev;
		return 0;
	default: /* sockets: nothing to restore */
		*skip = true;
		return 0;
	}
}

static int by_name_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, const char *abs, uint8_t dir,
		    const char *rel, const uint8_t *prev_tree_id,
		    uint8_t tree_id[BK_ID_LEN])
{
	struct bk_tree prev = {0}, tree = {0};
	int r = 0;
	if (prev_tree_id) {
		uint8_t *buf = NULL;
		size_t len = 0;
		char why[128];
		if (bk_repo_read_blob(w->repo, BK_BLOB_TREE, prev_tree_id, &buf,
				      &len) == 0) {
			if (bk_tree_parse(buf, len, &prev, why, sizeof(why)) <
			    0)
				log_warning("parent tree of %s: %s", abs, why);
			free(buf);
		}
	}
	DIR *d = opendir(abs);
	if (!d) {
		bk_tree_free(&prev);
		return -errno;
	}
	struct dirent *de;
	char **names = NULL;
	size_t count = 0, cap = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			void *p = realloc(names, cap * sizeof(*names));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			names = p;
		}
		if (!(names[count] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		count++;
	}
	closedir(d);
	if (r == 0 && count > 1) {
		qsort(names, count, sizeof(*names), by_name_ptr);
	}
	for (size_t i = 0; i < count && r == 0; i++) {
		char child_abs[PATH_MAX], child_rel[PATH_MAX];
		/* a long walk of reused entries renews the lease too */
		if ((r = bk_repo_lock_refresh(w->repo)) < 0)
			break;
		if (snprintf(child_abs, sizeof(child_abs), "%s/%s", abs,
			     names[i]) >= (int)sizeof(child_abs) ||
		    snprintf(child_rel, sizeof(child_rel), "%s%s%s", rel,
			     rel[0] ? "/" : "",
			     names[i]) >= (int)sizeof(child_rel)) {
			r = -ENAMETOOLONG;
			break;
		}
		struct bk_entry e = {0};
		bool skip = false;
		r = entry_of(w, child_abs, dir, child_rel, names[i],
			     bk_tree_find(&prev, names[i]), &e, &skip);
		if (r == -ENOENT) { /* gone while we walked */
			bk_entry_free(&e);
			r = 0;
			continue;
		}
		if (r == -EACCES || r == -EPERM) {
			/* said and counted; the rest is still saved */
			log_warning("%s: %s: not saved", child_abs,
				    strerror(-r));
			w->stats.files_skipped++;
			bk_entry_free(&e);
			r = 0;
			continue;
		}
		if (r < 0) {
			log_error("%s: %s", child_abs, strerror(-r));
			bk_entry_free(&e);
			break;
		}
		if (skip) {
			bk_entry_free(&e);
			continue;
		}
		r = bk_tree_add(&tree, &e);
		if (r < 0)
			bk_entry_free(&e);
	}
	bk_names_free(names, count);
	bk_tree_free(&prev);
	if (r == 0) {
		uint8_t *buf = NULL;
		size_t len = 0;
		r = bk_tree_encode(&tree, &buf, &len);
		if (r == 0)
			r = bk_repo_put_blob(w->repo, BK_BLOB_TREE, buf, len,
					     tree_id);
		free(buf);
		r = r < 0 ? r : 0;
	}
	bk_tree_free(&tree);
	return r;
}

static int by_time(const void *a, const void *b)
{
	const struct bk_snapshot *x = a, *y = b;
	if (x->time_ms != y->time_ms)
		return x->time_ms < y->time_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

int bk_snapshots_load(struct bk_repo *r, struct bk_snapshot **out,
		      size_t *count)
{
	char **names = NULL;
	size_t n = 0;
	int ret = bk_repo_list(r, "snapshots/", &names, &n);
	if (ret < 0)
		return ret;
	struct bk_snapshot *s = calloc(n ? n : 1, sizeof(*s));
	size_t got = 0;
	if (!s)
		ret = -ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		char why[BK_REASON_MAX];
		ret = bk_repo_get_sealed(r, names[i], "snapshot", &buf, &len);
		if (ret == 0) {
			ret = bk_snapshot_parse(buf, len, &s[got], why,
						sizeof(why));
			if (ret < 0)
				snprintf(r->why, sizeof(r->why), "%s: %s",
					 names[i], why);
		}
		free(buf);
		if (ret == 0)
			sky_strlcpy(s[got++].id, strrchr(names[i], '/') + 1,
				    BK_HEX_ID);
	}
	bk_names_free(names, n);
	if (ret < 0) {
		free(s);
		return ret;
	}
	qsort(s, got, sizeof(*s), by_time);
	*out = s;
	*count = got;
	return 0;
}

int bk_snapshot_find(struct bk_repo *r, const char *which,
		     struct bk_snapshot *out)
{
	struct bk_snapshot *all = NULL;
	size_t n = 0;
	int ret = bk_snapshots_load(r, &all, &n);
	if (ret < 0)
		return ret;
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		bool match =
			!strcmp(which, "latest")
				? i == n - 1
				: strncmp(all[i].id, which, strlen(which)) == 0;
		if (match) {
			*out = all[i];
			found++;
		}
	}
	free(all);
	if (found == 1)
		return 0;
	snprintf(r->why, sizeof(r->why), "snapshot %s: %s", which,
		 found ? "ambiguous prefix" : "not found");
	return found ? -EINVAL : -ENOENT;
}

/* The newest snapshot of this host with the same paths. */
static int find_parent(struct bk_repo *r, const struct bk_backup_opts *o,
		       struct bk_snapshot *parent, bool *found)
{
	struct bk_snapshot *all = NULL;
	size_t n = 0;
	int ret = bk_snapshots_load(r, &all, &n);
	if (ret < 0)
		return ret;
	*found = false;
	for (size_t i = n; i-- > 0 && !*found;) {
		bool same = !strcmp(all[i].host, o->host) &&
			    all[i].path_count == o->path_count;
		for (size_t p = 0; same && p < o->path_count; p++)
			same = !strcmp(all[i].paths[p], o->paths[p]);
		if (same) {
			*parent = all[i];
			*found = true;
		}
	}
	free(all);
	return 0;
}

int bk_backup_run(struct bk_repo *r, const struct bk_backup_opts *o,
		  struct bk_snapshot *snap)
{
	int64_t t0 = sky_now_ms(), wall0 = sky_wall_ms();
	struct walk w = {.repo = r, .opts = o};
	struct bk_snapshot parent;
	bool have_parent = false;
	struct bk_tree prev_root = {0}, root = {0};
	memset(snap, 0, sizeof(*snap));
	int ret = find_parent(r, o, &parent, &have_parent);
	if (ret < 0)
		return ret;
	if (have_parent) {
		uint8_t *buf = NULL;
		size_t len = 0;
		char why[128];
		if (bk_repo_read_blob(r, BK_BLOB_TREE, parent.tree, &buf,
				      &len) == 0 &&
		    bk_tree_parse(buf, len, &prev_root, why, sizeof(why)) < 0)
			log_warning("parent snapshot's root tree: %s", why);
		free(buf);
	}
	if (o->changes && o->changes->complete && have_parent)
		w.changes = o->changes;
	w.packs_at_start = r->stats.packs_written;
	w.buf = malloc(READ_WINDOW);
	if (!w.buf)
		ret = -ENOMEM;
	for (size_t i = 0; i < o->path_count && ret == 0; i++) {
		char name[8];
		snprintf(name, sizeof(name), "%zu", i);
		struct bk_entry e = {0};
		bool skip = false;
		ret = entry_of(&w, o->paths[i], (uint8_t)i, "", name,
			       bk_tree_find(&prev_root, name), &e, &skip);
		if (ret == 0 && e.type != BK_DIR) {
			log_error("%s: not a directory", o->paths[i]);
			ret = -ENOTDIR;
		}
		if (ret == 0)
			ret = bk_tree_add(&root, &e);
		bk_entry_free(&e);
	}
	if (ret == 0) {
		uint8_t *buf = NULL;
		size_t len = 0;
		bk_tree_sort(&root);
		ret = bk_tree_encode(&root, &buf, &len);
		if (ret == 0)
			ret = bk_repo_put_blob(r, BK_BLOB_TREE, buf, len,
					       snap->tree);
		free(buf);
	}
	/* packs, then the index naming them, then the snapshot */
	if (ret >= 0)
		ret = bk_repo_commit(r);
	if (ret == 0 && o->before_snapshot)
		ret = o->before_snapshot(o->ctx, r->why, sizeof(r->why));
	if (ret == 0) {
		/* the snapshot's instant: when the walk began */
		snap->time_ms = wall0;
		sky_strlcpy(snap->host, o->host, sizeof(snap->host));
		sky_strlcpy(snap->module, o->module, sizeof(snap->module));
		sky_strlcpy(snap->target, r->target, sizeof(snap->target));
		for (size_t i = 0; i < o->path_count; i++)
			sky_strlcpy(snap->paths[i], o->paths[i],
				    BK_SNAP_PATH_MAX);
		snap->path_count = o->path_count;
		if (have_parent)
			memcpy(snap->parent, parent.id, BK_HEX_ID);
		snap->stats = w.stats;
		snap->stats.duration_ms = sky_now_ms() - t0;
		/* the snapshot's own bytes are not in its figures */
		snap->stats.bytes_uploaded = r->stats.bytes_uploaded;
		char *json = NULL;
		ret = bk_snapshot_encode(snap, &json);
		if (ret == 0)
			ret = bk_repo_put_sealed(r, "snapshots", "snapshot",
						 json, strlen(json), snap->id,
						 sizeof(snap->id));
		free(json);
		snap->stats.bytes_uploaded = r->stats.bytes_uploaded;
	}
	for (size_t i = 0; i < w.inode_cap; i++)
		free(w.inodes[i].path);
	free(w.inodes);
	free(w.buf);
	bk_tree_free(&prev_root);
	bk_tree_free(&root);
	return ret;
}
