/*
 * track.c - the change record (track.h).
 *
 * One append-only file and an in-memory set of what it already holds. The
 * set is a chained hash table of (dir, path, zone) keys; path-level kinds
 * use the zone UINT64_MAX. Appends are written with one write() and made
 * durable with fdatasync() before replicd_track_mark returns.
 */
#include "track.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOOT_BYTES CHANGEREC_BOOT_BYTES
#define PATH_ZONE  UINT64_MAX

_Static_assert(REPLICD_PATH_MAX == CHANGEREC_PATH_MAX &&
		       REPLICD_MAX_DIRS == CHANGEREC_MAX_DIRS,
	       "replicd's paths and directories are the record's");

struct key_node {
	struct key_node *next;
	uint64_t hash, zone;
	uint8_t dir, kinds;
	char path[];
};

struct replicd_track {
	pthread_mutex_t lock;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	const char *consequence; /* of an incomplete record, for logs */
	int fd;
	bool complete, alone;
	/* At most limit keys (0: no limit); past it the record is emptied
	 * and incomplete (saturated) until it is reset or rotated. */
	size_t limit;
	bool saturated;
	/* The header says: entries not synced were appended in this boot. */
	bool volatile_marked;
	uint8_t boot[BOOT_BYTES]; /* this boot's id (zeros: unknown) */
	uint64_t length, count, damaged;
	struct key_node **buckets;
	size_t nbuckets, nkeys;
	struct changerec_entry *entries;
	size_t nentries, cap;
};

static uint64_t key_hash(uint8_t dir, const char *path, uint64_t zone)
{
	uint64_t h = 1469598103934665603ull ^ dir;
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h ^= zone;
	h *= 1099511628211ull;
	return h ^ (h >> 29);
}

static struct key_node *key_find(struct replicd_track *t, uint64_t h,
				 uint8_t dir, const char *path, uint64_t zone)
{
	for (struct key_node *k = t->buckets[h % t->nbuckets]; k; k = k->next)
		if (k->hash == h && k->zone == zone && k->dir == dir &&
		    strcmp(k->path, path) == 0)
			return k;
	return NULL;
}

static int grow(struct replicd_track *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 1024;
	struct key_node **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct key_node *k = t->buckets[i];
			t->buckets[i] = k->next;
			k->next = b[k->hash % n];
			b[k->hash % n] = k;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 0;
}

static int key_add(struct replicd_track *t, uint64_t h, uint8_t dir,
		   const char *path, uint64_t zone, uint8_t kinds)
{
	size_t len = strlen(path);
	if (t->nkeys >= t->nbuckets && grow(t) < 0)
		return -ENOMEM;
	struct key_node *k = malloc(sizeof(*k) + len + 1);
	if (!k)
		return -ENOMEM;
	k->hash = h;
	k->zone = zone;
	k->dir = dir;
	k->kinds = kinds;
	memcpy(k->path, path, len + 1);
	k->next = t->buckets[h % t->nbuckets];
	t->buckets[h % t->nbuckets] = k;
	t->nkeys++;
	return 0;
}

static void keys_clear(struct replicd_track *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		while (t->buckets[i]) {
			struct key_node *k = t->buckets[i];
			t->buckets[i] = k->next;
			free(k);
		}
	}
	t->nkeys = 0;
}

void replicd_track_entries_free(struct changerec_entry *e, size_t count)
{
	for (size_t i = 0; e && i < count; i++)
		free(e[i].path);
	free(e);
}

