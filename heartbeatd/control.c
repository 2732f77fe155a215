/*
 * control.c - the control socket: status as JSON, and operator commands
 * (docs/protocol.md). Requests are hostile input: every field is checked,
 * and every request gets an answer, an error being a JSON object too.
 */
#include "node.h"

#include <string.h>

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static json_t *networks_json(const struct node *n, int64_t now)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n->cfg.network_count; i++) {
		const struct peer_network *pn = &n->peer.nets[i];
		bool up = pn->last_rx_ms &&
			  now - pn->last_rx_ms <
				  (int64_t)n->cfg.peer_lost_after_ms;
		json_t *o =
			json_pack("{s:I,s:s,s:s,s:b}", "index", (json_int_t)i,
				  "local", n->self->addrs[i].text, "peer",
				  n->peer_node->addrs[i].text, "up", up);
		json_object_set_new(o, "last_seen_ms",
				    pn->last_rx_ms
					    ? json_integer(now - pn->last_rx_ms)
					    : json_null());
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *peer_json(const struct node *n, int64_t now)
{
	struct sm_peer p;
	node_peer_input(n, now, &p);
	json_t *o = json_pack("{s:s,s:b}", "name", n->peer_node->name,
			      "visible", p.visible);
	json_object_set_new(o, "role",
			    json_string(n->peer.ever_seen
						? sky_role_name(p.role)
						: "UNKNOWN"));
	json_object_set_new(o, "epoch", json_integer((json_int_t)p.epoch));
	json_object_set_new(o, "generation",
			    json_integer((json_int_t)p.generation));
	json_object_set_new(o, "data", json_string(sky_data_name(p.data)));
	json_object_set_new(o, "last_seen_ms",
			    n->peer.ever_seen
				    ? json_integer(now - n->peer.last_rx_ms)
				    : json_null());
	json_object_set_new(o, "networks", networks_json(n, now));
	return o;
}

static json_t *witness_json(const struct node *n, int64_t now)
{
	json_t *addrs = json_array();
	const struct lease_client *lc = &n->lease;
	for (size_t i = 0; i < n->cfg.witness_addr_count; i++)
		json_array_append_new(
			addrs, json_string(n->cfg.witness_addrs[i].text));
	const char *lease = lease_client_valid(lc, now) ? "held"
			    : lc->answered_ever &&
					    lc->last_answer != LEASE_GRANTED &&
					    lc->last_answer != LEASE_RELEASED
				    ? "refused"
				    : "none";
	/* No answer for three resend periods while asking: say so. */
	const char *answer =
		!lc->answered_ever ? "no_answer"
		: (n->sm.want_lease &&
		   now - lc->last_answer_ms >
			   3 * lc->resend_ms + (int64_t)n->cfg.lease_ms)
			? "no_answer"
			: lease_answer_name(lc->last_answer);
	json_t *o =
		json_pack("{s:o,s:s,s:s,s:s}", "addresses", addrs, "lease",
			  lease, "last_answer", answer, "holder", lc->holder);
	json_object_set_new(o, "expires_in_ms",
			    lease_client_valid(lc, now)
				    ? json_integer(lc->valid_until_ms - now)
				    : json_integer(0));
	return o;
}

static json_t *actuators_json(const struct node *n, int64_t now)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n->orch.count; i++) {
		const struct orch_actuator *a = &n->orch.acts[i];
		json_t *v =
			json_pack("{s:s,s:s,s:I,s:s}", "target",
				  a->target ? a->target : "", "state",
				  a->heard ? a->state : "unknown", "epoch",
				  (json_int_t)a->epoch, "reason", a->reason);
		json_object_set_new(v, "age_ms",
				    a->heard
					    ? json_integer(now - a->heard_at_ms)
					    : json_null());
		if (n->actuator_detail[a->which])
			json_object_set(v, "detail",
					n->actuator_detail[a->which]);
		if (a->which == SKY_ACT_REPLICD && n->replica.heard) {
			const struct node_replica *r = &n->replica;
			json_object_set_new(
				v, "data",
				json_string(sky_replica_name(r->data)));
			json_object_set_new(v, "sync", json_string(r->sync));
			json_object_set_new(v, "peer_connected",
					    json_boolean(r->peer_connected));
			if (r->resync)
				json_object_set(v, "resync", r->resync);
			if (r->counters)
				json_object_set(v, "counters", r->counters);
		}
		json_object_set_new(o, sky_actuator_name(a->which), v);
	}
	return o;
}

