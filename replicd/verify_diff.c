/*
 * verify_diff.c - the findings of `skyctl verify` and the live changes
 * made meanwhile (verify_diff.h).
 */
#include "verify_diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOTE_BUCKETS 4096
#define WHOLE	     UINT64_MAX

/* One path changed during the verify: what kind of change, and for
 * writes the zones [first, last] (the hull of every write noted). */
enum { NOTE_ZONES = 1, NOTE_META = 2, NOTE_ENTRY = 4, NOTE_TREE = 8 };

struct vnote {
	struct vnote *next;
	uint8_t dir;
	uint8_t kinds;
	uint64_t first, last;
	char path[];
};
struct replicd_vdiff {
	struct replicd_manifest *mf;
	struct replicd_vdiff_entry list[REPLICD_VERIFY_LIST_MAX];
	size_t listed;
	struct replicd_vdiff_entry cur; /* the path being compared */
	bool have_cur;
	char *only_primary_dir; /* its children are not listed */
	uint8_t only_primary_dir_n;
	uint64_t unlisted, changed, copy_bytes;
	struct vnote *notes[NOTE_BUCKETS];
	size_t nnotes;
	bool notes_overflow;
};

static uint32_t hash_path(uint8_t dir, const char *p, size_t n)
{
	uint32_t h = 2166136261u ^ dir;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h % NOTE_BUCKETS;
}

static struct vnote *note_find(const struct replicd_vdiff *v, uint8_t dir,
			       const char *p, size_t n)
{
	for (struct vnote *x = v->notes[hash_path(dir, p, n)]; x; x = x->next)
		if (x->dir == dir && strlen(x->path) == n &&
		    memcmp(x->path, p, n) == 0)
			return x;
	return NULL;
}

static void note_path(struct replicd_vdiff *v, uint8_t dir, const char *p,
		      uint8_t kinds, uint64_t first, uint64_t last)
{
	size_t n = strlen(p);
	struct vnote *x = note_find(v, dir, p, n);
	if (x) {
		if (kinds & NOTE_ZONES) {
			/* One range per path: the hull (never fewer zones). */
			if (!(x->kinds & NOTE_ZONES) || first < x->first)
				x->first = first;
			if (!(x->kinds & NOTE_ZONES) || last > x->last)
				x->last = last;
		}
		x->kinds |= kinds;
		return;
	}
	if (v->nnotes >= REPLICD_VERIFY_NOTES_MAX) {
		v->notes_overflow = true;
		return;
	}
	x = malloc(sizeof(*x) + n + 1);
	if (!x) {
		v->notes_overflow = true;
		return;
	}
	x->dir = dir;
	x->kinds = kinds;
	x->first = first;
	x->last = last;
	memcpy(x->path, p, n + 1);
	uint32_t b = hash_path(dir, p, n);
	x->next = v->notes[b];
	v->notes[b] = x;
	v->nnotes++;
}

void replicd_vdiff_note(struct replicd_vdiff *v, const struct replicd_op *op)
{
	if (!v || !replicd_op_changes_data(op->type) || op->type == ROP_FSYNC)
		return;
	/* A file unlinked while open has no name: nothing the comparison
	 * reaches. */
	if (!op->path || (!*op->path && op->handle))
		return;
	switch (op->type) {
	case ROP_WRITE:
	case ROP_WRITE_Z:
	case ROP_FALLOCATE: {
		uint64_t len =
			op->type == ROP_WRITE ? op->data_len : op->length;
		uint64_t first = op->offset >> REPLICD_ZONE_SHIFT;
		uint64_t last =
			len ? (op->offset + len - 1) >> REPLICD_ZONE_SHIFT
			    : first;
		note_path(v, op->dir, op->path, NOTE_ZONES, first, last);
		return;
	}
	case ROP_CHMOD:
	case ROP_CHOWN:
	case ROP_UTIMENS:
	case ROP_SETXATTR:
	case ROP_REMOVEXATTR:
	case ROP_CLEAR_XATTRS:
	case ROP_ENSURE_DIR:
		note_path(v, op->dir, op->path, NOTE_META, 0, 0);
		return;
	default: {
		/* The entry itself (created, truncated, removed, renamed);
		 * a name that moves or goes takes its tree along. */
		bool tree = op->type == ROP_RENAME || op->type == ROP_RMDIR ||
			    op->type == ROP_REMOVE || op->type == ROP_UNLINK;
		uint8_t k = NOTE_ENTRY | (tree && *op->path ? NOTE_TREE : 0);
		note_path(v, op->dir, op->path, k, 0, 0);
		if (op->path2 && *op->path2)
			note_path(v, op->dir, op->path2, k, 0, 0);
		return;
	}
	}
}

