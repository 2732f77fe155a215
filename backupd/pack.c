/*
 * pack.c - pack headers and index objects, encoded and parsed (pack.h).
 */
#include "pack.h"
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

static void put_entries(struct bk_out *o, const struct bk_pack_entry *e,
			size_t count)
{
	bk_out_u32(o, count);
	for (size_t i = 0; i < count; i++) {
		bk_out_u8(o, e[i].kind);
		bk_out_bytes(o, e[i].id, BK_ID_LEN);
		bk_out_u64(o, e[i].off, 8);
		bk_out_u32(o, e[i].len);
	}
}

static int get_entries(struct bk_in *in, uint64_t data_end,
		       struct bk_pack_entry **out, size_t *count)
{
	uint64_t n;
	if (bk_in_u64w(in, &n, 4) < 0 || n > BK_PACK_ENTRIES_MAX ||
	    n > in->left / BK_PACK_ENTRY_LEN)
		return -EBADMSG;
	struct bk_pack_entry *e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t kind, len;
		if (bk_in_u64w(in, &kind, 1) < 0 || kind > BK_BLOB_TREE ||
		    bk_in_bytes(in, e[i].id, BK_ID_LEN) < 0 ||
		    bk_in_u64w(in, &e[i].off, 8) < 0 ||
		    bk_in_u64w(in, &len, 4) < 0 || len < BK_SEAL_OVERHEAD ||
		    e[i].off < end || e[i].off > data_end ||
		    len > data_end - e[i].off) {
			free(e);
			return -EBADMSG;
		}
		e[i].kind = (uint8_t)kind;
		e[i].len = (uint32_t)len;
		end = e[i].off + len;
	}
	*out = e;
	*count = n;
	return 0;
}

int bk_packhdr_encode(const struct bk_pack_entry *e, size_t count,
		      uint8_t **out, size_t *len)
{
	struct bk_out o = {0};
	bk_out_bytes(&o, "SKPH", 4);
	bk_out_u8(&o, 1);
	put_entries(&o, e, count);
	if (o.err)
		return o.err;
	*out = o.buf;
	*len = o.len;
	return 0;
}

int bk_packhdr_parse(const uint8_t *buf, size_t len, uint64_t data_end,
		     struct bk_pack_entry **out, size_t *count)
{
	struct bk_in in = {buf, len};
	uint8_t magic[4];
	uint64_t ver;
	if (bk_in_bytes(&in, magic, 4) < 0 || memcmp(magic, "SKPH", 4) ||
	    bk_in_u64w(&in, &ver, 1) < 0 || ver != 1)
		return -EBADMSG;
	int r = get_entries(&in, data_end, out, count);
	if (r == 0 && in.left) {
		free(*out);
		*out = NULL;
		return -EBADMSG;
	}
	return r;
}

int bk_index_encode(const struct bk_index_pack *packs, size_t count,
		    uint8_t **out, size_t *len)
{
	struct bk_out o = {0};
	bk_out_bytes(&o, "SKIX", 4);
	bk_out_u8(&o, 1);
	bk_out_u32(&o, count);
	for (size_t i = 0; i < count; i++) {
		bk_out_bytes(&o, packs[i].pack, BK_ID_LEN);
		put_entries(&o, packs[i].entries, packs[i].count);
	}
	if (o.err)
		return o.err;
	*out = o.buf;
	*len = o.len;
	return 0;
}

void bk_index_free(struct bk_index_pack *packs, size_t count)
{
	for (size_t i = 0; packs && i < count; i++)
		free(packs[i].entries);
	free(packs);
}

int bk_index_parse(const uint8_t *buf, size_t len, struct bk_index_pack **out,
		   size_t *count)
{
	struct bk_in in = {buf, len};
	uint8_t magic[4];
	uint64_t ver, n;
	if (bk_in_bytes(&in, magic, 4) < 0 || memcmp(magic, "SKIX", 4) ||
	    bk_in_u64w(&in, &ver, 1) < 0 || ver != 1 ||
	    bk_in_u64w(&in, &n, 4) < 0 || n > in.left / (BK_ID_LEN + 4))
		return -EBADMSG;
	struct bk_index_pack *p = calloc(n ? n : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = -EBADMSG;
		if (bk_in_bytes(&in, p[i].pack, BK_ID_LEN) < 0 ||
		    (r = get_entries(&in, BK_PACK_MAX, &p[i].entries,
				     &p[i].count)) < 0) {
			bk_index_free(p, i);
			return r;
		}
	}
	if (in.left) {
		bk_index_free(p, n);
		return -EBADMSG;
	}
	*out = p;
	*count = n;
	return 0;
}
