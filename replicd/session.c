/*
 * session.c - the replication session's lifecycle and control messages.
 *
 * Connection setup and teardown on both sides, the secondary's change record
 * sent at the start of a session, and the primary's unsequenced control
 * operations (sync state, the generation the peer's copy is complete at).
 */
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- connection lifecycle ---------------------------------------------- */

void replicd_free_inflight(struct replicd *d)
{
	while (d->inflight) {
		struct replicd_item *it = d->inflight;
		d->inflight = it->next;
		free(it);
	}
	d->inflight_tail = NULL;
	d->inflight_count = 0;
}

void replicd_free_peer_record(struct replicd *d)
{
	replicd_track_entries_free(d->peer_rec, d->peer_rec_n);
	d->peer_rec = NULL;
	d->peer_rec_n = d->peer_rec_cap = 0;
	d->peer_rec_overflow = false;
}

/* Primary: the session with the peer ended (or never got far). */
void replicd_end_peer_session(struct replicd *d)
{
	if (d->rsi.active) {
		d->rsi.active = false;
		d->rsi.ended_ms = sky_now_ms();
		log_warning("resync interrupted after %llu of %llu bytes",
			    (unsigned long long)d->rsi.bytes_done,
			    (unsigned long long)d->rsi.bytes_total);
	}
	replicd_resync_free(&d->rs);
	replicd_manifest_free(&d->mf);
	d->mf_overflow = false;
	replicd_free_peer_record(d);
	d->psync = PS_NONE;
	d->flush_pending = false;
}

void replicd_drop_conn(struct replicd *d, struct replicd_conn **cp,
		       const char *why)
{
	struct replicd_conn *c = *cp;
	if (!c)
		return;
	bool was_up = c->stage == RC_UP;
	d->bytes_sent_done += c->bytes_sent;
	if (cp == &d->conn && was_up) {
		log_warning("peer %s disconnected: %s", d->peer->name, why);
		snprintf(d->last_disconnect, sizeof(d->last_disconnect), "%s",
			 why);
		if (c->client) {
			replicd_repl_set_connected(&d->repl, false);
			if (d->standalone)
				/* No heartbeatd: the peer's replicd calls its
				 * copy outdated timeout_ms after our last
				 * frame, which came no later than this. */
				replicd_repl_set_degraded_ok_at(
					&d->repl,
					c->last_rx_ms +
						3 * (int64_t)d->set
								->timeout_ms);
			replicd_free_inflight(d);
			replicd_end_peer_session(d);
		} else {
			replicd_applier_drain(&d->applier);
			/* Not into the next session: report it now. */
			if (replicd_applier_failed(d) < 0)
				d->data = SKY_REPLICA_INCONSISTENT;
			replicd_handles_clear(d);
			d->have_seq = false;
			d->ack_due = 0;
			replicd_ackbatch_reset(&d->acks);
			d->sec_resyncing = false;
			replicd_manifest_walk_free(&d->walk);
		}
	}
	replicd_conn_free(cp);
	d->changed = true;
}

void replicd_reject(struct replicd *d, struct replicd_conn **cp,
		    const char *what, int err)
{
	d->rejected_handshakes += (*cp)->stage != RC_UP;
	d->rejected_frames += (*cp)->stage == RC_UP;
	sky_log_ratelimited(&d->rl_reject, LOG_WARNING,
			    "replication connection rejected: %s: %s", what,
			    strerror(-err));
	replicd_drop_conn(d, cp, what);
}

/* Secondary: our change record, then its end (docs/protocol.md). */

static int send_record(struct replicd *d, struct replicd_conn *c)
{
	struct changerec_entry *e = NULL;
	size_t n = 0;
	int r = replicd_track_entries(d->track, &e, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (e[i].kinds & TRK_ALONE)
			continue;
		struct replicd_op op = {.type = ROP_RECORD,
					.dir = e[i].dir,
					.path = e[i].path,
					.offset = e[i].first,
					.length = e[i].count,
					.flags = e[i].kinds};
		r = replicd_send_op(c, &op);
	}
	replicd_track_entries_free(e, n);
	if (r < 0)
		return r;
	struct replicd_alone_stats st = replicd_alone_get(&d->alone);
	struct replicd_op end = {
		.type = ROP_RECORD_END,
		.offset = st.count,
		.length = replicd_alone_pack_times(&st),
		.flags = (replicd_track_complete(d->track) ? ROP_REC_COMPLETE
							   : 0) |
			 (replicd_track_alone(d->track) ? ROP_REC_ALONE : 0)};
	return replicd_send_op(c, &end);
}

