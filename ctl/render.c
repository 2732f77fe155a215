/*
 * render.c - the human view of a status object, for `skyctl status`.
 *
 * An operator reads this during an incident, so it must answer at a glance:
 * who serves, who is lost, why the last transition happened, and what is
 * still pending. The object comes from heartbeatd over a socket and is
 * hostile input like any other: a field of the wrong type, a missing key or
 * an absurd value prints "?" and rendering carries on; every string is
 * bounded and cleaned (skyctl_safe_text) so a reply cannot rewrite the
 * operator's terminal or run off the screen. Lists are capped for the same
 * reason.
 *
 * This file lays out the whole view and renders the mirror's part of it
 * (nodes, networks, witness or etcd, actuators, checkd, the last transition,
 * counters); render_farm.c renders a farm's nodes, render_data.c the
 * replication, verify and backups, and render_text.c makes the text safe
 * (render_part.h: what they share).
 */
#include "render_part.h"
#include "util.h"

#include <errno.h>
#include <string.h>

static void render_header(FILE *out, const json_t *status)
{
	char module[NAME_TEXT_MAX], type[WORD_TEXT_MAX], cluster[NAME_TEXT_MAX];
	char epoch[INT_TEXT_MAX], via[WORD_TEXT_MAX];
	const json_t *node = json_object_get(status, "node");
	const json_t *quorum = json_object_get(status, "quorum");

	fprintf(out, "module %s (%s) in cluster %s \xe2\x80\x94 epoch %s, ",
		field(status, "module", module, sizeof(module)),
		field(status, "type", type, sizeof(type)),
		field(status, "cluster", cluster, sizeof(cluster)),
		int_text(node, "epoch", epoch, sizeof(epoch)));
	const json_t *membership = json_object_get(status, "membership");
	if (json_is_object(membership)) {
		/* A farm: no quorum; how many serve is the news. */
		char members[INT_TEXT_MAX];
		snprintf(members, sizeof(members), "?");
		if (json_is_array(json_object_get(membership, "members")))
			snprintf(members, sizeof(members), "%zu",
				 json_array_size(json_object_get(membership,
								 "members")));
		fprintf(out, "%s of %s nodes serve", members,
			int_text(membership, "nodes", epoch, sizeof(epoch)));
		/* quorum: etcd (optional): without its lease a node leaves. */
		if (text_is(quorum, "mode", "etcd"))
			fputs(json_is_false(json_object_get(quorum, "have"))
				      ? "; quorum etcd: NONE, this node may "
					"not serve"
				      : "; quorum etcd",
			      out);
		fputc('\n', out);
		return;
	}
	/* Losing quorum is what stops a node serving: say so plainly. */
	if (json_is_false(json_object_get(quorum, "have")))
		fputs("quorum: NONE, this node may not serve\n", out);
	else
		fprintf(out, "quorum: %s\n",
			field(quorum, "via", via, sizeof(via)));
}

struct node_row {
	char mark;
	char name[NAME_TEXT_MAX];
	char role[WORD_TEXT_MAX];
	char data[WORD_TEXT_MAX];
	char gen[INT_TEXT_MAX];
	char seen[SEEN_TEXT_MAX];
};

static void fill_row(struct node_row *row, const json_t *n)
{
	field(n, "name", row->name, sizeof(row->name));
	field(n, "role", row->role, sizeof(row->role));
	field(n, "data", row->data, sizeof(row->data));
	int_text(n, "generation", row->gen, sizeof(row->gen));
}

static void fill_self_row(struct node_row *row, const json_t *node)
{
	const json_t *serving = json_object_get(node, "serving");
	char dur[DURATION_TEXT_MAX];

	fill_row(row, node);
	row->mark = '*';
	snprintf(row->seen, sizeof(row->seen), "this node, %s, %s for %s",
		 json_is_true(serving)	  ? "serving"
		 : json_is_false(serving) ? "not serving"
					  : "serving ?",
		 row->role,
		 duration_text(node, "role_for_ms", dur, sizeof(dur)));
}

