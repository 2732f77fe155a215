/*
 * node.c - heartbeatd's node side: one event loop (zmq_poll over the UDP
 * sockets, the witness sockets and the ZeroMQ bus) that feeds packets to
 * the state machine, persists what it decides before acting on it, and
 * publishes the desired state and status.
 */
#include "node.h"
#include "actual.h"
#include "cli.h"
#include "notify.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/*
 * How long zmq_poll may sleep: until the next heartbeat is due, and never
 * more than 20 ms, so the loss of the peer, the end of a lease or a due
 * lease request is acted on within 20 ms of the moment it happens.
 */
static int poll_timeout_ms(const struct node *n, int64_t now)
{
	int64_t t = n->next_heartbeat_ms - now;
	int64_t lease_due = witness_set_next_send_ms(&n->witnesses);
	if (lease_due && lease_due - now < t)
		t = lease_due - now;
	return (int)(t < 1 ? 1 : t > 20 ? 20 : t);
}

void node_peer_input(const struct node *n, int64_t now, struct sm_peer *out)
{
	const struct peer_view *p = &n->peer;
	int64_t silent = now - p->last_rx_ms;
	/* The primary's quorum through the peer ends two intervals before
	 * the peer can declare it lost, so both never serve at once. */
	int64_t quorum_window = (int64_t)n->cfg.peer_lost_after_ms -
				2 * (int64_t)n->cfg.interval_ms;

	memset(out, 0, sizeof(*out));
	out->role = SKY_ROLE_UNKNOWN;
	if (!p->ever_seen)
		return;
	out->visible = silent < (int64_t)n->cfg.peer_lost_after_ms;
	out->visible_for_quorum = silent < quorum_window;
	out->role = (enum sky_role)p->last.role;
	out->epoch = p->last.epoch;
	out->generation = p->last.generation;
	out->data = (enum sky_data)p->last.data;
	out->flags = p->last.flags;
}

void node_save_state(struct node *n)
{
	int r;
	n->persisted.epoch = n->sm.epoch;
	n->persisted.generation = n->sm.generation;
	n->persisted.data = n->sm.data;
	n->persisted.stopped = n->sm.stopped;
	r = node_state_save(n->state_path, &n->persisted);
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof(why), "cannot save %s: %s", n->state_path,
			 strerror(-r));
		log_error("%s", why);
		/* Never serve on a generation that is not on disk. */
		if (sky_role_serves(n->sm.role))
			sm_fail(&n->sm, sky_now_ms(), why);
	}
	n->sm.dirty = false;
}

void node_heartbeat_init(const struct node *n, struct packet *p)
{
	memset(p, 0, sizeof(*p));
	p->hdr.type = PKT_HEARTBEAT;
	sky_strlcpy(p->hdr.cluster, n->cfg.cluster, sizeof(p->hdr.cluster));
	sky_strlcpy(p->hdr.module, n->cfg.module, sizeof(p->hdr.module));
	sky_strlcpy(p->hdr.node, n->self->name, sizeof(p->hdr.node));
	p->hdr.incarnation = n->persisted.incarnation;
}

void node_heartbeat_send(struct node *n, struct packet *p,
			 const struct sky_node *to)
{
	uint8_t buf[PKT_MAX];

	for (size_t i = 0; i < n->cfg.network_count; i++) {
		p->hb.network = (uint8_t)i;
		p->hdr.sequence = ++n->sequence;
		int len = packet_encode(p, n->cfg.key, buf, sizeof(buf));
		if (len < 0)
			continue;
		int r = net_send(n->hb_fd[i], &to->addrs[i], buf, (size_t)len);
		if (r < 0) {
			n->counters.tx_errors++;
			sky_log_ratelimited(&n->rl_send, LOG_WARNING,
					    "heartbeat to %s (%s) on network "
					    "%zu: %s",
					    to->name, to->addrs[i].text, i,
					    strerror(-r));
		} else {
			n->counters.tx++;
		}
	}
}

static void send_heartbeats(struct node *n, int64_t now)
{
	struct packet p;

	node_heartbeat_init(n, &p);
	p.hb.role = (uint8_t)n->sm.role;
	p.hb.epoch = n->sm.epoch;
	p.hb.generation = n->sm.generation;
	p.hb.data = (uint8_t)sm_advertised_data(&n->sm);
	p.hb.flags = sm_heartbeat_flags(&n->sm, now);
	node_heartbeat_send(n, &p, n->peer_node);
	n->next_heartbeat_ms = now + n->cfg.interval_ms;
}

/* To every address of one witness (host: its index in witness.hosts). */
static void send_lease_request(struct node *n, size_t host,
			       const struct pkt_lease_request *req)
{
	struct packet p = {0};
	uint8_t buf[PKT_MAX];

	p.hdr.type = PKT_LEASE_REQUEST;
	sky_strlcpy(p.hdr.cluster, n->cfg.cluster, sizeof(p.hdr.cluster));
	sky_strlcpy(p.hdr.module, n->cfg.module, sizeof(p.hdr.module));
	sky_strlcpy(p.hdr.node, n->self->name, sizeof(p.hdr.node));
	p.hdr.incarnation = n->persisted.incarnation;
	p.req = *req;
	for (size_t i = 0; i < n->cfg.witness_addr_count; i++) {
		const struct sky_addr *to = &n->cfg.witness_addrs[i];
		int fd = to->sa.ss_family == AF_INET ? n->witness_fd4
						     : n->witness_fd6;
		if (n->cfg.witness_host_of[i] != host)
			continue;
		p.hdr.sequence = ++n->sequence;
		int len = packet_encode(&p, n->cfg.key, buf, sizeof(buf));
		if (len < 0 || fd < 0)
			continue;
		int r = net_send(fd, to, buf, (size_t)len);
		if (r < 0)
			sky_log_ratelimited(&n->rl_send, LOG_WARNING,
					    "lease request to witness %s: %s",
					    to->text, strerror(-r));
	}
}

