/*
 * resync_run.c - driving a resync from the main loop.
 *
 * The primary decides what a session does once both change records are in
 * (nothing, the recorded changes, or a comparison of hashes), then pumps the
 * plan of resync.c onto the wire within a window, pass after pass, and ends
 * with a durable flush. The secondary walks its copy for the hash manifest.
 */
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool has_changes(const struct changerec_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(e[i].kinds & TRK_ALONE))
			return true;
	return false;
}

int replicd_dir_roots(struct replicd *d, int *roots)
{
	for (size_t i = 0; i < d->mount_count; i++)
		roots[i] = d->mounts[i].root;
	return 0;
}

/*
 * Primary: the resync's sending starts: the cap's bucket full, and zstd
 * if this node is set to compress and the peer offered to take it.
 */
static void resync_begin(struct replicd *d)
{
	int64_t now = sky_now_ms();
	sky_ratecap_init(&d->rs_cap, d->set->resync_max_bytes_per_s, 0, now);
	d->rsi.compress = d->set->resync_zstd &&
			  (d->conn->hs.peer_caps & REPLICD_CAP_ZSTD);
	if (d->set->resync_zstd && !d->rsi.compress)
		log_notice("peer %s does not take compressed resync data: "
			   "sending it raw",
			   d->peer->name);
	if (d->rsi.compress && !d->zstd &&
	    replicd_zstd_new(&d->zstd, d->set->resync_compress_level) < 0) {
		log_warning("cannot set up zstd: sending the resync raw");
		d->rsi.compress = false;
	}
}

/* Primary: the peer's record is in; replicd_decide what the session does. */
void replicd_decide(struct replicd *d, uint32_t flags)
{
	struct changerec_entry *mine = NULL;
	size_t n_mine = 0;
	bool full;
	int r;

	if (flags & ROP_REC_ALONE) {
		char own_text[160], peer_text[160];
		struct replicd_alone_stats st = replicd_alone_get(&d->alone);
		d->psync = PS_DIVERGED;
		replicd_alone_describe(&d->peer_alone, peer_text,
				       sizeof(peer_text));
		replicd_alone_describe(&st, own_text, sizeof(own_text));
		log_error("copies diverged: peer %s made %s without this node, "
			  "and this node %s without it; no automatic resync. "
			  "To keep this node's copy: `skyctl resync "
			  "--discard-local` on %s. To keep %s's: `skyctl stop` "
			  "here, `skyctl prim --force` on %s, then `skyctl "
			  "start` and `skyctl resync --discard-local` here",
			  d->peer->name, peer_text, own_text, d->peer->name,
			  d->peer->name, d->peer->name);
		replicd_send_sync(d, ROP_SYNC_DIVERGED);
		replicd_free_peer_record(d);
		d->changed = true;
		return;
	}
	r = replicd_track_entries(d->track, &mine, &n_mine);
	if (r < 0) {
		replicd_drop_conn(d, &d->conn, "cannot read the change record");
		return;
	}
	full = !replicd_track_complete(d->track) ||
	       !(flags & ROP_REC_COMPLETE) || d->peer_rec_overflow;
	memset(&d->rsi, 0, sizeof(d->rsi));
	if (!full && !has_changes(mine, n_mine) &&
	    !has_changes(d->peer_rec, d->peer_rec_n)) {
		replicd_track_entries_free(mine, n_mine);
		replicd_free_peer_record(d);
		replicd_send_sync(d, ROP_SYNC_INSYNC);
		replicd_repl_set_connected(&d->repl, true);
		replicd_peer_in_sync(d);
		d->next_flush_ms = sky_now_ms() + 2000;
		log_notice("peer %s is in sync: nothing changed on either "
			   "side",
			   d->peer->name);
		d->changed = true;
		return;
	}
	if (full) {
		/* No record to trust: compare hashes of the two copies. */
		replicd_track_entries_free(mine, n_mine);
		replicd_free_peer_record(d);
		d->rs_track_count = replicd_track_count(d->track);
		if (replicd_manifest_new(&d->mf) < 0) {
			replicd_drop_conn(d, &d->conn, "out of memory");
			return;
		}
		d->psync = PS_MANIFEST;
		d->rsi.started_ms = sky_now_ms();
		d->rsi.wire_start = d->conn->bytes_sent;
		replicd_send_sync(d, ROP_SYNC_HASHES);
		log_notice("no usable change record: comparing the hashes of "
			   "both copies with %s",
			   d->peer->name);
		d->changed = true;
		return;
	}
	int roots[REPLICD_MAX_DIRS];
	replicd_dir_roots(d, roots);
	d->rs_track_count = n_mine;
	r = replicd_resync_new(&d->rs, mine, n_mine, d->peer_rec, d->peer_rec_n,
			       full, d->mount_count, roots);
	replicd_track_entries_free(mine, n_mine);
	replicd_free_peer_record(d);
	if (r < 0) {
		replicd_drop_conn(d, &d->conn, "cannot plan the resync");
		return;
	}
	struct replicd_resync_stats st;
	replicd_resync_stats(d->rs, &st);
	d->rsi.active = true;
	d->rsi.full = full;
	d->rsi.started_ms = sky_now_ms();
	d->rsi.bytes_total = st.bytes_total;
	d->rsi.wire_start = d->conn->bytes_sent;
	d->rsi.passes = 1;
	resync_begin(d);
	replicd_send_sync(d, ROP_SYNC_RESYNC | (full ? ROP_SYNC_FULL : 0));
	replicd_repl_set_connected(&d->repl, true);
	d->psync = PS_RESYNC;
	log_notice("resync to %s starts: %s, about %llu bytes", d->peer->name,
		   full ? "no usable change record, copying everything"
			: "the recorded changes of both nodes",
		   (unsigned long long)st.bytes_total);
	d->changed = true;
}