static void fill_peer_row(struct node_row *row, const json_t *peer)
{
	const json_t *visible = json_object_get(peer, "visible");
	const json_t *last_seen = json_object_get(peer, "last_seen_ms");
	char dur[DURATION_TEXT_MAX];
	const char *ago = duration_text(peer, "last_seen_ms", dur, sizeof(dur));

	fill_row(row, peer);
	row->mark = ' ';
	if (json_is_true(visible))
		snprintf(row->seen, sizeof(row->seen), "%s ago", ago);
	else if (json_is_false(visible) && json_is_null(last_seen))
		snprintf(row->seen, sizeof(row->seen), "LOST, never seen");
	else if (json_is_false(visible))
		snprintf(row->seen, sizeof(row->seen), "LOST, last seen %s ago",
			 ago);
	else
		snprintf(row->seen, sizeof(row->seen), "?");
}

static void render_nodes(FILE *out, const json_t *node, const json_t *peer)
{
	struct node_row rows[2];
	size_t name_w = NODE_COLUMN_MIN, gen_w = GEN_COLUMN_MIN;

	fill_self_row(&rows[0], node);
	fill_peer_row(&rows[1], peer);
	for (size_t i = 0; i < SKY_ARRAY_SIZE(rows); i++) {
		name_w = max_size(name_w, strlen(rows[i].name));
		gen_w = max_size(gen_w, strlen(rows[i].gen));
	}
	fprintf(out, "  %-*s %-7s %-9s %*s  %s\n", (int)name_w, "NODE", "ROLE",
		"DATA", (int)gen_w, "GEN", "SEEN");
	for (size_t i = 0; i < SKY_ARRAY_SIZE(rows); i++)
		fprintf(out, "%c %-*s %-7s %-9s %*s  %s\n", rows[i].mark,
			(int)name_w, rows[i].name, rows[i].role, rows[i].data,
			(int)gen_w, rows[i].gen, rows[i].seen);
}

/* Why a node in WAIT is not serving, in heartbeatd's own words. */
static void render_waiting(FILE *out, const json_t *node)
{
	char why[REASON_TEXT_MAX];

	if (has_text(node, "waiting_for"))
		fprintf(out, "waiting:   %s\n",
			field(node, "waiting_for", why, sizeof(why)));
}

static void render_network(FILE *out, const json_t *net)
{
	char index[INT_TEXT_MAX], local[NAME_TEXT_MAX], remote[NAME_TEXT_MAX];
	char dur[DURATION_TEXT_MAX];
	const json_t *up = json_object_get(net, "up");

	fprintf(out, "#%s %s -> %s ",
		int_text(net, "index", index, sizeof(index)),
		field(net, "local", local, sizeof(local)),
		field(net, "peer", remote, sizeof(remote)));
	if (json_is_true(up))
		fputs("up", out);
	else if (json_is_false(up) &&
		 json_is_null(json_object_get(net, "last_seen_ms")))
		fputs("DOWN (never up)", out);
	else if (json_is_false(up))
		fprintf(out, "DOWN (last %s ago)",
			duration_text(net, "last_seen_ms", dur, sizeof(dur)));
	else
		fputs("?", out);
}

static void render_networks(FILE *out, const json_t *peer)
{
	const json_t *nets = json_object_get(peer, "networks");
	size_t count = json_array_size(nets);

	fputs("networks: ", out);
	if (!json_is_array(nets))
		fputs(" ?", out);
	else if (count == 0)
		fputs(" none", out);
	for (size_t i = 0; i < count && i < NETWORKS_SHOWN_MAX; i++) {
		fputs(i ? "   " : " ", out);
		render_network(out, json_array_get(nets, i));
	}
	if (count > NETWORKS_SHOWN_MAX)
		fprintf(out, "   (%zu more)", count - NETWORKS_SHOWN_MAX);
	fputc('\n', out);
}

/* The witness's last answer, as a sentence fragment. */
static const char *answer_text(const json_t *witness, char *buf, size_t size)
{
	static const struct {
		const char *answer, *text;
	} answers[] = {
		{"granted", "granted"},
		{"held_by_other", "held by another node"},
		{"outdated", "this node's data is outdated"},
		{"released", "released"},
		{"no_answer", "no answer"},
	};

	for (size_t i = 0; i < SKY_ARRAY_SIZE(answers); i++)
		if (text_is(witness, "last_answer", answers[i].answer))
			return answers[i].text;
	return field(witness, "last_answer", buf, size);
}

