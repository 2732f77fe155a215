/*
 * control.c - the control socket: status as JSON, and operator commands
 * (docs/protocol.md). Requests are hostile input: every field is checked
 * (ctl_request_parse, control.h), and every request gets an answer, an
 * error being a JSON object too.
 */
#include "control.h"
#include "node.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* One witness's lease: held, refused or none, its last answer, holder. */
static json_t *lease_json(const struct node *n, const struct lease_client *lc,
			  int64_t now, json_t *addrs)
{
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

static json_t *witness_addresses(const struct node *n, long host)
{
	json_t *addrs = json_array();

	for (size_t i = 0; i < n->cfg.witness_addr_count; i++)
		if (host < 0 || n->cfg.witness_host_of[i] == (size_t)host)
			json_array_append_new(
				addrs,
				json_string(n->cfg.witness_addrs[i].text));
	return addrs;
}

/*
 * One witness: its lease as is. Several (witness.hosts): the lease is held
 * while a majority's are, "hosts" gives each one's, "needed" the majority.
 */
static json_t *witness_json(const struct node *n, int64_t now)
{
	const struct witness_set *s = &n->witnesses;

	if (s->count <= 1)
		return lease_json(n, &s->lease[0], now,
				  witness_addresses(n, -1));
	const struct sm_witness *w = &n->witness_view;
	bool held = witness_set_valid(s, now);
	size_t refused = 0;
	json_t *hosts = json_array();
	for (size_t h = 0; h < s->count; h++) {
		json_t *one = lease_json(n, &s->lease[h], now,
					 witness_addresses(n, (long)h));
		const char *l =
			json_string_value(json_object_get(one, "lease"));
		refused += l && strcmp(l, "refused") == 0;
		json_array_append_new(hosts, one);
	}
	json_t *o = json_pack(
		"{s:o,s:s,s:s,s:s,s:I,s:I,s:o}", "addresses",
		witness_addresses(n, -1), "lease",
		held	  ? "held"
		: refused ? "refused"
			  : "none",
		"last_answer",
		w->answered ? lease_answer_name(w->last_answer) : "no_answer",
		"holder", w->holder, "needed",
		(json_int_t)witness_set_majority(s), "expires_in_ms",
		(json_int_t)(held ? witness_set_valid_until(s, now) - now : 0),
		"hosts", hosts);
	return o;
}

/* module.depends_on: each module, and whether it serves on this node. */
static json_t *depends_json(const struct node *n, int64_t now)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n->depend.count; i++) {
		const struct depend_one *one = &n->depend.dep[i];
		bool fresh = one->heard && now < one->deadline_ms;
		json_array_append_new(
			a, json_pack("{s:s,s:o,s:b,s:I}", "module", one->module,
				     "role",
				     one->heard ? json_string(sky_role_name(
							  one->role))
						: json_null(),
				     "serves_here",
				     fresh && sky_role_serves(one->role),
				     "bad_messages",
				     (json_int_t)one->bad_messages));
	}
	return a;
}

/*
 * quorum: etcd: the "witness" object in the same shape (a client that reads
 * lease and holder works with either), and the "etcd" object.
 */
static json_t *etcd_witness_json(const struct node *n, int64_t now)
{
	const struct etcd_view *v = &n->etcd_view;
	const struct sky_etcd_config *e = &n->cfg.etcd;
	json_t *addrs = json_array();
	for (size_t i = 0; i < e->endpoint_count; i++)
		json_array_append_new(addrs, json_string(e->endpoints[i]));
	bool held = now < v->valid_until_ms;
	const char *lease =
		held ? "held"
		: n->etcd_answered_ever && v->answer != LEASE_GRANTED
			? "refused"
			: "none";
	const char *answer = !n->etcd_answered_ever || !v->reachable
				     ? "no_answer"
				     : lease_answer_name(v->answer);
	return json_pack("{s:o,s:s,s:s,s:s,s:I}", "addresses", addrs, "lease",
			 lease, "last_answer", answer, "holder", v->holder,
			 "expires_in_ms",
			 (json_int_t)(held ? v->valid_until_ms - now : 0));
}

