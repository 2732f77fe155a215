/*
 * index.c - the blob index of a repository and the packs it points into
 * (repo.h): which pack holds which blob, loading every index object
 * (and indexing packs no index names), filling and putting packs,
 * writing this run's index, reading blobs back. Config, keys, names and
 * sealed objects are in repo.c; locks in lock.c.
 */
#include "bytes.h"
#include "repo.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PACKHDR_AD   "skyha-backup pack header v1"
#define PACK_TRAILER 4

static size_t slot_of(const struct bk_repo *r, const uint8_t id[BK_ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (r->slot_count - 1));
}

const struct bk_ientry *bk_repo_lookup(const struct bk_repo *r,
				       const uint8_t id[BK_ID_LEN])
{
	if (!r->slot_count)
		return NULL;
	for (size_t i = slot_of(r, id);; i = (i + 1) & (r->slot_count - 1)) {
		const struct bk_ientry *e = &r->slots[i];
		if (!e->used)
			return NULL;
		if (memcmp(e->id, id, BK_ID_LEN) == 0)
			return e;
	}
}

static int index_grow(struct bk_repo *r)
{
	size_t n = r->slot_count ? 2 * r->slot_count : 4096;
	struct bk_ientry *old = r->slots;
	size_t old_count = r->slot_count;
	r->slots = calloc(n, sizeof(*r->slots));
	if (!r->slots) {
		r->slots = old;
		return -ENOMEM;
	}
	r->slot_count = n;
	for (size_t i = 0; i < old_count; i++) {
		if (!old[i].used)
			continue;
		size_t s = slot_of(r, old[i].id);
		while (r->slots[s].used)
			s = (s + 1) & (n - 1);
		r->slots[s] = old[i];
	}
	free(old);
	return 0;
}

/* Add (or, for the open pack's entries, update) an index entry. */
static int index_put(struct bk_repo *r, const struct bk_pack_entry *pe,
		     uint32_t pack)
{
	if ((r->used + 1) * 4 > r->slot_count * 3 && index_grow(r) < 0)
		return -ENOMEM;
	size_t s = slot_of(r, pe->id);
	while (r->slots[s].used) {
		if (memcmp(r->slots[s].id, pe->id, BK_ID_LEN) == 0) {
			if (r->slots[s].pack == UINT32_MAX) {
				r->slots[s].pack = pack;
				r->slots[s].off = pe->off;
			}
			return 0;
		}
		s = (s + 1) & (r->slot_count - 1);
	}
	struct bk_ientry *e = &r->slots[s];
	memcpy(e->id, pe->id, BK_ID_LEN);
	e->pack = pack;
	e->off = pe->off;
	e->len = pe->len;
	e->kind = pe->kind;
	e->used = true;
	r->used++;
	return 0;
}

static size_t pack_slot(const struct bk_repo *r, const uint8_t id[BK_ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (r->pack_slot_count - 1));
}

long bk_repo_pack_find(const struct bk_repo *r, const uint8_t id[BK_ID_LEN])
{
	if (!r->pack_slot_count)
		return -1;
	for (size_t s = pack_slot(r, id); r->pack_slots[s] != UINT32_MAX;
	     s = (s + 1) & (r->pack_slot_count - 1))
		if (!memcmp(r->packs[r->pack_slots[s]], id, BK_ID_LEN))
			return (long)r->pack_slots[s];
	return -1;
}

/* Rebuild the pack hash at twice the packs' capacity. */
static int pack_rehash(struct bk_repo *r)
{
	size_t n = 64;
	while (n < 2 * r->pack_cap)
		n *= 2;
	uint32_t *slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	free(r->pack_slots);
	r->pack_slots = slots;
	r->pack_slot_count = n;
	for (size_t i = 0; i < r->pack_count; i++) {
		size_t s = pack_slot(r, r->packs[i]);
		while (slots[s] != UINT32_MAX)
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)i;
	}
	return 0;
}

