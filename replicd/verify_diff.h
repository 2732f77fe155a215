/*
 * verify_diff.h - what `skyctl verify` found: the comparison's findings
 * and the live changes made while it ran (docs/replication.md, "Verify").
 *
 * The verify runs the hash comparison of a resync without a record
 * (resync.h, replicd_resync_new_compare) against the secondary's manifest
 * (manifest.h), with replicd_vdiff_emit as its emit callback: each
 * operation a resync would send becomes a finding instead (nothing is
 * sent, nothing changes). A write is a zone whose hash differs, a
 * truncate a size that may, a chown/chmod/ensure-dir an owner or mode, an
 * xattr operation the extended attributes, a create/mkdir/symlink an
 * entry only on the primary (its children are not listed), a removal an
 * entry only on the secondary (or, followed by a create, of another
 * type). Times are not compared.
 *
 * Live writes go on during the verify. Every operation the primary sends
 * while it runs is noted (replicd_vdiff_note): its path and, for a write,
 * its zones. A finding at a noted path (same zones for content, any for
 * the rest), or under a noted directory, is counted as "changed during
 * verify", not as a difference: the secondary's hashes were taken before
 * or after that change and the primary's read at another moment, so the
 * two may differ without either copy being wrong; the change itself went
 * through replication and is compared by the next verify. Pure: no I/O.
 */
#ifndef REPLICD_VERIFY_DIFF_H
#define REPLICD_VERIFY_DIFF_H

#include "manifest.h"
#include "op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_VERIFY_LIST_MAX	 100	    /* differences listed */
#define REPLICD_VERIFY_RANGES	 8	    /* zone ranges listed per path */
#define REPLICD_VERIFY_NOTES_MAX (1u << 16) /* live paths noted */

enum replicd_vdiff_what {
	VD_CONTENT = 0x1,	  /* zones whose hashes differ */
	VD_SIZE = 0x2,		  /* the file's size */
	VD_OWNER = 0x4,		  /* mode or owner */
	VD_XATTRS = 0x8,	  /* user./trusted. extended attributes */
	VD_ONLY_PRIMARY = 0x10,	  /* missing on the secondary */
	VD_ONLY_SECONDARY = 0x20, /* missing on the primary */
	VD_TYPE = 0x40,		  /* another type of entry there */
	VD_TARGET = 0x80,	  /* a symlink's target */
};

struct replicd_vdiff_entry {
	uint8_t dir;
	uint32_t what;
	size_t nranges;
	uint64_t first[REPLICD_VERIFY_RANGES], count[REPLICD_VERIFY_RANGES];
	bool more_ranges;
	char *path;
};

struct replicd_vdiff;
/* mf: the secondary's manifest, borrowed (outlives the vdiff). */
int replicd_vdiff_new(struct replicd_vdiff **out, struct replicd_manifest *mf);
void replicd_vdiff_free(struct replicd_vdiff **v);
/* The emit callback of the comparison (ctx: the vdiff). */
int replicd_vdiff_emit(void *ctx, struct replicd_op *op);
/* A live operation sent to the peer while the verify runs. */
void replicd_vdiff_note(struct replicd_vdiff *v, const struct replicd_op *op);
/* The comparison ended: close the last finding, classify the list again
 * against every note. */
void replicd_vdiff_finish(struct replicd_vdiff *v);

struct replicd_vdiff_result {
	uint64_t differences; /* paths that differ (listed or not) */
	uint64_t changed;     /* findings at paths changed during verify */
	uint64_t copy_bytes;  /* bytes of files only on the primary, read */
	bool notes_overflow;  /* too many live paths: all findings "changed" */
	size_t listed;
	const struct replicd_vdiff_entry *list;
};
void replicd_vdiff_result(const struct replicd_vdiff *v,
			  struct replicd_vdiff_result *out);
/* "content,size" for a what mask, into buf. */
const char *replicd_vdiff_what_text(uint32_t what, char *buf, size_t size);

#endif
