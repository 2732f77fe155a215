/*
 * daemon.c - replicd's main thread (see daemon.h and repl.h).
 *
 * Every iteration: read heartbeatd's desired state, move operations the
 * FUSE threads queued onto the connection, read and act on the peer's
 * frames (the secondary applies operations in sequence order and acks
 * them; the primary releases writers on acks), enforce timeout_ms, then
 * publish the actual state on change and every second.
 */
#include "daemon.h"
#include "cli.h"
#include "desired.h"
#include "fs.h"
#include "log.h"
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zmq.h>

#define TICK_MS 50

static struct sockaddr_storage with_port(const struct sky_addr *a,
					 uint16_t port)
{
	struct sockaddr_storage ss = a->sa;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	return ss;
}

/* --- secondary: open handles ------------------------------------------- */

static struct replicd_handle **handle_slot(struct replicd *d, uint64_t id,
					   uint8_t dir)
{
	struct replicd_handle **p = &d->handles[id % REPLICD_HANDLE_BUCKETS];
	while (*p && ((*p)->id != id || (*p)->dir != dir))
		p = &(*p)->next;
	return p;
}

static void handle_drop(struct replicd *d, uint64_t id, uint8_t dir)
{
	struct replicd_handle **p = handle_slot(d, id, dir), *h = *p;
	if (!h)
		return;
	*p = h->next;
	close(h->fd);
	free(h);
}

static void handles_clear(struct replicd *d)
{
	for (size_t i = 0; i < REPLICD_HANDLE_BUCKETS; i++) {
		while (d->handles[i]) {
			struct replicd_handle *h = d->handles[i];
			d->handles[i] = h->next;
			close(h->fd);
			free(h);
		}
	}
}

/* The descriptor for a handle operation; -ENOENT: skip (see apply). */
static int handle_fd(struct replicd *d, const struct replicd_op *op)
{
	struct replicd_handle **p = handle_slot(d, op->handle, op->dir), *h;
	if (*p)
		return (*p)->fd;
	if (!op->path || !*op->path)
		return -ENOENT;
	int fd = replicd_fs_open(d->mounts[op->dir].root, op->path,
				 O_WRONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	h = malloc(sizeof(*h));
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	*h = (struct replicd_handle){
		.id = op->handle, .dir = op->dir, .fd = fd};
	*p = h;
	return fd;
}

static void apply_failed(struct replicd *d, uint8_t type, const char *path,
			 uint64_t seq, int err)
{
	d->apply_errors++;
	sky_log_ratelimited(&d->rl_apply, LOG_ERR,
			    "cannot apply %s of '%s' (seq %llu): %s; this "
			    "node's data now differs from the primary's: "
			    "reconnecting for a resync",
			    replicd_op_name(type), path ? path : "",
			    (unsigned long long)seq, strerror(-err));
}

/* A failure to apply op: expected during a resync (a live change to a path
 * the resync has not reached yet, which it sends whole), so only counted,
 * unless this disk cannot hold the data (full, failing); else logged.
 * Returns 0 or err. */
static int apply_error(struct replicd *d, const struct replicd_op *op, int err)
{
	if (d->sec_resyncing && !replicd_apply_err_is_local(err)) {
		d->apply_errors_resync++;
		return 0;
	}
	apply_failed(d, op->type, op->path, op->seq, err);
	return err;
}

/* The descriptor of op: its handle's, or -1 to go by path. Returns 0, 1 to
 * skip op (a file unlinked on the primary: unreachable), or -errno. */
static int op_fd(struct replicd *d, const struct replicd_op *op, int *fd)
{
	*fd = -1;
	if (op->handle == 0 ||
	    (op->type != ROP_WRITE && op->type != ROP_TRUNCATE &&
	     op->type != ROP_FALLOCATE && op->type != ROP_FSYNC &&
	     op->type != ROP_CHMOD && op->type != ROP_CHOWN &&
	     op->type != ROP_UTIMENS && op->type != ROP_SETXATTR &&
	     op->type != ROP_REMOVEXATTR))
		return 0;
	int h = handle_fd(d, op);
	if (h == -ENOENT && (!op->path || !*op->path))
		return 1;
	if (h < 0)
		return h;
	*fd = h;
	return 0;
}

/* Apply one operation of the primary; -errno if it failed. */
static int apply(struct replicd *d, const struct replicd_op *op)
{
	int fd, r;

	if (op->type == ROP_RELEASE) {
		handle_drop(d, op->handle, op->dir);
		return 0;
	}
	r = op_fd(d, op, &fd);
	if (r > 0)
		return 0;
	if (r == 0) {
		r = replicd_fs_apply(d->mounts[op->dir].root, op, fd, 0, NULL);
		if (r >= 0 && op->type == ROP_WRITE &&
		    (size_t)r != op->data_len)
			r = -EIO;
		if (r >= 0) {
			d->applied++;
			return 0;
		}
	}
	return apply_error(d, op, r);
}

/*
 * Hand a write to the applier thread; apply anything else here, once the
 * applier has written everything before it (applier.h). Frees job.
 */
static int apply_or_queue(struct replicd *d, struct replicd_write_job *job)
{
	const struct replicd_op *op = &job->op;
	int r;

	if (op->type != ROP_WRITE) {
		replicd_applier_drain(&d->applier);
		r = apply(d, op);
		free(job);
		return r;
	}
	r = op_fd(d, op, &job->fd);
	if (r != 0) {
		r = r > 0 ? 0 : apply_error(d, op, r);
		free(job);
		return r;
	}
	job->root = d->mounts[op->dir].root;
	job->resyncing = d->sec_resyncing;
	replicd_applier_push(&d->applier, job);
	return 0;
}

/* Did a write of the applier fail? Then as for apply's own failure. */
static int applier_failed(struct replicd *d)
{
	struct replicd_apply_failure f;
	if (!replicd_applier_take_failure(&d->applier, &f))
		return 0;
	apply_failed(d, ROP_WRITE, f.path, f.seq, f.err);
	return f.err;
}

/* --- connection lifecycle ---------------------------------------------- */

static void free_inflight(struct replicd *d)
{
	while (d->inflight) {
		struct replicd_item *it = d->inflight;
		d->inflight = it->next;
		free(it);
	}
	d->inflight_tail = NULL;
	d->inflight_count = 0;
}

static void free_peer_record(struct replicd *d)
{
	replicd_track_entries_free(d->peer_rec, d->peer_rec_n);
	d->peer_rec = NULL;
	d->peer_rec_n = d->peer_rec_cap = 0;
	d->peer_rec_overflow = false;
}

/* Primary: the session with the peer ended (or never got far). */
static void end_peer_session(struct replicd *d)
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
	free_peer_record(d);
	d->psync = PS_NONE;
	d->flush_pending = false;
}