/* Each witness's renewal, retry or release, when due. */
static void poll_witnesses(struct node *n, int64_t now)
{
	struct pkt_lease_request req;

	for (size_t h = 0; h < n->witnesses.count; h++)
		if (lease_client_poll(&n->witnesses.lease[h], now, &n->sm,
				      &req))
			send_lease_request(n, h, &req);
}

/* Accept or reject one datagram from a heartbeat socket. */
static void on_heartbeat_packet(struct node *n, size_t net_index,
				const uint8_t *buf, size_t len,
				const struct sockaddr_storage *from,
				int64_t now)
{
	struct packet p;
	enum pkt_error e = packet_decode(buf, len, n->cfg.key, &p);
	struct peer_view *pv = NULL;
	size_t index = 0;
	char src[64];

	net_addr_text(from, src, sizeof(src));
	if (e != PKT_OK) {
		net_drop(&n->counters, &n->drops, net_drop_of(e), now,
			 "%s, %zu bytes, on network %zu from %s",
			 e == PKT_ERR_BAD_MAC	  ? "wrong key or forged"
			 : e == PKT_ERR_OVERSIZED ? "longer than 512 bytes"
						  : "truncated or malformed",
			 len, net_index, src);
		return;
	}
	if (strcmp(p.hdr.cluster, n->cfg.cluster) != 0 ||
	    strcmp(p.hdr.module, n->cfg.module) != 0) {
		net_drop(&n->counters, &n->drops, NET_DROP_WRONG_CLUSTER, now,
			 "for cluster %s module %s on network %zu from %s",
			 p.hdr.cluster, p.hdr.module, net_index, src);
		return;
	}
	if (n->farm_mode)
		pv = node_farm_peer(n, p.hdr.node, &index);
	else if (strcmp(p.hdr.node, n->peer_node->name) == 0)
		pv = &n->peer;
	if (!pv || p.hdr.type != PKT_HEARTBEAT) {
		net_drop(&n->counters, &n->drops, NET_DROP_UNKNOWN_NODE, now,
			 "from node '%s' (type %u) on network %zu from %s",
			 p.hdr.node, p.hdr.type, net_index, src);
		return;
	}
	if (p.hb.network != net_index) {
		net_drop(&n->counters, &n->drops, NET_DROP_MALFORMED, now,
			 "heartbeat for network %u received on network %zu "
			 "from %s",
			 p.hb.network, net_index, src);
		return;
	}
	struct peer_network *pn = &pv->nets[net_index];
	uint64_t known =
		n->farm_mode
			? node_state_peer_incarnation(&n->persisted, p.hdr.node)
			: n->persisted.peer_incarnation;
	if (p.hdr.incarnation < known ||
	    !replay_guard_accept(&pn->guard, p.hdr.incarnation,
				 p.hdr.sequence)) {
		net_drop(&n->counters, &n->drops, NET_DROP_REPLAY, now,
			 "heartbeat of %s (incarnation %llu sequence %llu) "
			 "on network %zu from %s",
			 p.hdr.node, (unsigned long long)p.hdr.incarnation,
			 (unsigned long long)p.hdr.sequence, net_index, src);
		return;
	}
	n->counters.rx++;
	pn->last_rx_ms = now;
	pv->ever_seen = true;
	pv->last_rx_ms = now;
	pv->last = p.hb;
	if (p.hdr.incarnation > known) {
		if (n->farm_mode)
			/* Room for every node of the config: cannot fail. */
			(void)node_state_set_peer_incarnation(
				&n->persisted, p.hdr.node, p.hdr.incarnation);
		else
			n->persisted.peer_incarnation = p.hdr.incarnation;
		n->sm.dirty = true;
	}
	pv->incarnation = p.hdr.incarnation;
}

static void on_witness_packet(struct node *n, const uint8_t *buf, size_t len,
			      const struct sockaddr_storage *from, int64_t now)
{
	struct packet p;
	enum pkt_error e = packet_decode(buf, len, n->cfg.key, &p);
	char src[64];

	net_addr_text(from, src, sizeof(src));
	if (e != PKT_OK) {
		net_drop(&n->counters, &n->drops, net_drop_of(e), now,
			 "%s, %zu bytes, on the witness socket from %s",
			 e == PKT_ERR_BAD_MAC	  ? "wrong key or forged"
			 : e == PKT_ERR_OVERSIZED ? "longer than 512 bytes"
						  : "truncated or malformed",
			 len, src);
		return;
	}
	if (p.hdr.type != PKT_LEASE_REPLY ||
	    strcmp(p.hdr.cluster, n->cfg.cluster) != 0 ||
	    strcmp(p.hdr.module, n->cfg.module) != 0 ||
	    strcmp(p.hdr.node, n->self->name) != 0) {
		net_drop(&n->counters, &n->drops, NET_DROP_WRONG_CLUSTER, now,
			 "type %u for cluster %s module %s node %s on the "
			 "witness socket from %s",
			 p.hdr.type, p.hdr.cluster, p.hdr.module, p.hdr.node,
			 src);
		return;
	}
	/* Which witness answered is known from the request id it echoes:
	 * remember each one's last answer to log only changes. */
	enum lease_answer before[SKY_MAX_WITNESS_HOSTS];
	bool had_answer[SKY_MAX_WITNESS_HOSTS];
	size_t host = 0;
	for (size_t i = 0; i < n->witnesses.count; i++) {
		before[i] = n->witnesses.lease[i].last_answer;
		had_answer[i] = n->witnesses.lease[i].answered_ever;
	}
	if (witness_set_on_reply(&n->witnesses, now, &p.reply, &host) < 0) {
		net_drop(&n->counters, &n->drops, NET_DROP_REPLAY, now,
			 "lease reply %llu answers no request in flight "
			 "(replayed or late) on the witness socket from %s",
			 (unsigned long long)p.reply.request_id, src);
		return;
	}
	const struct lease_client *lc = &n->witnesses.lease[host];
	if (!had_answer[host] || before[host] != lc->last_answer)
		log_info("witness%s%s: %s%s%s (newest generation %llu)",
			 n->witnesses.count > 1 ? " " : "",
			 n->witnesses.count > 1 ? src : "",
			 lease_answer_name(lc->last_answer),
			 p.reply.holder[0] ? ", holder " : "", p.reply.holder,
			 (unsigned long long)p.reply.generation);
}

