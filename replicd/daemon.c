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

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *target_name(enum replicd_target t)
{
	switch (t) {
	case RT_PRIMARY:
		return "primary";
	case RT_SECONDARY:
		return "secondary";
	default:
		return "stopped";
	}
}

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

static void apply(struct replicd *d, const struct replicd_op *op)
{
	int root = d->mounts[op->dir].root, fd = -1, r;

	if (op->type == ROP_RELEASE) {
		handle_drop(d, op->handle, op->dir);
		return;
	}
	bool by_handle = op->handle != 0 &&
			 (op->type == ROP_WRITE || op->type == ROP_TRUNCATE ||
			  op->type == ROP_FALLOCATE || op->type == ROP_FSYNC);
	if (by_handle) {
		fd = handle_fd(d, op);
		if (fd == -ENOENT && (!op->path || !*op->path))
			return; /* a file unlinked on the primary: unreachable */
		if (fd < 0) {
			r = fd;
			goto failed;
		}
	}
	r = replicd_fs_apply(root, op, fd, 0, NULL);
	if (r >= 0 && op->type == ROP_WRITE && (size_t)r != op->data_len)
		r = -EIO;
	if (r >= 0) {
		d->applied++;
		return;
	}
failed:
	d->apply_errors++;
	sky_log_ratelimited(&d->rl_apply, LOG_ERR,
			    "cannot apply %s of '%s' (seq %llu): %s; this "
			    "node's data now differs from the primary's",
			    replicd_op_name(op->type), op->path ? op->path : "",
			    (unsigned long long)op->seq, strerror(-r));
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
			free_inflight(d);
		} else {
			handles_clear(d);
			d->have_seq = false;
			d->ack_due = 0;
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

static void session_up(struct replicd *d, struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	if (c->client) {
		free_inflight(d);
		replicd_repl_set_connected(&d->repl, true);
		log_notice("connected to peer %s (replication %s)",
			   d->peer->name, d->set->async ? "async" : "sync");
	} else {
		if (cp == &d->pending) {
			drop_conn(d, &d->conn,
				  "replaced by a new connection from the "
				  "primary");
			d->conn = d->pending;
			d->pending = NULL;
		}
		handles_clear(d);
		d->have_seq = false;
		log_notice("primary %s connected: receiving its changes",
			   d->peer->name);
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

/* Both sides: our keys are ready, send our stream header. */
static int send_header(struct replicd_conn *c)
{
	uint8_t header[REPLICD_STREAM_HEADER];
	replicd_stream_tx_init(&c->st, c->hs.tx_key, header);
	c->stage = RC_WAIT_HEADER;
	return replicd_conn_put(c, header, sizeof(header));
}

static int on_hs_frame(struct replicd_conn *c, const uint8_t *p, size_t len)
{
	uint8_t buf[REPLICD_HS_MAX];
	int r;

	if (c->stage == RC_WAIT_HEADER) {
		r = replicd_stream_rx_init(&c->st, c->hs.rx_key, p, len);
		if (r == 0)
			c->stage = RC_UP;
		return r;
	}
	if (c->client) {
		r = replicd_hs_client_finish(&c->hs, p, len, buf, sizeof(buf));
		if (r < 0)
			return r;
		r = replicd_conn_put(c, buf, (size_t)r);
		return r < 0 ? r : send_header(c);
	}
	if (c->hs.step == 0) {
		r = replicd_hs_server_reply(&c->hs, p, len, buf, sizeof(buf));
		return r < 0 ? r : replicd_conn_put(c, buf, (size_t)r);
	}
	r = replicd_hs_server_finish(&c->hs, p, len);
	return r < 0 ? r : send_header(c);
}

static int send_op(struct replicd_conn *c, struct replicd_op *op)
{
	uint8_t buf[64];
	int n = replicd_op_encode(op, buf, sizeof(buf));
	return n < 0 ? n : replicd_conn_put_sealed(c, buf, (size_t)n);
}

/* A sealed frame on an up session. */
static int on_op_frame(struct replicd *d, struct replicd_conn *c,
		       const uint8_t *p, size_t len)
{
	static uint8_t plain[REPLICD_FRAME_MAX];
	static struct replicd_op_store store;
	struct replicd_op op;
	int n = replicd_stream_open(&c->st, p, len, plain, sizeof(plain));
	if (n < 0)
		return -EBADMSG;
	if (replicd_op_decode(plain, (size_t)n, &op, &store) < 0)
		return -EPROTO;
	if (c->client) {
		/* The primary hears only acks. */
		if (op.type != ROP_ACK)
			return -EPROTO;
		uint64_t bytes = 0;
		while (d->inflight && d->inflight->seq <= op.seq) {
			struct replicd_item *it = d->inflight;
			d->inflight = it->next;
			bytes += it->len;
			d->inflight_count--;
			free(it);
		}
		if (!d->inflight)
			d->inflight_tail = NULL;
		replicd_repl_acked(&d->repl, op.seq, bytes);
		return 0;
	}
	if (op.type == ROP_PING) {
		d->ack_due = d->have_seq ? d->last_seq : 0;
		if (!d->ack_due) {
			struct replicd_op ack = {.type = ROP_ACK, .seq = 0};
			return send_op(c, &ack);
		}
		return 0;
	}
	if (op.type == ROP_ACK || op.dir >= d->mount_count)
		return -EPROTO;
	if (d->have_seq && op.seq != d->last_seq + 1)
		return -EPROTO; /* lost or replayed: never apply out of order */
	if (d->target != RT_SECONDARY)
		return -EROFS;
	d->have_seq = true;
	d->last_seq = op.seq;
	apply(d, &op);
	d->ack_due = op.seq;
	return 0;
}

/* Read, handle every complete frame, send the ack. */
static void conn_input(struct replicd *d, struct replicd_conn **cp, int64_t now)
{
	struct replicd_conn *c = *cp;
	const uint8_t *p;
	size_t len;
	int r = replicd_conn_fill(c, now);

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
			r = on_hs_frame(c, p, len);
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
	log_notice("role: %s -> %s (epoch %llu)", target_name(d->target),
		   target_name(t), (unsigned long long)epoch);
	/* Sessions of the old role end. */
	drop_conn(d, &d->conn, "role changed");
	drop_conn(d, &d->pending, "role changed");
	/* Waits for a write in progress, so none straddles the change. */
	replicd_repl_set_writable(&d->repl, t == RT_PRIMARY);
	d->target = t;
	d->epoch = epoch;
	d->next_connect_ms = 0;
	sky_log_set_role(target_name(t));
	d->changed = true;
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
		const char *node =
			json_string_value(json_object_get(msg, "node"));
		json_t *epoch = json_object_get(msg, "epoch");
		json_t *targets = json_object_get(msg, "targets");
		json_t *t = json_object_get(targets, "replicd");
		const char *ts = json_string_value(t);
		enum replicd_target target = RT_STOPPED;
		bool ok = node && strcmp(node, d->self->name) == 0 &&
			  json_is_integer(epoch) &&
			  json_integer_value(epoch) >= 0 &&
			  json_is_object(targets) &&
			  (!t || json_is_null(t) || ts);
		if (ok && ts) {
			if (strcmp(ts, "primary") == 0)
				target = RT_PRIMARY;
			else if (strcmp(ts, "secondary") == 0)
				target = RT_SECONDARY;
			else if (strcmp(ts, "stopped") != 0)
				ok = false;
		}
		if (ok && !d->standalone)
			set_target(d, target,
				   (uint64_t)json_integer_value(epoch));
		else if (!ok)
			sky_log_ratelimited(&d->rl_reject, LOG_WARNING,
					    "dropped a malformed desired "
					    "state");
		json_decref(msg);
	}
}

/* --- actual state ------------------------------------------------------ */

static bool peer_up(const struct replicd *d)
{
	return d->conn && d->conn->stage == RC_UP;
}

static void describe(struct replicd *d, bool *in_sync)
{
	uint64_t dropped;
	pthread_mutex_lock(&d->repl.lock);
	dropped = d->repl.dropped;
	pthread_mutex_unlock(&d->repl.lock);

	*in_sync = false;
	d->reason[0] = '\0';
	switch (d->target) {
	case RT_PRIMARY:
		*in_sync = peer_up(d) && dropped == 0;
		if (dropped)
			snprintf(d->reason, sizeof(d->reason),
				 "peer %s is out of date: it missed %llu "
				 "changes (%s); resync is not implemented "
				 "yet",
				 d->peer->name, (unsigned long long)dropped,
				 peer_up(d) ? "connected again"
					    : "not connected");
		else if (!peer_up(d))
			snprintf(d->reason, sizeof(d->reason),
				 "peer %s not connected", d->peer->name);
		break;
	case RT_SECONDARY:
		*in_sync = peer_up(d) && d->apply_errors == 0;
		if (d->apply_errors)
			snprintf(d->reason, sizeof(d->reason),
				 "%llu operations failed to apply: data "
				 "differs from the primary's",
				 (unsigned long long)d->apply_errors);
		else if (!peer_up(d))
			snprintf(d->reason, sizeof(d->reason),
				 "waiting for primary %s to connect",
				 d->peer->name);
		break;
	default:
		break;
	}
}

static void publish(struct replicd *d, int64_t now, bool force)
{
	static char last[512];
	char key[512], topic[SKY_TOPIC_MAX];
	bool in_sync;

	describe(d, &in_sync);
	const char *state = target_name(d->target);
	snprintf(key, sizeof(key), "%s|%llu|%s|%d|%d", state,
		 (unsigned long long)d->epoch, d->reason, peer_up(d), in_sync);
	if (!force && !d->changed && strcmp(key, last) == 0 &&
	    now < d->next_publish_ms)
		return;
	if (strcmp(key, last) != 0) {
		snprintf(last, sizeof(last), "%s", key);
		char status[300];
		snprintf(status, sizeof(status), "%s%s%s", state,
			 d->reason[0] ? ": " : "", d->reason);
		sky_notify_status(status);
	}
	d->changed = false;
	d->next_publish_ms = now + SKY_PUBLISH_PERIOD_MS;

	uint64_t pending;
	pthread_mutex_lock(&d->repl.lock);
	pending = 0;
	for (struct replicd_item *it = d->repl.head; it; it = it->next)
		pending++;
	pthread_mutex_unlock(&d->repl.lock);
	pending += d->inflight_count;
	uint64_t sent =
		d->bytes_sent_done + (d->conn ? d->conn->bytes_sent : 0);

	json_t *obj =
		json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:b,s:s,s:b,s:I,s:I}",
			  "module", d->cfg->module, "daemon", "replicd", "node",
			  d->self->name, "epoch", (json_int_t)d->epoch, "state",
			  state, "reason", d->reason, "peer_connected",
			  peer_up(d), "mode", d->set->async ? "async" : "sync",
			  "in_sync", in_sync, "bytes_sent", (json_int_t)sent,
			  "ops_pending", (json_int_t)pending);
	if (obj && sky_bus_topic(topic, sizeof(topic), d->cfg->module,
				 "replicd", SKY_KIND_ACTUAL) == 0)
		sky_bus_publish(d->pub, topic, obj);
	json_decref(obj);
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
		 const char *run_dir, enum replicd_target standalone)
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
	if (r < 0)
		return r;
	/* Modes and owners arrive exactly as the primary set them. */
	umask(0);
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