static void drop_conn(struct replicd *d, struct replicd_conn **cp,
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
			free_inflight(d);
			end_peer_session(d);
		} else {
			replicd_applier_drain(&d->applier);
			/* Not into the next session: report it now. */
			if (applier_failed(d) < 0)
				d->data = SKY_REPLICA_INCONSISTENT;
			handles_clear(d);
			d->have_seq = false;
			d->ack_due = 0;
			d->sec_resyncing = false;
			replicd_manifest_walk_free(&d->walk);
		}
	}
	replicd_conn_free(cp);
	d->changed = true;
}

static void reject(struct replicd *d, struct replicd_conn **cp,
		   const char *what, int err)
{
	d->rejected_handshakes += (*cp)->stage != RC_UP;
	d->rejected_frames += (*cp)->stage == RC_UP;
	sky_log_ratelimited(&d->rl_reject, LOG_WARNING,
			    "replication connection rejected: %s: %s", what,
			    strerror(-err));
	drop_conn(d, cp, what);
}

static int send_op(struct replicd_conn *c, struct replicd_op *op);

/* Secondary: our change record, then its end (docs/protocol.md). */

static int send_record(struct replicd *d, struct replicd_conn *c)
{
	struct replicd_track_entry *e = NULL;
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
		r = send_op(c, &op);
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
	return send_op(c, &end);
}

static void session_up(struct replicd *d, struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	if (c->client) {
		free_inflight(d);
		end_peer_session(d);
		/* Nothing is sent until both records are compared: live
		 * changes meanwhile are recorded and go with the resync. */
		d->psync = PS_EXCHANGE;
		log_notice("connected to peer %s (replication %s): comparing "
			   "change records",
			   d->peer->name, d->set->async ? "async" : "sync");
	} else {
		if (cp == &d->pending) {
			drop_conn(d, &d->conn,
				  "replaced by a new connection from the "
				  "primary");
			d->conn = d->pending;
			d->pending = NULL;
		}
		replicd_applier_drain(&d->applier);
		handles_clear(d);
		d->have_seq = false;
		d->sec_resyncing = false;
		d->primary_final = false; /* it may acknowledge again */
		/* Up to date as of the last session; whether it still is,
		 * only the primary can tell (its answer follows). */
		if (d->data == SKY_REPLICA_UPTODATE)
			d->data = SKY_REPLICA_OUTDATED;
		d->last_primary_rx_ms = sky_now_ms();
		log_notice("primary %s connected: sending our change record",
			   d->peer->name);
		if (send_record(d, d->conn) < 0)
			drop_conn(d, &d->conn, "cannot send the change record");
	}
	d->changed = true;
}