static void drain_udp(struct node *n, int fd, int net_index, int64_t now)
{
	uint8_t buf[PKT_MAX + 1];
	struct sockaddr_storage from;
	size_t len;

	for (int budget = 64; budget > 0; budget--) {
		int r = net_recv(fd, buf, sizeof(buf), &len, &from);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return;
		if (r == -EMSGSIZE) {
			char src[64], where[32];
			net_addr_text(&from, src, sizeof(src));
			if (net_index >= 0)
				snprintf(where, sizeof(where), "network %d",
					 net_index);
			else
				sky_strlcpy(where, "the witness socket",
					    sizeof(where));
			net_drop(&n->counters, &n->drops, NET_DROP_OVERSIZED,
				 now, "longer than %d bytes on %s from %s",
				 PKT_MAX, where, src);
			continue;
		}
		if (r < 0)
			return;
		if (net_index >= 0)
			on_heartbeat_packet(n, (size_t)net_index, buf, len,
					    &from, now);
		else
			on_witness_packet(n, buf, len, &from, now);
	}
}

/*
 * What an actuator says beyond its state (checkd's checkers, replicd's lag)
 * goes into the status for skyctl and healthd, bounded so one chatty
 * daemon cannot bloat every status reply and publication.
 */
static void keep_actuator_detail(struct node *n, const char *daemon,
				 const json_t *msg)
{
	static const char *const common[] = {"module", "daemon", "node",
					     "epoch",  "state",	 "reason"};
	enum sky_actuator which;
	if (sky_actuator_parse(daemon, &which) < 0)
		return;
	json_t *detail = json_deep_copy(msg);
	if (!detail)
		return;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		json_object_del(detail, common[i]);
	size_t size = json_dumpb(detail, NULL, 0, JSON_COMPACT);
	if (size > SKY_ACTUATOR_DETAIL_MAX) {
		json_decref(detail);
		detail = json_pack("{s:s}", "omitted",
				   "detail larger than the status allows");
	}
	json_decref(n->actuator_detail[which]);
	n->actuator_detail[which] = detail;
}

/* Copy a counter of "resync" if it is a sane non-negative integer. */
static void copy_counter(json_t *to, const json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		json_object_set_new(to, key,
				    json_integer(json_integer_value(v)));
}

