/*
 * track_op.h - what one operation may change, as change record entries.
 *
 * The primary's FUSE threads record an operation before it reaches the
 * disk in the change record (track.rec, for resync) and in the backup
 * record (backup.rec, for the next backup); the secondary records what it
 * applies in its backup record. One description of each operation's
 * effect serves all three (track.h, shared/changerec.h).
 */
#ifndef REPLICD_TRACK_OP_H
#define REPLICD_TRACK_OP_H

#include "op.h"
#include "track.h"

#include <stdbool.h>

/*
 * Record in t what op may change under root, before it is applied: its
 * zones (rounded out to REPLICD_AL_ZONES extents with extents), or its
 * path with the kinds its type changes. fd: op's open file, or -1 (the
 * size before a truncate is read from it). durable: fdatasync the entries
 * (track.h). A handle operation on a file with no path left (unlinked
 * while open) that still has another name makes t incomplete: the record
 * cannot say where it changed. 0 or -errno.
 */
int replicd_track_op(struct replicd_track *t, int root,
		     const struct replicd_op *op, int fd, bool extents,
		     bool durable);

/*
 * The backup record's entry for op (exact zones, not synced: the boot rule
 * of track.h covers a power cut). A failure makes the record incomplete
 * (the next backup reads everything) rather than refusing or failing the
 * change for a backup's sake. b may be NULL.
 */
void replicd_backup_op(struct replicd_track *b, int root,
		       const struct replicd_op *op, int fd);

#endif