static void render_witness_addresses(FILE *out, const json_t *witness)
{
	const json_t *addrs = json_object_get(witness, "addresses");
	size_t count = json_array_size(addrs);
	char addr[NAME_TEXT_MAX];

	if (!json_is_array(addrs) || count == 0) {
		fputs("?", out);
		return;
	}
	for (size_t i = 0; i < count && i < ADDRESSES_SHOWN_MAX; i++)
		fprintf(out, "%s%s", i ? "," : "",
			skyctl_safe_text(json_array_get(addrs, i), addr,
					 sizeof(addr)));
	if (count > ADDRESSES_SHOWN_MAX)
		fprintf(out, ",(%zu more)", count - ADDRESSES_SHOWN_MAX);
}

static bool node_serves(const json_t *status)
{
	const json_t *node = json_object_get(status, "node");
	return text_is(node, "role", "PRIM") || text_is(node, "role", "ALONE");
}

/* One lease: "ADDRS lease held, 0.8 s left (holder node1)" and the like. */
static void render_lease(FILE *out, const json_t *witness, const json_t *status)
{
	char dur[DURATION_TEXT_MAX], holder[NAME_TEXT_MAX];
	char answer[WORD_TEXT_MAX], lease[WORD_TEXT_MAX];

	render_witness_addresses(out, witness);
	if (text_is(witness, "lease", "held"))
		fprintf(out, " lease held, %s left",
			duration_text(witness, "expires_in_ms", dur,
				      sizeof(dur)));
	else if (text_is(witness, "lease", "refused"))
		fprintf(out, " lease REFUSED: %s",
			answer_text(witness, answer, sizeof(answer)));
	else if (text_is(witness, "lease", "none") &&
		 text_is(witness, "last_answer", "no_answer") &&
		 !node_serves(status))
		/* Not asking is normal: only the primary holds the lease. */
		fputs(" no lease (only the primary holds it)", out);
	else if (text_is(witness, "lease", "none"))
		fprintf(out, " no lease (last answer: %s)",
			answer_text(witness, answer, sizeof(answer)));
	else
		fprintf(out, " lease %s",
			field(witness, "lease", lease, sizeof(lease)));
	if (has_text(witness, "holder"))
		fprintf(out, " (holder %s)",
			field(witness, "holder", holder, sizeof(holder)));
}

/* module.depends_on: "depends:   db serves here, web NOT HERE (SECOND)". */
static void render_depends(FILE *out, const json_t *status)
{
	const json_t *deps = json_object_get(status, "depends_on");
	size_t count = json_array_size(deps);
	char name[NAME_TEXT_MAX], role[WORD_TEXT_MAX];

	if (!json_is_array(deps) || count == 0)
		return;
	fputs("depends:  ", out);
	for (size_t i = 0; i < count && i < ADDRESSES_SHOWN_MAX; i++) {
		const json_t *d = json_array_get(deps, i);
		bool here = json_is_true(json_object_get(d, "serves_here"));
		fprintf(out, "%s %s %s", i ? "," : "",
			field(d, "module", name, sizeof(name)),
			here ? "serves here" : "does NOT serve here");
		if (!here)
			fprintf(out, " (%s)",
				has_text(d, "role")
					? field(d, "role", role, sizeof(role))
					: "not heard");
	}
	fputc('\n', out);
}

static void render_witness(FILE *out, const json_t *status)
{
	const json_t *witness = json_object_get(status, "witness");
	const json_t *quorum = json_object_get(status, "quorum");
	const json_t *hosts = json_object_get(witness, "hosts");
	char needed[INT_TEXT_MAX], dur[DURATION_TEXT_MAX];
	/* quorum: etcd fills the witness object in the same shape (the
	 * leader key is the lease; addresses are the endpoints). */
	bool etcd = text_is(quorum, "mode", "etcd");

	fputs(etcd ? "etcd:      " : "witness:   ", out);
	/* With `quorum: none` the witness fields are idle: do not show them. */
	if (has_text(quorum, "mode") && !text_is(quorum, "mode", "witness") &&
	    !etcd) {
		fputs("none configured\n", out);
		return;
	}
	if (!json_is_object(witness)) {
		fputs("?\n", out);
		return;
	}
	if (!etcd && json_is_array(hosts) && json_array_size(hosts) > 0) {
		/* Several witnesses: the majority's lease, then each one. */
		size_t count = json_array_size(hosts);
		fprintf(out, "%zu hosts, %s needed:", count,
			int_text(witness, "needed", needed, sizeof(needed)));
		if (text_is(witness, "lease", "held"))
			fprintf(out, " majority's leases held, %s left",
				duration_text(witness, "expires_in_ms", dur,
					      sizeof(dur)));
		else if (node_serves(status) ||
			 !text_is(witness, "last_answer", "no_answer"))
			fputs(" NO MAJORITY of leases", out);
		else
			fputs(" no lease (only the primary holds it)", out);
		fputc('\n', out);
		for (size_t i = 0; i < count && i < ADDRESSES_SHOWN_MAX; i++) {
			fputs("             ", out);
			render_lease(out, json_array_get(hosts, i), status);
			fputc('\n', out);
		}
		return;
	}
	render_lease(out, witness, status);
	const json_t *e = json_object_get(status, "etcd");
	if (etcd && has_text(e, "last_error")) {
		char why[REASON_TEXT_MAX];
		fprintf(out, "; last error: %s",
			field(e, "last_error", why, sizeof(why)));
	}
	fputc('\n', out);
}