static uint64_t json_uint_or(const json_t *msg, const char *key,
			     uint64_t otherwise)
{
	json_t *v = json_object_get(msg, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return otherwise;
	return (uint64_t)json_integer_value(v);
}

/* A checked copy of replicd's {count, first, last} (actual.c checked it),
 * or NULL. */
static json_t *alone_copy(const json_t *v)
{
	if (!json_is_object(v) || json_uint_or(v, "count", 0) == 0)
		return NULL;
	return json_pack("{s:I,s:s?,s:s?}", "count",
			 (json_int_t)json_uint_or(v, "count", 0), "first",
			 json_string_value(json_object_get(v, "first")), "last",
			 json_string_value(json_object_get(v, "last")));
}

void node_replica_update(struct node_replica *r, const json_t *msg, int64_t now)
{
	static const char *const counters[] = {
		"bytes_total", "bytes_done", "bytes_left", "rate_bps", "eta_s",
		"passes", "zones", "data_bytes_sent", "wire_bytes", "seconds",
		/* over a WAN: the cap and zstd (docs/replication.md) */
		"max_bytes_per_s", "throttled_ms", "op_bytes",
		"compressed_frames", "compressed_file_bytes",
		"compressed_bytes", "raw_frames", "compressed_rejected"};
	const char *state = json_string_value(json_object_get(msg, "state"));
	const char *data = json_string_value(json_object_get(msg, "data"));
	const char *sync = json_string_value(json_object_get(msg, "sync"));
	json_t *epoch = json_object_get(msg, "epoch");
	json_t *resync = json_object_get(msg, "resync");
	enum sky_replica d = SKY_REPLICA_UNKNOWN;

	if (!state || !json_is_integer(epoch) || json_integer_value(epoch) < 0)
		return;
	/* Absent or unknown words mean "cannot tell": never up to date. */
	if (data && sky_replica_parse(data, &d) < 0)
		d = SKY_REPLICA_UNKNOWN;
	r->heard = true;
	r->heard_at_ms = now;
	sky_strlcpy(r->state, state, sizeof(r->state));
	r->epoch = (uint64_t)json_integer_value(epoch);
	r->data = d;
	sky_strlcpy(r->sync, sync && strlen(sync) < sizeof(r->sync) ? sync : "",
		    sizeof(r->sync));
	r->peer_connected =
		json_is_true(json_object_get(msg, "peer_connected"));
	/* Absent or mistyped: 0, which never makes a copy complete and
	 * never lets the primary ack alone without a new generation...
	 * except generation_sent, where "unknown" must count as high. */
	r->peer_receiving =
		json_is_true(json_object_get(msg, "peer_receiving"));
	r->generation = json_uint_or(msg, "generation", 0);
	r->generation_sent = json_uint_or(msg, "generation_sent", UINT64_MAX);
	r->writers_waiting = json_uint_or(msg, "writers_waiting", 0);
	/* What each side did without the other, for the status. */
	json_t *alone = json_object_get(msg, "alone_changes");
	r->alone_count =
		json_is_object(alone) ? json_uint_or(alone, "count", 0) : 0;
	json_decref(r->alone);
	json_decref(r->peer_alone);
	r->alone = alone_copy(alone);
	r->peer_alone = alone_copy(json_object_get(msg, "peer_alone_changes"));
	static const char *const replicd_counters[] = {
		"rejected_frames", "rejected_handshakes", "apply_errors",
		"record_entries",  "changes_not_sent",	  "record_damaged",
		"bytes_sent",	   "ops_pending"};
	json_decref(r->counters);
	r->counters = json_object();
	for (size_t i = 0; r->counters && i < SKY_ARRAY_SIZE(replicd_counters);
	     i++)
		copy_counter(r->counters, msg, replicd_counters[i]);
	static const char *const pipeline_counters[] = {
		"ops_sent",    "acks_received",	  "in_flight_max",
		"ack_waits",   "ack_waiters_max", "acks_sent",
		"frames_acked"};
	json_t *pipeline = json_object_get(msg, "pipeline");
	json_decref(r->pipeline);
	r->pipeline = json_is_object(pipeline) ? json_object() : NULL;
	for (size_t i = 0; r->pipeline && i < SKY_ARRAY_SIZE(pipeline_counters);
	     i++)
		copy_counter(r->pipeline, pipeline, pipeline_counters[i]);
	/* skyctl verify's progress and last result (replicd/verify.h):
	 * shown as replicd sent it, if it is an object of sane size. */
	json_t *verify = json_object_get(msg, "verify");
	json_decref(r->verify);
	r->verify = json_is_object(verify) &&
				    json_dumpb(verify, NULL, 0, JSON_COMPACT) <=
					    SKY_ACTUATOR_DETAIL_MAX
			    ? json_deep_copy(verify)
			    : NULL;
	json_decref(r->resync);
	r->resync = NULL;
	if (json_is_object(resync)) {
		const char *mode =
			json_string_value(json_object_get(resync, "mode"));
		r->resync = json_object();
		if (!r->resync)
			return;
		json_object_set_new(r->resync, "active",
				    json_boolean(json_is_true(json_object_get(
					    resync, "active"))));
		if (mode &&
		    (strcmp(mode, "record") == 0 || strcmp(mode, "hash") == 0 ||
		     strcmp(mode, "full") == 0))
			json_object_set_new(r->resync, "mode",
					    json_string(mode));
		const char *compress =
			json_string_value(json_object_get(resync, "compress"));
		if (compress && (strcmp(compress, "none") == 0 ||
				 strcmp(compress, "zstd") == 0))
			json_object_set_new(r->resync, "compress",
					    json_string(compress));
		for (size_t i = 0; i < SKY_ARRAY_SIZE(counters); i++)
			copy_counter(r->resync, resync, counters[i]);
	}
}

bool node_replica_uptodate(const struct node_replica *r, uint64_t epoch,
			   int64_t now)
{
	return r->heard && now - r->heard_at_ms <= NODE_REPLICA_STALE_MS &&
	       strcmp(r->state, "secondary") == 0 && r->epoch == epoch &&
	       r->data == SKY_REPLICA_UPTODATE;
}

void node_replica_inputs(const struct node_replica *r, uint64_t epoch,
			 int64_t now, struct sm *sm)
{
	bool fresh = r->heard &&
		     now - r->heard_at_ms <= NODE_REPLICA_STALE_MS &&
		     r->epoch == epoch;
	bool primary = fresh && strcmp(r->state, "primary") == 0;

	sm->replica_generation =
		node_replica_uptodate(r, epoch, now) ? r->generation : 0;
	/* Any state: a stopped replicd still has its record. */
	sm->replica_heard =
		r->heard && now - r->heard_at_ms <= NODE_REPLICA_STALE_MS;
	sm->replica_alone_changes = sm->replica_heard && r->alone_count > 0;
	/* Not heard (yet) as primary of this epoch: its link may be down. */
	sm->replica_link_down = !primary || !r->peer_receiving;
	sm->replica_writers_waiting = primary && r->writers_waiting > 0;
	sm->replica_generation_sent = primary ? r->generation_sent : UINT64_MAX;
	sm->replica_peer_unsynced = !primary || strcmp(r->sync, "insync") != 0;
}

static void on_actual(struct node *n, int64_t now)
{
	char topic[SKY_TOPIC_MAX];
	json_t *msg;

	for (int budget = 64; budget > 0; budget--) {
		int r = sky_bus_recv(n->sub, topic, sizeof(topic),
				     SKY_BUS_MSG_MAX, &msg);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			n->bus_bad_messages++;
			sky_log_ratelimited(&n->rl_bus, LOG_WARNING,
					    "dropped a malformed bus message");
			continue;
		}
		/* backupd's state (hold, completed) is for replicd, which
		 * reads it on its own endpoint; it reaches this socket too
		 * (docs/protocol.md) and is not an actuator's. */
		char backupd[SKY_TOPIC_MAX];
		if (sky_bus_topic(backupd, sizeof(backupd), n->cfg.module,
				  "backupd", SKY_KIND_ACTUAL) == 0 &&
		    strcmp(topic, backupd) == 0) {
			json_decref(msg);
			continue;
		}
		/* Every field used below was type-checked by actual_check. */
		enum sky_actuator which;
		char why[160];
		r = actual_check(topic, msg, n->cfg.module, n->self->name,
				 &which, why, sizeof(why));
		const char *daemon = sky_actuator_name(which);
		json_t *epoch = json_object_get(msg, "epoch");
		if (r == 0 &&
		    orch_actual(
			    &n->orch, daemon,
			    json_string_value(json_object_get(msg, "state")),
			    (uint64_t)json_integer_value(epoch),
			    json_string_value(json_object_get(msg, "reason")),
			    now) < 0) {
			snprintf(why, sizeof(why),
				 "%s is not in transitions.order", daemon);
			r = -EINVAL;
		}
		if (r < 0) {
			n->bus_bad_messages++;
			sky_log_ratelimited(
				&n->rl_bus, LOG_WARNING,
				"dropped a bus message%s%s: %s",
				which < SKY_ACT_COUNT ? " from " : "",
				which < SKY_ACT_COUNT ? daemon : "", why);
		} else if (strcmp(daemon, "replicd") == 0) {
			/* replicd's words decide promotions: kept checked,
			 * field by field, rather than as a raw detail. */
			node_replica_update(&n->replica, msg, now);
		} else {
			keep_actuator_detail(n, daemon, msg);
		}
		json_decref(msg);
	}
}