/* Take the zones [first, last] out of e's ranges. */
static void subtract(struct replicd_vdiff_entry *e, uint64_t first,
		     uint64_t last)
{
	uint64_t f[REPLICD_VERIFY_RANGES * 2], c[REPLICD_VERIFY_RANGES * 2];
	size_t n = 0;
	for (size_t i = 0; i < e->nranges; i++) {
		uint64_t a = e->first[i], b = e->first[i] + e->count[i] - 1;
		if (b < first || a > last) {
			f[n] = a, c[n++] = e->count[i];
			continue;
		}
		if (a < first)
			f[n] = a, c[n++] = first - a;
		if (b > last)
			f[n] = last + 1, c[n++] = b - last;
	}
	e->nranges = 0;
	for (size_t i = 0; i < n; i++) {
		if (e->nranges == REPLICD_VERIFY_RANGES) {
			e->more_ranges = true;
			break;
		}
		e->first[e->nranges] = f[i];
		e->count[e->nranges++] = c[i];
	}
}

/*
 * Take out of e what the changes noted during the verify explain: true
 * if nothing is left (the finding was a live change, not a difference).
 */
static bool changed_during(const struct replicd_vdiff *v,
			   struct replicd_vdiff_entry *e)
{
	if (v->notes_overflow)
		return true;
	size_t n = strlen(e->path);
	const struct vnote *x = note_find(v, e->dir, e->path, n);
	if (x && (x->kinds & NOTE_ENTRY))
		return true;
	if (x && (x->kinds & NOTE_META))
		e->what &= ~(uint32_t)(VD_OWNER | VD_XATTRS);
	if (x && (x->kinds & NOTE_ZONES)) {
		e->what &= ~(uint32_t)VD_SIZE;
		if (e->what & VD_CONTENT) {
			subtract(e, x->first, x->last);
			if (e->nranges == 0 && e->more_ranges)
				return true; /* cannot tell */
			if (e->nranges == 0)
				e->what &= ~(uint32_t)VD_CONTENT;
		}
	}
	if (!e->what)
		return true;
	/* A parent renamed or removed meanwhile. */
	for (size_t i = 0; i < n; i++) {
		if (e->path[i] != '/')
			continue;
		x = note_find(v, e->dir, e->path, i);
		if (x && (x->kinds & NOTE_TREE))
			return true;
	}
	return false;
}

int replicd_vdiff_new(struct replicd_vdiff **out, struct replicd_manifest *mf)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->mf = mf;
	return 0;
}

static void entry_free(struct replicd_vdiff_entry *e)
{
	free(e->path);
	memset(e, 0, sizeof(*e));
}

void replicd_vdiff_free(struct replicd_vdiff **vp)
{
	struct replicd_vdiff *v = *vp;
	if (!v)
		return;
	for (size_t i = 0; i < v->listed; i++)
		entry_free(&v->list[i]);
	if (v->have_cur)
		entry_free(&v->cur);
	free(v->only_primary_dir);
	for (size_t b = 0; b < NOTE_BUCKETS; b++)
		while (v->notes[b]) {
			struct vnote *x = v->notes[b];
			v->notes[b] = x->next;
			free(x);
		}
	free(v);
	*vp = NULL;
}

/* The finding at cur is complete: counted, listed or dropped. */
static void close_cur(struct replicd_vdiff *v)
{
	if (!v->have_cur)
		return;
	v->have_cur = false;
	if (!v->cur.what) {
		entry_free(&v->cur);
		return;
	}
	if (changed_during(v, &v->cur)) {
		v->changed++;
		entry_free(&v->cur);
	} else if (v->listed < REPLICD_VERIFY_LIST_MAX) {
		v->list[v->listed++] = v->cur;
		memset(&v->cur, 0, sizeof(v->cur));
	} else {
		v->unlisted++;
		entry_free(&v->cur);
	}
}

/* Under a directory found only on the primary: part of that finding. */
static bool under_only_primary(const struct replicd_vdiff *v,
			       const struct replicd_op *op)
{
	const char *d = v->only_primary_dir;
	size_t n = d ? strlen(d) : 0;
	return d && op->dir == v->only_primary_dir_n &&
	       strncmp(op->path, d, n) == 0 && (n == 0 || op->path[n] == '/');
}

static void add_zones(struct replicd_vdiff_entry *e, uint64_t first,
		      uint64_t count)
{
	if (e->nranges > 0) {
		size_t i = e->nranges - 1;
		if (e->first[i] + e->count[i] == first) {
			e->count[i] += count;
			return;
		}
	}
	if (e->nranges == REPLICD_VERIFY_RANGES) {
		e->more_ranges = true;
		return;
	}
	e->first[e->nranges] = first;
	e->count[e->nranges++] = count;
}

