/*
 * backup_record_fuzz.c - backupd/record.c bk_record_parse(): replicd's
 * backup record (backup-<id>.rec, shared/changerec.h) as backupd reads it
 * for an incremental backup. The file sits in replicd's state directory,
 * but a torn or damaged one must never crash backupd nor give a list that
 * claims more than it knows.
 *
 * Whatever the bytes: the list is sorted by (dir, path) with each path once;
 * every path is one a record may hold; a subtree item is whole; every item
 * is found again by bk_changes_find.
 */
#include "fuzz.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t boot[CHANGEREC_BOOT_BYTES] = {1, 2, 3, 4, 5, 6, 7};
	struct bk_changes c;
	if (bk_record_parse(data, size, boot, &c) < 0)
		return 0;
	for (size_t i = 0; i < c.count; i++) {
		const struct bk_change *it = &c.items[i];
		FUZZ_ASSERT(it->dir < CHANGEREC_MAX_DIRS);
		FUZZ_ASSERT(changerec_path_valid(it->path, strlen(it->path)));
		FUZZ_ASSERT(!it->subtree || it->whole);
		FUZZ_ASSERT(bk_changes_find(&c, it->dir, it->path) == it);
		if (i > 0) {
			const struct bk_change *prev = &c.items[i - 1];
			FUZZ_ASSERT(prev->dir < it->dir ||
				    (prev->dir == it->dir &&
				     strcmp(prev->path, it->path) < 0));
		}
	}
	bk_changes_free(&c);
	return 0;
}