/*
 * A daemon (re)subscribed to our publications: publish at once rather than
 * let it wait up to a period for the state it missed (PUB/SUB does not
 * replay what was sent before a subscriber joined).
 */
static void on_subscriber(struct node *n)
{
	for (int budget = 64; budget > 0; budget--) {
		uint8_t sub[1 + SKY_TOPIC_MAX];
		int len = zmq_recv(n->pub, sub, sizeof(sub), ZMQ_DONTWAIT);
		if (len < 0)
			return;
		if (len >= 1 && sub[0] == 1)
			n->publish_now = true;
	}
}

void node_publish(struct node *n, int64_t now)
{
	char topic[SKY_TOPIC_MAX];
	json_t *obj;

	node_publish_desired(n, now);
	if (!n->backups || now - n->backups_read_ms >= BACKUPS_REREAD_MS) {
		json_decref(n->backups);
		n->backups = node_backups_read(n->backup_dir, sky_wall_ms());
		n->backups_read_ms = now;
	}
	obj = node_status_json(n, now);
	if (obj && sky_bus_topic(topic, sizeof(topic), n->cfg.module,
				 "heartbeatd", SKY_KIND_STATUS) == 0)
		sky_bus_publish(n->pub, topic, obj);
	json_decref(obj);
	n->next_publish_ms = now + SKY_PUBLISH_PERIOD_MS;
	n->publish_now = false;
}

static void update_systemd_status(const struct node *n)
{
	char status[256];
	struct sm_peer peer;
	const char *via;

	node_peer_input(n, sky_now_ms(), &peer);
	sm_quorum(&n->sm, &peer, &n->witness_view, &via);
	snprintf(status, sizeof(status),
		 "%s epoch %llu gen %llu; peer %s %s; "
		 "quorum %s",
		 sky_role_name(n->sm.role), (unsigned long long)n->sm.epoch,
		 (unsigned long long)n->sm.generation, n->peer_node->name,
		 peer.visible ? sky_role_name(peer.role) : "not seen", via);
	sky_notify_status(status);
}

/* Log each network and the peer as a whole going up or down, once. */
static void log_link_changes(struct node *n, int64_t now)
{
	int64_t lost_after = n->cfg.peer_lost_after_ms;
	size_t up_count = 0;

	for (size_t i = 0; i < n->cfg.network_count; i++) {
		const struct peer_network *pn = &n->peer.nets[i];
		bool up = pn->last_rx_ms && now - pn->last_rx_ms < lost_after;
		up_count += up;
		if (up == n->net_up[i])
			continue;
		n->net_up[i] = up;
		if (up)
			log_info("network %zu (%s <-> %s) up", i,
				 n->self->addrs[i].text,
				 n->peer_node->addrs[i].text);
		else
			log_warning(
				"network %zu (%s <-> %s) down: nothing valid "
				"from %s for %lld ms",
				i, n->self->addrs[i].text,
				n->peer_node->addrs[i].text, n->peer_node->name,
				(long long)lost_after);
	}
	bool visible = up_count > 0;
	if (visible != n->peer_visible) {
		n->peer_visible = visible;
		if (visible)
			log_info(
				"peer %s seen (%s, epoch %llu, generation "
				"%llu)",
				n->peer_node->name,
				sky_role_name((enum sky_role)n->peer.last.role),
				(unsigned long long)n->peer.last.epoch,
				(unsigned long long)n->peer.last.generation);
		else
			log_warning("peer %s lost on every network",
				    n->peer_node->name);
	}
}

