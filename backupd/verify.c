/*
 * verify.c - read a repository back and check everything (verify.h).
 */
#include "verify.h"
#include "bkbackup.h"
#include "idset.h"
#include "log.h"
#include "tree.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PACKHDR_AD "skyha-backup pack header v1"

int bk_pack_parse(struct bk_repo *r, const uint8_t *buf, size_t len,
		  struct bk_pack_entry **out, size_t *count)
{
	if (len < 4)
		return -EBADMSG;
	uint64_t hlen = (uint64_t)buf[len - 4] | (uint64_t)buf[len - 3] << 8 |
			(uint64_t)buf[len - 2] << 16 |
			(uint64_t)buf[len - 1] << 24;
	if (hlen > len - 4)
		return -EBADMSG;
	uint64_t hoff = len - 4 - hlen;
	uint8_t *plain = NULL;
	size_t plen = 0;
	int ret = bk_open(&r->keys, PACKHDR_AD, strlen(PACKHDR_AD), buf + hoff,
			  hlen, BK_OBJECT_MAX, &plain, &plen);
	if (ret < 0)
		return ret;
	ret = bk_packhdr_parse(plain, plen, hoff, out, count);
	free(plain);
	return ret;
}

struct sizes {
	char **names;
	uint64_t *sizes;
	size_t count, cap;
	int err;
};

static int collect(void *ctx, const char *name, uint64_t size)
{
	struct sizes *s = ctx;
	if (s->count == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *n = realloc(s->names, cap * sizeof(*s->names));
		void *z = n ? realloc(s->sizes, cap * sizeof(*s->sizes)) : NULL;
		if (n)
			s->names = n;
		if (!z) {
			s->err = -ENOMEM;
			return 1;
		}
		s->sizes = z;
		s->cap = cap;
	}
	if (!(s->names[s->count] = strdup(name))) {
		s->err = -ENOMEM;
		return 1;
	}
	s->sizes[s->count++] = size;
	return 0;
}

static void bad(struct bk_verify_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad(struct bk_verify_result *res, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_error("verify: BAD %s", line);
	res->bad_objects++;
}

static bool sampled(unsigned pct)
{
	if (pct >= 100)
		return true;
	return randombytes_uniform(100) < pct;
}

static int check_pack(struct bk_repo *r, const char *name, uint64_t size,
		      struct bk_verify_result *res)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char hex[BK_HEX_ID];
	int ret = r->store->ops->get(r->store, name, BK_PACK_MAX, &buf, &len);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		bad(res, "%s: unreadable: %s", name, r->store->reason);
		return 0;
	}
	res->packs_checked++;
	res->bytes_read += len;
	(void)size;
	bk_content_id(buf, len, hex);
	const char *base = strrchr(name, '/');
	if (!base || strcmp(base + 1, hex)) {
		bad(res, "%s: content does not match its name (damaged)", name);
		/* go on: say which blobs are hit */
	}
	struct bk_pack_entry *e = NULL;
	size_t n = 0;
	ret = bk_pack_parse(r, buf, len, &e, &n);
	if (ret < 0) {
		bad(res, "%s: header fails authentication or is malformed",
		    name);
		free(buf);
		return ret == -ENOMEM ? ret : 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t *plain = NULL;
		size_t plen = 0;
		char id[BK_HEX_ID];
		res->blobs_checked++;
		if (bk_blob_open(&r->keys, e[i].kind, e[i].id, buf + e[i].off,
				 e[i].len, &plain, &plen) < 0) {
			bk_hex(e[i].id, BK_ID_LEN, id);
			bad(res, "%s: blob %s fails authentication", name, id);
		}
		free(plain);
	}
	free(e);
	free(buf);
	return 0;
}

