/*
 * backup_objects_fuzz.c - every other object backupd reads from a
 * repository or its operator: the first byte picks the parser, the rest
 * is its input.
 *   0: a pack header (backupd/pack.c bk_packhdr_parse), against a pack
 *      whose data ends at 1 MiB;
 *   1: an index object (bk_index_parse);
 *   2: a snapshot manifest (backupd/snapshot.c);
 *   3: a lock object (backupd/lock.c, plain JSON on the target);
 *   4: a change list (backupd/changes.c);
 *   5: a key object (backupd/crypto.c bk_key_unwrap, with a key file:
 *      the passphrase's Argon2id would only measure the KDF);
 *   6: a sealed blob (bk_blob_open with a fixed key: AEAD, then zstd with
 *      the declared size bounded);
 *   7: replicd's backup record turned into a change list
 *      (bk_changes_from_record, on top of shared/changerec.c's parser).
 * Parsers that accept must give fields within their documented bounds.
 */
#include "changes.h"
#include "crypto.h"
#include "fuzz.h"
#include "pack.h"
#include "repo.h"
#include "snapshot.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 8;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	char why[256];
	switch (which) {
	case 0: {
		struct bk_pack_entry *e = NULL;
		size_t count = 0;
		if (bk_packhdr_parse(p, n, 1u << 20, &e, &count) == 0) {
			for (size_t i = 0; i < count; i++)
				FUZZ_ASSERT(e[i].off + e[i].len <= (1u << 20));
			free(e);
		}
		break;
	}
	case 1: {
		struct bk_index_pack *ip = NULL;
		size_t count = 0;
		if (bk_index_parse(p, n, &ip, &count) == 0)
			bk_index_free(ip, count);
		break;
	}
	case 2: {
		static struct bk_snapshot s;
		if (bk_snapshot_parse(p, n, &s, why, sizeof(why)) == 0) {
			FUZZ_ASSERT(s.path_count >= 1 &&
				    s.path_count <= BK_SNAP_PATHS_MAX);
			for (size_t i = 0; i < s.path_count; i++)
				FUZZ_ASSERT(s.paths[i][0] == '/');
		}
		break;
	}
	case 3: {
		struct bk_lock_info li;
		bk_lock_parse(p, n, &li);
		break;
	}
	case 4: {
		struct bk_changes c;
		if (bk_changes_parse((const char *)p, n, &c, why,
				     sizeof(why)) == 0) {
			for (size_t i = 0; i < c.count; i++)
				FUZZ_ASSERT(c.items[i].dir < 16 &&
					    c.items[i].path[0] != '/');
			bk_changes_free(&c);
		}
		break;
	}
	case 5: {
		struct bk_secret s = {0};
		uint8_t master[BK_KEY_LEN];
		memset(s.key, 0x42, sizeof(s.key));
		bk_key_unwrap(&s, p, n, "fuzz", master, why, sizeof(why));
		break;
	}
	case 7: {
		struct bk_changes c;
		if (bk_changes_from_record(p, n, 16, &c, why, sizeof(why)) ==
		    0) {
			for (size_t i = 0; i < c.count; i++)
				FUZZ_ASSERT(c.items[i].dir < 16);
			bk_changes_free(&c);
		}
		break;
	}
	case 6: {
		struct bk_keys k;
		uint8_t id[BK_ID_LEN] = {0}, *out = NULL;
		size_t olen = 0;
		memset(k.master, 0x42, sizeof(k.master));
		bk_keys_derive(&k);
		if (bk_blob_open(&k, BK_BLOB_DATA, id, p, n, &out, &olen) == 0)
			FUZZ_ASSERT(olen <= BK_OBJECT_MAX);
		free(out);
		break;
	}
	}
	return 0;
}