static void tick(struct node *n, int64_t now)
{
	struct sm_peer peer;

	if (n->farm_mode) {
		node_farm_tick(n, now);
		return;
	}
	node_note_stall(n, now);
	log_link_changes(n, now);

	struct sm_witness witness_before;
	if (n->etcd)
		node_etcd_inputs(n, now);
	else
		witness_set_view(&n->witnesses, now, &n->witness_view);
	witness_before = n->witness_view;
	node_peer_input(n, now, &peer);
	if (n->depend.count) {
		depend_drain(&n->depend, n->self->name, now);
		bool was = n->sm.dependency_blocked;
		n->sm.dependency_blocked =
			!depend_ok(&n->depend, now, n->sm.dependency_why,
				   sizeof(n->sm.dependency_why));
		if (n->sm.dependency_blocked != was)
			log_notice("%s", n->sm.dependency_blocked
						 ? n->sm.dependency_why
						 : "every module of "
						   "module.depends_on serves "
						   "on this node");
	}
	n->sm.replica_uptodate =
		node_replica_uptodate(&n->replica, n->sm.epoch, now);
	node_replica_inputs(&n->replica, n->sm.epoch, now, &n->sm);
	bool ack_alone_was = n->sm.ack_alone;
	uint64_t generation_was = n->sm.generation;
	sm_step(&n->sm, now, &peer, &n->witness_view);
	if (!n->etcd)
		witness_set_feedback(&n->witnesses, &witness_before,
				     &n->witness_view);
	if (n->sm.ack_alone != ack_alone_was ||
	    n->sm.generation != generation_was)
		n->publish_now = true; /* replicd waits for this word */
	if (n->sm.note_changed) {
		n->sm.note_changed = false;
		log_notice("%s", n->sm.note);
	}
	if (n->etcd)
		node_watchdog_turn(n, now);
	if (n->sm.dirty)
		node_save_state(n); /* before anyone hears of the new state */
	if (n->sm.changed) {
		n->sm.changed = false;
		n->changed_wall_ms = sky_wall_ms();
		sky_log_set_role(sky_role_name(n->sm.role));
		log_notice("%s -> %s: %s (epoch %llu, generation %llu)",
			   sky_role_name(n->sm.prev_role),
			   sky_role_name(n->sm.role), n->sm.reason,
			   (unsigned long long)n->sm.epoch,
			   (unsigned long long)n->sm.generation);
		n->publish_now = true;
		n->next_heartbeat_ms = now; /* tell the peer at once */
		update_systemd_status(n);
	}

	orch_goal(&n->orch, n->sm.role, n->sm.epoch, now);
	orch_step(&n->orch, now);
	/* A handover is done once the actuators left the primary role (or
	 * one failed to: logged, and waiting would serve nobody); tell the
	 * peer at once. */
	bool demoting =
		!orch_settled(&n->orch) && !n->orch.failed &&
		now - n->orch.step_started_ms <= n->orch.step_timeout_ms;
	if (n->sm.handover && n->sm.demoting && !demoting)
		n->next_heartbeat_ms = now;
	n->sm.demoting = demoting;
	if (n->orch.news) {
		/* The next actuator waits for this target; healthd for serving. */
		n->orch.news = false;
		n->publish_now = true;
	}
	if (n->orch.failed && sky_role_serves(n->sm.role)) {
		log_error("%s", n->orch.failure);
		sm_fail(&n->sm, now, n->orch.failure);
		tick(n, now);
		return;
	}

	if (n->etcd)
		node_etcd_tell_want(n);
	else
		poll_witnesses(n, now);
	node_end_of_turn(n, now);
}

void node_end_of_turn(struct node *n, int64_t now)
{
	bool beat = now >= n->next_heartbeat_ms;
	if (beat && n->farm_mode)
		node_farm_send_heartbeats(n, now);
	else if (beat)
		send_heartbeats(n, now);
	if (n->publish_now || now >= n->next_publish_ms) {
		if (now >= n->next_publish_ms && n->farm_mode)
			node_farm_update_systemd_status(n);
		else if (now >= n->next_publish_ms)
			update_systemd_status(n);
		node_publish(n, now);
	} else if (beat) {
		/* With every heartbeat: the word stays fresh (valid_ms). */
		node_publish_desired(n, now);
	}
	sky_notify_watchdog(now);
}