int replicd_vdiff_emit(void *ctx, struct replicd_op *op)
{
	struct replicd_vdiff *v = ctx;
	const char *path = op->path ? op->path : "";

	if (op->type == ROP_UTIMENS)
		return 0; /* times are not compared */
	if (v->only_primary_dir && under_only_primary(v, op)) {
		if (op->type == ROP_WRITE)
			v->copy_bytes += op->data_len;
		return 0;
	}
	if (!v->have_cur || v->cur.dir != op->dir ||
	    strcmp(v->cur.path, path) != 0) {
		close_cur(v);
		v->cur.path = strdup(path);
		if (!v->cur.path)
			return -ENOMEM;
		v->cur.dir = op->dir;
		v->have_cur = true;
	}
	struct replicd_vdiff_entry *e = &v->cur;
	const struct replicd_manifest_entry *m =
		replicd_manifest_find(v->mf, op->dir, path);
	bool dir_op = op->type == ROP_MKDIR || op->type == ROP_ENSURE_DIR;
	if (op->type == ROP_REMOVE) {
		e->what |= VD_ONLY_SECONDARY;
		return 0;
	}
	if (!m || (e->what & VD_ONLY_SECONDARY)) {
		/* Copied whole: missing there, or of another type there. */
		if (op->type == ROP_SYMLINK && m && S_ISLNK(m->mode)) {
			e->what = VD_TARGET;
			return 0;
		}
		if (op->type == ROP_WRITE)
			v->copy_bytes += op->data_len;
		if (e->what & VD_ONLY_SECONDARY)
			e->what = VD_TYPE;
		else if (!(e->what & VD_TYPE))
			e->what |= VD_ONLY_PRIMARY;
		if (dir_op) {
			free(v->only_primary_dir);
			v->only_primary_dir = strdup(path);
			v->only_primary_dir_n = op->dir;
		}
		return 0;
	}
	if (e->what & (VD_ONLY_PRIMARY | VD_TYPE)) {
		if (op->type == ROP_WRITE)
			v->copy_bytes += op->data_len;
		return 0;
	}
	switch (op->type) {
	case ROP_WRITE:
		e->what |= VD_CONTENT;
		add_zones(e, op->offset >> REPLICD_ZONE_SHIFT,
			  (op->data_len + REPLICD_ZONE_SIZE - 1) >>
				  REPLICD_ZONE_SHIFT);
		break;
	case ROP_TRUNCATE:
		if (m->size != op->offset)
			e->what |= VD_SIZE;
		break;
	case ROP_CHOWN:
	case ROP_CHMOD:
	case ROP_ENSURE_DIR:
		e->what |= VD_OWNER;
		break;
	case ROP_SETXATTR:
	case ROP_REMOVEXATTR:
	case ROP_CLEAR_XATTRS:
		e->what |= VD_XATTRS;
		break;
	case ROP_SYMLINK:
		e->what |= VD_TARGET;
		break;
	default:
		e->what |= VD_TYPE;
		break;
	}
	return 0;
}

void replicd_vdiff_finish(struct replicd_vdiff *v)
{
	close_cur(v);
	size_t k = 0;
	for (size_t i = 0; i < v->listed; i++) {
		if (changed_during(v, &v->list[i])) {
			v->changed++;
			entry_free(&v->list[i]);
		} else {
			v->list[k++] = v->list[i];
		}
	}
	for (size_t i = k; i < v->listed; i++)
		memset(&v->list[i], 0, sizeof(v->list[i]));
	v->listed = k;
}

void replicd_vdiff_result(const struct replicd_vdiff *v,
			  struct replicd_vdiff_result *out)
{
	out->differences = v->listed + v->unlisted;
	out->changed = v->changed;
	out->copy_bytes = v->copy_bytes;
	out->notes_overflow = v->notes_overflow;
	out->listed = v->listed;
	out->list = v->list;
}

const char *replicd_vdiff_what_text(uint32_t what, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *word;
	} words[] = {
		{VD_CONTENT, "content"},
		{VD_SIZE, "size"},
		{VD_OWNER, "mode/owner"},
		{VD_XATTRS, "xattrs"},
		{VD_ONLY_PRIMARY, "only on the primary"},
		{VD_ONLY_SECONDARY, "only on the secondary"},
		{VD_TYPE, "type"},
		{VD_TARGET, "symlink target"},
	};
	size_t w = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!(what & words[i].bit))
			continue;
		int n = snprintf(buf + w, size - w, "%s%s", w ? "," : "",
				 words[i].word);
		if (n < 0 || (size_t)n >= size - w)
			break;
		w += (size_t)n;
	}
	return buf;
}