static void render_transition(FILE *out, const json_t *transition)
{
	char from[WORD_TEXT_MAX], to[WORD_TEXT_MAX], at[NAME_TEXT_MAX];
	char dur[DURATION_TEXT_MAX], reason[REASON_TEXT_MAX];
	char pending[NAME_TEXT_MAX];

	if (!json_is_object(transition)) {
		fputs("last:      ?\n", out);
		return;
	}
	fprintf(out, "last:      %s -> %s %s ago (%s)",
		field(transition, "from", from, sizeof(from)),
		field(transition, "to", to, sizeof(to)),
		duration_text(transition, "ago_ms", dur, sizeof(dur)),
		field(transition, "at", at, sizeof(at)));
	if (has_text(transition, "reason"))
		fprintf(out, ": %s",
			field(transition, "reason", reason, sizeof(reason)));
	fputc('\n', out);
	if (has_text(transition, "pending"))
		fprintf(out, "pending:   waiting for %s\n",
			field(transition, "pending", pending, sizeof(pending)));
}

/* "replicd primary (epoch 7, 300 ms ago)"; the target when not reached. */
/*
 * "replicd primary (epoch 7, 300 ms ago)", "vipd down -> up (...)" while
 * the target is not reached, and the actuator's reason when it gave one.
 */
static void render_actuator(FILE *out, const char *key, const json_t *act)
{
	char name[WORD_TEXT_MAX], state[WORD_TEXT_MAX], target[WORD_TEXT_MAX];
	char epoch[INT_TEXT_MAX], dur[DURATION_TEXT_MAX];
	char reason[REASON_TEXT_MAX];
	bool failed = text_is(act, "state", "failed");

	fprintf(out, "%s %s",
		skyctl_safe_copy(key, strlen(key), name, sizeof(name)),
		failed ? "FAILED" : field(act, "state", state, sizeof(state)));
	if (has_text(act, "target") && has_text(act, "state") &&
	    strcmp(json_string_value(json_object_get(act, "target")),
		   json_string_value(json_object_get(act, "state"))) != 0)
		fprintf(out, " -> %s",
			field(act, "target", target, sizeof(target)));
	if (json_is_null(json_object_get(act, "age_ms")))
		fputs(" (never heard)", out);
	else
		fprintf(out, " (epoch %s, %s ago)",
			int_text(act, "epoch", epoch, sizeof(epoch)),
			duration_text(act, "age_ms", dur, sizeof(dur)));
	if (has_text(act, "reason"))
		fprintf(out, ": %s",
			field(act, "reason", reason, sizeof(reason)));
}

static void render_actuators(FILE *out, const json_t *status)
{
	const json_t *acts = json_object_get(status, "actuators");
	const char *key;
	const json_t *act;
	size_t shown = 0;

	if (!acts || json_is_null(acts))
		return;
	if (!json_is_object(acts)) {
		fputs("actuators: ?\n", out);
		return;
	}
	if (json_object_size(acts) == 0)
		return;
	fputs("actuators:", out);
	/* json_object_foreach wants a non-const object; it only reads it. */
	json_object_foreach((json_t *)acts, key, act)
	{
		if (shown == ACTUATORS_SHOWN_MAX)
			break;
		fputs(shown ? "   " : " ", out);
		render_actuator(out, key, act);
		shown++;
	}
	if (json_object_size(acts) > shown)
		fprintf(out, "   (%zu more)", json_object_size(acts) - shown);
	fputc('\n', out);
}