/* Primary: the peer's manifest is in: compare and send what differs. */
void replicd_start_hash_resync(struct replicd *d)
{
	int roots[REPLICD_MAX_DIRS];
	int r;
	replicd_dir_roots(d, roots);
	if (d->mf_overflow) {
		log_warning("the manifest of %s is too large to hold: copying "
			    "everything instead",
			    d->peer->name);
		replicd_manifest_free(&d->mf);
		r = replicd_resync_new(&d->rs, NULL, 0, NULL, 0, true,
				       d->mount_count, roots);
	} else {
		r = replicd_resync_new_compare(&d->rs, d->mf, d->mount_count,
					       roots);
	}
	if (r < 0) {
		replicd_drop_conn(d, &d->conn, "cannot plan the resync");
		return;
	}
	d->rsi.active = true;
	d->rsi.full = d->mf_overflow;
	d->rsi.hash = !d->mf_overflow;
	d->rsi.passes = 1;
	resync_begin(d);
	replicd_send_sync(d, ROP_SYNC_RESYNC |
				     (d->mf_overflow ? ROP_SYNC_FULL : 0));
	replicd_repl_set_connected(&d->repl, true);
	d->psync = PS_RESYNC;
	log_notice("resync to %s starts: %s", d->peer->name,
		   d->mf_overflow ? "everything"
				  : "the zones whose hashes differ");
	d->changed = true;
}

/* --- resync and the record --------------------------------------------- */

/* Async window of resync data not yet acked: keeps memory bounded. */
#define RESYNC_WINDOW (8u << 20)

/* Primary: entries recorded since the plan was made that change names:
 * a live rename during the resync can move a path it had not reached. */
