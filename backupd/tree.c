/*
 * tree.c - encoding and parsing tree blobs (tree.h). Layout, version 1,
 * little-endian:
 *   "SKTR" | version u8 (1) | count u32 | entries, each:
 *   name len u16 | name | type u8 | mode u32 | uid u32 | gid u32 |
 *   atime ns i64 | mtime ns i64 | size u64 | rdev u64 |
 *   target len u16 | target | xattr count u16 | xattrs (name len u8 |
 *   name | value len u32 | value) | then by type: dir: subtree id (32);
 *   file: chunk count u32 | chunks (offset u64 | length u32 | id 32).
 */
#include "tree.h"
#include "bytes.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TREE_MAGIC "SKTR"

int bk_tree_add(struct bk_tree *t, struct bk_entry *e)
{
	if (t->count == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct bk_entry *n = realloc(t->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->entries = n;
		t->cap = cap;
	}
	t->entries[t->count++] = *e;
	memset(e, 0, sizeof(*e));
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct bk_entry *)a)->name,
		      ((const struct bk_entry *)b)->name);
}

void bk_tree_sort(struct bk_tree *t)
{
	if (t->count > 1)
		qsort(t->entries, t->count, sizeof(*t->entries), by_name);
}

const struct bk_entry *bk_tree_find(const struct bk_tree *t, const char *name)
{
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->entries[mid].name, name);
		if (c == 0)
			return &t->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void bk_entry_free(struct bk_entry *e)
{
	free(e->name);
	free(e->target);
	for (size_t i = 0; i < e->xattr_count; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	free(e->chunks);
	memset(e, 0, sizeof(*e));
}

void bk_tree_free(struct bk_tree *t)
{
	for (size_t i = 0; i < t->count; i++)
		bk_entry_free(&t->entries[i]);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

int bk_tree_encode(const struct bk_tree *t, uint8_t **out, size_t *len)
{
	struct bk_out o = {0};
	bk_out_bytes(&o, TREE_MAGIC, 4);
	bk_out_u8(&o, 1);
	bk_out_u32(&o, t->count);
	for (size_t i = 0; i < t->count; i++) {
		const struct bk_entry *e = &t->entries[i];
		size_t nl = strlen(e->name);
		size_t tl = e->target ? strlen(e->target) : 0;
		if (nl == 0 || nl > BK_TREE_NAME_MAX ||
		    tl > BK_TREE_TARGET_MAX ||
		    e->xattr_count > BK_TREE_XATTRS_MAX) {
			bk_out_free(&o);
			return -EINVAL;
		}
		bk_out_u16(&o, nl);
		bk_out_bytes(&o, e->name, nl);
		bk_out_u8(&o, e->type);
		bk_out_u32(&o, e->mode);
		bk_out_u32(&o, e->uid);
		bk_out_u32(&o, e->gid);
		bk_out_u64(&o, (uint64_t)e->atime_ns, 8);
		bk_out_u64(&o, (uint64_t)e->mtime_ns, 8);
		bk_out_u64(&o, e->size, 8);
		bk_out_u64(&o, e->rdev, 8);
		bk_out_u16(&o, tl);
		bk_out_bytes(&o, e->target, tl);
		bk_out_u16(&o, e->xattr_count);
		for (size_t x = 0; x < e->xattr_count; x++) {
			size_t xl = strlen(e->xattrs[x].name);
			if (xl == 0 || xl > 255 ||
			    e->xattrs[x].len > BK_TREE_XATTR_VALMAX) {
				bk_out_free(&o);
				return -EINVAL;
			}
			bk_out_u8(&o, xl);
			bk_out_bytes(&o, e->xattrs[x].name, xl);
			bk_out_u32(&o, e->xattrs[x].len);
			bk_out_bytes(&o, e->xattrs[x].value, e->xattrs[x].len);
		}
		if (e->type == BK_DIR)
			bk_out_bytes(&o, e->subtree, BK_ID_LEN);
		if (e->type == BK_FILE) {
			bk_out_u32(&o, e->chunk_count);
			for (size_t c = 0; c < e->chunk_count; c++) {
				bk_out_u64(&o, e->chunks[c].off, 8);
				bk_out_u32(&o, e->chunks[c].len);
				bk_out_bytes(&o, e->chunks[c].id, BK_ID_LEN);
			}
		}
	}
	if (o.err)
		return o.err;
	*out = o.buf;
	*len = o.len;
	return 0;
}

/* A string of n bytes from the input: no NUL inside; malloc'ed. */
static int get_str(struct bk_in *in, size_t n, char **out)
{
	const uint8_t *p;
	if (bk_in_ref(in, &p, n) < 0 || memchr(p, 0, n))
		return -EBADMSG;
	char *s = malloc(n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, n);
	s[n] = 0;
	*out = s;
	return 0;
}

static bool name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int parse_entry(struct bk_in *in, struct bk_entry *e, char *why,
		       size_t why_size)
{
	uint64_t v, mode, uid, gid, at, mt, nl, tl, xc;
	if (bk_in_u64w(in, &nl, 2) < 0 || nl == 0 || nl > BK_TREE_NAME_MAX)
		return sky_refuse(why, why_size, "name length"), -EBADMSG;
	int r = get_str(in, nl, &e->name);
	if (r < 0)
		return sky_refuse(why, why_size, "name"), r;
	if (!name_ok(e->name))
		return sky_refuse(why, why_size, "name \"%.64s\"", e->name),
		       -EBADMSG;
	if (bk_in_u64w(in, &v, 1) < 0 || v > BK_BLOCKDEV)
		return sky_refuse(why, why_size, "%s: type", e->name), -EBADMSG;
	e->type = (uint8_t)v;
	if (bk_in_u64w(in, &mode, 4) < 0 || bk_in_u64w(in, &uid, 4) < 0 ||
	    bk_in_u64w(in, &gid, 4) < 0 || bk_in_u64w(in, &at, 8) < 0 ||
	    bk_in_u64w(in, &mt, 8) < 0 || bk_in_u64w(in, &e->size, 8) < 0 ||
	    bk_in_u64w(in, &e->rdev, 8) < 0 || bk_in_u64w(in, &tl, 2) < 0)
		return sky_refuse(why, why_size, "%s: short", e->name),
		       -EBADMSG;
	if (mode > 07777)
		return sky_refuse(why, why_size, "%s: mode", e->name), -EBADMSG;
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->atime_ns = (int64_t)at;
	e->mtime_ns = (int64_t)mt;
	if (tl > BK_TREE_TARGET_MAX)
		return sky_refuse(why, why_size, "%s: target", e->name),
		       -EBADMSG;
	bool needs_target = e->type == BK_SYMLINK || e->type == BK_HARDLINK;
	if (needs_target != (tl > 0))
		return sky_refuse(why, why_size, "%s: target", e->name),
		       -EBADMSG;
	if (tl && (r = get_str(in, tl, &e->target)) < 0)
		return sky_refuse(why, why_size, "%s: target", e->name), r;
	if (bk_in_u64w(in, &xc, 2) < 0 || xc > BK_TREE_XATTRS_MAX)
		return sky_refuse(why, why_size, "%s: xattrs", e->name),
		       -EBADMSG;
	if (xc) {
		e->xattrs = calloc(xc, sizeof(*e->xattrs));
		if (!e->xattrs)
			return -ENOMEM;
	}
	for (size_t x = 0; x < xc; x++) {
		struct bk_xattr *a = &e->xattrs[x];
		uint64_t xl, vl;
		const uint8_t *p;
		e->xattr_count = x + 1;
		if (bk_in_u64w(in, &xl, 1) < 0 || xl == 0 ||
		    get_str(in, xl, &a->name) < 0 ||
		    bk_in_u64w(in, &vl, 4) < 0 || vl > BK_TREE_XATTR_VALMAX ||
		    bk_in_ref(in, &p, vl) < 0)
			return sky_refuse(why, why_size, "%s: xattr", e->name),
			       -EBADMSG;
		a->value = malloc(vl ? vl : 1);
		if (!a->value)
			return -ENOMEM;
		memcpy(a->value, p, vl);
		a->len = (uint32_t)vl;
	}
	if (e->type == BK_DIR && bk_in_bytes(in, e->subtree, BK_ID_LEN) < 0)
		return sky_refuse(why, why_size, "%s: subtree", e->name),
		       -EBADMSG;
	if (e->type != BK_FILE)
		return 0;
	uint64_t cc;
	/* Each chunk takes 44 bytes: a count the input cannot hold is bad. */
	if (bk_in_u64w(in, &cc, 4) < 0 || cc > BK_TREE_CHUNKS_MAX ||
	    cc > in->left / 44)
		return sky_refuse(why, why_size, "%s: chunk count", e->name),
		       -EBADMSG;
	if (cc) {
		e->chunks = calloc(cc, sizeof(*e->chunks));
		if (!e->chunks)
			return -ENOMEM;
	}
	uint64_t end = 0;
	for (size_t c = 0; c < cc; c++) {
		struct bk_chunk_ref *k = &e->chunks[c];
		uint64_t len;
		if (bk_in_u64w(in, &k->off, 8) < 0 ||
		    bk_in_u64w(in, &len, 4) < 0 ||
		    bk_in_bytes(in, k->id, BK_ID_LEN) < 0)
			return sky_refuse(why, why_size, "%s: chunk", e->name),
			       -EBADMSG;
		k->len = (uint32_t)len;
		if (len == 0 || k->off < end || k->off > e->size ||
		    len > e->size - k->off)
			return sky_refuse(why, why_size,
					  "%s: chunk %zu out of order or "
					  "past the end",
					  e->name, c),
			       -EBADMSG;
		end = k->off + len;
	}
	e->chunk_count = cc;
	return 0;
}

int bk_tree_parse(const uint8_t *buf, size_t len, struct bk_tree *out,
		  char *why, size_t why_size)
{
	struct bk_in in = {buf, len};
	uint8_t magic[4];
	uint64_t ver, count;
	memset(out, 0, sizeof(*out));
	if (bk_in_bytes(&in, magic, 4) < 0 || memcmp(magic, TREE_MAGIC, 4) ||
	    bk_in_u64w(&in, &ver, 1) < 0 || ver != 1)
		return sky_refuse(why, why_size, "tree: not a version 1 tree"),
		       -EBADMSG;
	/* An entry takes at least 52 bytes (a fifo with a 1-byte name). */
	if (bk_in_u64w(&in, &count, 4) < 0 || count > BK_TREE_ENTRIES_MAX ||
	    count > in.left / 52)
		return sky_refuse(why, why_size, "tree: entry count"), -EBADMSG;
	for (size_t i = 0; i < count; i++) {
		struct bk_entry e = {0};
		int r = parse_entry(&in, &e, why, why_size);
		if (r == 0 && out->count &&
		    strcmp(out->entries[out->count - 1].name, e.name) >= 0)
			r = sky_refuse(why, why_size,
				       "tree: \"%.64s\" out of order", e.name);
		if (r == 0)
			r = bk_tree_add(out, &e);
		if (r < 0) {
			bk_entry_free(&e);
			bk_tree_free(out);
			return r == -ENOMEM ? r : -EBADMSG;
		}
	}
	if (in.left) {
		bk_tree_free(out);
		return sky_refuse(why, why_size, "tree: trailing bytes"),
		       -EBADMSG;
	}
	return 0;
}