static int start_handshake(struct replicd *d, struct replicd_conn *c)
{
	uint8_t buf[REPLICD_HS_MAX];
	replicd_hs_init(&c->hs, c->client, d->cfg->key, d->cfg->cluster,
			d->cfg->module, d->self->name, d->peer->name, NULL);
	if (!c->client)
		return 0;
	int n = replicd_hs_client_hello(&c->hs, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put(c, buf, (size_t)n);
}

static int send_op(struct replicd_conn *c, struct replicd_op *op)
{
	/* Unsequenced control operations: no data, at most one path. */
	static uint8_t buf[REPLICD_PATH_MAX + 128];
	int n = replicd_op_encode(op, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put_sealed(c, buf, (size_t)n);
}

/* Submit an operation from the main thread, in sequence with the FUSE
 * threads' (the caller holds the order lock). */
static int submit_locked(void *ctx, struct replicd_op *op)
{
	struct replicd *d = ctx;
	struct replicd_ticket t;
	if (!replicd_repl_connected(&d->repl))
		return -ENOTCONN;
	return replicd_repl_submit(&d->repl, op, false, &t);
}

static void send_sync(struct replicd *d, uint32_t flags)
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
	if (d->conn && send_op(d->conn, &op) < 0)
		drop_conn(d, &d->conn, "cannot queue a sync message");
}

/*
 * May a change the peer lacks be acknowledged? Only while heartbeatd says
 * so (ALONE, or PRIM with this link down) and its generation is newer than
 * any this node may have told the peer its copy is complete at: then the
 * peer, with an older generation, can never be preferred to this copy.
 */
static void update_alone_ok(struct replicd *d)
{
	bool ok = d->target == RT_PRIMARY && !d->standalone && d->ack_alone &&
		  d->have_generation && d->generation > d->generation_sent;
	if (!d->standalone)
		replicd_repl_set_alone(&d->repl, ok);
}

/* Primary: the peer is in sync; tell it at which generation. */
static void send_generation(struct replicd *d)
{
	if (d->psync != PS_INSYNC || !d->conn || !d->have_generation)
		return;
	struct replicd_op op = {.type = ROP_GENERATION,
				.offset = d->generation};
	/* Counted as told before it is sent: it may arrive. */
	if (d->generation > d->generation_sent)
		d->generation_sent = d->generation;
	update_alone_ok(d);
	if (send_op(d->conn, &op) < 0)
		drop_conn(d, &d->conn, "cannot queue a generation message");
}

/* Primary: the current session has brought the peer in sync. */
static void peer_in_sync(struct replicd *d)
{
	d->psync = PS_INSYNC;
	replicd_repl_set_insync(&d->repl);
	send_generation(d);
}

static bool has_changes(const struct replicd_track_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(e[i].kinds & TRK_ALONE))
			return true;
	return false;
}

static int dir_roots(struct replicd *d, int *roots)
{
	for (size_t i = 0; i < d->mount_count; i++)
		roots[i] = d->mounts[i].root;
	return 0;
}

/* Primary: the peer's record is in; decide what the session does. */
static void decide(struct replicd *d, uint32_t flags)
{
	struct replicd_track_entry *mine = NULL;
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
		send_sync(d, ROP_SYNC_DIVERGED);
		free_peer_record(d);
		d->changed = true;
		return;
	}
	r = replicd_track_entries(d->track, &mine, &n_mine);
	if (r < 0) {
		drop_conn(d, &d->conn, "cannot read the change record");
		return;
	}
	full = !replicd_track_complete(d->track) ||
	       !(flags & ROP_REC_COMPLETE) || d->peer_rec_overflow;
	memset(&d->rsi, 0, sizeof(d->rsi));
	if (!full && !has_changes(mine, n_mine) &&
	    !has_changes(d->peer_rec, d->peer_rec_n)) {
		replicd_track_entries_free(mine, n_mine);
		free_peer_record(d);
		send_sync(d, ROP_SYNC_INSYNC);
		replicd_repl_set_connected(&d->repl, true);
		peer_in_sync(d);
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
		free_peer_record(d);
		d->rs_track_count = replicd_track_count(d->track);
		if (replicd_manifest_new(&d->mf) < 0) {
			drop_conn(d, &d->conn, "out of memory");
			return;
		}
		d->psync = PS_MANIFEST;
		d->rsi.started_ms = sky_now_ms();
		d->rsi.wire_start = d->conn->bytes_sent;
		send_sync(d, ROP_SYNC_HASHES);
		log_notice("no usable change record: comparing the hashes of "
			   "both copies with %s",
			   d->peer->name);
		d->changed = true;
		return;
	}
	int roots[REPLICD_MAX_DIRS];
	dir_roots(d, roots);
	d->rs_track_count = n_mine;
	r = replicd_resync_new(&d->rs, mine, n_mine, d->peer_rec, d->peer_rec_n,
			       full, d->mount_count, roots);
	replicd_track_entries_free(mine, n_mine);
	free_peer_record(d);
	if (r < 0) {
		drop_conn(d, &d->conn, "cannot plan the resync");
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
	send_sync(d, ROP_SYNC_RESYNC | (full ? ROP_SYNC_FULL : 0));
	replicd_repl_set_connected(&d->repl, true);
	d->psync = PS_RESYNC;
	log_notice("resync to %s starts: %s, about %llu bytes", d->peer->name,
		   full ? "no usable change record, copying everything"
			: "the recorded changes of both nodes",
		   (unsigned long long)st.bytes_total);
	d->changed = true;
}

