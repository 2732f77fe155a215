/*
 * publish.c - the desired state heartbeatd publishes to its actuators:
 * role, epoch, each actuator's target, and how long they may act on it
 * (valid_ms), with every heartbeat, and never a serving one on a view of
 * the world heartbeatd cannot trust (after a stall of its own).
 * docs/protocol.md, docs/architecture.md ("When heartbeatd falls silent").
 */
#include "node.h"

#include <string.h>

static json_t *desired_json(const struct node *n)
{
	json_t *targets = json_object();
	for (int a = 0; a < SKY_ACT_COUNT; a++) {
		const char *t =
			sky_actuator_target((enum sky_actuator)a, n->sm.role);
		/* Orchestrated actuators get their target one step at a time. */
		for (size_t i = 0; i < n->orch.count; i++)
			if (n->orch.acts[i].which == (enum sky_actuator)a)
				t = n->orch.acts[i].target;
		json_object_set_new(targets,
				    sky_actuator_name((enum sky_actuator)a),
				    t ? json_string(t) : json_null());
	}
	json_t *d = json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}", "module",
			      n->cfg.module, "node", n->self->name, "role",
			      sky_role_name(n->sm.role), "epoch",
			      (json_int_t)n->sm.epoch, "generation",
			      (json_int_t)n->sm.generation, "targets", targets);
	if (d)
		json_object_set_new(d, "ack_alone",
				    json_boolean(n->sm.ack_alone));
	if (d && n->farm_mode)
		json_object_set_new(d, "members", node_farm_members_json(n));
	if (d && n->app_restart_id)
		json_object_set_new(
			d, "app_restart",
			json_integer((json_int_t)n->app_restart_id));
	if (d && n->checkers_off)
		json_object_set_new(d, "checkers", json_false());
	if (d && n->discard_local_until_ms &&
	    sky_now_ms() < n->discard_local_until_ms)
		json_object_set_new(d, "discard_local", json_true());
	return d;
}

/*
 * How long, from its receipt, an actuator may act on the desired state
 * published now (docs/architecture.md, "When heartbeatd falls silent").
 * The peer promotes no earlier than heartbeat.timeout_ms after the last
 * heartbeat it got from us. The desired state goes out with every
 * heartbeat, so the last one an actuator got is at most one interval
 * younger than our last heartbeat, and it expires timeout/2 after it:
 * with timeout >= 3 intervals, at least timeout/6 before the peer can even
 * begin its promotion. Serving on the witness's lease alone, never past
 * the lease (as we count it, before the witness does).
 */
static int64_t desired_valid_ms(const struct node *n, int64_t now)
{
	int64_t v = (int64_t)n->cfg.peer_lost_after_ms / 2;
	struct sm_peer peer;

	node_peer_input(n, now, &peer);
	if (sky_role_serves(n->sm.role) && !peer.visible_for_quorum &&
	    witness_set_valid(&n->witnesses, now) &&
	    witness_set_valid_until(&n->witnesses, now) - now < v)
		v = witness_set_valid_until(&n->witnesses, now) - now;
	return v < 1 ? 1 : v;
}

/*
 * A stall of heartbeatd itself (SIGSTOP, a stuck disk, a starved CPU) long
 * enough for the peer to have declared us lost: our actuators stopped
 * serving on their own, and what our sockets hold is the past (heartbeats
 * queued during the stall, the newest maybe dropped). Renewing a serving
 * desired state at once would take the VIP back while the peer serves, so
 * none goes out for one heartbeat.timeout_ms of fresh input, in which the
 * state machine hears what the peer became. Shorter stalls cannot have
 * let the peer take over: the next tick renews the word.
 */
void node_note_stall(struct node *n, int64_t now)
{
	int64_t gap = n->last_tick_ms ? now - n->last_tick_ms : 0;
	int64_t lost = n->cfg.peer_lost_after_ms;

	n->last_tick_ms = now;
	if (gap < lost - (int64_t)n->cfg.interval_ms)
		return;
	if (n->farm_mode) {
		/* Every farm node serves: no one to take over from. */
		log_warning("heartbeatd was stalled for %lld ms",
			    (long long)gap);
		return;
	}
	n->hold_serving_until_ms = now + lost;
	log_warning("heartbeatd was stalled for %lld ms: %s may have taken "
		    "over; no serving desired state for %lld ms while the "
		    "peer's news arrives",
		    (long long)gap, n->peer_node->name, (long long)lost);
}

void node_publish_desired(struct node *n, int64_t now)
{
	char topic[SKY_TOPIC_MAX];
	/* Counted from when this turn read its input (now), not from when
	 * it got here: a turn stuck meanwhile (saving the state on a hung
	 * disk) must not hand out a fresh word on a stale decision. */
	int64_t valid = desired_valid_ms(n, now) - (sky_now_ms() - now);

	if (sky_role_serves(n->sm.role) &&
	    (now < n->hold_serving_until_ms || valid < 1))
		return;
	json_t *obj = desired_json(n);
	if (obj) {
		json_object_set_new(obj, "valid_ms",
				    json_integer(valid < 1 ? 1 : valid));
		/* valid_ms counts from here, on the clock every daemon of
		 * this host shares (desired.h). */
		json_object_set_new(obj, "sent_ms", json_integer(sky_now_ms()));
	}
	if (obj && sky_bus_topic(topic, sizeof(topic), n->cfg.module,
				 "heartbeatd", SKY_KIND_DESIRED) == 0)
		sky_bus_publish(n->pub, topic, obj);
	json_decref(obj);
}
