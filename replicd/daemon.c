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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zmq.h>

#define TICK_MS REPLICD_TICK_MS

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
			 * the next. A failed send shows in replicd_conn_output. */
			if (replicd_conn_flush(c) < 0) {
			}
			if (d->inflight_tail)
				d->inflight_tail->next = it;
			else
				d->inflight = it;
			d->inflight_tail = it;
			d->inflight_count++;
			d->ops_sent++;
			if (d->inflight_count > d->inflight_max)
				d->inflight_max = d->inflight_count;
		}
		it = next;
	}
}

static void check_timeouts(struct replicd *d, int64_t now)
{
	struct replicd_conn *c = d->conn;
	int64_t t = d->set->timeout_ms;

	if (d->pending && now - d->pending->started_ms > t + 1000)
		replicd_drop_conn(d, &d->pending, "handshake timed out");
	if (!c)
		return;
	if (c->stage != RC_UP) {
		if (now - c->started_ms > t + 1000)
			replicd_drop_conn(d, &d->conn,
					  "connect/handshake timed out");
		return;
	}
	if (c->client) {
		bool late = d->inflight && now - d->inflight->queued_ms > t;
		if (replicd_repl_timed_out(&d->repl) || late)
			replicd_drop_conn(
				d, &d->conn,
				"no acknowledgement within timeout_ms");
		else if (now - c->last_rx_ms > t)
			replicd_drop_conn(
				d, &d->conn,
				"peer silent for longer than timeout_ms");
		else if (now >= d->next_ping_ms) {
			struct replicd_op ping = {.type = ROP_PING};
			replicd_send_op(c, &ping);
			d->next_ping_ms = now + t / 4;
		}
	} else if (now - c->last_rx_ms > 3 * t) {
		replicd_drop_conn(d, &d->conn,
				  "primary silent for 3 x timeout_ms");
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
	replicd_drop_conn(d, &d->pending, "replaced by a newer connection");
	if (replicd_conn_adopt(&d->pending, fd) < 0) {
		close(fd);
		return;
	}
	replicd_start_handshake(d, d->pending);
}

/* --- role -------------------------------------------------------------- */

/*
 * Commit and async modes, leaving the primary role with the peer up: writes
 * that returned may not be acknowledged yet. Writes are refused already;
 * wait up to timeout_ms for the peer's acks before the session ends, so that
 * a swap hands over every one of them (as the orderly stop does), instead of
 * the next resync overwriting them with the new primary's older copy.
 */
static void handover_drain(struct replicd *d)
{
	int64_t deadline = sky_now_ms() + d->set->timeout_ms;

	if (!d->set->async && !d->set->commit)
		return; /* sync: nothing unacknowledged has returned */
	while (replicd_peer_up(d) && d->conn->client &&
	       (d->inflight || !replicd_repl_queue_empty(&d->repl))) {
		int64_t now = sky_now_ms();
		if (now >= deadline) {
			log_warning("role change: %zu operations still "
				    "unacknowledged by %s after timeout_ms",
				    d->inflight_count, d->peer->name);
			return;
		}
		pump(d);
		replicd_conn_output(d, &d->conn);
		if (!d->conn)
			return;
		struct pollfd p = {
			.fd = d->conn->fd,
			.events = (short)(POLLIN |
					  (replicd_conn_wants_write(d->conn)
						   ? POLLOUT
						   : 0))};
		if (poll(&p, 1, TICK_MS) > 0 &&
		    (p.revents & (POLLIN | POLLERR)))
			replicd_conn_input(d, &d->conn, sky_now_ms());
		sky_notify_watchdog(now);
	}
}

static void set_target(struct replicd *d, enum replicd_target t, uint64_t epoch)
{
	if (t == d->target) {
		if (epoch == d->epoch)
			return;
		bool rose = epoch > d->epoch;
		d->changed = true;
		d->epoch = epoch;
		if (t == RT_PRIMARY && rose)
			replicd_send_epoch(d); /* the peer goes by the latest */
		else if (t == RT_SECONDARY && replicd_peer_up(d) &&
			 replicd_epoch_stale(&d->epoch_gate, epoch))
			replicd_refuse_epoch(d, &d->conn);
		return;
	}
	log_notice("role: %s -> %s (epoch %llu)",
		   replicd_target_name(d->target), replicd_target_name(t),
		   (unsigned long long)epoch);
	/* A primary stops taking writes before its session ends: a write
	 * begun in between would be recorded as made without the peer, and
	 * the peer, primary next, would find the copies diverged. */
	if (d->target == RT_PRIMARY) {
		replicd_repl_set_writable(&d->repl, false);
		handover_drain(d);
	}
	/* Sessions of the old role end. */
	replicd_drop_conn(d, &d->conn, "role changed");
	replicd_drop_conn(d, &d->pending, "role changed");
	/* Every write received is on disk before a new role starts. */
	replicd_applier_drain(&d->applier);
	/* ... and every operation held for a backup: a promoted node
	 * serves the latest acknowledged writes (backup.h). */
	if (t == RT_PRIMARY)
		replicd_backup_release(d, "this node became primary");
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
	replicd_update_alone_ok(d);
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
		replicd_send_generation(
			d); /* still in sync: a new generation */
	replicd_update_alone_ok(d);
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

/* Secondary: silence, an operator's choice. */
static void secondary_checks(struct replicd *d, int64_t now)
{
	if (d->target != RT_SECONDARY)
		return;
	/* A write of the applier failed after the last frame came. */
	if (d->conn && replicd_applier_failed(d) < 0) {
		d->data = SKY_REPLICA_INCONSISTENT;
		replicd_drop_conn(d, &d->conn, "an operation failed to apply");
		return;
	}
	replicd_walk_pump(d);
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
		replicd_drop_conn(d, &d->conn,
				  "local changes discarded: resync");
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
	r = replicd_repl_init(&d->repl, set->async, set->commit,
			      set->timeout_ms);
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
		r = replicd_track_open(d->state_dir, "track.rec",
				       "the next resync compares everything",
				       &d->track);
	if (r == 0)
		r = replicd_track_open(d->state_dir, "backup.rec",
				       "the next backup reads everything",
				       &d->backup);
	if (r < 0) {
		log_error("cannot open the change record in %s: %s",
			  d->state_dir, strerror(-r));
		return r;
	}
	d->repl.track = d->track;
	d->repl.backup = d->backup;
	replicd_track_set_limit(d->backup, REPLICD_BACKUP_RECORD_MAX);
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
	d->standalone = standalone != RT_NONE;
	r = replicd_backup_open(d, run_dir);
	if (r < 0)
		return r;
	if (standalone)
		set_target(d, standalone, 0);
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
	replicd_send_sync(d, ROP_SYNC_FINAL | ROP_SYNC_INSYNC);
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
		zmq_pollitem_t items[7];
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
		if (d->bk.sub)
			items[n++] = (zmq_pollitem_t){.socket = d->bk.sub,
						      .events = ZMQ_POLLIN};
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
		replicd_backup_input(d);
		if (i_conn >= 0 && d->conn && r > 0) {
			if (items[i_conn].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
				replicd_conn_input(d, &d->conn, now);
			if (d->conn && (items[i_conn].revents &
					(ZMQ_POLLOUT | ZMQ_POLLERR)))
				replicd_conn_output(d, &d->conn);
		}
		if (i_pend >= 0 && d->pending && r > 0 &&
		    (items[i_pend].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
			replicd_conn_input(d, &d->pending, now);
		pump(d);
		replicd_resync_pump(d, now);
		secondary_checks(d, now);
		replicd_backup_tick(d, now);
		check_timeouts(d, now);
		try_connect(d, now);
		/* Write what we queued without waiting for the next poll. */
		if (d->conn && d->conn->stage != RC_CONNECTING)
			replicd_conn_output(d, &d->conn);
		if (d->pending)
			replicd_conn_output(d, &d->pending);
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
	replicd_drop_conn(d, &d->conn, "replicd stopping");
	replicd_drop_conn(d, &d->pending, "replicd stopping");
	replicd_applier_stop(&d->applier);
	replicd_backup_close(d);
	for (size_t i = 0; i < d->mount_count; i++)
		replicd_mount_stop(&d->mounts[i]);
	replicd_handles_clear(d);
	replicd_free_inflight(d);
	replicd_end_peer_session(d);
	replicd_manifest_walk_free(&d->walk);
	replicd_zstd_free(&d->zstd);
	replicd_track_free(&d->track);
	replicd_track_free(&d->backup);
	d->repl.track = NULL;
	d->repl.backup = NULL;
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