void replicd_session_up(struct replicd *d, struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	d->dirs_refused = false;
	if (c->client) {
		replicd_free_inflight(d);
		replicd_end_peer_session(d);
		/* Nothing is sent until both records are compared: live
		 * changes meanwhile are recorded and go with the resync. */
		d->psync = PS_EXCHANGE;
		/* Our epoch first, before anything else of this session. */
		replicd_send_epoch(d);
		log_notice("connected to peer %s (replication %s): comparing "
			   "change records",
			   d->peer->name,
			   d->set->async    ? "async"
			   : d->set->commit ? "commit"
					    : "sync");
	} else {
		if (cp == &d->pending) {
			replicd_drop_conn(
				d, &d->conn,
				"replaced by a new connection from the "
				"primary");
			d->conn = d->pending;
			d->pending = NULL;
		}
		replicd_applier_drain(&d->applier);
		replicd_handles_clear(d);
		d->have_seq = false;
		d->sec_resyncing = false;
		d->primary_final = false; /* it may acknowledge again */
		/* Up to date as of the last session; whether it still is,
		 * only the primary can tell (its answer follows). */
		if (d->data == SKY_REPLICA_UPTODATE)
			d->data = SKY_REPLICA_OUTDATED;
		d->last_primary_rx_ms = sky_now_ms();
		replicd_epoch_gate_start(&d->epoch_gate,
					 d->conn->hs.peer_caps &
						 REPLICD_CAP_EPOCH);
		if (!d->epoch_gate.fenced) {
			d->epoch_unfenced++;
			sky_log_ratelimited(
				&d->rl_epoch, LOG_WARNING,
				"primary %s sends no epoch (an older "
				"replicd): this session is not fenced by "
				"epoch",
				d->peer->name);
		}
		log_notice("primary %s connected: sending our change record",
			   d->peer->name);
		if (send_record(d, d->conn) < 0)
			replicd_drop_conn(d, &d->conn,
					  "cannot send the change record");
	}
	d->changed = true;
}

