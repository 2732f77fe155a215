/*
 * node_farm.c - heartbeatd's loop turn for a farm or light module: the
 * heartbeats to and from every other node, the members (farm.h), the
 * status. The mirror's turn is in node.c; both share the sockets, the
 * bus, the orchestrator and the state file.
 */
#include "cli.h"
#include "node.h"

#include "notify.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct peer_view *node_farm_peer(struct node *n, const char *name,
				 size_t *index)
{
	for (size_t i = 0; i < n->cfg.node_count; i++)
		if (&n->cfg.nodes[i] != n->self &&
		    strcmp(n->cfg.nodes[i].name, name) == 0) {
			*index = i;
			return &n->peers[i];
		}
	return NULL;
}

static bool peer_visible(const struct node *n, const struct peer_view *pv,
			 int64_t now)
{
	return pv->ever_seen &&
	       now - pv->last_rx_ms < (int64_t)n->cfg.peer_lost_after_ms;
}

void node_farm_inputs(const struct node *n, int64_t now,
		      struct farm_node_input *in)
{
	for (size_t i = 0; i < n->cfg.node_count; i++) {
		const struct peer_view *pv = &n->peers[i];
		in[i].visible =
			&n->cfg.nodes[i] != n->self && peer_visible(n, pv, now);
		in[i].role = pv->ever_seen ? (enum sky_role)pv->last.role
					   : SKY_ROLE_UNKNOWN;
		in[i].ready = (pv->last.flags & HB_FLAG_READY) != 0;
	}
}

void node_farm_send_heartbeats(struct node *n, int64_t now)
{
	struct packet p;

	node_heartbeat_init(n, &p);
	p.hb.role = (uint8_t)n->sm.role;
	p.hb.epoch = n->sm.epoch;
	p.hb.data = SKY_DATA_UNKNOWN;
	p.hb.flags = n->farm.ready ? HB_FLAG_READY : 0;
	for (size_t j = 0; j < n->cfg.node_count; j++)
		if (&n->cfg.nodes[j] != n->self)
			node_heartbeat_send(n, &p, &n->cfg.nodes[j]);
	n->next_heartbeat_ms = now + n->cfg.interval_ms;
}

/* Log each other node appearing and vanishing, once. */
static void log_nodes_seen(struct node *n, int64_t now)
{
	for (size_t i = 0; i < n->cfg.node_count; i++) {
		const struct peer_view *pv = &n->peers[i];
		if (&n->cfg.nodes[i] == n->self)
			continue;
		bool visible = peer_visible(n, pv, now);
		if (visible == n->farm_seen[i])
			continue;
		n->farm_seen[i] = visible;
		if (visible)
			log_info("node %s seen (%s%s, epoch %llu)",
				 n->cfg.nodes[i].name,
				 sky_role_name((enum sky_role)pv->last.role),
				 pv->last.flags & HB_FLAG_READY ? " ready" : "",
				 (unsigned long long)pv->last.epoch);
		else
			log_warning("node %s lost on every network: nothing "
				    "valid for %u ms",
				    n->cfg.nodes[i].name,
				    n->cfg.peer_lost_after_ms);
	}
}

static void log_members(const struct node *n)
{
	char list[SKY_MAX_NODES * (SKY_NAME_MAX + 2) + 8];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n->farm.member_count; i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? " " : "", n->farm.members[i]);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	log_notice("members: %zu of %zu nodes serve: %s", n->farm.member_count,
		   n->cfg.node_count, n->farm.member_count ? list : "none");
}

void node_farm_update_systemd_status(const struct node *n)
{
	char status[256];
	snprintf(status, sizeof(status),
		 "%s epoch %llu; %zu of %zu nodes serve",
		 sky_role_name(n->sm.role), (unsigned long long)n->sm.epoch,
		 n->farm.member_count, n->cfg.node_count);
	sky_notify_status(status);
}

void node_farm_tick(struct node *n, int64_t now)
{
	struct farm_node_input in[SKY_MAX_NODES];

	node_note_stall(n, now);
	log_nodes_seen(n, now);
	node_farm_inputs(n, now, in);
	if (n->etcd)
		node_etcd_farm_inputs(n, now);
	bool ready_was = n->farm.ready;
	n->farm.ready = n->sm.role == SKY_ROLE_UP && orch_settled(&n->orch) &&
			!n->orch.failed;
	farm_step(&n->farm, &n->sm, now, in);
	if (n->farm.ready != ready_was)
		n->next_heartbeat_ms = now; /* the others count us at once */
	if (n->farm.members_changed) {
		n->farm.members_changed = false;
		log_members(n);
		n->publish_now = true; /* vipd moves the load at once */
	}
	if (n->sm.dirty)
		node_save_state(n);
	if (n->sm.changed) {
		n->sm.changed = false;
		n->changed_wall_ms = sky_wall_ms();
		sky_log_set_role(sky_role_name(n->sm.role));
		log_notice("%s -> %s: %s (epoch %llu)",
			   sky_role_name(n->sm.prev_role),
			   sky_role_name(n->sm.role), n->sm.reason,
			   (unsigned long long)n->sm.epoch);
		n->publish_now = true;
		n->next_heartbeat_ms = now;
		node_farm_update_systemd_status(n);
	}

	orch_goal(&n->orch, n->sm.role, n->sm.epoch, now);
	orch_step(&n->orch, now);
	if (n->orch.news) {
		n->orch.news = false;
		n->publish_now = true;
	}
	if (n->orch.failed && n->sm.role == SKY_ROLE_UP) {
		log_error("%s", n->orch.failure);
		farm_fail(&n->farm, &n->sm, now, n->orch.failure);
		node_farm_tick(n, now);
		return;
	}

	node_end_of_turn(n, now);
}

