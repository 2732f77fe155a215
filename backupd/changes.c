/*
 * changes.c - the change list of an incremental backup (changes.h).
 */
#include "changes.h"
#include "changerec.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANGE_ZONES_MAX (1ULL << 40)

static int add_zone(struct bk_change *c, uint64_t first, uint64_t count)
{
	void *n = realloc(c->zones, (c->zone_count + 1) * sizeof(*c->zones));
	if (!n)
		return -ENOMEM;
	c->zones = n;
	c->zones[c->zone_count].first = first;
	c->zones[c->zone_count].count = count;
	c->zone_count++;
	return 0;
}

int bk_changes_add(struct bk_changes *c, uint8_t dir, const char *path,
		   bool whole, uint64_t first_zone, uint64_t zone_count)
{
	return bk_changes_add_kind(c, dir, path, whole, false, first_zone,
				   zone_count);
}

int bk_changes_add_kind(struct bk_changes *c, uint8_t dir, const char *path,
			bool whole, bool subtree, uint64_t first_zone,
			uint64_t zone_count)
{
	whole |= subtree;
	if (!path || path[0] == '/' || strlen(path) >= 4096)
		return -EINVAL;
	if (c->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		void *n = realloc(c->items, cap * sizeof(*c->items));
		if (!n)
			return -ENOMEM;
		c->items = n;
		c->cap = cap;
	}
	struct bk_change *it = &c->items[c->count];
	memset(it, 0, sizeof(*it));
	it->dir = dir;
	it->whole = whole;
	it->subtree = subtree;
	it->path = strdup(path);
	if (!it->path)
		return -ENOMEM;
	if (!whole && zone_count && add_zone(it, first_zone, zone_count) < 0) {
		free(it->path);
		return -ENOMEM;
	}
	c->count++;
	return 0;
}

int bk_changes_add_subtree(struct bk_changes *c, uint8_t dir, const char *path)
{
	int r = bk_changes_add(c, dir, path, true, 0, 0);
	if (r == 0)
		c->items[c->count - 1].subtree = true;
	return r;
}

static int by_dir_path(const void *a, const void *b)
{
	const struct bk_change *x = a, *y = b;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return strcmp(x->path, y->path);
}

void bk_changes_finish(struct bk_changes *c)
{
	if (c->count < 2)
		return;
	qsort(c->items, c->count, sizeof(*c->items), by_dir_path);
	size_t w = 0;
	for (size_t i = 1; i < c->count; i++) {
		struct bk_change *keep = &c->items[w], *it = &c->items[i];
		if (by_dir_path(keep, it) != 0) {
			c->items[++w] = *it;
			continue;
		}
		keep->whole |= it->whole;
		keep->subtree |= it->subtree;
		for (size_t z = 0; z < it->zone_count; z++)
			if (add_zone(keep, it->zones[z].first,
				     it->zones[z].count) < 0)
				keep->whole = true; /* out of memory: safe */
		free(it->path);
		free(it->zones);
	}
	c->count = w + 1;
}

const struct bk_change *bk_changes_find(const struct bk_changes *c, uint8_t dir,
					const char *path)
{
	struct bk_change key = {.dir = dir, .path = (char *)path};
	if (!c || !c->count)
		return NULL;
	const struct bk_change *hit = bsearch(&key, c->items, c->count,
					      sizeof(*c->items), by_dir_path);
	if (hit)
		return hit;
	/* a renamed directory above: everything under it is whole */
	char up[4096];
	if (sky_strlcpy(up, path, sizeof(up)) < 0)
		return NULL;
	for (;;) {
		char *slash = strrchr(up, '/');
		if (slash)
			*slash = '\0';
		else if (up[0])
			up[0] = '\0'; /* the directory itself: "" */
		else
			return NULL;
		key.path = up;
		hit = bsearch(&key, c->items, c->count, sizeof(*c->items),
			      by_dir_path);
		if (hit && hit->subtree)
			return hit;
	}
}