static int walk_tree(struct bk_repo *r, const uint8_t id[BK_ID_LEN],
		     const char *where, struct bk_idset *seen,
		     struct bk_verify_result *res)
{
	int added = bk_idset_add(seen, id);
	if (added <= 0)
		return added;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct bk_tree t;
	char why[BK_REASON_MAX], hex[BK_HEX_ID];
	bk_hex(id, BK_ID_LEN, hex);
	int ret = bk_repo_read_blob(r, BK_BLOB_TREE, id, &buf, &len);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		bad(res, "%s: tree %s: %s", where, hex, r->why);
		return 0;
	}
	res->trees++;
	ret = bk_tree_parse(buf, len, &t, why, sizeof(why));
	free(buf);
	if (ret < 0) {
		bad(res, "%s: tree %s: %s", where, hex, why);
		return 0;
	}
	for (size_t i = 0; i < t.count && ret == 0; i++) {
		const struct bk_entry *e = &t.entries[i];
		char sub[512];
		if ((ret = bk_repo_lock_refresh(r)) < 0)
			break;
		snprintf(sub, sizeof(sub), "%s/%s", where, e->name);
		if (e->type == BK_DIR)
			ret = walk_tree(r, e->subtree, sub, seen, res);
		for (size_t c = 0; c < e->chunk_count; c++) {
			const struct bk_ientry *ie =
				bk_repo_lookup(r, e->chunks[c].id);
			if (!ie || ie->kind != BK_BLOB_DATA) {
				bk_hex(e->chunks[c].id, BK_ID_LEN, hex);
				bad(res, "%s: chunk %s is in no index", sub,
				    hex);
			}
		}
	}
	bk_tree_free(&t);
	return ret;
}

int bk_verify(struct bk_repo *r, unsigned sample_pct,
	      struct bk_verify_result *res)
{
	memset(res, 0, sizeof(*res));
	/* indexes: each must open (bk_repo_load_index stops at the first
	 * bad one, so read them one by one here) */
	char **names = NULL;
	size_t n = 0;
	int ret = bk_repo_list(r, "index/", &names, &n);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		uint8_t *plain = NULL;
		size_t plen = 0;
		struct bk_index_pack *p = NULL;
		size_t np = 0;
		if (bk_repo_get_sealed(r, names[i], "index", &plain, &plen) <
			    0 ||
		    bk_index_parse(plain, plen, &p, &np) < 0)
			bad(res, "%s: %s", names[i], r->why);
		free(plain);
		bk_index_free(p, np);
	}
	bk_names_free(names, n);
	if (res->bad_objects == 0 && (ret = bk_repo_load_index(r, false)) < 0)
		bad(res, "index: %s", r->why);

	struct sizes packs = {0};
	ret = r->store->ops->list(r->store, "data/", collect, &packs);
	if (ret == 0)
		ret = packs.err;
	for (size_t i = 0; i < packs.count && ret == 0; i++) {
		res->packs++;
		if ((ret = bk_repo_lock_refresh(r)) < 0)
			break;
		if (sampled(sample_pct))
			ret = check_pack(r, packs.names[i], packs.sizes[i],
					 res);
	}
	/* every pack an index names must exist */
	struct bk_idset listed = {0};
	for (size_t i = 0; i < packs.count && ret == 0; i++) {
		const char *base = strrchr(packs.names[i], '/');
		uint8_t id[BK_ID_LEN];
		if (base && bk_unhex(base + 1, id, sizeof(id)) == 0)
			ret = bk_idset_add(&listed, id) < 0 ? -ENOMEM : 0;
	}
	for (size_t p = 0; p < r->pack_count && ret == 0; p++) {
		char hex[BK_HEX_ID];
		if (bk_idset_has(&listed, r->packs[p]))
			continue;
		bk_hex(r->packs[p], BK_ID_LEN, hex);
		bad(res, "data/%.2s/%s: named by an index, missing", hex, hex);
	}
	bk_idset_free(&listed);
	bk_names_free(packs.names, packs.count);
	free(packs.sizes);
	if (ret < 0)
		return ret;

	ret = bk_repo_list(r, "snapshots/", &names, &n);
	if (ret < 0)
		return ret;
	struct bk_idset seen = {0};
	for (size_t i = 0; i < n && ret == 0; i++) {
		uint8_t *plain = NULL;
		size_t plen = 0;
		struct bk_snapshot s;
		char why[BK_REASON_MAX];
		res->snapshots++;
		if (bk_repo_get_sealed(r, names[i], "snapshot", &plain, &plen) <
		    0) {
			bad(res, "%s: %s", names[i], r->why);
			continue;
		}
		if (bk_snapshot_parse(plain, plen, &s, why, sizeof(why)) < 0)
			bad(res, "%s: %s", names[i], why);
		else
			ret = walk_tree(r, s.tree, names[i], &seen, res);
		free(plain);
	}
	bk_idset_free(&seen);
	bk_names_free(names, n);
	if (ret < 0)
		return ret;
	return res->bad_objects ? -EBADMSG : 0;
}