static json_t *nodes_json(const struct node *n, int64_t now)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n->cfg.node_count; i++) {
		const struct sky_node *node = &n->cfg.nodes[i];
		const struct peer_view *pv = &n->peers[i];
		bool self = node == n->self;
		json_t *o = json_pack("{s:s,s:b,s:b}", "name", node->name,
				      "self", self, "member",
				      farm_is_member(&n->farm, node->name));
		if (self) {
			json_object_set_new(
				o, "role",
				json_string(sky_role_name(n->sm.role)));
			json_object_set_new(o, "ready",
					    json_boolean(n->farm.ready));
			json_object_set_new(o, "visible", json_true());
			json_object_set_new(o, "last_seen_ms", json_null());
		} else {
			bool visible = peer_visible(n, pv, now);
			json_object_set_new(
				o, "role",
				json_string(
					pv->ever_seen
						? sky_role_name(
							  (enum sky_role)
								  pv->last.role)
						: "UNKNOWN"));
			json_object_set_new(
				o, "ready",
				json_boolean(visible &&
					     (pv->last.flags & HB_FLAG_READY)));
			json_object_set_new(o, "visible",
					    json_boolean(visible));
			json_object_set_new(
				o, "last_seen_ms",
				pv->ever_seen
					? json_integer(now - pv->last_rx_ms)
					: json_null());
		}
		json_object_set_new(o, "weight",
				    json_integer((json_int_t)node->weight));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *node_farm_members_json(const struct node *n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n->farm.member_count; i++)
		json_array_append_new(arr, json_string(n->farm.members[i]));
	return arr;
}

json_t *node_farm_status_json(const struct node *n, int64_t now, json_t *self,
			      json_t *transition, json_t *actuators,
			      json_t *counters)
{
	json_t *membership = json_pack(
		"{s:o,s:I,s:I,s:I}", "members", node_farm_members_json(n),
		"count", (json_int_t)n->farm.member_count, "changes",
		(json_int_t)n->farm.membership_changes, "nodes",
		(json_int_t)n->cfg.node_count);
	return json_pack(
		"{s:s,s:s,s:s,s:o,s:o,s:o,s:{s:s,s:b,s:s},s:o,s:o,"
		"s:o,s:o,s:{s:I,s:I}}",
		"cluster", n->cfg.cluster, "module", n->cfg.module, "type",
		sky_module_type_name(n->cfg.type), "node", self, "nodes",
		nodes_json(n, now), "membership", membership, "quorum", "mode",
		n->farm.quorum_required ? "etcd" : "none", "have",
		!n->farm.quorum_required || n->farm.quorum_ok, "via",
		n->farm.quorum_required ? "etcd" : "farm", "transition",
		transition, "actuators", actuators, "counters", counters,
		"farm",
		json_pack("{s:b,s:s}", "failed", n->farm.failed, "failure",
			  n->farm.failure),
		"timing", "interval_ms", (json_int_t)n->cfg.interval_ms,
		"timeout_ms", (json_int_t)n->cfg.peer_lost_after_ms);
}

void node_reload(struct node *n)
{
	char err[1024], what[600];
	struct sky_config *reread;
	int r;

	if (!n->farm_mode) {
		sky_cli_reload();
		return;
	}
	reread = calloc(1, sizeof(*reread));
	if (!reread) {
		log_error("reload: out of memory; keeping the configuration in "
			  "use");
		return;
	}
	r = sky_config_load(n->cfg.path, reread, err, sizeof(err));
	if (r < 0)
		log_error("reload: %s; keeping the configuration in use", err);
	else if (sky_config_compare(&n->cfg, reread, what, sizeof(what)) ==
		 SKY_CONFIG_WEIGHTS) {
		for (size_t i = 0; i < n->cfg.node_count; i++)
			n->cfg.nodes[i].weight = reread->nodes[i].weight;
		sky_cli_reload_accepted();
		n->publish_now = true;
		log_notice("reload: weights applied live (%s): the status's "
			   "shares follow",
			   what);
	} else
		sky_cli_reload();
	sodium_memzero(reread, sizeof(*reread)); /* the cluster key */
	free(reread);
}
