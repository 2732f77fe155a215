/*
 * track.h - the change record: what may differ between this copy and the
 * peer's, kept on disk so a crash of the primary keeps it.
 *
 * Like DRBD's activity log and bitmap, applied to files: before a write
 * reaches the disk, the zones (64 KiB) it dirties are appended to the
 * record and made durable (fdatasync); a namespace or metadata change
 * records its path. An in-memory set remembers what is already marked, so
 * rewriting a marked zone costs nothing. While the peer is connected the
 * primary marks 4 MiB extents (fewer syncs; the record then only covers
 * operations in flight), while it is absent exact 64 KiB zones (resync
 * sends what changed, no more).
 *
 * The record is emptied (replicd_track_reset) once the peer confirmed it
 * has everything durably. A record that is missing (first start, a wiped
 * node) or damaged is "incomplete": the next resync cannot trust it and
 * copies everything. The "alone" marker says this node acknowledged
 * changes that the peer never received: if this node must then follow a
 * peer that also changed, the copies diverged.
 *
 * Entries marked without fdatasync (the peer connected) survive a crash of
 * replicd, not of the machine: before the first of them the header durably
 * says so with this boot's id, and a record found with another boot's id
 * there is opened incomplete (a power cut may have lost some of them).
 *
 * File <state>/track.rec, in the format of shared/changerec.h.
 * Thread-safe: FUSE threads mark, the main thread reads and
 * resets.
 */
#ifndef REPLICD_TRACK_H
#define REPLICD_TRACK_H

#include "changerec.h"
#include "op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_AL_ZONES 64 /* connected: 4 MiB extents */

struct replicd_track;

/*
 * Open (or create, incomplete) the record dir/name. A damaged file is
 * logged (with consequence: what an incomplete record costs, e.g. "the
 * next resync compares everything"), counted and replaced by an incomplete
 * one: never trusted.
 */
int replicd_track_open(const char *dir, const char *name,
		       const char *consequence, struct replicd_track **out);
void replicd_track_free(struct replicd_track **t);

/*
 * Record that kinds may change at path (zones first..first+count-1 for
 * TRK_ZONES) before the change is made; durable: fdatasync before
 * returning (without it the entry survives a crash of replicd, not of the
 * machine). 0 or -errno (then the caller must refuse the change: it could
 * not be tracked).
 */
int replicd_track_mark(struct replicd_track *t, uint8_t dir, const char *path,
		       uint8_t kinds, uint64_t first, uint64_t count,
		       bool durable);
/* Durably record that changes are being acked without the peer. */
int replicd_track_mark_alone(struct replicd_track *t);

bool replicd_track_complete(struct replicd_track *t);
bool replicd_track_alone(struct replicd_track *t);
/* Bytes of entries appended so far (changes whenever an entry is added). */
uint64_t replicd_track_length(struct replicd_track *t);
/* Entries loaded or marked, not yet reset. */
uint64_t replicd_track_count(struct replicd_track *t);
/* Damaged records found at open (a counter for the bus). */
uint64_t replicd_track_damaged(struct replicd_track *t);

/*
 * Empty the record and mark it complete: the peer has everything. With
 * if_length != UINT64_MAX, only if nothing was appended since the length
 * was read (-EAGAIN otherwise).
 */
int replicd_track_reset(struct replicd_track *t, uint64_t if_length);
/*
 * The peer confirmed it has every change up to now: this node no longer
 * holds changes it acked alone, even if the record cannot be emptied yet
 * (changes kept coming). Rewrites the record without the marker.
 */
int replicd_track_drop_alone(struct replicd_track *t);
/* Mark the record incomplete (durably): it no longer covers everything. */
int replicd_track_set_incomplete(struct replicd_track *t);

/* A copy of every entry (caller frees with replicd_track_entries_free). */
int replicd_track_entries(struct replicd_track *t, struct changerec_entry **out,
			  size_t *count);
void replicd_track_entries_free(struct changerec_entry *e, size_t count);

/*
 * Keep at most max_keys zones and paths (0: no limit): past it the record
 * is emptied, marked incomplete and takes nothing more until it is reset
 * or rotated (its readers then take everything). The backup record's
 * bound on memory and disk on a node that backs up rarely.
 */
void replicd_track_set_limit(struct replicd_track *t, size_t max_keys);

/* The record's file. */
const char *replicd_track_path(struct replicd_track *t);
/*
 * Rename the record's file to name (same directory) and start an empty,
 * complete one in its place: the backup record at the start of a backup.
 * *was_complete: did the renamed record cover every change (as known here;
 * its header carries the boot rule for readers)?
 */
int replicd_track_rotate(struct replicd_track *t, const char *name,
			 bool *was_complete);
/*
 * Add the entries of the record file name (same directory) to this one,
 * then remove that file: a failed backup's changes go to the next one. A
 * damaged or incomplete file makes this record incomplete. A missing one
 * is nothing to merge.
 */
int replicd_track_merge(struct replicd_track *t, const char *name);

/*
 * The peer's ROP_RECORD as an entry of its record (path strdup'ed: free it
 * with replicd_track_entries_free). -EPROTO when the peer says something
 * no record holds, -ENOMEM.
 */
int replicd_track_entry_of(const struct replicd_op *op, size_t dir_count,
			   struct changerec_entry *e);

#endif
