/*
 * mount_run.c - how a write-type operation of the mount runs (mount_run.h).
 *
 * replicd_repl_begin (EROFS unless primary; takes the order lock), record
 * what the operation may change (track.h), replicd_fs_apply on the real
 * directory, replicd_repl_submit (the op gets its sequence number and is
 * queued for the peer), release the order lock, then replicd_repl_wait
 * (sync mode: until the peer acked). An fsync is queued first, then runs
 * here while it runs on the peer. The application's call returns only
 * after that. Both ends pass heartbeatd's fence (fence.h): nothing is
 * changed or acknowledged here on a word that expired.
 */
#include "mount_run.h"

#include "alone.h"
#include "fs.h"
#include "log.h"
#include "track.h"
#include "track_op.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Durably record what op may change, before it reaches the disk (track.h).
 * Order lock held. Without a peer session, also record that this node
 * acknowledges changes the peer lacks.
 */
static int track_op(struct replicd_mount *m, const struct replicd_op *op,
		    int fd)
{
	struct replicd_track *t = m->repl->track;
	int r;

	if (!t || !replicd_op_changes_data(op->type) || op->type == ROP_FSYNC)
		return 0;
	bool connected = replicd_repl_connected(m->repl);
	if (!connected && (r = replicd_track_mark_alone(t)) < 0)
		return r;
	if (!connected && m->repl->alone)
		replicd_alone_note(m->repl->alone, sky_wall_ms());
	r = replicd_track_op(t, m->root, op, fd, connected, !connected);
	if (r == 0)
		replicd_backup_op(m->repl->backup, m->root, op, fd);
	return r;
}

/*
 * replicd_repl_begin once heartbeatd's word lets this node change data:
 * wait at the fence without the order lock, check it again with it.
 */
static int begin_fenced(struct replicd_mount *m, int refused)
{
	for (;;) {
		int r = replicd_fence_pass(m->fence, refused);
		if (r < 0)
			return r;
		r = replicd_repl_begin(m->repl);
		if (r < 0 || !replicd_fence_expired(m->fence))
			return r;
		replicd_repl_end(m->repl); /* expired meanwhile */
	}
}

/* About to tell the caller that r succeeded: only on a word still valid. */
static int fenced_ack(struct replicd_mount *m, int r)
{
	if (r < 0 || replicd_fence_pass(m->fence, -EIO) == 0)
		return r;
	return -EIO;
}

/*
 * Take the order lock (EROFS unless primary) and record what op may change
 * (track_op); on success the caller holds the order lock.
 */
static int begin_tracked(struct replicd_mount *m, struct replicd_op *op, int fd)
{
	int r = begin_fenced(m, -EROFS);
	if (r < 0)
		return r;
	op->dir = m->index;
	/* Longer paths cannot be recorded, sent nor applied in one call on
	 * the peer (docs/replication.md, "Limits"): refused before any
	 * change, as a name that is too long. */
	if ((op->path && strlen(op->path) > REPLICD_PATH_MAX) ||
	    (op->path2 && strlen(op->path2) > REPLICD_PATH_MAX)) {
		replicd_repl_end(m->repl);
		return -ENAMETOOLONG;
	}
	r = track_op(m, op, fd);
	if (r < 0) {
		log_warning("cannot record %s of '%s' for resync: %s; "
			    "refusing it",
			    replicd_op_name(op->type), op->path ? op->path : "",
			    strerror(-r));
		replicd_repl_end(m->repl);
		return -EIO;
	}
	return 0;
}

