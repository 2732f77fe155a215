/*
 * manifest.h - a copy described by hashes, for a resync without a record.
 *
 * When neither node can say what differs (first join, a new or wiped node,
 * a damaged record), the primary asks the secondary for a manifest of its
 * copy: one ROP_HASHES operation per entry (several for a large file), in
 * which data is
 *   - a directory or regular file: the BLAKE2b-256 of its user./trusted.
 *     xattrs (sorted names, each name NUL, value length u32 BE, value),
 *     then for a file one BLAKE2b-256 (crypto_generichash) per 64 KiB zone
 *     from zone `length` on;
 *   - a symlink: its target;
 *   - anything else: nothing.
 * The primary walks its own copy, hashes each zone the same way, and sends
 * only the zones, attributes and entries that differ, then removes what
 * only the secondary has (resync.c). Both walks are incremental: a step
 * does a bounded amount of reading, so neither main loop stalls.
 */
#ifndef REPLICD_MANIFEST_H
#define REPLICD_MANIFEST_H

#include "op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_HASH_BYTES 32
/* Zone hashes in one ROP_HASHES (after the xattr hash). */
#define REPLICD_MANIFEST_ZONES                                                 \
	((REPLICD_DATA_MAX - REPLICD_HASH_BYTES) / REPLICD_HASH_BYTES)
/* Bounds on a manifest the primary accepts (hostile input). */
#define REPLICD_MANIFEST_ENTRIES_MAX (4u << 20)
#define REPLICD_MANIFEST_BYTES_MAX   (512ull << 20)

typedef int (*replicd_emit_fn)(void *ctx, struct replicd_op *op);

/* The hash of fd's user./trusted. xattrs (fd may be O_PATH). */
int replicd_xattr_hash(int fd, uint8_t out[REPLICD_HASH_BYTES]);

/* --- secondary: describe the copy -------------------------------------- */
struct replicd_manifest_walk;
int replicd_manifest_walk_new(struct replicd_manifest_walk **out,
			      const int *roots, size_t count);
void replicd_manifest_walk_free(struct replicd_manifest_walk **w);
/* Leave out the excluded paths (exclude.h; ex outlives the walk). */
struct replicd_exclude;
void replicd_manifest_walk_set_exclude(struct replicd_manifest_walk *w,
				       const struct replicd_exclude *ex);
/* For a resync (not a verify): a regular file with more than one name is
 * described with file type 0 and no hashes, so the primary replaces it whole
 * rather than writing zones through a name another one shares. */
void replicd_manifest_walk_set_links_apart(struct replicd_manifest_walk *w);
/* Emit the next ROP_HASHES; 1 more to do, 0 done, or emit's -errno. */
int replicd_manifest_walk_step(struct replicd_manifest_walk *w, size_t budget,
			       replicd_emit_fn emit, void *ctx);

/* --- primary: what the secondary has ----------------------------------- */
struct replicd_manifest_entry {
	struct replicd_manifest_entry *next; /* hash chain */
	struct replicd_manifest_entry *all;  /* every entry */
	uint8_t dir;
	uint32_t mode, uid, gid;
	uint64_t size;
	uint8_t xattr_hash[REPLICD_HASH_BYTES];
	uint8_t *data; /* zone hashes, or the symlink target */
	size_t data_len;
	uint64_t nzones;
	bool seen;
	char path[];
};

struct replicd_manifest;
int replicd_manifest_new(struct replicd_manifest **out);
void replicd_manifest_free(struct replicd_manifest **m);
/* Add one ROP_HASHES; -EPROTO if inconsistent, -E2BIG past the bounds. */
int replicd_manifest_add(struct replicd_manifest *m,
			 const struct replicd_op *op);
struct replicd_manifest_entry *replicd_manifest_find(struct replicd_manifest *m,
						     uint8_t dir,
						     const char *path);
/* Every entry, in the order received. */
struct replicd_manifest_entry *
replicd_manifest_first(struct replicd_manifest *m);
uint64_t replicd_manifest_bytes(const struct replicd_manifest *m);

#endif