static int pack_add(struct bk_repo *r, const uint8_t id[BK_ID_LEN], bool fresh,
		    uint32_t *out)
{
	long found = bk_repo_pack_find(r, id);
	if (found >= 0) {
		r->pack_fresh[found] |= fresh;
		*out = (uint32_t)found;
		return 0;
	}
	if (r->pack_count == r->pack_cap) {
		size_t cap = r->pack_cap ? 2 * r->pack_cap : 64;
		void *p = realloc(r->packs, cap * BK_ID_LEN);
		if (!p)
			return -ENOMEM;
		r->packs = p;
		bool *f = realloc(r->pack_fresh, cap * sizeof(bool));
		if (!f)
			return -ENOMEM;
		r->pack_fresh = f;
		r->pack_cap = cap;
	}
	memcpy(r->packs[r->pack_count], id, BK_ID_LEN);
	r->pack_fresh[r->pack_count] = fresh;
	*out = (uint32_t)r->pack_count++;
	if (2 * r->pack_count > r->pack_slot_count)
		return pack_rehash(r);
	size_t s = pack_slot(r, id);
	while (r->pack_slots[s] != UINT32_MAX)
		s = (s + 1) & (r->pack_slot_count - 1);
	r->pack_slots[s] = *out;
	return 0;
}

static int pack_name(const uint8_t id[BK_ID_LEN], char *name, size_t size)
{
	char hex[BK_HEX_ID];
	bk_hex(id, BK_ID_LEN, hex);
	snprintf(name, size, "data/%.2s/%s", hex, hex);
	return 0;
}

/* Read a pack's header (the last bytes of the object). */
static int read_pack_header(struct bk_repo *r, const char *name, uint64_t size,
			    struct bk_pack_entry **out, size_t *count)
{
	uint8_t trailer[PACK_TRAILER];
	if (size < PACK_TRAILER || size > BK_PACK_MAX)
		return -EBADMSG;
	int ret = r->store->ops->get_range(r->store, name, size - PACK_TRAILER,
					   PACK_TRAILER, trailer);
	if (ret < 0)
		return ret;
	uint64_t hlen = (uint64_t)trailer[0] | (uint64_t)trailer[1] << 8 |
			(uint64_t)trailer[2] << 16 | (uint64_t)trailer[3] << 24;
	if (hlen > size - PACK_TRAILER)
		return -EBADMSG;
	_cleanup_free_ uint8_t *sealed = malloc(hlen ? hlen : 1);
	if (!sealed)
		return -ENOMEM;
	uint64_t hoff = size - PACK_TRAILER - hlen;
	ret = r->store->ops->get_range(r->store, name, hoff, hlen, sealed);
	if (ret < 0)
		return ret;
	uint8_t *plain = NULL;
	size_t plen = 0;
	ret = bk_open(&r->keys, PACKHDR_AD, strlen(PACKHDR_AD), sealed, hlen,
		      BK_OBJECT_MAX, &plain, &plen);
	if (ret < 0)
		return ret;
	ret = bk_packhdr_parse(plain, plen, hoff, out, count);
	free(plain);
	return ret;
}

struct pack_sizes {
	struct {
		char **names;
		size_t count;
		int err;
	} names;
	uint64_t *sizes;
	size_t cap;
};

static int collect_pack(void *ctx, const char *name, uint64_t size)
{
	struct pack_sizes *p = ctx;
	if (p->names.count == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		uint64_t *s = realloc(p->sizes, cap * sizeof(*s));
		char **n = s ? realloc(p->names.names, cap * sizeof(*n)) : NULL;
		if (s)
			p->sizes = s;
		if (!n) {
			p->names.err = -ENOMEM;
			return 1;
		}
		p->names.names = n;
		p->cap = cap;
	}
	p->names.names[p->names.count] = strdup(name);
	if (!p->names.names[p->names.count]) {
		p->names.err = -ENOMEM;
		return 1;
	}
	p->sizes[p->names.count++] = size;
	return 0;
}

