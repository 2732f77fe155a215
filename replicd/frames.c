/*
 * frames.c - acting on the peer's frames.
 *
 * Reading the connection, unsealing and decoding every complete frame, and
 * acting on it: the primary on acks, records and manifests; the secondary on
 * operations (applied in sequence order) and the primary's word on its copy.
 */
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Primary: the peer acked up to seq. */
static void on_ack(struct replicd *d, uint64_t seq)
{
	uint64_t bytes = 0;
	while (d->inflight && d->inflight->seq <= seq) {
		struct replicd_item *it = d->inflight;
		d->inflight = it->next;
		bytes += it->len;
		d->inflight_count--;
		free(it);
	}
	if (!d->inflight)
		d->inflight_tail = NULL;
	d->acks_received++;
	replicd_repl_acked(&d->repl, seq, bytes);
	if (!d->flush_seq || seq < d->flush_seq)
		return;
	if (d->psync == PS_FLUSH) {
		int64_t now = sky_now_ms();
		d->rsi.active = false;
		d->rsi.ended_ms = now;
		d->rsi.wire_bytes = d->conn->bytes_sent - d->rsi.wire_start;
		replicd_send_sync(d, ROP_SYNC_INSYNC);
		replicd_peer_in_sync(d);
		log_notice("resync to %s done: %llu file bytes in %llu zones, "
			   "%llu bytes on the wire, %.3f s",
			   d->peer->name,
			   (unsigned long long)d->rsi.data_bytes_sent,
			   (unsigned long long)d->rsi.zones,
			   (unsigned long long)d->rsi.wire_bytes,
			   (double)(now - d->rsi.started_ms) / 1000.0);
		d->flush_pending = true; /* reset the record below */
	}
	if (d->flush_pending) {
		d->flush_pending = false;
		d->flush_seq = 0;
		/* -EAGAIN: changes came meanwhile; the next flush empties
		 * the record. */
		int r = replicd_track_reset(d->track, d->flush_len);
		/* The peer has everything acked before the flush: nothing
		 * acked alone is left (a later change went to the peer). */
		if (r == -EAGAIN)
			r = replicd_track_drop_alone(d->track);
		if (r < 0)
			log_error("cannot update the change record: %s",
				  strerror(-r));
		d->next_flush_ms = sky_now_ms() + 2000;
	}
	d->changed = true;
}