static int open_bus(struct node *n)
{
	char ep[PATH_MAX + 16], dir[PATH_MAX + 64];
	int r, fd;

	snprintf(dir, sizeof(dir), "%s/%s", n->run_dir, n->cfg.module);
	r = sky_mkdir_p(dir, 0755);
	if (r < 0) {
		log_error("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	const struct {
		const char *name;
		int type;
		void **sock;
	} eps[] = {
		{SKY_EP_DESIRED, ZMQ_XPUB, &n->pub},
		{SKY_EP_ACTUAL, ZMQ_SUB, &n->sub},
		{SKY_EP_CTL, ZMQ_ROUTER, &n->ctl},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(eps); i++) {
		r = sky_bus_endpoint(ep, sizeof(ep), n->run_dir, n->cfg.module,
				     eps[i].name);
		if (r < 0)
			return r;
		bool ctl = eps[i].sock == &n->ctl;
		fd = ctl ? sky_listen_fd("ctl") : -ENOENT;
		/* A socket file left by a killed daemon would refuse the
		 * bind; nothing else may own our run dir. */
		if (fd < 0)
			unlink(ep + strlen("ipc://"));
		r = ctl ? sky_ctl_listen(ep, fd, eps[i].sock)
			: sky_bus_open(eps[i].type, ep, true, eps[i].sock);
		if (r < 0) {
			log_error("cannot bind %s: %s", ep, zmq_strerror(-r));
			return r;
		}
	}
	return 0;
}

int node_open(struct node *n, const struct sky_config *cfg, const char *self,
	      const char *run_dir, const char *state_dir)
{
	char dir[PATH_MAX], err[512];
	struct sm_config smc = {0};
	int r;

	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	for (size_t i = 0; i < SKY_MAX_NETWORKS; i++)
		n->hb_fd[i] = -1;
	n->witness_fd4 = n->witness_fd6 = -1;
	n->self = sky_config_node(&n->cfg, self);
	if (!n->self) {
		log_error("%s: this node '%s' is not in nodes (use --node)",
			  cfg->path, self);
		return -ENOENT;
	}
	n->farm_mode = cfg->type != SKY_MODULE_MIRROR;
	/* A farm has no one peer (and a light module none): peer_node is
	 * the mirror's only. */
	n->peer_node = n->farm_mode ? NULL : sky_config_peer(&n->cfg, n->self);
	sky_strlcpy(n->run_dir, run_dir, sizeof(n->run_dir));
	if (n->peer_node)
		sky_log_set_peer(n->peer_node->name);

	snprintf(dir, sizeof(dir), "%s/%s", state_dir, cfg->module);
	r = sky_mkdir_p(dir, 0700);
	if (r < 0) {
		log_error("cannot create state directory %s: %s", dir,
			  strerror(-r));
		return r;
	}
	snprintf(n->backup_dir, sizeof(n->backup_dir), "%s/backup", dir);
	r = snprintf(n->state_path, sizeof(n->state_path), "%s/node.state",
		     dir);
	if (r < 0 || (size_t)r >= sizeof(n->state_path))
		return -ENAMETOOLONG;
	r = node_state_load(n->state_path, &n->persisted, err, sizeof(err));
	if (r < 0) {
		log_error(
			"cannot load state: %s (fix or remove the file; "
			"removing it makes this node's data count as unknown)",
			err);
		return r;
	}
	n->persisted.incarnation++;
	r = node_state_save(n->state_path, &n->persisted);
	if (r < 0) {
		log_error("cannot save %s: %s", n->state_path, strerror(-r));
		return r;
	}

	sky_strlcpy(smc.self, n->self->name, sizeof(smc.self));
	if (n->peer_node)
		sky_strlcpy(smc.peer, n->peer_node->name, sizeof(smc.peer));
	smc.self_is_default_primary =
		strcmp(cfg->default_primary, smc.self) == 0;
	smc.peer_is_default_primary =
		strcmp(cfg->default_primary, smc.peer) == 0;
	/* The state machine knows one lease: the witness's or etcd's. */
	smc.witness_quorum = cfg->quorum_witness || cfg->quorum_etcd;
	smc.lease_required = cfg->quorum_etcd;
	smc.peer_lost_after_ms = cfg->peer_lost_after_ms;
	smc.lease_ms = cfg->lease_ms;
	smc.failed_transition_holddown_ms = 10000;
	smc.swap_request_expires_ms = 10000;
	for (size_t i = 0; i < cfg->order_count; i++)
		if (cfg->order[i] == SKY_ACT_REPLICD)
			smc.replica_gated = true;
	int64_t now = sky_now_ms();
	sm_init(&n->sm, &smc, now, n->persisted.epoch, n->persisted.generation,
		n->persisted.data, n->persisted.stopped);
	witness_set_init(&n->witnesses, cfg->witness_host_count,
			 cfg->interval_ms);
	if (n->farm_mode)
		farm_init(&n->farm, &n->cfg, n->self, cfg->rejoin_after_ms);
	orch_init(&n->orch, cfg->order, cfg->order_count, cfg->step_timeout_ms);
	n->orch.silent_ms = cfg->actuator_silent_ms;

	for (size_t i = 0; i < cfg->network_count; i++) {
		r = net_udp_bind(&n->self->addrs[i], &n->hb_fd[i]);
		if (r < 0) {
			log_error("cannot bind heartbeat socket %s port %u: %s",
				  n->self->addrs[i].text, cfg->heartbeat_port,
				  strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < cfg->witness_addr_count; i++) {
		int family = cfg->witness_addrs[i].sa.ss_family;
		int *fd = family == AF_INET ? &n->witness_fd4 : &n->witness_fd6;
		if (*fd < 0 && (r = net_udp_client(family, fd)) < 0) {
			log_error("cannot open a witness socket: %s",
				  strerror(-r));
			return r;
		}
	}
	r = open_bus(n);
	if (r < 0)
		return r;
	r = depend_open(&n->depend, cfg, run_dir);
	if (r < 0)
		return r;
	/* A farm's nodes keep a lease each and never lead (want stays 0). */
	if (cfg->quorum_etcd) {
		r = etcd_client_start(&n->etcd, &n->cfg, n->self->name);
		if (r < 0)
			return r;
	}
	hb_watchdog_init(
		&n->watchdog, n->cfg.etcd.watchdog,
		hb_watchdog_timeout_s(n->cfg.lease_ms, n->cfg.interval_ms));
	/* Opened only to serve (opening arms it): say now if it cannot be. */
	if (n->watchdog.path[0] && access(n->watchdog.path, W_OK) < 0)
		log_warning("etcd.watchdog %s: %s: this node cannot serve "
			    "until it can be opened",
			    n->watchdog.path, strerror(errno));
	n->started_wall_ms = n->changed_wall_ms = sky_wall_ms();
	return 0;
}

int node_run(struct node *n)
{
	zmq_pollitem_t
		items[SKY_MAX_NETWORKS + 5]; /* + witness v4, v6, 3 bus */
	int net_of[SKY_MAX_NETWORKS + 5];
	size_t count = 0;
	char status[128];

	for (size_t i = 0; i < n->cfg.network_count; i++) {
		net_of[count] = (int)i;
		items[count++] = (zmq_pollitem_t){.fd = n->hb_fd[i],
						  .events = ZMQ_POLLIN};
	}
	if (n->witness_fd4 >= 0) {
		net_of[count] = -1;
		items[count++] = (zmq_pollitem_t){.fd = n->witness_fd4,
						  .events = ZMQ_POLLIN};
	}
	if (n->witness_fd6 >= 0) {
		net_of[count] = -1;
		items[count++] = (zmq_pollitem_t){.fd = n->witness_fd6,
						  .events = ZMQ_POLLIN};
	}
	size_t udp_count = count;
	items[count++] =
		(zmq_pollitem_t){.socket = n->sub, .events = ZMQ_POLLIN};
	items[count++] =
		(zmq_pollitem_t){.socket = n->ctl, .events = ZMQ_POLLIN};
	items[count++] =
		(zmq_pollitem_t){.socket = n->pub, .events = ZMQ_POLLIN};

	sky_stop_signals_install();
	if (n->farm_mode) {
		log_notice("node %s of %s module %s started: %s, epoch %llu, "
			   "incarnation %llu; %zu nodes, no quorum (every UP "
			   "node serves)",
			   n->self->name, sky_module_type_name(n->cfg.type),
			   n->cfg.module, sky_role_name(n->sm.role),
			   (unsigned long long)n->sm.epoch,
			   (unsigned long long)n->persisted.incarnation,
			   n->cfg.node_count);
		snprintf(status, sizeof(status), "%s, %zu nodes",
			 sky_role_name(n->sm.role), n->cfg.node_count);
	} else {
		log_notice("node %s of module %s started: %s, epoch %llu, "
			   "generation %llu, data %s, incarnation %llu; peer "
			   "%s; quorum %s",
			   n->self->name, n->cfg.module,
			   sky_role_name(n->sm.role),
			   (unsigned long long)n->sm.epoch,
			   (unsigned long long)n->sm.generation,
			   sky_data_name(n->sm.data),
			   (unsigned long long)n->persisted.incarnation,
			   n->peer_node->name,
			   n->cfg.quorum_witness ? "witness"
			   : n->cfg.quorum_etcd	 ? "etcd"
						 : "none (split brain "
						   "possible)");
		snprintf(status, sizeof(status), "%s, listening for %s",
			 sky_role_name(n->sm.role), n->peer_node->name);
	}
	sky_log_set_role(sky_role_name(n->sm.role));
	sky_notify_ready(status);

	while (!sky_stop_requested()) {
		if (sky_reload_requested())
			node_reload(n);
		int r = zmq_poll(items, (int)count,
				 poll_timeout_ms(n, sky_now_ms()));
		int64_t now = sky_now_ms();
		if (r < 0 && errno != EINTR) {
			log_error("zmq_poll: %s", zmq_strerror(errno));
			return -errno;
		}
		for (size_t i = 0; r > 0 && i < udp_count; i++)
			if (items[i].revents & ZMQ_POLLIN)
				drain_udp(n, items[i].fd, net_of[i], now);
		/* ZeroMQ sockets are edge-triggered: always drain fully. */
		on_actual(n, now);
		on_subscriber(n);
		tick(n, now);
		/* Control requests after the turn's decision: after a stall,
		 * a status asked meanwhile must not tell the role held before
		 * it (the peer may serve by now). A command's effect is
		 * published at the next turn, at most 20 ms later. */
		node_ctl_serve(n, now);
		net_drops_flush(&n->drops, now);
	}

	/* Leaving: tell the peer we stop, so it takes over at once. */
	sky_notify_stopping();
	int64_t now = sky_now_ms();
	struct sm_peer peer;
	char msg[256];
	bool was_stopped = n->sm.stopped;
	node_peer_input(n, now, &peer);
	if (n->farm_mode)
		farm_command(&n->farm, &n->sm, now, SM_CMD_STOP, msg,
			     sizeof(msg));
	else
		sm_command(&n->sm, now, SM_CMD_STOP, false, &peer, msg,
			   sizeof(msg));
	n->sm.stopped =
		was_stopped; /* a daemon restart is not an operator stop */
	log_notice("shutting down: %s", msg);
	node_save_state(n);
	n->sm.want_lease = false;
	hb_watchdog_disarm(&n->watchdog); /* a clean stop */
	if (n->etcd)
		etcd_client_stop(&n->etcd); /* gives the leader key back */
	else
		poll_witnesses(n, now); /* the releases */
	if (n->farm_mode)
		node_farm_send_heartbeats(n, now);
	else
		send_heartbeats(n, now);
	node_publish(n, now);
	return 0;
}

void node_close(struct node *n)
{
	etcd_client_stop(&n->etcd);
	for (size_t i = 0; i < SKY_ACT_COUNT; i++) {
		json_decref(n->actuator_detail[i]);
		n->actuator_detail[i] = NULL;
	}
	json_decref(n->replica.resync);
	json_decref(n->replica.verify);
	n->replica.resync = NULL;
	json_decref(n->replica.counters);
	json_decref(n->replica.pipeline);
	json_decref(n->replica.alone);
	json_decref(n->replica.peer_alone);
	n->replica.alone = n->replica.peer_alone = NULL;
	n->replica.counters = NULL;
	sky_bus_close(&n->pub);
	sky_bus_close(&n->sub);
	depend_close(&n->depend);
	json_decref(n->backups);
	n->backups = NULL;
	sky_bus_close(&n->ctl);
	for (size_t i = 0; i < SKY_MAX_NETWORKS; i++)
		if (n->hb_fd[i] >= 0)
			close(n->hb_fd[i]);
	if (n->witness_fd4 >= 0)
		close(n->witness_fd4);
	if (n->witness_fd6 >= 0)
		close(n->witness_fd6);
	sky_bus_shutdown();
}