int bk_repo_load_index(struct bk_repo *r, bool recover)
{
	char **names = NULL;
	size_t count = 0;
	int ret = bk_repo_list(r, "index/", &names, &count);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < count && ret == 0; i++) {
		uint8_t *plain = NULL;
		size_t plen = 0;
		ret = bk_repo_get_sealed(r, names[i], "index", &plain, &plen);
		if (ret < 0)
			break;
		struct bk_index_pack *packs = NULL;
		size_t np = 0;
		ret = bk_index_parse(plain, plen, &packs, &np);
		free(plain);
		if (ret < 0) {
			snprintf(r->why, sizeof(r->why), "%s: malformed",
				 names[i]);
			break;
		}
		for (size_t p = 0; p < np && ret == 0; p++) {
			uint32_t pi;
			ret = pack_add(r, packs[p].pack, false, &pi);
			for (size_t e = 0; e < packs[p].count && ret == 0; e++)
				ret = index_put(r, &packs[p].entries[e], pi);
		}
		bk_index_free(packs, np);
	}
	bk_names_free(names, count);
	if (ret < 0 || !recover)
		return ret;

	/* Packs no index names: an interrupted run's, or another writer's
	 * in flight. Index them in this run's index: their blobs are
	 * reused instead of uploaded again. */
	struct pack_sizes ps = {0};
	ret = r->store->ops->list(r->store, "data/", collect_pack, &ps);
	if (ret == 0)
		ret = ps.names.err;
	for (size_t i = 0; i < ps.names.count && ret == 0; i++) {
		const char *base = strrchr(ps.names.names[i], '/');
		uint8_t id[BK_ID_LEN];
		if (!base || bk_unhex(base + 1, id, sizeof(id)) < 0)
			continue;
		if (bk_repo_pack_find(r, id) >= 0)
			continue;
		struct bk_pack_entry *pe = NULL;
		size_t n = 0;
		int h = read_pack_header(r, ps.names.names[i], ps.sizes[i], &pe,
					 &n);
		if (h < 0) /* damaged: left to verify and prune */
			continue;
		uint32_t pi;
		ret = pack_add(r, id, true, &pi);
		for (size_t e = 0; e < n && ret == 0; e++)
			ret = index_put(r, &pe[e], pi);
		free(pe);
		r->fresh_blobs += n;
		r->stats.packs_recovered++;
	}
	bk_names_free(ps.names.names, ps.names.count);
	free(ps.sizes);
	return ret;
}

/* --- writing -------------------------------------------------------------- */

static int write_index(struct bk_repo *r);

static int flush_pack(struct bk_repo *r)
{
	if (!r->open_pack || r->open_count == 0)
		return 0;
	struct bk_out *o = r->open_pack;
	uint8_t *hdr = NULL, *sealed = NULL;
	size_t hlen = 0, slen = 0;
	int ret =
		bk_packhdr_encode(r->open_entries, r->open_count, &hdr, &hlen);
	if (ret < 0)
		return ret;
	ret = bk_seal(&r->keys, PACKHDR_AD, strlen(PACKHDR_AD), hdr, hlen, true,
		      &sealed, &slen);
	free(hdr);
	if (ret < 0)
		return ret;
	bk_out_bytes(o, sealed, slen);
	bk_out_u32(o, slen);
	free(sealed);
	if (o->err)
		return o->err;
	char hex[BK_HEX_ID], name[BK_NAME_MAX];
	uint8_t id[BK_ID_LEN];
	bk_content_id(o->buf, o->len, hex);
	bk_unhex(hex, id, sizeof(id));
	pack_name(id, name, sizeof(name));
	ret = r->store->ops->put(r->store, name, o->buf, o->len);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "writing %s: %s", name,
			 r->store->reason);
		return ret;
	}
	r->stats.bytes_uploaded += o->len;
	r->stats.packs_written++;
	uint32_t pi;
	ret = pack_add(r, id, true, &pi);
	for (size_t i = 0; i < r->open_count && ret == 0; i++)
		ret = index_put(r, &r->open_entries[i], pi);
	r->fresh_blobs += r->open_count;
	bk_out_free(o);
	r->open_count = 0;
	if (ret == 0 && r->fresh_blobs >= BK_INDEX_BLOBS)
		ret = write_index(r);
	return ret;
}