static int next_pass(struct replicd *d)
{
	struct changerec_entry *e = NULL;
	size_t n = 0, k = 0;
	int r = replicd_track_entries(d->track, &e, &n);
	if (r < 0)
		return r;
	/* Keep the new namespace entries at the front, free the rest. */
	for (size_t i = 0; i < n; i++) {
		bool keep = i >= d->rs_track_count &&
			    (e[i].kinds & (TRK_ENTRY | TRK_TREE | TRK_META));
		if (keep) {
			struct changerec_entry tmp = e[k];
			e[k] = e[i];
			e[i] = tmp;
			k++;
		}
	}
	d->rs_track_count = n;
	replicd_resync_free(&d->rs);
	if (k > 0) {
		int roots[REPLICD_MAX_DIRS];
		replicd_dir_roots(d, roots);
		r = replicd_resync_new(&d->rs, e, k, NULL, 0, false,
				       d->mount_count, roots);
		d->rsi.passes++;
	}
	replicd_track_entries_free(e, n);
	return r < 0 ? r : k > 0;
}

static void submit_flush(struct replicd *d)
{
	struct replicd_op op = {.type = ROP_FLUSH};
	pthread_mutex_lock(&d->repl.order);
	d->flush_len = replicd_track_length(d->track);
	int r = replicd_submit_locked(d, &op);
	pthread_mutex_unlock(&d->repl.order);
	if (r == 0)
		d->flush_seq = op.seq;
}

/*
 * Primary: one operation of the resync, in sequence with the live ones:
 * a write's data compressed when both sides offered zstd and it shrinks
 * (zframe.h), and its encoded size counted for the cap.
 */
static int resync_emit(void *ctx, struct replicd_op *op)
{
	struct replicd *d = ctx;
	size_t raw = op->data_len;
	if (d->rsi.compress && op->type == ROP_WRITE &&
	    raw >= REPLICD_ZSTD_MIN) {
		int z = replicd_zstd_pack(d->zstd, op);
		if (z < 0)
			return z;
		if (z == 1) {
			d->rsi.z_frames++;
			d->rsi.z_in += raw;
			d->rsi.z_out += op->data_len;
		} else {
			d->rsi.z_raw++;
		}
	}
	int r = replicd_submit_locked(d, op);
	if (r == 0) {
		uint64_t n = replicd_op_size(op);
		d->rsi.op_bytes += n;
		sky_ratecap_charge(&d->rs_cap, n);
	}
	return r;
}

/* Primary: the file bytes one step may emit: under a cap, about a tick's
 * worth (whole zones), so the bucket is paid back smoothly. */
static size_t step_budget(const struct replicd *d)
{
	uint64_t rate = d->set->resync_max_bytes_per_s;
	if (!rate)
		return REPLICD_DATA_MAX;
	uint64_t b = rate / (1000 / REPLICD_TICK_MS);
	b = b < REPLICD_ZONE_SIZE ? REPLICD_ZONE_SIZE
				  : b & ~(uint64_t)(REPLICD_ZONE_SIZE - 1);
	return b < REPLICD_DATA_MAX ? (size_t)b : REPLICD_DATA_MAX;
}

/* Primary: may the pump send now? Counts the time it waits for the cap. */
static bool cap_allows(struct replicd *d, int64_t now)
{
	if (sky_ratecap_ready(&d->rs_cap, now)) {
		if (d->rsi.throttled_since) {
			d->rsi.throttled_ms +=
				(uint64_t)(now - d->rsi.throttled_since);
			d->rsi.throttled_since = 0;
		}
		return true;
	}
	if (!d->rsi.throttled_since)
		d->rsi.throttled_since = now;
	return false;
}