int replicd_mount_run_op(struct replicd_mount *m, struct replicd_op *op, int fd,
			 bool force_wait, int open_flags, int *fd_out)
{
	struct replicd_ticket t = {0};
	int r = begin_tracked(m, op, fd);
	if (r < 0)
		return r;
	r = replicd_fs_apply(m->root, op, fd, open_flags, fd_out);
	/* An op with neither path nor handle (a file unlinked while open
	 * before it could be kept) has nothing to replicate: the peer's copy
	 * is unreachable too. */
	if (r >= 0 && (op->path || op->handle)) {
		int q = replicd_repl_submit(m->repl, op, force_wait, &t);
		if (q < 0)
			log_warning("replication of %s failed: %s",
				    replicd_op_name(op->type), strerror(-q));
	}
	replicd_repl_end(m->repl);
	if (r < 0)
		return r;
	int w = replicd_repl_wait(m->repl, &t);
	r = fenced_ack(m, w < 0 ? w : r);
	if (r < 0 && fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return r;
}

/*
 * A write goes to the peer in pieces of REPLICD_PIECE bytes, each its own
 * operation, so that the stages overlap: while we write piece i+1 here,
 * the loop seals and sends piece i and the peer opens piece i-1. As one
 * operation, the four stages of a 1 MiB write ran one after another, with
 * a core idle most of the time. Each piece is written here before it is
 * numbered (run_op's rule), so a short or failed write sends exactly the
 * bytes that reached our disk, and the caller hears that count. The
 * caller returns once the last piece is acknowledged (acks are
 * cumulative), or, for a piece that could not be sent, once that may be
 * acknowledged without the peer.
 */
int replicd_mount_run_write(struct replicd_mount *m, struct replicd_op *op,
			    int fd)
{
	struct replicd_ticket tickets[REPLICD_DATA_MAX / REPLICD_PIECE];
	size_t done = 0, count = 0;
	int r = begin_tracked(m, op, fd);
	if (r < 0)
		return r;
	while (done < op->data_len) {
		struct replicd_op piece = *op;
		size_t want = op->data_len - done;
		if (want > REPLICD_PIECE)
			want = REPLICD_PIECE;
		piece.offset += done;
		piece.data += done;
		piece.data_len = want;
		r = replicd_fs_apply(m->root, &piece, fd, 0, NULL);
		if (r <= 0)
			break;
		piece.data_len = (size_t)r;
		if (op->path || op->handle) {
			int q = replicd_repl_submit(m->repl, &piece, false,
						    &tickets[count++]);
			if (q < 0)
				log_warning("replication of write failed: %s",
					    strerror(-q));
		}
		done += (size_t)r;
		if ((size_t)r < want)
			break; /* short: the caller hears how much */
	}
	replicd_repl_end(m->repl);
	size_t last_wait = count;
	int w = 0;
	for (size_t i = 0; i < count; i++) {
		if (tickets[i].degraded) {
			if (w == 0)
				w = replicd_repl_wait(m->repl, &tickets[i]);
		} else if (tickets[i].wait) {
			last_wait = i;
		}
	}
	if (last_wait < count && w == 0)
		w = replicd_repl_wait(m->repl, &tickets[last_wait]);
	/* A piece the peer may lack and that cannot be acknowledged here
	 * any more (no longer primary): the write failed, as a whole. */
	if (w < 0)
		return w;
	return fenced_ack(m, done ? (int)done : r);
}

/*
 * An fsync changes no data, so unlike run_op it need not reach our disk
 * before it is numbered: it is queued first, then our own fsync runs while
 * the peer does its own, outside the order lock (other writers go on
 * meanwhile). It returns only once both are done: every write acknowledged
 * before it was applied here and received by the peer, so both fsyncs
 * cover it.
 */
int replicd_mount_run_fsync(struct replicd_mount *m, struct replicd_op *op,
			    int fd)
{
	struct replicd_ticket t = {0};
	/* EIO, not EROFS: op_fsync must not answer a held fsync locally. */
	int r = begin_fenced(m, -EIO);
	if (r < 0)
		return r;
	op->dir = m->index;
	if (op->path || op->handle) {
		int q = replicd_repl_submit(m->repl, op, true, &t);
		if (q < 0)
			log_warning("replication of %s failed: %s",
				    replicd_op_name(op->type), strerror(-q));
	}
	replicd_repl_end(m->repl);
	r = replicd_fs_apply(m->root, op, fd, 0, NULL);
	/* Even if ours failed: the caller hears of no fsync before the
	 * peer's ended. */
	int w = replicd_repl_wait(m->repl, &t);
	return fenced_ack(m, r < 0 ? r : w);
}
