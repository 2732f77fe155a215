/*
 * changerec.h - the change record's on-disk format: which 64 KiB zones and
 * which paths of a module's directories may have changed.
 *
 * replicd writes two records in its state directory (replicd/track.h):
 * track.rec, what the peer may lack (resync reads it), and backup.rec,
 * what changed since the last backup (backupd reads it to back up only
 * that). Both have this one format; the parser is pure so backupd, the
 * unit tests and the fuzzers call it on a buffer.
 *
 * A 16-byte header: "SKYTRK1\n", flags u8 (bit 0 complete: the entries
 * list every change since the record was emptied; bit 1 unsynced: entries
 * were appended without fdatasync in the boot named next), then 7 bytes:
 * with bit 1 the first 7 bytes of /proc/sys/kernel/random/boot_id, else
 * zero. Then entries, each:
 *
 *   kinds u8 (CHANGEREC_* or CHANGEREC_ALONE) | dir u8 | first zone u64 |
 *   zones u64 | path length u16 | path | SipHash-2-4 of all that under a
 *   fixed key, 8 bytes
 *
 * big-endian. The hash catches torn or damaged bytes, not forgers (the
 * state directory is root's). A record with the unsynced bit and another
 * boot's id may have lost entries in a power cut: a reader treats it as
 * incomplete.
 */
#ifndef SKYHA_CHANGEREC_H
#define SKYHA_CHANGEREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an entry says may differ at one path (the kinds, OR-able). */
#define TRK_ZONES 0x1 /* these zones of the file's content */
#define TRK_META  0x2 /* mode, owner, times, xattrs, size */
#define TRK_ENTRY 0x4 /* the entry itself: created, removed, replaced */
#define TRK_TREE  0x8 /* the entry and everything under it (renames) */
#define TRK_KINDS 0xF
#define TRK_ALONE 0x80 /* alone, no path: changes acked without the peer */

#define CHANGEREC_ZONE_SHIFT 16
#define CHANGEREC_ZONE_SIZE  (1u << CHANGEREC_ZONE_SHIFT) /* 64 KiB */
#define CHANGEREC_PATH_MAX   4095 /* bytes of a relative path */
#define CHANGEREC_MAX_DIRS   16	  /* directories of a module */
#define CHANGEREC_HEADER     16
#define CHANGEREC_BOOT_BYTES 7
#define CHANGEREC_FILE_MAX   (256u << 20) /* a larger file is not loaded */
/* Entry limits: a zone index below 2^47 (8 EiB), at most 2^40 zones. */
#define CHANGEREC_FIRST_MAX (1ull << 47)
#define CHANGEREC_COUNT_MAX (1ull << 40)

#define CHANGEREC_HDR_COMPLETE 0x1
#define CHANGEREC_HDR_UNSYNCED 0x2

struct changerec_entry {
	uint8_t dir;
	uint8_t kinds;
	uint64_t first, count; /* zones, for TRK_ZONES */
	char *path;	       /* relative; "" for the directory itself */
};

struct changerec_header {
	bool complete;
	bool unsynced;
	uint8_t boot[CHANGEREC_BOOT_BYTES]; /* with unsynced */
};

/*
 * A relative path as the record (and replicd's protocol) allows it: no
 * NUL, no empty, "." or ".." component, at most CHANGEREC_PATH_MAX bytes;
 * the empty path is the directory itself.
 */
bool changerec_path_valid(const char *p, size_t len);

/* Bytes changerec_encode_entry will write for e. */
size_t changerec_entry_size(const struct changerec_entry *e);
/* Encode one entry (hash included); its length, or -EINVAL for an entry
 * no record holds, -ENAMETOOLONG if it does not fit in size. */
int changerec_encode_entry(const struct changerec_entry *e, uint8_t *buf,
			   size_t size);
/* The 16 header bytes; boot (with h->unsynced) names the boot. */
void changerec_encode_header(const struct changerec_header *h,
			     uint8_t out[CHANGEREC_HEADER]);

/*
 * Parse a record file's bytes (pure): fills *h from the header, calls fn
 * for each entry (e->path valid during the call only); 0, or -EBADMSG at
 * the first bad byte (entries before it were delivered; h->complete is
 * then false), or fn's negative return.
 */
int changerec_parse(const uint8_t *buf, size_t len, struct changerec_header *h,
		    int (*fn)(void *ctx, const struct changerec_entry *e),
		    void *ctx);

/*
 * May a reader trust a record with this header to list every change? It
 * says complete, and its unsynced entries (if any) were written in this
 * boot (boot: this boot's id, changerec_boot_id; zeros: unknown, never
 * trusted with unsynced entries).
 */
bool changerec_trusted(const struct changerec_header *h,
		       const uint8_t boot[CHANGEREC_BOOT_BYTES]);

/* The 8-byte hash an entry's first n bytes end with (fuzzers, tests). */
void changerec_entry_hash(const uint8_t *p, size_t n, uint8_t out[8]);

/* The first 7 bytes of this boot's id; zeros if unknown. */
void changerec_boot_id(uint8_t out[CHANGEREC_BOOT_BYTES]);

#endif
