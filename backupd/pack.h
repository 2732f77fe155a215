/*
 * pack.h - the plaintext of a pack's header and of an index object
 * (docs/backup.md, "Packs" and "Index"). Both are sealed by repo.c; these
 * functions only encode and parse, so a fuzzer drives the parsers.
 *
 * Pack header, version 1: "SKPH" | version u8 | count u32 | entries
 * (kind u8 | blob id 32 | offset u64 | length u32). Index, version 1:
 * "SKIX" | version u8 | pack count u32 | packs (pack id 32 | count u32 |
 * entries as in a pack header).
 */
#ifndef BACKUPD_PACK_H
#define BACKUPD_PACK_H

#include "crypto.h"

#include <stddef.h>
#include <stdint.h>

#define BK_PACK_TARGET	    (4u << 20)	/* a pack is closed past this */
#define BK_PACK_MAX	    (64u << 20) /* nothing larger is read as a pack */
#define BK_PACK_ENTRIES_MAX (1u << 20)
#define BK_PACK_ENTRY_LEN   (1 + BK_ID_LEN + 8 + 4)

struct bk_pack_entry {
	uint8_t kind;
	uint8_t id[BK_ID_LEN];
	uint64_t off;
	uint32_t len; /* sealed length */
};

int bk_packhdr_encode(const struct bk_pack_entry *e, size_t count,
		      uint8_t **out, size_t *len);
/*
 * Parse a header; every blob must lie in [0, data_end) without overlap
 * (data_end: where the header starts). *out malloc'ed.
 */
int bk_packhdr_parse(const uint8_t *buf, size_t len, uint64_t data_end,
		     struct bk_pack_entry **out, size_t *count);

struct bk_index_pack {
	uint8_t pack[BK_ID_LEN];
	struct bk_pack_entry *entries;
	size_t count;
};

int bk_index_encode(const struct bk_index_pack *packs, size_t count,
		    uint8_t **out, size_t *len);
int bk_index_parse(const uint8_t *buf, size_t len, struct bk_index_pack **out,
		   size_t *count);
void bk_index_free(struct bk_index_pack *packs, size_t count);

#endif
