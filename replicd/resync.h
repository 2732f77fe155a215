/*
 * resync.h - bring the peer's copy level with ours: the primary's side.
 *
 * A plan is built from the change records of both nodes (track.h): ours
 * lists what we changed without the peer and what was in flight; the
 * peer's lists what it had in flight when it stopped being primary. Each
 * path of the plan is made equal on the peer with ordinary operations
 * (op.h), sent in sequence with the live ones:
 *
 *   - gone here                 -> remove (the tree) there
 *   - TRK_TREE                  -> remove there, copy the whole tree
 *   - TRK_ENTRY                 -> the entry again, with its whole content
 *   - TRK_META                  -> mode, owner, xattrs, size, times
 *   - TRK_ZONES                 -> those 64 KiB zones' bytes, then the size
 *
 * Without a usable record ("full"), the peer empties its copy and gets
 * everything (holes skipped). Each step emits at most about `budget`
 * bytes of file data, so the main loop stays responsive and the queue
 * bounded; the caller holds the order lock (repl.h) during a step, so what
 * a step reads and what the FUSE threads write are sequenced in the order
 * they reached the disk.
 */
#ifndef REPLICD_RESYNC_H
#define REPLICD_RESYNC_H

#include "op.h"
#include "track.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replicd_resync;

struct replicd_resync_stats {
	uint64_t bytes_total; /* estimated: grows as trees are walked */
	uint64_t bytes_done;  /* file data emitted */
	uint64_t zones;	      /* 64 KiB zones (or parts) emitted */
	uint64_t entries;     /* paths handled */
	uint64_t skipped;     /* paths too long for the protocol */
};

/* Either list may be NULL; full: copy everything in every directory. */
int replicd_resync_new(struct replicd_resync **out,
		       const struct changerec_entry *mine, size_t n_mine,
		       const struct changerec_entry *theirs, size_t n_theirs,
		       bool full, size_t dir_count, const int *roots);
/*
 * Hash mode (no usable record): walk every directory and send only what
 * differs from the peer's manifest (manifest.h), which stays the caller's
 * and must outlive the resync; then remove what only the peer has.
 */
struct replicd_manifest;
int replicd_resync_new_compare(struct replicd_resync **out,
			       struct replicd_manifest *mf, size_t dir_count,
			       const int *roots);
void replicd_resync_free(struct replicd_resync **rs);

typedef int (*replicd_emit_fn)(void *ctx, struct replicd_op *op);
/*
 * Emit the next operations. Returns 1 while there is more to do, 0 when
 * the plan is done, or the -errno of emit (the resync must stop).
 */
int replicd_resync_step(struct replicd_resync *rs, size_t budget,
			replicd_emit_fn emit, void *ctx);
void replicd_resync_stats(const struct replicd_resync *rs,
			  struct replicd_resync_stats *out);

#endif
