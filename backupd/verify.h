/*
 * verify.h - check a repository (docs/backup.md, "Verify"): every pack
 * (or a sample) read back whole, its name the hash of its bytes, its
 * header and every blob authenticated and matching its id; every index
 * and snapshot authenticated; every snapshot's trees readable and every
 * chunk they name in the index. Each bad object is logged by name.
 */
#ifndef BACKUPD_VERIFY_H
#define BACKUPD_VERIFY_H

#include "repo.h"

struct bk_verify_result {
	uint64_t packs, packs_checked, blobs_checked, snapshots, trees;
	uint64_t bad_objects;
	uint64_t bytes_read;
};

/* sample_pct: 1..100 of the packs read back (100: all). 0 when all is
 * well, -EBADMSG when something is bad (each logged). */
int bk_verify(struct bk_repo *r, unsigned sample_pct,
	      struct bk_verify_result *res);

/* Parse a whole pack's bytes (hostile): its header entries, *out
 * malloc'ed. */
int bk_pack_parse(struct bk_repo *r, const uint8_t *buf, size_t len,
		  struct bk_pack_entry **out, size_t *count);

#endif