static int entry_add(struct replicd_track *t, const struct changerec_entry *e)
{
	if (t->nentries == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct changerec_entry *n =
			realloc(t->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->entries = n;
		t->cap = cap;
	}
	char *p = strdup(e->path ? e->path : "");
	if (!p)
		return -ENOMEM;
	t->entries[t->nentries] = *e;
	t->entries[t->nentries].path = p;
	t->nentries++;
	t->count++;
	return 0;
}

/* Remember what an entry covers, so it is not appended again. */
static int remember(struct replicd_track *t, const struct changerec_entry *e)
{
	int r;
	if (e->kinds & TRK_ALONE) {
		t->alone = true;
		return 0;
	}
	if (e->kinds & TRK_ZONES) {
		for (uint64_t z = e->first; z < e->first + e->count; z++) {
			uint64_t h = key_hash(e->dir, e->path, z);
			if (!key_find(t, h, e->dir, e->path, z) &&
			    (r = key_add(t, h, e->dir, e->path, z, TRK_ZONES)) <
				    0)
				return r;
		}
	}
	uint8_t pk = e->kinds & (uint8_t)~TRK_ZONES;
	if (pk) {
		uint64_t h = key_hash(e->dir, e->path, PATH_ZONE);
		struct key_node *k = key_find(t, h, e->dir, e->path, PATH_ZONE);
		if (k)
			k->kinds |= pk;
		else if ((r = key_add(t, h, e->dir, e->path, PATH_ZONE, pk)) <
			 0)
			return r;
	}
	return 0;
}

/* --- file -------------------------------------------------------------- */

static int write_header(struct replicd_track *t, bool complete)
{
	uint8_t h[CHANGEREC_HEADER];
	changerec_encode_header(
		&(struct changerec_header){.complete = complete}, h);
	/* A new file replaces the old one atomically: never half a reset. */
	int r = sky_write_file_atomic(t->path, h, sizeof(h), 0600);
	if (r < 0)
		return r;
	int fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->complete = complete;
	t->volatile_marked = false;
	t->saturated = false;
	t->length = 0;
	return 0;
}

/*
 * Before the first entry that is not synced: say so in the header, with
 * this boot's id, durably (once per emptied record). Entries written
 * without fdatasync survive a crash of replicd (the kernel has them), not
 * of the machine; after a reboot nobody can tell which were lost, so such
 * a record is not trusted (replicd_track_open). Lock held.
 */
static int mark_volatile(struct replicd_track *t)
{
	uint8_t h[1 + BOOT_BYTES];
	if (t->volatile_marked)
		return 0;
	h[0] = (uint8_t)((t->complete ? CHANGEREC_HDR_COMPLETE : 0) |
			 CHANGEREC_HDR_UNSYNCED);
	memcpy(h + 1, t->boot, BOOT_BYTES);
	int fd = open(t->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (pwrite(fd, h, sizeof(h), 8) != (ssize_t)sizeof(h) ||
	    fdatasync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (r == 0)
		t->volatile_marked = true;
	return r;
}

static int load_cb(void *ctx, const struct changerec_entry *e)
{
	struct replicd_track *t = ctx;
	int r = entry_add(t, e);
	return r < 0 ? r : remember(t, e);
}

static void drop_entries(struct replicd_track *t)
{
	replicd_track_entries_free(t->entries, t->nentries);
	t->entries = NULL;
	t->nentries = t->cap = 0;
	t->count = 0;
	keys_clear(t);
	t->alone = false;
}

int replicd_track_open(const char *dir, const char *name,
		       const char *consequence, struct replicd_track **out)
{
	struct replicd_track *t = calloc(1, sizeof(*t));
	char *buf = NULL;
	size_t len = 0;
	struct changerec_header hdr = {0};
	bool complete = false;
	int r;

	if (!t)
		return -ENOMEM;
	t->fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	changerec_boot_id(t->boot);
	r = grow(t);
	if (r < 0)
		goto fail;
	t->consequence = consequence;
	r = snprintf(t->path, sizeof(t->path), "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= sizeof(t->path) ||
	    sky_strlcpy(t->dir, dir, sizeof(t->dir)) < 0) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	r = sky_read_file(t->path, CHANGEREC_FILE_MAX, &buf, &len);
	if (r == 0) {
		r = changerec_parse((const uint8_t *)buf, len, &hdr, load_cb,
				    t);
		complete = hdr.complete;
		free(buf);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0) {
			/* Never trust a part of a damaged record: a full
			 * comparison is slow, a missed zone is data loss. */
			t->damaged++;
			log_error("%s is damaged: %s", t->path, t->consequence);
			drop_entries(t);
			complete = false;
		} else {
			t->fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (t->fd < 0) {
				r = -errno;
				goto fail;
			}
			static const uint8_t unknown[BOOT_BYTES];
			bool vol = hdr.unsynced;
			bool same_boot =
				memcmp(hdr.boot, t->boot, BOOT_BYTES) == 0 &&
				memcmp(t->boot, unknown, BOOT_BYTES) != 0;
			if (vol && !same_boot && complete) {
				/* Its unsynced entries may be lost: the machine
				 * restarted since they were written. */
				log_notice("%s holds changes recorded without "
					   "fdatasync before this machine "
					   "restarted: %s",
					   t->path, t->consequence);
				complete = false;
			}
			t->volatile_marked = vol && same_boot;
			t->complete = complete;
			t->length = len - CHANGEREC_HEADER;
			*out = t;
			return 0;
		}
	} else if (r != -ENOENT) {
		t->damaged++;
		log_error("cannot read %s: %s: %s", t->path, strerror(-r),
			  t->consequence);
	}
	/* Missing or damaged: start an incomplete record. */
	r = write_header(t, false);
	if (r < 0)
		goto fail;
	t->alone = false;
	*out = t;
	return 0;
fail:
	replicd_track_free(&t);
	return r;
}

void replicd_track_free(struct replicd_track **tp)
{
	struct replicd_track *t = *tp;
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	drop_entries(t);
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

/* Append entries (one write), durably if asked. Lock held. */
static int append(struct replicd_track *t, const struct changerec_entry *e,
		  size_t n, bool durable)
{
	uint8_t stackbuf[4 * 100];
	size_t need = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		need += changerec_entry_size(&e[i]);
	if (!durable) {
		int v = mark_volatile(t);
		if (v < 0)
			return v;
	}
	uint8_t *buf = need <= sizeof(stackbuf) ? stackbuf : malloc(need);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int k = changerec_encode_entry(&e[i], buf + off, need - off);
		if (k < 0) {
			if (buf != stackbuf)
				free(buf);
			return k;
		}
		off += (size_t)k;
	}
	ssize_t w = write(t->fd, buf, off);
	int r = w == (ssize_t)off ? 0 : w < 0 ? -errno : -EIO;
	if (buf != stackbuf)
		free(buf);
	if (r == 0 && durable && fdatasync(t->fd) < 0)
		r = -errno;
	if (r < 0)
		return r;
	t->length += off;
	for (size_t i = 0; i < n; i++) {
		r = entry_add(t, &e[i]);
		if (r == 0)
			r = remember(t, &e[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Past the limit: an empty, incomplete record that takes no more. Lock held. */
static int saturate(struct replicd_track *t)
{
	log_notice("%s lists more than %zu zones and paths: it stops "
		   "listing them until it is emptied; %s",
		   t->path, t->limit, t->consequence);
	int r = write_header(t, false);
	if (r == 0) {
		drop_entries(t);
		t->saturated = true;
	}
	return r;
}

void replicd_track_set_limit(struct replicd_track *t, size_t max_keys)
{
	pthread_mutex_lock(&t->lock);
	t->limit = max_keys;
	if (t->limit && t->nkeys > t->limit && saturate(t) < 0)
		log_error("cannot empty %s", t->path);
	pthread_mutex_unlock(&t->lock);
}

int replicd_track_mark(struct replicd_track *t, uint8_t dir, const char *path,
		       uint8_t kinds, uint64_t first, uint64_t count,
		       bool durable)
{
	struct changerec_entry e[4];
	size_t n = 0;
	int r = 0;

	if (!path || (kinds & ~ROP_RECORD_KINDS) || !kinds ||
	    !replicd_path_valid(path, strlen(path)))
		return -EINVAL;
	if ((kinds & TRK_ZONES) && count == 0)
		kinds &= (uint8_t)~TRK_ZONES;
	if (!kinds)
		return 0;
	pthread_mutex_lock(&t->lock);
	if (t->saturated) {
		pthread_mutex_unlock(&t->lock);
		return 0; /* incomplete: readers take everything */
	}
	uint8_t pk = kinds & (uint8_t)~TRK_ZONES;
	if (pk) {
		struct key_node *k = key_find(t, key_hash(dir, path, PATH_ZONE),
					      dir, path, PATH_ZONE);
		uint8_t missing = k ? pk & (uint8_t)~k->kinds : pk;
		if (missing)
			e[n++] = (struct changerec_entry){.dir = dir,
							  .kinds = missing,
							  .path = (char *)path};
	}
	if (kinds & TRK_ZONES) {
		/* One entry per run of zones not marked yet; a write
		 * rarely has more than two runs, so flush in batches. */
		uint64_t z = first, end = first + count;
		while (z < end) {
			while (z < end && key_find(t, key_hash(dir, path, z),
						   dir, path, z))
				z++;
			if (z == end)
				break;
			uint64_t s = z;
			while (z < end && !key_find(t, key_hash(dir, path, z),
						    dir, path, z))
				z++;
			e[n++] = (struct changerec_entry){.dir = dir,
							  .kinds = TRK_ZONES,
							  .first = s,
							  .count = z - s,
							  .path = (char *)path};
			if (n == SKY_ARRAY_SIZE(e)) {
				r = append(t, e, n, durable);
				n = 0;
				if (r < 0)
					break;
			}
		}
	}
	if (r == 0 && n)
		r = append(t, e, n, durable);
	if (r == 0 && t->limit && t->nkeys > t->limit)
		r = saturate(t);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int replicd_track_mark_alone(struct replicd_track *t)
{
	int r = 0;
	pthread_mutex_lock(&t->lock);
	if (!t->alone) {
		struct changerec_entry e = {.kinds = TRK_ALONE,
					    .path = (char *)""};
		r = append(t, &e, 1, true);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

bool replicd_track_complete(struct replicd_track *t)
{
	pthread_mutex_lock(&t->lock);
	bool c = t->complete;
	pthread_mutex_unlock(&t->lock);
	return c;
}

bool replicd_track_alone(struct replicd_track *t)
{
	pthread_mutex_lock(&t->lock);
	bool a = t->alone;
	pthread_mutex_unlock(&t->lock);
	return a;
}

uint64_t replicd_track_length(struct replicd_track *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t l = t->length;
	pthread_mutex_unlock(&t->lock);
	return l;
}

uint64_t replicd_track_count(struct replicd_track *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}

uint64_t replicd_track_damaged(struct replicd_track *t)
{
	return t->damaged;
}

int replicd_track_reset(struct replicd_track *t, uint64_t if_length)
{
	int r;
	pthread_mutex_lock(&t->lock);
	if (if_length != UINT64_MAX && if_length != t->length) {
		pthread_mutex_unlock(&t->lock);
		return -EAGAIN;
	}
	r = write_header(t, true);
	if (r == 0)
		drop_entries(t);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int replicd_track_drop_alone(struct replicd_track *t)
{
	int r = 0;
	size_t need = CHANGEREC_HEADER, off = CHANGEREC_HEADER, k = 0;
	pthread_mutex_lock(&t->lock);
	if (!t->alone)
		goto out;
	for (size_t i = 0; i < t->nentries; i++)
		need += changerec_entry_size(&t->entries[i]);
	uint8_t *buf = calloc(1, need);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	struct changerec_header h = {.complete = t->complete,
				     .unsynced = t->volatile_marked};
	memcpy(h.boot, t->boot, BOOT_BYTES);
	changerec_encode_header(&h, buf);
	for (size_t i = 0; r == 0 && i < t->nentries; i++) {
		if (t->entries[i].kinds & TRK_ALONE)
			continue;
		int n = changerec_encode_entry(&t->entries[i], buf + off,
					       need - off);
		if (n < 0)
			r = n;
		else
			off += (size_t)n;
	}
	/* The same entries without the marker, replacing the file at once. */
	if (r == 0)
		r = sky_write_file_atomic(t->path, buf, off, 0600);
	free(buf);
	int fd = r < 0 ? -1 : open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (r < 0)
		goto out;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->length = off - CHANGEREC_HEADER;
	for (size_t i = 0; i < t->nentries; i++) {
		if (t->entries[i].kinds & TRK_ALONE) {
			free(t->entries[i].path);
			t->count--;
		} else {
			t->entries[k++] = t->entries[i];
		}
	}
	t->nentries = k;
	t->alone = false;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

int replicd_track_set_incomplete(struct replicd_track *t)
{
	int r = 0;
	pthread_mutex_lock(&t->lock);
	if (t->complete) {
		/* Rewrite the header in place: one byte, then sync. */
		uint8_t zero = t->volatile_marked ? CHANGEREC_HDR_UNSYNCED : 0;
		int fd = open(t->path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
		} else {
			if (pwrite(fd, &zero, 1, 8) != 1 || fdatasync(fd) < 0)
				r = errno ? -errno : -EIO;
			close(fd);
		}
		if (r == 0)
			t->complete = false;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int replicd_track_entries(struct replicd_track *t, struct changerec_entry **out,
			  size_t *count)
{
	int r = 0;
	pthread_mutex_lock(&t->lock);
	struct changerec_entry *e =
		calloc(t->nentries ? t->nentries : 1, sizeof(*e));
	size_t n = 0;
	if (!e)
		r = -ENOMEM;
	for (; r == 0 && n < t->nentries; n++) {
		e[n] = t->entries[n];
		e[n].path = strdup(t->entries[n].path);
		if (!e[n].path)
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		replicd_track_entries_free(e, n);
		return r;
	}
	*out = e;
	*count = n;
	return 0;
}

int replicd_track_entry_of(const struct replicd_op *op, size_t dir_count,
			   struct changerec_entry *e)
{
	if (op->type != ROP_RECORD || op->dir >= dir_count || !op->flags ||
	    ((op->flags & TRK_ZONES) &&
	     (op->length == 0 || op->length > (1ull << 40) ||
	      op->offset > (1ull << 47))))
		return -EPROTO;
	*e = (struct changerec_entry){.dir = op->dir,
				      .kinds = (uint8_t)op->flags,
				      .first = op->offset,
				      .count = op->length,
				      .path = strdup(op->path)};
	return e->path ? 0 : -ENOMEM;
}

const char *replicd_track_path(struct replicd_track *t)
{
	return t->path;
}

int replicd_track_rotate(struct replicd_track *t, const char *name,
			 bool *was_complete)
{
	char to[PATH_MAX];
	int r = snprintf(to, sizeof(to), "%s/%s", t->dir, name);
	if (r < 0 || (size_t)r >= sizeof(to))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&t->lock);
	/* The entries reach the disk with the file (its header says
	 * whether they were synced: the boot rule holds for the copy). */
	r = 0;
	if (fdatasync(t->fd) < 0 || rename(t->path, to) < 0)
		r = -errno;
	if (r == 0)
		r = sky_fsync_parent_dir(to);
	if (r == 0) {
		*was_complete = t->complete;
		r = write_header(t, true);
		if (r == 0)
			drop_entries(t);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

static int merge_cb(void *ctx, const struct changerec_entry *e)
{
	struct replicd_track *t = ctx;
	if (e->kinds & TRK_ALONE)
		return 0;
	return replicd_track_mark(t, e->dir, e->path, e->kinds, e->first,
				  e->count, false);
}

int replicd_track_merge(struct replicd_track *t, const char *name)
{
	char from[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	struct changerec_header h;
	uint8_t boot[BOOT_BYTES];
	int r = snprintf(from, sizeof(from), "%s/%s", t->dir, name);
	if (r < 0 || (size_t)r >= sizeof(from))
		return -ENAMETOOLONG;
	r = sky_read_file(from, CHANGEREC_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r == 0) {
		r = changerec_parse((const uint8_t *)buf, len, &h, merge_cb, t);
		free(buf);
	}
	changerec_boot_id(boot);
	/* A damaged, unreadable or incomplete record: what it lacks is
	 * unknown, so this one no longer covers everything either. */
	if (r == -EBADMSG || r == -EFBIG || r == -EIO ||
	    (r == 0 && !changerec_trusted(&h, boot))) {
		if (r < 0)
			log_warning("%s: %s: %s", from, strerror(-r),
				    t->consequence);
		r = replicd_track_set_incomplete(t);
	}
	if (r == 0 && unlink(from) < 0)
		r = -errno;
	return r;
}