void replicd_resync_pump(struct replicd *d, int64_t now)
{
	if (!replicd_peer_up(d) || !d->conn->client)
		return;
	if (d->psync == PS_INSYNC && !d->flush_pending &&
	    now >= d->next_flush_ms) {
		d->next_flush_ms = now + 2000;
		/* Only once changes paused for a period: a flush is a syncfs
		 * on the peer, which would stall a busy writer. */
		uint64_t len = replicd_track_length(d->track);
		bool quiet = len == d->flush_seen_len;
		d->flush_seen_len = len;
		if (quiet && replicd_track_count(d->track) > 0 &&
		    !d->inflight) {
			submit_flush(d);
			d->flush_pending = d->flush_seq != 0;
		}
		return;
	}
	if (d->psync != PS_RESYNC)
		return;
	pthread_mutex_lock(&d->repl.lock);
	uint64_t unacked = d->repl.unacked_bytes;
	pthread_mutex_unlock(&d->repl.lock);
	if (unacked > RESYNC_WINDOW)
		return;
	/* The cap: the loop wakes every tick (or sooner), so the pump is
	 * back once the bucket has refilled; never a busy wait. */
	if (d->rs && !cap_allows(d, now))
		goto progress;
	int r = 1;
	if (d->rs) {
		struct replicd_resync_stats st;
		/* Under a cap a step is small; steps that send little (a hash
		 * comparison of equal zones reads but sends nothing) go on while
		 * the bucket allows, up to what one uncapped step may read. */
		size_t budget = step_budget(d);
		size_t steps = REPLICD_DATA_MAX / budget;
		pthread_mutex_lock(&d->repl.order);
		do
			r = replicd_resync_step(d->rs, budget, resync_emit, d);
		while (r == 1 && --steps > 0 &&
		       sky_ratecap_ready(&d->rs_cap, now));
		pthread_mutex_unlock(&d->repl.order);
		replicd_resync_stats(d->rs, &st);
		/* Each pass has its own plan: add its progress. */
		d->rsi.bytes_done = d->rsi.done_before + st.bytes_done;
		d->rsi.data_bytes_sent = d->rsi.bytes_done;
		d->rsi.zones = d->rsi.zones_before + st.zones;
		d->rsi.bytes_total = d->rsi.total_before + st.bytes_total;
		if (r == 0) {
			d->rsi.done_before = d->rsi.bytes_done;
			d->rsi.zones_before = d->rsi.zones;
			d->rsi.total_before = d->rsi.bytes_total;
		}
	}
	if (r < 0) {
		log_error("resync stopped: %s", strerror(-r));
		replicd_drop_conn(d, &d->conn, "resync failed");
		return;
	}
	if (r == 0 || !d->rs) {
		r = d->rsi.passes < 16 ? next_pass(d) : 0;
		if (r < 0) {
			replicd_drop_conn(d, &d->conn,
					  "cannot plan a resync pass");
			return;
		}
		if (r == 0) {
			submit_flush(d);
			d->psync = PS_FLUSH;
			d->changed = true;
		}
	}
progress:
	if (now >= d->next_progress_ms) {
		d->next_progress_ms = now + 1000;
		replicd_send_sync(d, ROP_SYNC_RESYNC);
		d->changed = true;
	}
}

/* Secondary: send one ROP_HASHES (not sequenced, up to 1 MiB of data). */
static int send_big(void *ctx, struct replicd_op *op)
{
	static uint8_t buf[REPLICD_OP_MAX];
	struct replicd *d = ctx;
	int n = replicd_op_encode(op, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put_sealed(d->conn, buf, (size_t)n);
}

/* Secondary: describe the copy, a bounded part per loop. */
void replicd_walk_pump(struct replicd *d)
{
	if (!d->walk || !replicd_peer_up(d) || d->conn->client ||
	    replicd_conn_wants_write(d->conn))
		return;
	replicd_applier_drain(&d->applier); /* hash what is on disk */
	int r = replicd_manifest_walk_step(d->walk, 4u << 20, send_big, d);
	if (r == 0) {
		struct replicd_op end = {.type = ROP_HASHES_END};
		replicd_manifest_walk_free(&d->walk);
		r = replicd_send_op(d->conn, &end);
	}
	if (r < 0) {
		log_error("cannot describe this copy: %s", strerror(-r));
		replicd_drop_conn(d, &d->conn, "manifest failed");
	}
}