void bk_changes_free(struct bk_changes *c)
{
	for (size_t i = 0; i < c->count; i++) {
		free(c->items[i].path);
		free(c->items[i].zones);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

static int parse_line(struct bk_changes *out, char *line, size_t lineno,
		      char *why, size_t why_size)
{
	char *save = NULL;
	char *dir_s = strtok_r(line, " ", &save);
	char *kind = strtok_r(NULL, " ", &save);
	char *arg = NULL;
	int64_t dir;
	if (!dir_s || !kind || sky_parse_i64(dir_s, 0, 15, &dir) < 0)
		return sky_refuse(why, why_size,
				  "change list line %zu: \"<dir 0-15> whole|"
				  "zones ...\" expected",
				  lineno),
		       -EBADMSG;
	if (strcmp(kind, "zones") == 0)
		arg = strtok_r(NULL, " ", &save);
	char *path = save; /* the rest: a path may hold spaces */
	if (!path || !*path || path[0] == '/' ||
	    (strcmp(kind, "whole") && strcmp(kind, "zones") &&
	     strcmp(kind, "tree")) ||
	    (!strcmp(kind, "zones") && !arg))
		return sky_refuse(why, why_size,
				  "change list line %zu: bad item", lineno),
		       -EBADMSG;
	if (!strcmp(kind, "whole"))
		return bk_changes_add(out, (uint8_t)dir, path, true, 0, 0);
	if (!strcmp(kind, "tree"))
		return bk_changes_add_subtree(out, (uint8_t)dir, path);
	char *rsave = NULL;
	for (char *r = strtok_r(arg, ",", &rsave); r;
	     r = strtok_r(NULL, ",", &rsave)) {
		char *plus = strchr(r, '+');
		int64_t first, count;
		if (!plus)
			return sky_refuse(why, why_size,
					  "change list line %zu: zone range "
					  "\"%.40s\" is not first+count",
					  lineno, r),
			       -EBADMSG;
		*plus = 0;
		if (sky_parse_i64(r, 0, CHANGE_ZONES_MAX, &first) < 0 ||
		    sky_parse_i64(plus + 1, 1, CHANGE_ZONES_MAX, &count) < 0)
			return sky_refuse(why, why_size,
					  "change list line %zu: zone range",
					  lineno),
			       -EBADMSG;
		int e = bk_changes_add(out, (uint8_t)dir, path, false,
				       (uint64_t)first, (uint64_t)count);
		if (e < 0)
			return e;
	}
	return 0;
}

int bk_changes_parse(const char *text, size_t len, struct bk_changes *out,
		     char *why, size_t why_size)
{
	memset(out, 0, sizeof(*out));
	if (memchr(text, 0, len))
		return sky_refuse(why, why_size, "change list: NUL byte"),
		       -EBADMSG;
	_cleanup_free_ char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = 0;
	size_t lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (lineno == 1) {
			if (!strcmp(line, "complete"))
				out->complete = true;
			else if (strcmp(line, "incomplete")) {
				bk_changes_free(out);
				return sky_refuse(why, why_size,
						  "change list line 1: "
						  "\"complete\" or "
						  "\"incomplete\" expected"),
				       -EBADMSG;
			}
			continue;
		}
		int r = parse_line(out, line, lineno, why, why_size);
		if (r < 0) {
			bk_changes_free(out);
			return r;
		}
	}
	if (lineno == 0)
		return sky_refuse(why, why_size, "change list: empty"),
		       -EBADMSG;
	bk_changes_finish(out);
	return 0;
}

struct from_record {
	struct bk_changes *out;
	size_t dir_count;
	bool outside; /* an entry names a directory we do not back up */
};

static int record_entry(void *ctx, const struct changerec_entry *e)
{
	struct from_record *f = ctx;
	uint8_t kinds = e->kinds & TRK_KINDS;
	if (e->kinds & TRK_ALONE && !kinds)
		return 0; /* about the peer, not about what changed */
	if (e->dir >= f->dir_count) {
		f->outside = true;
		return 0;
	}
	if (kinds & TRK_TREE)
		return bk_changes_add_subtree(f->out, e->dir, e->path);
	if (kinds & (TRK_ENTRY | TRK_META))
		return bk_changes_add(f->out, e->dir, e->path, true, 0, 0);
	if (kinds & TRK_ZONES)
		return bk_changes_add(f->out, e->dir, e->path, false, e->first,
				      e->count);
	return 0;
}

int bk_changes_from_record(const uint8_t *buf, size_t len, size_t dir_count,
			   struct bk_changes *out, char *why, size_t why_size)
{
	struct changerec_header h;
	struct from_record f = {.out = out, .dir_count = dir_count};
	uint8_t boot[CHANGEREC_BOOT_BYTES];
	memset(out, 0, sizeof(*out));
	why[0] = 0;
	int r = changerec_parse(buf, len, &h, record_entry, &f);
	if (r == -ENOMEM)
		return r;
	changerec_boot_id(boot);
	out->complete = r == 0 && !f.outside && changerec_trusted(&h, boot);
	if (r < 0)
		snprintf(why, why_size, "damaged record: everything is read");
	else if (f.outside)
		snprintf(why, why_size,
			 "the record names a directory past backup.paths: "
			 "everything is read");
	else if (!out->complete)
		snprintf(why, why_size,
			 "the record is incomplete: everything is read");
	bk_changes_finish(out);
	return 0;
}

int bk_changes_load(const char *path, size_t dir_count, struct bk_changes *out,
		    char *why, size_t why_size)
{
	char *text = NULL;
	size_t len = 0;
	why[0] = 0; /* stays empty for a complete list */
	int r = sky_read_file(path, CHANGEREC_FILE_MAX, &text, &len);
	if (r < 0) {
		snprintf(why, why_size, "%s", strerror(-r));
		return r;
	}
	if (len >= 8 && !memcmp(text, "SKYTRK1\n", 8))
		r = bk_changes_from_record((const uint8_t *)text, len,
					   dir_count, out, why, why_size);
	else
		r = bk_changes_parse(text, len, out, why, why_size);
	free(text);
	return r;
}
