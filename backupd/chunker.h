/*
 * chunker.h - where a file's data is cut into chunks (docs/backup.md,
 * "Chunking").
 *
 * FastCDC (a gear rolling hash, normalized chunking): a cut where the hash
 * matches a mask, never before min, at most max, the mask harder before
 * avg and easier after it, so chunk sizes gather around avg. Cuts depend
 * on content only: an insertion moves the cuts near it, not the others.
 *
 * Large files (>= BK_ZONE_FILE_MIN) also get a cut at every zone boundary
 * (64 KiB-aligned offsets, replicd's zones): a chunk never straddles two
 * zones, and the cuts inside a zone depend on that zone alone. An
 * incremental backup then rereads exactly the zones replicd says changed
 * and keeps every other chunk as it was. Databases, the large files here,
 * change in place: they gain nothing from cuts that survive insertion.
 *
 * Pure: no I/O, no state beyond the call.
 */
#ifndef BACKUPD_CHUNKER_H
#define BACKUPD_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define BK_CHUNK_MIN	 (16u << 10)
#define BK_CHUNK_AVG	 (64u << 10)
#define BK_CHUNK_MAX	 (256u << 10)
#define BK_ZONE		 (64u << 10)
#define BK_ZONE_FILE_MIN (1u << 20)

struct bk_chunker {
	uint32_t min, avg, max;
	uint32_t zone; /* 0: no forced cuts */
	uint64_t mask_s, mask_l;
};

/* The repository's parameters (config object: chunker). */
int bk_chunker_init(struct bk_chunker *c, uint32_t min, uint32_t avg,
		    uint32_t max, uint32_t zone);

/*
 * The length of the chunk that starts at buf (file offset off), at most
 * len bytes available; len < max only at the end of the data. forced:
 * the file gets zone cuts (a large file).
 */
size_t bk_chunk_next(const struct bk_chunker *c, const uint8_t *buf, size_t len,
		     uint64_t off, int forced);

#endif