/* etcd.watchdog: null when not configured. */
static json_t *watchdog_json(const struct node *n)
{
	const struct hb_watchdog *w = &n->watchdog;
	if (!w->path[0])
		return json_null();
	return json_pack("{s:s,s:b,s:i,s:I}", "path", w->path, "armed",
			 hb_watchdog_armed(w), "timeout_s", w->timeout_s,
			 "pets", (json_int_t)w->pets);
}

static json_t *etcd_json(const struct node *n, int64_t now)
{
	const struct etcd_view *v = &n->etcd_view;
	char lease_id[24];
	snprintf(lease_id, sizeof(lease_id), "%llx",
		 (unsigned long long)v->lease_id);
	return json_pack(
		"{s:s,s:s,s:b,s:b,s:s,s:I,s:s,s:I,s:I,s:s,s:I,"
		"s:{s:I,s:I,s:I,s:I},s:{s:b,s:b,s:I,s:I},s:o}",
		"prefix", n->cfg.etcd.prefix, "endpoint", v->endpoint,
		"reachable", v->reachable, "leader", now < v->valid_until_ms,
		"holder", v->holder, "leader_revision",
		(json_int_t)v->leader_revision, "lease_id", lease_id,
		"lease_ttl_ms", (json_int_t)v->lease_ttl_ms,
		"newest_generation", (json_int_t)v->newest_generation,
		"last_error", v->last_error, "last_error_ago_ms",
		(json_int_t)(v->last_error_ms ? now - v->last_error_ms : -1),
		"counters", "requests", (json_int_t)v->requests, "failures",
		(json_int_t)v->failures, "bad_replies",
		(json_int_t)v->bad_replies, "auth_failures",
		(json_int_t)v->auth_failures, "watch", "enabled", v->watching,
		"up", v->watch_up, "events", (json_int_t)v->watch_events,
		"breaks", (json_int_t)v->watch_breaks, "watchdog",
		watchdog_json(n));
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
			if (r->verify)
				json_object_set(v, "verify", r->verify);
			if (r->counters)
				json_object_set(v, "counters", r->counters);
			if (r->pipeline)
				json_object_set(v, "pipeline", r->pipeline);
			/* Generations, and what each copy did alone. */
			json_object_set_new(
				v, "generation",
				json_integer((json_int_t)r->generation));
			json_object_set_new(
				v, "writers_waiting",
				json_integer((json_int_t)r->writers_waiting));
			if (r->alone)
				json_object_set(v, "alone_changes", r->alone);
			if (r->peer_alone)
				json_object_set(v, "peer_alone_changes",
						r->peer_alone);
		}
		json_object_set_new(o, sky_actuator_name(a->which), v);
	}
	return o;
}

static void backup_request_path(const struct node *n, char *path, size_t size)
{
	snprintf(path, size, "%s/%s/" CTL_BACKUP_REQUEST_FILE, n->run_dir,
		 n->cfg.module);
}

/* A backup request waits for systemd (see backup_request). */
static bool backup_requested(const struct node *n)
{
	char path[PATH_MAX + 64];
	backup_request_path(n, path, sizeof(path));
	return access(path, F_OK) == 0;
}

json_t *node_status_json(const struct node *n, int64_t now)
{
	struct sm_peer peer;
	const char *via = "farm";
	char at[32];
	bool serving = sky_role_serves(n->sm.role) && orch_settled(&n->orch);
	bool have = true;

	if (!n->farm_mode) {
		node_peer_input(n, now, &peer);
		have = sm_quorum(&n->sm, &peer, &n->witness_view, &via);
	}
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
		(json_int_t)witness_set_unknown_replies(&n->witnesses),
		"ctl_bad_requests", (json_int_t)n->ctl_bad_requests,
		"bus_bad_messages", (json_int_t)n->bus_bad_messages);
	if (n->farm_mode) {
		json_t *fst =
			node_farm_status_json(n, now, self, transition,
					      actuators_json(n, now), counters);
		if (fst && n->etcd)
			json_object_set_new(fst, "etcd", etcd_json(n, now));
		if (fst && json_array_size(n->backups))
			json_object_set(fst, "backups", n->backups);
		return fst;
	}
	json_t *st = json_pack(
		"{s:s,s:s,s:s,s:o,s:o,s:{s:s,s:b,s:s},s:o,s:o,s:o,s:o,"
		"s:{s:I,s:I,s:I}}",
		"cluster", n->cfg.cluster, "module", n->cfg.module, "type",
		"mirror", "node", self, "peer", peer_json(n, now), "quorum",
		"mode",
		n->cfg.quorum_witness ? "witness"
		: n->cfg.quorum_etcd  ? "etcd"
				      : "none",
		"have", have, "via", via, "witness",
		n->etcd ? etcd_witness_json(n, now) : witness_json(n, now),
		"transition", transition, "actuators", actuators_json(n, now),
		"counters", counters, "timing", "interval_ms",
		(json_int_t)n->cfg.interval_ms, "timeout_ms",
		(json_int_t)n->cfg.peer_lost_after_ms, "lease_ms",
		(json_int_t)n->cfg.lease_ms);
	if (st && n->etcd)
		json_object_set_new(st, "etcd", etcd_json(n, now));
	if (st && n->depend.count)
		json_object_set_new(st, "depends_on", depends_json(n, now));
	if (st && json_array_size(n->backups))
		json_object_set(st, "backups", n->backups);
	if (st && n->cfg.has_backup)
		json_object_set_new(st, "backup",
				    json_pack("{s:b,s:b}", "configured", 1,
					      "requested",
					      backup_requested(n)));
	return st;
}