static const json_t *actuator_detail(const json_t *status, const char *daemon)
{
	const json_t *d = json_object_get(
		json_object_get(json_object_get(status, "actuators"), daemon),
		"detail");
	return json_is_object(d) ? d : NULL;
}

/* checkd's checkers and restarts, from its detail in the status. */
static void render_checkd(FILE *out, const json_t *status)
{
	const json_t *d = actuator_detail(status, "checkd");
	const json_t *list = json_object_get(d, "checkers");
	char name[NAME_TEXT_MAX], state[WORD_TEXT_MAX], action[WORD_TEXT_MAX],
		error[REASON_TEXT_MAX], n[INT_TEXT_MAX], m[INT_TEXT_MAX],
		w[DURATION_TEXT_MAX];
	int64_t pid = 0, failures = 0;
	size_t i;
	const json_t *c;

	if (!d)
		return;
	fprintf(out, "app:       %s, restarts %s/%s in %s",
		field(d, "app", name, sizeof(name)),
		int_text(d, "restarts_in_window", n, sizeof(n)),
		int_text(d, "restart_max", m, sizeof(m)),
		duration_text(d, "restart_window_ms", w, sizeof(w)));
	if (get_int(d, "app_pid", &pid) && pid > 0)
		fprintf(out, ", pid %lld", (long long)pid);
	fputc('\n', out);
	if (!json_is_array(list) || json_array_size(list) == 0)
		return;
	fputs("checkers: ", out);
	json_array_foreach(list, i, c)
	{
		if (i == CHECKERS_SHOWN_MAX) {
			fprintf(out, "   (%zu more)",
				json_array_size(list) - i);
			break;
		}
		bool ok = !text_is(c, "state", "failed");
		fprintf(out, "%s%s %s", i ? "   " : " ",
			field(c, "name", name, sizeof(name)),
			ok ? field(c, "state", state, sizeof(state))
			   : "FAILING");
		if (!ok && get_int(c, "consecutive", &failures))
			fprintf(out, " x%lld", (long long)failures);
		fprintf(out, " (%s)",
			field(c, "action", action, sizeof(action)));
		if (!ok && has_text(c, "last_error"))
			fprintf(out, ": %s",
				field(c, "last_error", error, sizeof(error)));
	}
	fputc('\n', out);
}

static void render_counters(FILE *out, const json_t *counters)
{
	static const struct {
		const char *key, *label;
	} dropped[] = {
		{"bad_mac", "bad MAC"},
		{"replay", "replay"},
		{"malformed", "malformed"},
		{"wrong_cluster", "wrong cluster"},
		{"unknown_node", "unknown node"},
	};
	char n[INT_TEXT_MAX];

	fputs("dropped:  ", out);
	for (size_t i = 0; i < SKY_ARRAY_SIZE(dropped); i++)
		fprintf(out, "%s%s %s", i ? ", " : " ", dropped[i].label,
			int_text(counters, dropped[i].key, n, sizeof(n)));
	/* Newer heartbeatds count oversized packets apart; show it if there. */
	if (json_is_integer(json_object_get(counters, "oversized")))
		fprintf(out, ", oversized %s",
			int_text(counters, "oversized", n, sizeof(n)));
	fputc('\n', out);
}

int skyctl_render_status(FILE *out, const json_t *status)
{
	const json_t *node = json_object_get(status, "node");

	render_header(out, status);
	const json_t *farm_nodes = json_object_get(status, "nodes");
	if (json_is_array(farm_nodes)) {
		bool buckets = json_is_object(json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(status, "actuators"),
					"vipd"),
				"detail"),
			"buckets"));
		skyctl_render_farm_nodes(out, farm_nodes, buckets);
		skyctl_render_buckets(out, status);
		render_waiting(out, node);
	} else {
		render_nodes(out, node, json_object_get(status, "peer"));
		render_waiting(out, node);
		render_networks(out, json_object_get(status, "peer"));
		render_witness(out, status);
		render_depends(out, status);
		skyctl_render_backups(out, status);
	}
	render_transition(out, json_object_get(status, "transition"));
	render_actuators(out, status);
	skyctl_render_replication(out, status);
	render_checkd(out, status);
	render_counters(out, json_object_get(status, "counters"));
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}