json_t *node_status_json(const struct node *n, int64_t now)
{
	struct sm_peer peer;
	const char *via;
	char at[32];
	bool serving = sky_role_serves(n->sm.role) && orch_settled(&n->orch);

	node_peer_input(n, now, &peer);
	bool have = sm_quorum(&n->sm, &peer, &n->witness_view, &via);
	sky_format_utc(n->changed_wall_ms, at, sizeof(at));

	json_t *self = json_pack(
		"{s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:I,s:s}", "name", n->self->name,
		"role", sky_role_name(n->sm.role), "epoch",
		(json_int_t)n->sm.epoch, "generation",
		(json_int_t)n->sm.generation, "data",
		sky_data_name(sm_advertised_data(&n->sm)), "persisted_data",
		sky_data_name(n->sm.data), "serving", serving, "role_for_ms",
		(json_int_t)(now - n->sm.role_since_ms), "waiting_for",
		n->sm.waiting_for);
	json_t *transition = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "from",
				       sky_role_name(n->sm.prev_role), "to",
				       sky_role_name(n->sm.role), "reason",
				       n->sm.reason, "at", at, "ago_ms",
				       (json_int_t)(now - n->sm.changed_at_ms),
				       "pending", n->orch.pending);
	const struct net_counters *c = &n->counters;
	json_t *counters = json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "tx",
		(json_int_t)c->tx, "tx_errors", (json_int_t)c->tx_errors, "rx",
		(json_int_t)c->rx, "bad_mac", (json_int_t)c->bad_mac, "replay",
		(json_int_t)c->replay, "malformed", (json_int_t)c->malformed,
		"oversized", (json_int_t)c->oversized, "wrong_cluster",
		(json_int_t)c->wrong_cluster, "unknown_node",
		(json_int_t)c->unknown_node, "witness_unknown_replies",
		(json_int_t)n->lease.unknown_replies, "ctl_bad_requests",
		(json_int_t)n->ctl_bad_requests, "bus_bad_messages",
		(json_int_t)n->bus_bad_messages);
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:s,s:b,s:s},s:o,s:o,s:o,s:o,"
			 "s:{s:I,s:I,s:I}}",
			 "cluster", n->cfg.cluster, "module", n->cfg.module,
			 "type", "mirror", "node", self, "peer",
			 peer_json(n, now), "quorum", "mode",
			 n->cfg.quorum_witness ? "witness" : "none", "have",
			 have, "via", via, "witness", witness_json(n, now),
			 "transition", transition, "actuators",
			 actuators_json(n, now), "counters", counters, "timing",
			 "interval_ms", (json_int_t)n->cfg.interval_ms,
			 "timeout_ms", (json_int_t)n->cfg.peer_lost_after_ms,
			 "lease_ms", (json_int_t)n->cfg.lease_ms);
}

static const struct {
	const char *name;
	enum sm_command cmd;
} commands[] = {
	{"swap", SM_CMD_SWAP},	   {"prim", SM_CMD_PRIM},
	{"second", SM_CMD_SECOND}, {"stop", SM_CMD_STOP},
	{"start", SM_CMD_START},   {"failover", SM_CMD_FAILOVER},
};

/*
 * skyctl resync --discard-local: replicd here drops this node's own
 * changes and takes a full copy from the peer. Never on a serving node:
 * its copy is the one the application uses.
 */
static json_t *resync_request(struct node *n, int64_t now, const json_t *req)
{
	json_t *discard = json_object_get(req, "discard_local");
	if (!json_is_true(discard)) {
		n->ctl_bad_requests++;
		return error_reply("resync needs \"discard_local\": true");
	}
	if (sky_role_serves(n->sm.role)) {
		log_notice("operator: resync --discard-local -> refused: this "
			   "node serves");
		return error_reply("this node serves the application: run "
				   "`skyctl resync --discard-local` on the "
				   "node whose changes are to be dropped");
	}
	n->discard_local_until_ms = now + NODE_DISCARD_LOCAL_MS;
	n->publish_now = true;
	log_notice("operator: resync --discard-local: replicd drops this "
		   "node's own changes and takes a full copy from %s",
		   n->peer_node->name);
	return json_pack("{s:b,s:s}", "ok", 1, "message",
			 "this node's own changes are dropped: replicd takes "
			 "a full copy from the peer");
}

json_t *node_handle_request(struct node *n, int64_t now, const json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "command"));
	json_t *force = json_object_get(req, "force");
	char msg[256];
	struct sm_peer peer;

	if (!name) {
		n->ctl_bad_requests++;
		return error_reply("missing \"command\" (status, swap, prim, "
				   "second, stop, start, failover, resync)");
	}
	if (force && !json_is_boolean(force)) {
		n->ctl_bad_requests++;
		return error_reply("\"force\" must be true or false");
	}
	if (strcmp(name, "status") == 0) {
		json_t *st = node_status_json(n, now);
		return json_pack("{s:b,s:o}", "ok", 1, "status", st);
	}
	if (strcmp(name, "resync") == 0)
		return resync_request(n, now, req);
	for (size_t i = 0; i < SKY_ARRAY_SIZE(commands); i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		if (force && json_is_true(force) &&
		    commands[i].cmd != SM_CMD_PRIM) {
			n->ctl_bad_requests++;
			return error_reply("\"force\" only applies to prim");
		}
		node_peer_input(n, now, &peer);
		int r = sm_command(&n->sm, now, commands[i].cmd,
				   force && json_is_true(force), &peer, msg,
				   sizeof(msg));
		const char *reason =
			json_string_value(json_object_get(req, "reason"));
		log_notice("%s: %s%s%s%.160s -> %s%s",
			   commands[i].cmd == SM_CMD_FAILOVER ? "checkd"
							      : "operator",
			   name, force && json_is_true(force) ? " --force" : "",
			   reason ? ", reason: " : "", reason ? reason : "",
			   r < 0 ? "refused: " : "", msg);
		if (r < 0)
			return error_reply(msg);
		n->publish_now = true;
		return json_pack("{s:b,s:s}", "ok", 1, "message", msg);
	}
	n->ctl_bad_requests++;
	snprintf(msg, sizeof(msg),
		 "unknown command '%.32s' (status, swap, "
		 "prim, second, stop, start, failover)",
		 name);
	return error_reply(msg);
}
