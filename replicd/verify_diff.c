/*
 * verify_diff.c - the findings of `skyctl verify` and the live changes
 * made meanwhile (verify_diff.h).
 */
#include "verify_diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_BUCKETS 4096
#define WHOLE	     UINT64_MAX

/* One path changed during the verify: zones [first, last], or WHOLE. */
struct vnote {
	struct vnote *next;
	uint8_t dir;
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
		      uint64_t first, uint64_t last)
{
	size_t n = strlen(p);
	struct vnote *x = note_find(v, dir, p, n);
	if (x) {
		/* One range per path: the union's hull (never fewer zones). */
		if (first < x->first)
			x->first = first;
		if (last > x->last)
			x->last = last;
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
	if (!op->path || !*op->path) {
		/* The directory itself, or a file unlinked while open (no
		 * name: nothing the comparison can reach). */
		if (op->path && op->type != ROP_WRITE &&
		    op->type != ROP_WRITE_Z)
			note_path(v, op->dir, "", WHOLE, WHOLE);
		return;
	}
	uint64_t first = 0, last = WHOLE;
	if (op->type == ROP_WRITE || op->type == ROP_WRITE_Z ||
	    op->type == ROP_FALLOCATE) {
		uint64_t len =
			op->type == ROP_WRITE ? op->data_len : op->length;
		first = op->offset >> REPLICD_ZONE_SHIFT;
		last = len ? (op->offset + len - 1) >> REPLICD_ZONE_SHIFT
			   : first;
	}
	note_path(v, op->dir, op->path, first, last);
	if (op->path2 && *op->path2)
		note_path(v, op->dir, op->path2, 0, WHOLE);
}

/* Was e's path (or a parent) changed during the verify? */
static bool changed_during(const struct replicd_vdiff *v,
			   const struct replicd_vdiff_entry *e)
{
	if (v->notes_overflow)
		return true;
	size_t n = strlen(e->path);
	const struct vnote *x = note_find(v, e->dir, e->path, n);
	if (x) {
		if (x->last == WHOLE || (e->what & ~VD_CONTENT))
			return true;
		for (size_t i = 0; i < e->nranges; i++)
			if (e->first[i] <= x->last &&
			    x->first < e->first[i] + e->count[i])
				return true;
		return e->more_ranges;
	}
	/* A parent renamed, removed or created meanwhile. */
	if (note_find(v, e->dir, "", 0))
		return true;
	for (size_t i = 0; i < n; i++) {
		if (e->path[i] != '/')
			continue;
		x = note_find(v, e->dir, e->path, i);
		if (x && x->last == WHOLE)
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
	switch (op->type) {
	case ROP_WRITE:
		if (e->what & (VD_ONLY_PRIMARY | VD_TYPE)) {
			v->copy_bytes += op->data_len;
			break;
		}
		e->what |= VD_CONTENT;
		add_zones(e, op->offset >> REPLICD_ZONE_SHIFT,
			  (op->data_len + REPLICD_ZONE_SIZE - 1) >>
				  REPLICD_ZONE_SHIFT);
		break;
	case ROP_TRUNCATE:
		if (m && !(e->what & (VD_ONLY_PRIMARY | VD_TYPE)) &&
		    m->size != op->offset)
			e->what |= VD_SIZE;
		break;
	case ROP_CHOWN:
	case ROP_CHMOD:
	case ROP_ENSURE_DIR:
		if (!(e->what & (VD_ONLY_PRIMARY | VD_TYPE)))
			e->what |= VD_OWNER;
		break;
	case ROP_SETXATTR:
	case ROP_REMOVEXATTR:
	case ROP_CLEAR_XATTRS:
		if (!(e->what & (VD_ONLY_PRIMARY | VD_TYPE)))
			e->what |= VD_XATTRS;
		break;
	case ROP_REMOVE:
		e->what |= VD_ONLY_SECONDARY;
		break;
	case ROP_SYMLINK:
		if (m && (m->mode & 0170000) == 0120000 &&
		    !(e->what & VD_ONLY_SECONDARY)) {
			e->what |= VD_TARGET;
			break;
		}
		/* fall through */
	case ROP_CREATE:
	case ROP_MKDIR:
	case ROP_LINK:
		if (e->what & VD_ONLY_SECONDARY)
			e->what = (e->what & ~(uint32_t)VD_ONLY_SECONDARY) |
				  VD_TYPE;
		else
			e->what |= VD_ONLY_PRIMARY;
		if (op->type == ROP_MKDIR) {
			free(v->only_primary_dir);
			v->only_primary_dir = strdup(path);
			v->only_primary_dir_n = op->dir;
		}
		break;
	default:
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