int replicd_run(struct replicd *d)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int64_t stop_deadline = 0;

	/* No SA_RESTART: zmq_poll must return EINTR so the loop sees it. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sky_notify_ready("serving (read-only until primary)");

	for (;;) {
		zmq_pollitem_t items[6];
		int n = 0, i_sub = -1, i_conn = -1, i_pend = -1;
		int64_t now = sky_now_ms();

		if (stop_requested && !stop_deadline) {
			if (d->target == RT_PRIMARY)
				log_info("stopping: no new writes; waiting up "
					 "to timeout_ms for the peer's acks");
			replicd_repl_set_writable(&d->repl, false);
			stop_deadline = now + d->set->timeout_ms;
		}
		if (stop_deadline && (now >= stop_deadline || !peer_up(d) ||
				      !d->inflight || !d->conn->client))
			break;

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
		check_timeouts(d, now);
		try_connect(d, now);
		/* Write what we queued without waiting for the next poll. */
		if (d->conn && d->conn->stage != RC_CONNECTING)
			conn_output(d, &d->conn);
		if (d->pending)
			conn_output(d, &d->pending);
		if (d->pub)
			publish(d, now, false);
		sky_notify_watchdog(now);
	}
	return 0;
}

void replicd_close(struct replicd *d)
{
	sky_notify_stopping();
	replicd_repl_stop(&d->repl);
	drop_conn(d, &d->conn, "replicd stopping");
	drop_conn(d, &d->pending, "replicd stopping");
	for (size_t i = 0; i < d->mount_count; i++)
		replicd_mount_stop(&d->mounts[i]);
	handles_clear(d);
	free_inflight(d);
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
}