/* Primary: the peer's manifest is in: compare and send what differs. */
static void start_hash_resync(struct replicd *d)
{
	int roots[REPLICD_MAX_DIRS];
	int r;
	dir_roots(d, roots);
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
		drop_conn(d, &d->conn, "cannot plan the resync");
		return;
	}
	d->rsi.active = true;
	d->rsi.full = d->mf_overflow;
	d->rsi.hash = !d->mf_overflow;
	d->rsi.passes = 1;
	send_sync(d, ROP_SYNC_RESYNC | (d->mf_overflow ? ROP_SYNC_FULL : 0));
	replicd_repl_set_connected(&d->repl, true);
	d->psync = PS_RESYNC;
	log_notice("resync to %s starts: %s", d->peer->name,
		   d->mf_overflow ? "everything"
				  : "the zones whose hashes differ");
	d->changed = true;
}

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
	replicd_repl_acked(&d->repl, seq, bytes);
	if (!d->flush_seq || seq < d->flush_seq)
		return;
	if (d->psync == PS_FLUSH) {
		int64_t now = sky_now_ms();
		d->rsi.active = false;
		d->rsi.ended_ms = now;
		d->rsi.wire_bytes = d->conn->bytes_sent - d->rsi.wire_start;
		send_sync(d, ROP_SYNC_INSYNC);
		peer_in_sync(d);
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
			struct replicd_track_entry *n =
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
		decide(d, op->flags);
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
		start_hash_resync(d);
		return 0;
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
		dir_roots(d, roots);
		replicd_manifest_walk_free(&d->walk);
		if (replicd_manifest_walk_new(&d->walk, roots, d->mount_count) <
		    0) {
			drop_conn(d, &d->conn, "out of memory");
			return;
		}
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
	const struct replicd_op *op = &job->op;
	int r = 0;
	d->last_primary_rx_ms = c->last_rx_ms;
	if (op->type == ROP_PING) {
		free(job);
		d->ack_due = d->have_seq ? d->last_seq : 0;
		if (!d->ack_due) {
			struct replicd_op ack = {.type = ROP_ACK, .seq = 0};
			return send_op(c, &ack);
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
			if (applier_failed(d) < 0) {
				d->data = SKY_REPLICA_INCONSISTENT;
				r = -EIO;
			} else
				on_sync(d, op);
		}
		free(job);
		return r;
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
	 * receipt only: ack it before it reaches the disk, so the primary's
	 * writer goes on while the applier writes (and while the next frames
	 * arrive). Unless more frames are already here: the batch's last ack
	 * covers them all.
	 */
	uint64_t seq = op->seq;
	bool early = replicd_op_ack_on_receipt(op->type) &&
		     !replicd_conn_next_ready(c);
	if (early) {
		struct replicd_op ack = {.type = ROP_ACK, .seq = seq};
		r = send_op(c, &ack);
		if (r < 0) {
			free(job);
			return r;
		}
		d->ack_due = 0;
		/* A failed send shows again in conn_output. */
		if (replicd_conn_flush(c) < 0) {
		}
	}
	if (apply_or_queue(d, job) < 0 || applier_failed(d) < 0) {
		d->data = SKY_REPLICA_INCONSISTENT;
		return -EIO;
	}
	if (!early)
		d->ack_due = seq;
	return 0;
}

/* Read, handle every complete frame, send the ack. */
static void conn_input(struct replicd *d, struct replicd_conn **cp, int64_t now)
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
			reject(d, cp, "truncated frame", -EPIPE);
			return;
		}
	}
	if (r < 0) {
		drop_conn(d, cp,
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
			reject(d, cp, "oversized frame", r);
			return;
		}
		if (hs) {
			r = replicd_conn_on_hs_frame(c, p, len);
			if (r < 0) {
				reject(d, cp,
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
				session_up(d, cp);
			/* session_up may have moved the pending conn. */
			if (!*cp) {
				cp = &d->conn;
				c = *cp;
				if (!c)
					return;
			}
		} else {
			r = on_op_frame(d, c, p, len);
			if (r == -EIO) {
				/* Not the frame's fault: start over, the
				 * primary's record covers this change. */
				drop_conn(d, cp,
					  "an operation failed to apply");
				return;
			}
			if (r < 0) {
				reject(d, cp,
				       r == -EBADMSG
					       ? "frame fails authentication "
						 "(forged, replayed or "
						 "reordered)"
				       : r == -EROFS
					       ? "operations received while "
						 "not secondary"
					       : "malformed or out-of-sequence "
						 "operation",
				       r);
				return;
			}
		}
		replicd_conn_consume(c);
	}
	if (!c->client && c->stage == RC_UP && d->ack_due) {
		struct replicd_op ack = {.type = ROP_ACK, .seq = d->ack_due};
		d->ack_due = 0;
		if (send_op(c, &ack) < 0)
			drop_conn(d, cp, "cannot queue an ack");
	}
}

static void conn_output(struct replicd *d, struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	if (c->stage == RC_CONNECTING) {
		int r = replicd_conn_connected(c);
		if (r == 0)
			return;
		if (r < 0 || start_handshake(d, c) < 0) {
			sky_log_ratelimited(&d->rl_connect, LOG_INFO,
					    "cannot connect to peer %s: %s",
					    d->peer->name, strerror(-r));
			drop_conn(d, cp, "connect failed");
			return;
		}
	}
	int r = replicd_conn_flush(c);
	if (r < 0)
		drop_conn(d, cp, strerror(-r));
}

/* --- primary: moving queued operations onto the wire ------------------- */

static void pump(struct replicd *d)
{
	struct replicd_item *it = replicd_repl_take(&d->repl);
	struct replicd_conn *c = d->conn;
	while (it) {
		struct replicd_item *next = it->next;
		it->next = NULL;
		if (!c || !c->client || c->stage != RC_UP ||
		    replicd_conn_put_sealed(c, it->buf, it->len) < 0) {
			free(it);
		} else {
			/* Out at once: the peer opens this one while we seal
			 * the next. A failed send shows in conn_output. */
			if (replicd_conn_flush(c) < 0) {
			}
			if (d->inflight_tail)
				d->inflight_tail->next = it;
			else
				d->inflight = it;
			d->inflight_tail = it;
			d->inflight_count++;
		}
		it = next;
	}
}

static void check_timeouts(struct replicd *d, int64_t now)
{
	struct replicd_conn *c = d->conn;
	int64_t t = d->set->timeout_ms;

	if (d->pending && now - d->pending->started_ms > t + 1000)
		drop_conn(d, &d->pending, "handshake timed out");
	if (!c)
		return;
	if (c->stage != RC_UP) {
		if (now - c->started_ms > t + 1000)
			drop_conn(d, &d->conn, "connect/handshake timed out");
		return;
	}
	if (c->client) {
		bool late = d->inflight && now - d->inflight->queued_ms > t;
		if (replicd_repl_timed_out(&d->repl) || late)
			drop_conn(d, &d->conn,
				  "no acknowledgement within timeout_ms");
		else if (now - c->last_rx_ms > t)
			drop_conn(d, &d->conn,
				  "peer silent for longer than timeout_ms");
		else if (now >= d->next_ping_ms) {
			struct replicd_op ping = {.type = ROP_PING};
			send_op(c, &ping);
			d->next_ping_ms = now + t / 4;
		}
	} else if (now - c->last_rx_ms > 3 * t) {
		drop_conn(d, &d->conn, "primary silent for 3 x timeout_ms");
	}
}

static void try_connect(struct replicd *d, int64_t now)
{
	if (d->target != RT_PRIMARY || d->conn || now < d->next_connect_ms)
		return;
	d->next_connect_ms = now + 500;
	struct sockaddr_storage dst =
		with_port(&d->peer->addrs[0], d->set->port);
	int r = replicd_conn_connect(&d->conn, NULL, 0, (struct sockaddr *)&dst,
				     d->peer->addrs[0].len);
	if (r < 0)
		sky_log_ratelimited(&d->rl_connect, LOG_INFO,
				    "cannot connect to peer %s (%s): %s",
				    d->peer->name, d->peer->addrs[0].text,
				    strerror(-r));
}

static void on_accept(struct replicd *d)
{
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (d->target != RT_SECONDARY) {
		/* Only a secondary takes changes from a peer. */
		close(fd);
		return;
	}
	drop_conn(d, &d->pending, "replaced by a newer connection");
	if (replicd_conn_adopt(&d->pending, fd) < 0) {
		close(fd);
		return;
	}
	start_handshake(d, d->pending);
}

/* --- role -------------------------------------------------------------- */

static void set_target(struct replicd *d, enum replicd_target t, uint64_t epoch)
{
	if (t == d->target) {
		if (epoch != d->epoch)
			d->changed = true;
		d->epoch = epoch;
		return;
	}
	log_notice("role: %s -> %s (epoch %llu)",
		   replicd_target_name(d->target), replicd_target_name(t),
		   (unsigned long long)epoch);
	/* A primary stops taking writes before its session ends: a write
	 * begun in between would be recorded as made without the peer, and
	 * the peer, primary next, would find the copies diverged. */
	if (d->target == RT_PRIMARY)
		replicd_repl_set_writable(&d->repl, false);
	/* Sessions of the old role end. */
	drop_conn(d, &d->conn, "role changed");
	drop_conn(d, &d->pending, "role changed");
	/* Every write received is on disk before a new role starts. */
	replicd_applier_drain(&d->applier);
	/* Waits for a write in progress, so none straddles the change. */
	replicd_repl_set_writable(&d->repl, t == RT_PRIMARY);
	if (t == RT_PRIMARY) {
		/* heartbeatd promotes only the newest data. */
		d->data = SKY_REPLICA_UPTODATE;
		d->diverged = false;
		if (d->standalone)
			replicd_repl_set_degraded_ok_at(
				&d->repl,
				sky_now_ms() + 3 * (int64_t)d->set->timeout_ms);
	} else if (t == RT_SECONDARY && d->target == RT_PRIMARY) {
		/* A handover: we had everything; the new primary says
		 * whether we still do once it connects. */
		d->last_primary_rx_ms = sky_now_ms();
	}
	d->target = t;
	d->epoch = epoch;
	d->primary_final = false;
	d->next_connect_ms = 0;
	update_alone_ok(d);
	d->changed = true;
}

/* heartbeatd's generation and its word on acknowledging alone. */
static void on_generation(struct replicd *d, uint64_t generation,
			  bool ack_alone)
{
	if (!d->have_generation) {
		/* A restart forgot what the peer was told: assume it was
		 * told the current generation. */
		d->have_generation = true;
		d->generation_sent = generation;
	}
	bool changed = generation != d->generation;
	d->generation = generation;
	d->ack_alone = ack_alone;
	if (changed && d->target == RT_PRIMARY)
		send_generation(d); /* still in sync: a new generation */
	update_alone_ok(d);
	d->changed |= changed;
}

static void on_desired(struct replicd *d)
{
	char topic[SKY_TOPIC_MAX], want[SKY_TOPIC_MAX];
	json_t *msg;

	sky_bus_topic(want, sizeof(want), d->cfg->module, "heartbeatd",
		      SKY_KIND_DESIRED);
	for (int budget = 64; budget > 0; budget--) {
		int r = sky_bus_recv(d->sub, topic, sizeof(topic),
				     SKY_BUS_MSG_MAX, &msg);
		if (r == -EAGAIN)
			return;
		if (r < 0)
			continue;
		if (strcmp(topic, want) != 0) {
			json_decref(msg);
			continue;
		}
		struct sky_desired des;
		char why[128];
		enum replicd_target target = RT_STOPPED;
		bool ok = sky_desired_parse(msg, d->cfg->module, d->self->name,
					    SKY_ACT_REPLICD, &des, why,
					    sizeof(why)) == 0;
		if (ok && des.target && strcmp(des.target, "primary") == 0)
			target = RT_PRIMARY;
		else if (ok && des.target &&
			 strcmp(des.target, "secondary") == 0)
			target = RT_SECONDARY;
		json_t *gen = json_object_get(msg, "generation");
		json_t *ack_alone = json_object_get(msg, "ack_alone");
		if (ok &&
		    (!json_is_integer(gen) || json_integer_value(gen) < 0 ||
		     (ack_alone && !json_is_boolean(ack_alone)))) {
			ok = false;
			snprintf(why, sizeof(why),
				 "'generation' must be an integer >= 0 and "
				 "'ack_alone' a boolean");
		}
		if (ok && !d->standalone) {
			replicd_fence_heard(&d->fence, &des, sky_now_ms());
			/* SKYHA_ROLE= in heartbeatd's words (PRIM, ALONE...),
			 * as every other daemon logs it. */
			sky_log_set_role(sky_role_name(des.role));
			d->discard_local = json_is_true(
				json_object_get(msg, "discard_local"));
			set_target(d, target, des.epoch);
			on_generation(d, (uint64_t)json_integer_value(gen),
				      json_is_true(ack_alone));
		} else if (!ok) {
			sky_log_ratelimited(&d->rl_reject, LOG_WARNING,
					    "dropped a desired state: %s", why);
		}
		json_decref(msg);
	}
}

/* --- resync and the record --------------------------------------------- */

/* Async window of resync data not yet acked: keeps memory bounded. */
#define RESYNC_WINDOW (8u << 20)

/* Primary: entries recorded since the plan was made that change names:
 * a live rename during the resync can move a path it had not reached. */
static int next_pass(struct replicd *d)
{
	struct replicd_track_entry *e = NULL;
	size_t n = 0, k = 0;
	int r = replicd_track_entries(d->track, &e, &n);
	if (r < 0)
		return r;
	/* Keep the new namespace entries at the front, free the rest. */
	for (size_t i = 0; i < n; i++) {
		bool keep = i >= d->rs_track_count &&
			    (e[i].kinds & (TRK_ENTRY | TRK_TREE | TRK_META));
		if (keep) {
			struct replicd_track_entry tmp = e[k];
			e[k] = e[i];
			e[i] = tmp;
			k++;
		}
	}
	d->rs_track_count = n;
	replicd_resync_free(&d->rs);
	if (k > 0) {
		int roots[REPLICD_MAX_DIRS];
		dir_roots(d, roots);
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
	int r = submit_locked(d, &op);
	pthread_mutex_unlock(&d->repl.order);
	if (r == 0)
		d->flush_seq = op.seq;
}

static void resync_pump(struct replicd *d, int64_t now)
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
	int r = 1;
	if (d->rs) {
		struct replicd_resync_stats st;
		pthread_mutex_lock(&d->repl.order);
		r = replicd_resync_step(d->rs, REPLICD_DATA_MAX, submit_locked,
					d);
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
		drop_conn(d, &d->conn, "resync failed");
		return;
	}
	if (r == 0 || !d->rs) {
		r = d->rsi.passes < 16 ? next_pass(d) : 0;
		if (r < 0) {
			drop_conn(d, &d->conn, "cannot plan a resync pass");
			return;
		}
		if (r == 0) {
			submit_flush(d);
			d->psync = PS_FLUSH;
			d->changed = true;
		}
	}
	if (now >= d->next_progress_ms) {
		d->next_progress_ms = now + 1000;
		send_sync(d, ROP_SYNC_RESYNC);
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
static void walk_pump(struct replicd *d)
{
	if (!d->walk || !replicd_peer_up(d) || d->conn->client ||
	    replicd_conn_wants_write(d->conn))
		return;
	replicd_applier_drain(&d->applier); /* hash what is on disk */
	int r = replicd_manifest_walk_step(d->walk, 4u << 20, send_big, d);
	if (r == 0) {
		struct replicd_op end = {.type = ROP_HASHES_END};
		replicd_manifest_walk_free(&d->walk);
		r = send_op(d->conn, &end);
	}
	if (r < 0) {
		log_error("cannot describe this copy: %s", strerror(-r));
		drop_conn(d, &d->conn, "manifest failed");
	}
}

/* Secondary: silence, an operator's choice. */
static void secondary_checks(struct replicd *d, int64_t now)
{
	if (d->target != RT_SECONDARY)
		return;
	/* A write of the applier failed after the last frame came. */
	if (d->conn && applier_failed(d) < 0) {
		d->data = SKY_REPLICA_INCONSISTENT;
		drop_conn(d, &d->conn, "an operation failed to apply");
		return;
	}
	walk_pump(d);
	/* Past timeout_ms without a word from the primary, it may be
	 * acknowledging changes without us (see repl.h): not up to date.
	 * heartbeatd decided on a takeover before that, if there is one. */
	if (d->data == SKY_REPLICA_UPTODATE && !d->primary_final &&
	    now - d->last_primary_rx_ms > (int64_t)d->set->timeout_ms) {
		d->data = SKY_REPLICA_OUTDATED;
		log_warning("nothing from primary %s for %u ms: this copy "
			    "may miss changes now",
			    d->peer->name, d->set->timeout_ms);
		d->changed = true;
	}
	if (d->discard_local && replicd_track_alone(d->track)) {
		log_notice("operator: dropping this node's own changes; the "
			   "next resync copies everything from %s",
			   d->peer->name);
		int r = replicd_track_reset(d->track, UINT64_MAX);
		if (r == 0)
			r = replicd_track_set_incomplete(d->track);
		if (r < 0) {
			log_error("cannot reset the change record: %s",
				  strerror(-r));
			return;
		}
		d->diverged = false;
		d->data = SKY_REPLICA_OUTDATED;
		drop_conn(d, &d->conn, "local changes discarded: resync");
		d->changed = true;
	}
}

/* --- open, run, close -------------------------------------------------- */

static int open_listener(struct replicd *d)
{
	struct sockaddr_storage ss =
		with_port(&d->self->addrs[0], d->set->port);
	int one = 1;
	d->listen_fd = socket(ss.ss_family,
			      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->listen_fd < 0)
		return -errno;
	setsockopt(d->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(d->listen_fd, (struct sockaddr *)&ss, d->self->addrs[0].len) <
		    0 ||
	    listen(d->listen_fd, 8) < 0) {
		int e = errno;
		log_error("cannot listen on %s port %u: %s",
			  d->self->addrs[0].text, d->set->port, strerror(e));
		return -e;
	}
	return 0;
}

int replicd_open(struct replicd *d, const struct sky_config *cfg,
		 const struct replicd_settings *set, const char *node,
		 const char *run_dir, const char *state_dir,
		 enum replicd_target standalone)
{
	char ep[PATH_MAX + 32];
	int r;

	memset(d, 0, sizeof(*d));
	d->listen_fd = -1;
	d->cfg = cfg;
	d->set = set;
	d->self = sky_config_node(cfg, node);
	d->peer = d->self ? sky_config_peer(cfg, d->self) : NULL;
	if (!d->self || !d->peer)
		return -EINVAL;
	sky_strlcpy(d->run_dir, run_dir, sizeof(d->run_dir));
	d->repl.wake_fd = -1;
	for (size_t i = 0; i < REPLICD_MAX_DIRS; i++)
		d->mounts[i].root = -1;
	r = replicd_repl_init(&d->repl, set->async, set->timeout_ms);
	if (r == 0)
		r = replicd_fence_init(&d->fence, !standalone);
	if (r < 0)
		return r;
	r = snprintf(d->state_dir, sizeof(d->state_dir), "%s/%s/replicd",
		     state_dir, cfg->module);
	if (r < 0 || (size_t)r >= sizeof(d->state_dir))
		return -ENAMETOOLONG;
	r = sky_mkdir_p(d->state_dir, 0700);
	if (r == 0)
		r = replicd_track_open(d->state_dir, &d->track);
	if (r < 0) {
		log_error("cannot open the change record in %s: %s",
			  d->state_dir, strerror(-r));
		return r;
	}
	d->repl.track = d->track;
	r = replicd_alone_open(&d->alone, d->state_dir);
	if (r < 0) {
		log_error("cannot open %s/alone.stats: %s", d->state_dir,
			  strerror(-r));
		return r;
	}
	d->repl.alone = &d->alone;
	d->data = SKY_REPLICA_UNKNOWN;
	if (!replicd_track_complete(d->track))
		log_notice("no complete change record in %s: the next resync "
			   "copies everything",
			   d->state_dir);
	/* Modes and owners arrive exactly as the primary set them. */
	umask(0);
	r = replicd_applier_start(&d->applier);
	if (r < 0) {
		log_error("cannot start the applier thread: %s", strerror(-r));
		return r;
	}
	r = open_listener(d);
	if (r < 0)
		return r;
	if (!standalone) {
		r = sky_bus_endpoint(ep, sizeof(ep), run_dir, cfg->module,
				     SKY_EP_DESIRED);
		if (r == 0)
			r = sky_bus_open(ZMQ_SUB, ep, false, &d->sub);
		if (r == 0)
			r = sky_bus_endpoint(ep, sizeof(ep), run_dir,
					     cfg->module, SKY_EP_ACTUAL);
		if (r == 0)
			r = sky_bus_open(ZMQ_PUB, ep, false, &d->pub);
		if (r < 0) {
			log_error("cannot open the bus under %s: %s", run_dir,
				  strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < set->dir_count; i++) {
		struct replicd_mount *m = &d->mounts[i];
		sky_strlcpy(m->path, set->dirs[i], sizeof(m->path));
		sky_strlcpy(m->module, cfg->module, sizeof(m->module));
		m->index = (uint8_t)i;
		m->repl = &d->repl;
		m->fence = &d->fence;
		r = replicd_mount_prepare(m);
		if (r == 0)
			r = replicd_mount_start(m);
		if (r < 0)
			return r;
		d->mount_count = i + 1;
		log_info("serving %s (read-only until primary)", m->path);
	}
	if (standalone) {
		d->standalone = true;
		set_target(d, standalone, 0);
	}
	return 0;
}

/*
 * Primary, stopping: writes are refused already; if the peer is in sync and
 * has acknowledged everything, say so, so that it stays promotable after
 * this session ends (an orderly stop, where heartbeatd may be stopped only
 * later, must not leave the peer calling its copy outdated).
 */
static void say_final(struct replicd *d)
{
	if (d->target != RT_PRIMARY || !replicd_peer_up(d) ||
	    !d->conn->client || d->inflight || d->psync != PS_INSYNC ||
	    !replicd_repl_queue_empty(&d->repl))
		return;
	send_sync(d, ROP_SYNC_FINAL | ROP_SYNC_INSYNC);
	if (d->conn && replicd_conn_flush(d->conn) < 0)
		return;
	log_info("stopping: %s has every change acknowledged here",
		 d->peer->name);
}

int replicd_run(struct replicd *d)
{
	int64_t stop_deadline = 0;

	sky_stop_signals_install();
	sky_notify_ready("serving (read-only until primary)");

	for (;;) {
		zmq_pollitem_t items[6];
		int n = 0, i_sub = -1, i_conn = -1, i_pend = -1;
		int64_t now = sky_now_ms();

		if (sky_reload_requested())
			sky_cli_reload();
		if (sky_stop_requested() && !stop_deadline) {
			if (d->target == RT_PRIMARY)
				log_info("stopping: no new writes; waiting up "
					 "to timeout_ms for the peer's acks");
			replicd_repl_set_writable(&d->repl, false);
			stop_deadline = now + d->set->timeout_ms;
		}
		/* Queued but not sent yet counts as in flight: the peer
		 * gets it before this replicd says it has everything. */
		if (stop_deadline &&
		    (now >= stop_deadline || !replicd_peer_up(d) ||
		     !d->conn->client ||
		     (!d->inflight && replicd_repl_queue_empty(&d->repl)))) {
			say_final(d);
			break;
		}

		items[n++] = (zmq_pollitem_t){.fd = d->repl.wake_fd,
					      .events = ZMQ_POLLIN};
		items[n++] = (zmq_pollitem_t){.fd = d->listen_fd,
					      .events = ZMQ_POLLIN};
		if (d->sub) {
			i_sub = n;
			items[n++] = (zmq_pollitem_t){.socket = d->sub,
						      .events = ZMQ_POLLIN};
		}
		if (d->conn) {
			i_conn = n;
			items[n++] = (zmq_pollitem_t){
				.fd = d->conn->fd,
				.events = (short)(ZMQ_POLLIN |
						  (replicd_conn_wants_write(
							   d->conn)
							   ? ZMQ_POLLOUT
							   : 0))};
		}
		if (d->pending) {
			i_pend = n;
			items[n++] = (zmq_pollitem_t){
				.fd = d->pending->fd,
				.events = (short)(ZMQ_POLLIN |
						  (replicd_conn_wants_write(
							   d->pending)
							   ? ZMQ_POLLOUT
							   : 0))};
		}
		int r = zmq_poll(items, n, TICK_MS);
		if (r < 0 && errno != EINTR) {
			log_error("zmq_poll: %s", zmq_strerror(errno));
			return -EIO;
		}
		now = sky_now_ms();
		if (r > 0 && (items[0].revents & ZMQ_POLLIN))
			replicd_repl_drain_wake(&d->repl);
		if (r > 0 && (items[1].revents & ZMQ_POLLIN))
			on_accept(d);
		if (i_sub >= 0)
			on_desired(d);
		if (i_conn >= 0 && d->conn && r > 0) {
			if (items[i_conn].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
				conn_input(d, &d->conn, now);
			if (d->conn && (items[i_conn].revents &
					(ZMQ_POLLOUT | ZMQ_POLLERR)))
				conn_output(d, &d->conn);
		}
		if (i_pend >= 0 && d->pending && r > 0 &&
		    (items[i_pend].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
			conn_input(d, &d->pending, now);
		pump(d);
		resync_pump(d, now);
		secondary_checks(d, now);
		check_timeouts(d, now);
		try_connect(d, now);
		/* Write what we queued without waiting for the next poll. */
		if (d->conn && d->conn->stage != RC_CONNECTING)
			conn_output(d, &d->conn);
		if (d->pending)
			conn_output(d, &d->pending);
		if (d->pub)
			replicd_publish(d, now, false);
		sky_notify_watchdog(now);
	}
	return 0;
}

void replicd_close(struct replicd *d)
{
	sky_notify_stopping();
	replicd_repl_stop(&d->repl);
	replicd_fence_stop(&d->fence);
	drop_conn(d, &d->conn, "replicd stopping");
	drop_conn(d, &d->pending, "replicd stopping");
	replicd_applier_stop(&d->applier);
	for (size_t i = 0; i < d->mount_count; i++)
		replicd_mount_stop(&d->mounts[i]);
	handles_clear(d);
	free_inflight(d);
	end_peer_session(d);
	replicd_manifest_walk_free(&d->walk);
	replicd_track_free(&d->track);
	d->repl.track = NULL;
	d->repl.alone = NULL;
	if (d->alone.path[0])
		replicd_alone_close(&d->alone);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	d->listen_fd = -1;
	if (d->sub)
		sky_bus_close(&d->sub);
	if (d->pub) {
		d->target = RT_STOPPED;
		sky_bus_close(&d->pub);
	}
	sky_bus_shutdown();
	replicd_repl_destroy(&d->repl);
	replicd_fence_destroy(&d->fence);
}