int replicd_start_handshake(struct replicd *d, struct replicd_conn *c)
{
	uint8_t buf[REPLICD_HS_MAX];
	replicd_hs_init(&c->hs, c->client, d->cfg->key, d->cfg->cluster,
			d->cfg->module, d->self->name, d->peer->name, NULL);
	/* Compressed resync writes: offered when configured (an older
	 * replicd offers nothing; each side uses only what both offer). */
	c->hs.caps = (d->set->resync_zstd ? REPLICD_CAP_ZSTD : 0) |
		     REPLICD_CAP_EPOCH;
	/* Operations name directories by index: never pair with a peer
	 * whose list differs (chan.h, REPLICD_CAP_DIRS). */
	replicd_hs_set_dirs(&c->hs, d->set->dirs, d->set->dir_count);
	if (!c->client)
		return 0;
	int n = replicd_hs_client_hello(&c->hs, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put(c, buf, (size_t)n);
}

int replicd_send_op(struct replicd_conn *c, struct replicd_op *op)
{
	/* Unsequenced control operations: no data, at most one path. */
	static uint8_t buf[REPLICD_PATH_MAX + 128];
	int n = replicd_op_encode(op, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put_sealed(c, buf, (size_t)n);
}

/* Submit an operation from the main thread, in sequence with the FUSE
 * threads' (the caller holds the order lock). */
int replicd_submit_locked(void *ctx, struct replicd_op *op)
{
	struct replicd *d = ctx;
	struct replicd_ticket t;
	if (!replicd_repl_connected(&d->repl))
		return -ENOTCONN;
	return replicd_repl_submit(&d->repl, op, false, &t);
}

void replicd_send_sync(struct replicd *d, uint32_t flags)
{
	struct replicd_op op = {.type = ROP_SYNC,
				.flags = flags,
				.offset = d->rsi.bytes_total,
				.length = d->rsi.bytes_done};
	if (flags & ROP_SYNC_DIVERGED) {
		/* What this node did alone, for the peer's status. */
		struct replicd_alone_stats st = replicd_alone_get(&d->alone);
		op.offset = st.count;
		op.length = replicd_alone_pack_times(&st);
	}
	if (d->conn && replicd_send_op(d->conn, &op) < 0)
		replicd_drop_conn(d, &d->conn, "cannot queue a sync message");
}

/*
 * May a change the peer lacks be acknowledged? Only while heartbeatd says
 * so (ALONE, or PRIM with this link down) and its generation is newer than
 * any this node may have told the peer its copy is complete at: then the
 * peer, with an older generation, can never be preferred to this copy.
 */
void replicd_update_alone_ok(struct replicd *d)
{
	bool ok = d->target == RT_PRIMARY && !d->standalone && d->ack_alone &&
		  d->have_generation && d->generation > d->generation_sent;
	if (!d->standalone)
		replicd_repl_set_alone(&d->repl, ok);
}

/* Primary: the peer is in sync; tell it at which generation. */
void replicd_send_generation(struct replicd *d)
{
	if (d->psync != PS_INSYNC || !d->conn || !d->have_generation)
		return;
	struct replicd_op op = {.type = ROP_GENERATION,
				.offset = d->generation};
	/* Counted as told before it is sent: it may arrive. */
	if (d->generation > d->generation_sent)
		d->generation_sent = d->generation;
	replicd_update_alone_ok(d);
	if (replicd_send_op(d->conn, &op) < 0)
		replicd_drop_conn(d, &d->conn,
				  "cannot queue a generation message");
}

void replicd_send_epoch(struct replicd *d)
{
	if (!replicd_peer_up(d) || !d->conn->client ||
	    !(d->conn->hs.peer_caps & REPLICD_CAP_EPOCH))
		return;
	struct replicd_op op = {.type = ROP_EPOCH, .offset = d->epoch};
	if (replicd_send_op(d->conn, &op) < 0)
		replicd_drop_conn(d, &d->conn, "cannot queue an epoch message");
}

void replicd_refuse_epoch(struct replicd *d, struct replicd_conn **cp)
{
	d->epoch_refused++;
	sky_log_ratelimited(&d->rl_epoch, LOG_WARNING,
			    "refused primary %s: its epoch %llu is older than "
			    "epoch %llu, which this node knows from "
			    "heartbeatd (a primary that was replaced: nothing "
			    "of it is applied)",
			    d->peer->name,
			    (unsigned long long)d->epoch_gate.epoch,
			    (unsigned long long)d->epoch);
	replicd_drop_conn(d, cp, "the primary's epoch is older than ours");
}

void replicd_refuse_dirs(struct replicd *d, struct replicd_conn **cp)
{
	char list[1024] = "";
	size_t at = 0;

	for (size_t i = 0; i < d->set->dir_count && at < sizeof(list); i++) {
		int n = snprintf(list + at, sizeof(list) - at, "%s%s",
				 i ? ", " : "", d->set->dirs[i]);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	d->rejected_handshakes++;
	d->dirs_refused = true;
	sky_log_ratelimited(&d->rl_dirs, LOG_ERR,
			    "replication with %s refused: replicd.directories "
			    "differ between this node ([%s]) and %s: the same "
			    "paths, in the same order, are needed on both "
			    "nodes (operations name a directory by its place "
			    "in the list); fix the module file, then restart "
			    "skyha-replicd@%s",
			    d->peer->name, list, d->peer->name, d->cfg->module);
	replicd_drop_conn(d, cp, "replicd.directories differ");
}

/* Primary: the current session has brought the peer in sync. */
void replicd_peer_in_sync(struct replicd *d)
{
	d->psync = PS_INSYNC;
	replicd_repl_set_insync(&d->repl);
	replicd_send_generation(d);
}