int bk_repo_put_blob(struct bk_repo *r, enum bk_blob_kind kind, const void *buf,
		     size_t len, uint8_t id[BK_ID_LEN])
{
	bk_blob_id(&r->keys, buf, len, id);
	const struct bk_ientry *have = bk_repo_lookup(r, id);
	if (have && have->kind == kind) {
		r->stats.blobs_reused++;
		return 0;
	}
	if (!r->open_pack && !(r->open_pack = calloc(1, sizeof(*r->open_pack))))
		return -ENOMEM;
	if (r->open_count == r->open_cap) {
		size_t cap = r->open_cap ? 2 * r->open_cap : 256;
		void *n = realloc(r->open_entries,
				  cap * sizeof(*r->open_entries));
		if (!n)
			return -ENOMEM;
		r->open_entries = n;
		r->open_cap = cap;
	}
	uint8_t ad[BK_BLOB_AD_LEN], *sealed = NULL;
	size_t slen = 0;
	bk_blob_ad(kind, id, ad);
	int ret = bk_seal(&r->keys, ad, sizeof(ad), buf, len, true, &sealed,
			  &slen);
	if (ret < 0)
		return ret;
	struct bk_pack_entry *pe = &r->open_entries[r->open_count];
	pe->kind = (uint8_t)kind;
	memcpy(pe->id, id, BK_ID_LEN);
	pe->off = r->open_pack->len;
	pe->len = (uint32_t)slen;
	bk_out_bytes(r->open_pack, sealed, slen);
	free(sealed);
	if (r->open_pack->err)
		return r->open_pack->err;
	r->open_count++;
	ret = index_put(r, pe, UINT32_MAX);
	if (ret < 0)
		return ret;
	r->stats.blobs_new++;
	r->stats.bytes_new += len;
	if (r->open_pack->len >= BK_PACK_TARGET) {
		ret = flush_pack(r);
		if (ret < 0)
			return ret;
	}
	return 1;
}

int bk_repo_commit(struct bk_repo *r)
{
	int ret = flush_pack(r);
	return ret < 0 ? ret : write_index(r);
}

/* An index object of the fresh packs (written or recovered by this run). */
static int write_index(struct bk_repo *r)
{
	int ret;
	size_t nfresh = 0;
	for (size_t i = 0; i < r->pack_count; i++)
		nfresh += r->pack_fresh[i];
	if (!nfresh)
		return 0;
	struct bk_index_pack *ip = calloc(nfresh, sizeof(*ip));
	uint32_t *map = calloc(r->pack_count, sizeof(*map));
	if (!ip || !map) {
		free(ip);
		free(map);
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < r->pack_count; i++) {
		map[i] = UINT32_MAX;
		if (r->pack_fresh[i]) {
			memcpy(ip[n].pack, r->packs[i], BK_ID_LEN);
			map[i] = (uint32_t)n++;
		}
	}
	ret = 0;
	for (size_t s = 0; s < r->slot_count && ret == 0; s++) {
		const struct bk_ientry *e = &r->slots[s];
		if (!e->used || e->pack == UINT32_MAX ||
		    map[e->pack] == UINT32_MAX)
			continue;
		struct bk_index_pack *p = &ip[map[e->pack]];
		void *grown = realloc(p->entries,
				      (p->count + 1) * sizeof(*p->entries));
		if (!grown) {
			ret = -ENOMEM;
			break;
		}
		p->entries = grown;
		struct bk_pack_entry *pe = &p->entries[p->count++];
		pe->kind = e->kind;
		memcpy(pe->id, e->id, BK_ID_LEN);
		pe->off = e->off;
		pe->len = e->len;
	}
	/* Entries in offset order, as a pack header lists them. */
	for (size_t i = 0; i < n && ret == 0; i++)
		for (size_t a = 1; a < ip[i].count; a++)
			for (size_t b = a;
			     b > 0 &&
			     ip[i].entries[b - 1].off > ip[i].entries[b].off;
			     b--) {
				struct bk_pack_entry t = ip[i].entries[b];
				ip[i].entries[b] = ip[i].entries[b - 1];
				ip[i].entries[b - 1] = t;
			}
	uint8_t *plain = NULL;
	size_t plen = 0;
	if (ret == 0)
		ret = bk_index_encode(ip, n, &plain, &plen);
	bk_index_free(ip, n);
	free(map);
	if (ret == 0)
		ret = bk_repo_put_sealed(r, "index", "index", plain, plen,
					 r->last_index, sizeof(r->last_index));
	free(plain);
	if (ret == 0) {
		memset(r->pack_fresh, 0, r->pack_count * sizeof(bool));
		r->fresh_blobs = 0;
	}
	return ret;
}