/* Primary: a frame from the secondary. */
static int on_peer_frame(struct replicd *d, const struct replicd_op *op)
{
	switch (op->type) {
	case ROP_ACK:
		on_ack(d, op->seq);
		return 0;
	case ROP_RECORD: {
		if (d->psync != PS_EXCHANGE)
			return -EPROTO;
		if (d->peer_rec_n >= REPLICD_PEER_RECORD_MAX) {
			d->peer_rec_overflow = true; /* then: copy all */
			return 0;
		}
		if (d->peer_rec_n == d->peer_rec_cap) {
			size_t cap = d->peer_rec_cap ? d->peer_rec_cap * 2 : 64;
			struct changerec_entry *n =
				realloc(d->peer_rec, cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			d->peer_rec = n;
			d->peer_rec_cap = cap;
		}
		int r = replicd_track_entry_of(op, d->mount_count,
					       &d->peer_rec[d->peer_rec_n]);
		if (r < 0)
			return r;
		d->peer_rec_n++;
		return 0;
	}
	case ROP_RECORD_END:
		if (d->psync != PS_EXCHANGE)
			return -EPROTO;
		d->peer_alone = replicd_alone_unpack(op->offset, op->length);
		replicd_decide(d, op->flags);
		return 0;
	case ROP_HASHES: {
		if (d->psync != PS_MANIFEST || op->dir >= d->mount_count)
			return -EPROTO;
		if (d->mf_overflow)
			return 0;
		int r = replicd_manifest_add(d->mf, op);
		if (r == -E2BIG)
			d->mf_overflow = true; /* then: copy everything */
		else if (r < 0)
			return r == -ENOMEM ? r : -EPROTO;
		return 0;
	}
	case ROP_HASHES_END:
		if (d->psync != PS_MANIFEST)
			return -EPROTO;
		replicd_start_hash_resync(d);
		return 0;
	case ROP_VERIFY_HASHES:
	case ROP_VERIFY_END:
		return replicd_verify_on_frame(d, op);
	default:
		return -EPROTO;
	}
}

/* Secondary: the primary refuses to resync us (both changed alone). */
static void on_sync_diverged(struct replicd *d, const struct replicd_op *op)
{
	char mine[160], theirs[160];
	struct replicd_alone_stats st = replicd_alone_get(&d->alone);
	d->peer_alone = replicd_alone_unpack(op->offset, op->length);
	d->diverged = true;
	d->sec_resyncing = false;
	d->synced_generation = 0;
	replicd_alone_describe(&st, mine, sizeof(mine));
	replicd_alone_describe(&d->peer_alone, theirs, sizeof(theirs));
	log_error("copies diverged: this node made %s that primary %s "
		  "never got, and %s made %s without this node; no "
		  "resync. `skyctl resync --discard-local` here drops "
		  "this node's; to keep them instead, make this node "
		  "primary first (`skyctl stop` on %s, `skyctl prim "
		  "--force` here)",
		  mine, d->peer->name, d->peer->name, theirs, d->peer->name);
}

/* Secondary: what the primary says about our copy. */
static void on_sync(struct replicd *d, const struct replicd_op *op)
{
	if (op->flags & ROP_SYNC_DIVERGED) {
		on_sync_diverged(d, op);
		d->changed = true;
		return;
	}
	d->peer_alone = (struct replicd_alone_stats){0};
	if (op->flags & ROP_SYNC_FINAL) {
		if (d->data == SKY_REPLICA_UPTODATE && !d->sec_resyncing) {
			d->primary_final = true;
			log_notice(
				"primary %s stops: this copy has every change "
				"it acknowledged",
				d->peer->name);
		}
		d->changed = true;
		return;
	}
	d->sec_total = op->offset;
	d->sec_done = op->length;
	if (op->flags & ROP_SYNC_HASHES) {
		int roots[REPLICD_MAX_DIRS];
		replicd_dir_roots(d, roots);
		replicd_manifest_walk_free(&d->walk);
		if (replicd_manifest_walk_new(&d->walk, roots, d->mount_count) <
		    0) {
			replicd_drop_conn(d, &d->conn, "out of memory");
			return;
		}
		replicd_manifest_walk_set_exclude(d->walk, &d->set->exclude);
		replicd_manifest_walk_set_links_apart(d->walk);
		d->diverged = false;
		d->synced_generation = 0;
		log_notice("describing this copy by its hashes for %s",
			   d->peer->name);
	} else if (op->flags & ROP_SYNC_RESYNC) {
		if (!d->sec_resyncing)
			log_notice("resync from %s%s", d->peer->name,
				   op->flags & ROP_SYNC_FULL
					   ? ": everything (no usable record)"
					   : "");
		d->diverged = false;
		d->sec_resyncing = true;
		d->data = SKY_REPLICA_INCONSISTENT;
		d->synced_generation = 0;
	} else if (op->flags & ROP_SYNC_INSYNC) {
		d->diverged = false;
		d->sec_resyncing = false;
		d->data = SKY_REPLICA_UPTODATE;
		d->synced_generation = 0; /* the generation message follows */
		d->apply_errors = 0;
		/* Everything in our record is on both sides now. */
		int r = replicd_track_reset(d->track, UINT64_MAX);
		if (r < 0)
			log_error("cannot empty the change record: %s",
				  strerror(-r));
		log_notice("in sync with primary %s", d->peer->name);
	}
	d->changed = true;
}

/*
 * Secondary: a compressed resync write (zframe.h) becomes the plain write
 * it stands for, in a job of the declared size. -EILSEQ for a frame that
 * is not exactly what it says (counted; the connection ends), and for one
 * we never offered to take.
 */
static int inflate_job(struct replicd *d, struct replicd_conn *c,
		       struct replicd_write_job **jp)
{
	struct replicd_write_job *job = *jp;
	if (!(c->hs.caps & REPLICD_CAP_ZSTD)) {
		d->z_rejected++;
		return -EILSEQ;
	}
	/* One context for both roles: the configured level, for when this
	 * node is primary later. */
	if (!d->zstd &&
	    replicd_zstd_new(&d->zstd, d->set->resync_compress_level) < 0)
		return -ENOMEM;
	/* op.length is at most REPLICD_DATA_MAX (op.c checked it). */
	struct replicd_write_job *big =
		replicd_write_job_new((size_t)job->op.length);
	if (!big)
		return -ENOMEM;
	int n = replicd_zstd_unpack(d->zstd, &job->op, big->buf, big->cap);
	if (n < 0) {
		free(big);
		d->z_rejected++;
		return n == -ENOMEM ? n : -EILSEQ;
	}
	d->z_frames_in++;
	d->z_bytes_in += job->op.data_len;
	d->z_bytes_out += (uint64_t)n;
	big->store = job->store;
	big->op = job->op;
	big->op.type = ROP_WRITE;
	big->op.length = 0;
	big->op.path = big->store.path;
	big->op.data = big->buf;
	big->op.data_len = (size_t)n;
	free(job);
	*jp = big;
	return 0;
}

/* Secondary: send the ack the batch holds (ackbatch.h), and out at once. */
static int send_ack(struct replicd *d, struct replicd_conn *c)
{
	uint64_t seq = replicd_ackbatch_take(&d->acks);
	if (d->ack_due > seq)
		seq = d->ack_due;
	d->ack_due = 0;
	if (!seq)
		return 0;
	struct replicd_op ack = {.type = ROP_ACK, .seq = seq};
	int r = replicd_send_op(c, &ack);
	/* A failed send shows again in replicd_conn_output. */
	if (r == 0 && replicd_conn_flush(c) < 0) {
	}
	return r;
}

/* Secondary: seq may be acked now; the batch says when. */
static int ackable(struct replicd *d, struct replicd_conn *c, uint64_t seq)
{
	if (replicd_ackbatch_add(&d->acks, seq, replicd_conn_next_ready(c),
				 sky_now_ms()))
		return send_ack(d, c);
	return 0;
}

/* A sealed frame on an up session. */
static int on_op_frame(struct replicd *d, struct replicd_conn *c,
		       const uint8_t *p, size_t len)
{
	if (c->client) {
		/* Acks and the peer's record: small, handled here. */
		static uint8_t plain[REPLICD_FRAME_MAX];
		static struct replicd_op_store store;
		struct replicd_op op;
		int n = replicd_stream_open(&c->st, p, len, plain,
					    sizeof(plain));
		if (n < 0)
			return -EBADMSG;
		if (replicd_op_decode(plain, (size_t)n, &op, &store) < 0)
			return -EPROTO;
		return on_peer_frame(d, &op);
	}
	/* The primary's: opened into a job the applier may take over. */
	struct replicd_write_job *job = replicd_write_job_new(len);
	if (!job)
		return -ENOMEM;
	int n = replicd_stream_open(&c->st, p, len, job->buf, job->cap);
	if (n < 0 ||
	    replicd_op_decode(job->buf, (size_t)n, &job->op, &job->store) < 0) {
		free(job);
		return n < 0 ? -EBADMSG : -EPROTO;
	}
	/* Nothing from a primary of an older epoch than ours (epoch.h),
	 * nor from one that offered the epoch and has not said it yet. */
	int e = replicd_epoch_check(&d->epoch_gate, d->epoch, job->op.type,
				    job->op.offset);
	if (e < 0 || job->op.type == ROP_EPOCH) {
		if (e == 0 && d->epoch_gate.epoch > d->epoch)
			log_info("primary %s serves in epoch %llu",
				 d->peer->name,
				 (unsigned long long)d->epoch_gate.epoch);
		free(job);
		return e;
	}
	if (job->op.type == ROP_WRITE_Z) {
		int z = inflate_job(d, c, &job);
		if (z < 0) {
			free(job);
			return z;
		}
	}
	const struct replicd_op *op = &job->op;
	int r = 0;
	d->last_primary_rx_ms = c->last_rx_ms;
	if (op->type == ROP_PING) {
		free(job);
		d->ack_due = d->have_seq ? d->last_seq : 0;
		if (!d->ack_due) {
			struct replicd_op ack = {.type = ROP_ACK, .seq = 0};
			return replicd_send_op(c, &ack);
		}
		return 0;
	}
	if (op->type == ROP_SYNC) {
		if (d->target != RT_SECONDARY)
			r = -EROFS;
		else {
			replicd_applier_drain(&d->applier);
			/* A write that failed before "in sync" leaves a copy
			 * that is not: never call it up to date. */
			if (replicd_applier_failed(d) < 0) {
				d->data = SKY_REPLICA_INCONSISTENT;
				r = -EIO;
			} else
				on_sync(d, op);
		}
		free(job);
		return r;
	}
	if (op->type == ROP_VERIFY) {
		free(job);
		return replicd_verify_on_request(d);
	}
	if (op->type == ROP_GENERATION) {
		if (d->target != RT_SECONDARY)
			r = -EROFS;
		else if (d->data != SKY_REPLICA_UPTODATE || d->sec_resyncing ||
			 d->diverged)
			r = -EPROTO; /* only ever sent to an in-sync copy */
		else if (op->offset != d->synced_generation) {
			d->synced_generation = op->offset;
			log_info("this copy is complete at data generation "
				 "%llu",
				 (unsigned long long)op->offset);
			d->changed = true;
		}
		free(job);
		return r;
	}
	if (op->type == ROP_ACK || op->type == ROP_RECORD ||
	    op->type == ROP_RECORD_END || op->type == ROP_HASHES ||
	    op->type == ROP_HASHES_END || op->dir >= d->mount_count)
		r = -EPROTO;
	else if (d->have_seq && op->seq != d->last_seq + 1)
		r = -EPROTO; /* lost or replayed: never apply out of order */
	else if (d->target != RT_SECONDARY)
		r = -EROFS;
	else if (d->diverged)
		r = -EPROTO; /* never mix the primary's changes in */
	if (r < 0) {
		free(job);
		return r;
	}
	d->have_seq = true;
	d->last_seq = op->seq;
	/*
	 * Acks are cumulative and we apply in sequence: an ack sent before
	 * applying op->seq still follows every earlier fsync or flush having
	 * ended (those wait for the applier, then run here). A write is owed
	 * receipt only: ackable before it reaches the disk, so the primary's
	 * writer goes on while the applier writes (and while the next frames
	 * arrive); anything else once applied. The batch (ackbatch.h) sends
	 * one ack for many frames when they come in a burst.
	 */
	uint64_t seq = op->seq;
	bool on_receipt = replicd_op_ack_on_receipt(op->type);
	if (on_receipt && (r = ackable(d, c, seq)) < 0) {
		free(job);
		return r;
	}
	if (replicd_apply_or_queue(d, job) < 0 ||
	    replicd_applier_failed(d) < 0) {
		d->data = SKY_REPLICA_INCONSISTENT;
		return -EIO;
	}
	return on_receipt ? 0 : ackable(d, c, seq);
}

/* Read, handle every complete frame, send the ack. */
void replicd_conn_input(struct replicd *d, struct replicd_conn **cp,
			int64_t now)
{
	struct replicd_conn *c = *cp;
	const uint8_t *p;
	size_t len;
	int r = replicd_conn_fill(c, now);

	if (r == -ECONNRESET && c->in_len > c->in_off) {
		const uint8_t *fp;
		size_t flen;
		/* The peer ended in the middle of a frame. */
		if (replicd_conn_frame(c, REPLICD_FRAME_MAX, &fp, &flen) == 0) {
			replicd_reject(d, cp, "truncated frame", -EPIPE);
			return;
		}
	}
	if (r < 0) {
		replicd_drop_conn(d, cp,
				  r == -ECONNRESET ? "connection closed"
						   : strerror(-r));
		return;
	}
	for (;;) {
		bool hs = c->stage != RC_UP;
		r = replicd_conn_frame(
			c, hs ? REPLICD_FRAME_HS_MAX : REPLICD_FRAME_MAX, &p,
			&len);
		if (r == 0)
			break;
		if (r < 0) {
			replicd_reject(d, cp, "oversized frame", r);
			return;
		}
		if (hs) {
			r = replicd_conn_on_hs_frame(c, p, len);
			if (r == -ENOTDIR) {
				replicd_refuse_dirs(d, cp);
				return;
			}
			if (r < 0) {
				replicd_reject(
					d, cp,
					r == -ESRCH ? "not our peer node"
					: r == -EKEYREJECTED
						? "peer does not hold the "
						  "cluster key"
					: r == -EXDEV
						? "another cluster or module"
						: "malformed handshake",
					r);
				return;
			}
			if (c->stage == RC_UP)
				replicd_session_up(d, cp);
			/* replicd_session_up may have moved the pending conn. */
			if (!*cp) {
				cp = &d->conn;
				c = *cp;
				if (!c)
					return;
			}
		} else {
			r = on_op_frame(d, c, p, len);
			if (r == -ESTALE) {
				replicd_refuse_epoch(d, cp);
				return;
			}
			if (r == -EIO) {
				/* Not the frame's fault: start over, the
				 * primary's record covers this change. */
				replicd_drop_conn(
					d, cp, "an operation failed to apply");
				return;
			}
			if (r < 0) {
				replicd_reject(
					d, cp,
					r == -EBADMSG
						? "frame fails authentication "
						  "(forged, replayed or "
						  "reordered)"
					: r == -EROFS
						? "operations received while "
						  "not secondary"
					: r == -EILSEQ
						? "bad compressed resync data"
					: r == -EPERM
						? "an operation before the "
						  "primary's epoch"
						: "malformed or "
						  "out-of-sequence "
						  "operation",
					r);
				return;
			}
		}
		replicd_conn_consume(c);
	}
	/* Whatever this read brought is acked before we sleep. */
	if (!c->client && c->stage == RC_UP && send_ack(d, c) < 0)
		replicd_drop_conn(d, cp, "cannot queue an ack");
}

void replicd_conn_output(struct replicd *d, struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	if (c->stage == RC_CONNECTING) {
		int r = replicd_conn_connected(c);
		if (r == 0)
			return;
		if (r < 0 || replicd_start_handshake(d, c) < 0) {
			sky_log_ratelimited(&d->rl_connect, LOG_INFO,
					    "cannot connect to peer %s: %s",
					    d->peer->name, strerror(-r));
			replicd_drop_conn(d, cp, "connect failed");
			return;
		}
	}
	int r = replicd_conn_flush(c);
	if (r < 0)
		replicd_drop_conn(d, cp, strerror(-r));
}