/* --- requests ------------------------------------------------------------ */

static const char *const command_names[CTL_COMMAND_COUNT] = {
	[CTL_STATUS] = "status",     [CTL_SWAP] = "swap",
	[CTL_PRIM] = "prim",	     [CTL_SECOND] = "second",
	[CTL_STOP] = "stop",	     [CTL_START] = "start",
	[CTL_FAILOVER] = "failover", [CTL_RESYNC] = "resync",
	[CTL_RESTART] = "restart",   [CTL_CHECKERS] = "checkers",
	[CTL_VERIFY] = "verify",     [CTL_BACKUP] = "backup",
};

const char *ctl_command_name(enum ctl_command c)
{
	return (unsigned)c < CTL_COMMAND_COUNT ? command_names[c] : "?";
}

/* The fields a request may carry; each command accepts some of them. */
static const char *const known_fields[] = {"command",	    "force", "reason",
					   "discard_local", "on",    "full"};

static const char *json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* Hostile text echoed in an error or a log line: printable ASCII only,
 * at most 32 characters. */
static const char *shown(const char *text, char *buf, size_t size)
{
	size_t i = 0;
	for (; text[i] && i + 1 < size && i < 32; i++) {
		unsigned char c = (unsigned char)text[i];
		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[i] = '\0';
	return buf;
}

/* An optional boolean field: absent is false. */
static int get_bool(const json_t *req, const char *key, bool *out, char *err,
		    size_t size)
{
	const json_t *v = json_object_get(req, key);
	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return sky_refuse(err, size, "field '%s' must be true or false",
				  key);
	*out = json_is_true(v);
	return 0;
}

static int get_reason(const json_t *req, struct ctl_request *out, char *err,
		      size_t size)
{
	const json_t *v = json_object_get(req, "reason");
	if (!v)
		return 0;
	if (!json_is_string(v))
		return sky_refuse(err, size, "field 'reason' must be a string");
	size_t len = json_string_length(v);
	if (len > CTL_REASON_MAX)
		return sky_refuse(
			err, size,
			"field 'reason' is %zu bytes, over the %d-byte "
			"limit",
			len, CTL_REASON_MAX);
	const char *text = json_string_value(v);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		out->reason[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out->reason[len] = '\0';
	out->has_reason = true;
	return 0;
}

static int check_request(const json_t *req, struct ctl_request *out, char *err,
			 size_t size)
{
	const json_t *command = json_object_get(req, "command");
	const char *key;
	const json_t *value;
	char name[40];
	int r;

	if (!command)
		return sky_refuse(err, size,
				  "missing field 'command' (" CTL_COMMAND_LIST
				  ")");
	if (!json_is_string(command))
		return sky_refuse(err, size,
				  "field 'command' must be a string");
	out->command = CTL_COMMAND_COUNT;
	for (int i = 0; i < CTL_COMMAND_COUNT; i++)
		if (strcmp(json_string_value(command), command_names[i]) == 0)
			out->command = (enum ctl_command)i;
	if (out->command == CTL_COMMAND_COUNT)
		return sky_refuse(
			err, size,
			"unknown command '%s' (" CTL_COMMAND_LIST ")",
			shown(json_string_value(command), name, sizeof(name)));
	json_object_foreach((json_t *)req, key, value)
	{
		bool known = false;
		for (size_t i = 0; i < SKY_ARRAY_SIZE(known_fields); i++)
			known = known || strcmp(key, known_fields[i]) == 0;
		if (!known)
			return sky_refuse(err, size,
					  "unknown field '%s' (the fields: "
					  "command, force, discard_local, on, "
					  "full, reason)",
					  shown(key, name, sizeof(name)));
	}
	if ((r = get_bool(req, "force", &out->force, err, size)) < 0 ||
	    (r = get_bool(req, "discard_local", &out->discard_local, err,
			  size)) < 0 ||
	    (r = get_bool(req, "full", &out->full, err, size)) < 0 ||
	    (r = get_reason(req, out, err, size)) < 0)
		return r;
	if (out->force && out->command != CTL_PRIM)
		return sky_refuse(err, size,
				  "field 'force' only applies to prim");
	if (json_object_get(req, "discard_local") && out->command != CTL_RESYNC)
		return sky_refuse(
			err, size,
			"field 'discard_local' only applies to resync");
	if (json_object_get(req, "full") && out->command != CTL_RESYNC)
		return sky_refuse(err, size,
				  "field 'full' only applies to resync");
	if (out->command == CTL_RESYNC && out->discard_local == out->full)
		return sky_refuse(err, size,
				  "resync needs one of \"discard_local\": true "
				  "or \"full\": true");
	const json_t *on = json_object_get(req, "on");
	if (on && out->command != CTL_CHECKERS)
		return sky_refuse(err, size,
				  "field 'on' only applies to checkers");
	if (out->command == CTL_CHECKERS && !json_is_boolean(on))
		return sky_refuse(err, size,
				  "checkers needs \"on\": true or false");
	out->on = json_is_true(on);
	return 0;
}

int ctl_request_parse(const uint8_t *buf, size_t len, struct ctl_request *out,
		      char *err, size_t err_size)
{
	json_error_t jerr;

	memset(out, 0, sizeof(*out));
	if (len > SKY_CTL_MSG_MAX) {
		snprintf(err, err_size,
			 "request of %zu bytes is over the %d-byte limit", len,
			 SKY_CTL_MSG_MAX);
		return -EMSGSIZE;
	}
	if (len == 0)
		return sky_refuse(err, err_size,
				  "empty request: send one JSON object");
	/* jansson checks the UTF-8 and refuses \u0000 in strings. */
	json_t *req = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
				 &jerr);
	if (!req)
		return sky_refuse(err, err_size,
				  "request is not JSON: %.80s (at byte %d)",
				  jerr.text, jerr.position);
	int r = json_is_object(req)
			? check_request(req, out, err, err_size)
			: sky_refuse(err, err_size,
				     "request must be a JSON object, not %s",
				     json_type_word(req));
	json_decref(req);
	return r;
}

/* --- commands ------------------------------------------------------------- */

static const enum sm_command sm_commands[CTL_COMMAND_COUNT] = {
	[CTL_SWAP] = SM_CMD_SWAP,     [CTL_PRIM] = SM_CMD_PRIM,
	[CTL_SECOND] = SM_CMD_SECOND, [CTL_STOP] = SM_CMD_STOP,
	[CTL_START] = SM_CMD_START,   [CTL_FAILOVER] = SM_CMD_FAILOVER,
};

/*
 * skyctl resync --discard-local: replicd here drops this node's own
 * changes and takes a full copy from the peer. Never on a serving node:
 * its copy is the one the application uses.
 */
static json_t *resync_request(struct node *n, int64_t now)
{
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

/*
 * restart (the application in place) and checkers on/off: for checkd,
 * through the desired state (docs/protocol.md: app_restart, checkers).
 * heartbeatd's roles do not change.
 */
static json_t *checkd_request(struct node *n, int64_t now,
			      const struct ctl_request *req)
{
	const char *by = req->has_reason ? req->reason : "skyctl";
	if (req->command == CTL_RESTART) {
		if (!sky_role_serves(n->sm.role)) {
			log_notice("operator: restart -> refused: the "
				   "application does not run here (%s)",
				   sky_role_name(n->sm.role));
			return error_reply("the application does not run on "
					   "this node: restart it where the "
					   "module serves");
		}
		/* A new value each time: checkd acts when it changes. */
		n->app_restart_id =
			now > n->app_restart_id ? now : n->app_restart_id + 1;
		n->publish_now = true;
		log_notice("operator: restart (%.160s): checkd restarts the "
			   "application in place",
			   by);
		return json_pack("{s:b,s:s}", "ok", 1, "message",
				 "checkd restarts the application in place");
	}
	n->checkers_off = !req->on;
	n->publish_now = true;
	log_notice("operator: checkers %s (%.160s)", req->on ? "on" : "off",
		   by);
	return json_pack("{s:b,s:s}", "ok", 1, "message",
			 req->on ? "checkers on: checkd watches the "
				   "application again"
				 : "checkers off: checkd no longer restarts "
				   "the application or fails over on a "
				   "checker until they are turned on");
}

/*
 * skyctl verify / resync --full: replicd on the primary compares both
 * copies (verify: reports, changes nothing; --full: resyncs what
 * differs). Carried by the desired state as a request id for a while;
 * replicd acts once per id (replicd/verify.h).
 */
static json_t *verify_request(struct node *n, int64_t now, bool verify)
{
	const char *what = verify ? "verify" : "resync --full";
	bool ok = verify ? n->sm.role == SKY_ROLE_PRIM
			 : n->sm.role == SKY_ROLE_PRIM ||
				   n->sm.role == SKY_ROLE_ALONE;
	if (!ok) {
		char msg[200];
		log_notice("operator: %s -> refused: this node is %s", what,
			   sky_role_name(n->sm.role));
		snprintf(msg, sizeof(msg),
			 "this node is %s: run `skyctl %s` on the primary%s",
			 sky_role_name(n->sm.role), what,
			 verify ? " while its peer is in sync (PRIM)" : "");
		return error_reply(msg);
	}
	uint64_t id = (uint64_t)sky_wall_ms();
	if (verify) {
		n->verify_id = id;
		n->verify_until_ms = now + NODE_VERIFY_REQUEST_MS;
	} else {
		n->resync_full_id = id;
		n->resync_full_until_ms = now + NODE_VERIFY_REQUEST_MS;
	}
	n->publish_now = true;
	log_notice("operator: %s (request %llu)", what, (unsigned long long)id);
	return json_pack(
		"{s:b,s:s,s:I}", "ok", 1, "message",
		verify ? "replicd compares both copies, changing nothing: "
			 "follow it with `skyctl status` (replication: "
			 "verify)"
		       : "replicd ends the session and resyncs whatever "
			 "differs between the copies, by their hashes",
		"request", (json_int_t)id);
}

/*
 * backup: a request file that systemd's skyha-backup@MODULE.path turns
 * into a run of skyha-backup@MODULE.service (docs/backup.md, "Backup
 * now"). heartbeatd cannot start a unit itself, and should not: it runs
 * with no capability, and D-Bus StartUnit wants CAP_SYS_ADMIN or polkit.
 * The service removes the file as it starts, so a request made while a
 * backup runs gets a run of its own once that one ends.
 */
static json_t *backup_request(struct node *n, const struct ctl_request *req)
{
	const char *by = req->has_reason ? req->reason : "skyctl";
	char path[PATH_MAX + 64], msg[PATH_MAX + 160];

	if (!n->cfg.has_backup) {
		snprintf(msg, sizeof(msg),
			 "module %s has no backup: section in %s: nothing to "
			 "back up (docs/backup.md)",
			 n->cfg.module, n->cfg.path);
		log_notice("operator: backup (%.160s) -> refused: no backup: "
			   "section",
			   by);
		return error_reply(msg);
	}
	backup_request_path(n, path, sizeof(path));
	if (backup_requested(n)) {
		log_notice("operator: backup (%.160s): one is already "
			   "requested",
			   by);
		return json_pack("{s:b,s:s}", "ok", 1, "message",
				 "a backup is already requested: it starts "
				 "once the run under way, if any, ends");
	}
	json_t *body = json_pack("{s:I,s:s}", "requested_at_ms",
				 (json_int_t)sky_wall_ms(), "by", by);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int r = text ? sky_write_file_atomic(path, text, strlen(text), 0640)
		     : -ENOMEM;
	free(text);
	json_decref(body);
	if (r < 0) {
		log_error("operator: backup (%.160s): cannot write %s: %s", by,
			  path, strerror(-r));
		snprintf(msg, sizeof(msg), "cannot write the request %s: %s",
			 path, strerror(-r));
		return error_reply(msg);
	}
	log_notice("operator: backup (%.160s): requested; "
		   "skyha-backup@%s.service runs it",
		   by, n->cfg.module);
	snprintf(msg, sizeof(msg),
		 "backup requested: systemd starts skyha-backup@%s.service "
		 "(journalctl -u skyha-backup@%s); its result shows in "
		 "`skyctl status` (backups)",
		 n->cfg.module, n->cfg.module);
	return json_pack("{s:b,s:s}", "ok", 1, "message", msg);
}

json_t *node_handle_request(struct node *n, int64_t now,
			    const struct ctl_request *req)
{
	char msg[256];
	struct sm_peer peer;
	const char *name = ctl_command_name(req->command);

	if (req->command == CTL_STATUS) {
		json_t *st = node_status_json(n, now);
		return json_pack("{s:b,s:o}", "ok", 1, "status", st);
	}
	if (req->command == CTL_RESYNC && n->farm_mode)
		return error_reply("a farm has no replicated data to resync");
	if (req->command == CTL_VERIFY && n->farm_mode)
		return error_reply("a farm has no replicated data to verify");
	if (req->command == CTL_VERIFY ||
	    (req->command == CTL_RESYNC && req->full))
		return verify_request(n, now, req->command == CTL_VERIFY);
	if (req->command == CTL_RESYNC)
		return resync_request(n, now);
	if (req->command == CTL_RESTART || req->command == CTL_CHECKERS)
		return checkd_request(n, now, req);
	if (req->command == CTL_BACKUP)
		return backup_request(n, req);
	enum sm_command cmd = sm_commands[req->command];
	int r;
	if (n->farm_mode && req->force)
		return error_reply("a farm has no primary: nothing to force");
	if (n->farm_mode) {
		r = farm_command(&n->farm, &n->sm, now, cmd, msg, sizeof(msg));
	} else {
		node_peer_input(n, now, &peer);
		r = sm_command(&n->sm, now, cmd, req->force, &peer, msg,
			       sizeof(msg));
	}
	log_notice("%s: %s%s%s%.160s -> %s%s",
		   cmd == SM_CMD_FAILOVER ? "checkd" : "operator", name,
		   req->force ? " --force" : "",
		   req->has_reason ? ", reason: " : "", req->reason,
		   r < 0 ? "refused: " : "", msg);
	if (r < 0)
		return error_reply(msg);
	n->publish_now = true;
	return json_pack("{s:b,s:s}", "ok", 1, "message", msg);
}

/*
 * Answer every request waiting on the control socket (a bounded batch per
 * turn of the loop: the socket is edge-triggered, and zmq_poll comes back
 * at once while more are queued). A bad one is answered with its error,
 * counted and logged at most once a second.
 */
void node_ctl_serve(struct node *n, int64_t now)
{
	uint8_t body[SKY_CTL_MSG_MAX];
	struct sky_ctl_received rx;
	struct ctl_request req;
	char err[256];

	for (int budget = 64; budget > 0; budget--) {
		int r = sky_ctl_recv(n->ctl, body, sizeof(body), &rx);
		json_t *reply;

		if (r < 0)
			return;
		if (rx.body_frames != 1) {
			snprintf(err, sizeof(err),
				 "request of %zu frames: send one JSON "
				 "object in one frame",
				 rx.body_frames);
			r = -EINVAL;
		} else {
			r = ctl_request_parse(body, rx.len, &req, err,
					      sizeof(err));
		}
		if (r < 0) {
			n->ctl_bad_requests++;
			sky_log_ratelimited(&n->rl_ctl, LOG_WARNING,
					    "control request refused: %s", err);
			reply = error_reply(err);
		} else {
			reply = node_handle_request(n, now, &req);
		}
		if (!reply || sky_ctl_reply(n->ctl, &rx.peer, reply) < 0)
			sky_log_ratelimited(&n->rl_ctl, LOG_ERR,
					    "cannot send the control reply");
		json_decref(reply);
	}
}