int bk_repo_adopt_pack(struct bk_repo *r, const uint8_t pack[BK_ID_LEN],
		       const struct bk_pack_entry *e, size_t count)
{
	uint32_t pi;
	int ret = pack_add(r, pack, true, &pi);
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = index_put(r, &e[i], pi);
	r->fresh_blobs += count;
	return ret;
}

/* --- reading -------------------------------------------------------------- */

int bk_repo_read_blob(struct bk_repo *r, enum bk_blob_kind kind,
		      const uint8_t id[BK_ID_LEN], uint8_t **out, size_t *len)
{
	char hex[BK_HEX_ID], name[BK_NAME_MAX];
	bk_hex(id, BK_ID_LEN, hex);
	const struct bk_ientry *e = bk_repo_lookup(r, id);
	if (!e || e->pack == UINT32_MAX) {
		snprintf(r->why, sizeof(r->why), "blob %.16s: in no index",
			 hex);
		return -ENOENT;
	}
	if (e->kind != kind) {
		snprintf(r->why, sizeof(r->why), "blob %.16s: of another kind",
			 hex);
		return -EBADMSG;
	}
	pack_name(r->packs[e->pack], name, sizeof(name));
	_cleanup_free_ uint8_t *sealed = malloc(e->len);
	if (!sealed)
		return -ENOMEM;
	int ret = r->store->ops->get_range(r->store, name, e->off, e->len,
					   sealed);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "blob %.16s in %s: %s", hex,
			 name, r->store->reason);
		return ret;
	}
	ret = bk_blob_open(&r->keys, kind, id, sealed, e->len, out, len);
	if (ret < 0)
		snprintf(r->why, sizeof(r->why),
			 "blob %.16s in %s: fails authentication", hex, name);
	return ret;
}

int bk_repo_read_data_run(struct bk_repo *r, const struct bk_chunk_ref *c,
			  size_t count,
			  int (*fn)(void *ctx, const struct bk_chunk_ref *c,
				    const uint8_t *buf, size_t len),
			  void *ctx, size_t *done)
{
	char hex[BK_HEX_ID], name[BK_NAME_MAX];
	*done = 0;
	if (!count)
		return 0;
	const struct bk_ientry *first = bk_repo_lookup(r, c[0].id);
	if (!first || first->pack == UINT32_MAX ||
	    first->kind != BK_BLOB_DATA) {
		bk_hex(c[0].id, BK_ID_LEN, hex);
		snprintf(r->why, sizeof(r->why),
			 "blob %.16s: in no index (as data)", hex);
		return first ? -EBADMSG : -ENOENT;
	}
	size_t n = 1;
	uint64_t span = first->len;
	while (n < count) {
		const struct bk_ientry *e = bk_repo_lookup(r, c[n].id);
		if (!e || e->pack != first->pack || e->kind != BK_BLOB_DATA ||
		    e->off != first->off + span || span + e->len > BK_RUN_MAX)
			break;
		span += e->len;
		n++;
	}
	pack_name(r->packs[first->pack], name, sizeof(name));
	_cleanup_free_ uint8_t *sealed = malloc(span);
	if (!sealed)
		return -ENOMEM;
	int ret = r->store->ops->get_range(r->store, name, first->off,
					   (size_t)span, sealed);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "%s: %s", name,
			 r->store->reason);
		return ret;
	}
	for (size_t k = 0; k < n; k++) {
		const struct bk_ientry *e = bk_repo_lookup(r, c[k].id);
		uint8_t *plain = NULL;
		size_t plen = 0;
		ret = bk_blob_open(&r->keys, BK_BLOB_DATA, c[k].id,
				   sealed + (e->off - first->off), e->len,
				   &plain, &plen);
		if (ret < 0) {
			bk_hex(c[k].id, BK_ID_LEN, hex);
			snprintf(r->why, sizeof(r->why),
				 "blob %.16s in %s: fails authentication", hex,
				 name);
			return ret;
		}
		ret = fn(ctx, &c[k], plain, plen);
		free(plain);
		if (ret)
			return ret;
		(*done)++;
	}
	return 0;
}
