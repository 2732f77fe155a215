/*
 * backup_tree_fuzz.c - backupd/tree.c bk_tree_parse(): a tree blob from a
 * backup repository, once its AEAD opened. A repository sits on storage
 * others may reach (a bucket, an NFS share): whoever holds the key could
 * still write a malformed tree, and restore and verify walk them. Every
 * length, count, name and order is checked before use.
 *
 * A tree that parses must encode again and parse to the same entries.
 */
#include "fuzz.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_tree t, again;
	char why[256];
	if (bk_tree_parse(data, size, &t, why, sizeof(why)) < 0)
		return 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	FUZZ_ASSERT(bk_tree_encode(&t, &buf, &len) == 0);
	FUZZ_ASSERT(bk_tree_parse(buf, len, &again, why, sizeof(why)) == 0);
	FUZZ_ASSERT(again.count == t.count);
	for (size_t i = 0; i < t.count; i++) {
		FUZZ_ASSERT(!strcmp(t.entries[i].name, again.entries[i].name));
		FUZZ_ASSERT(t.entries[i].chunk_count ==
			    again.entries[i].chunk_count);
		FUZZ_ASSERT(t.entries[i].xattr_count ==
			    again.entries[i].xattr_count);
	}
	FUZZ_ASSERT(len == size && !memcmp(buf, data, size));
	free(buf);
	bk_tree_free(&again);
	bk_tree_free(&t);
	return 0;
}
