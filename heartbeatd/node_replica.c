/*
 * node_replica.c - what replicd last said about the copy, as heartbeatd
 * keeps it (struct node_replica) and hands it to the state machine: whether
 * this node's data is complete for this epoch, whether changes reach the
 * peer, what each side did alone. replicd's word decides promotions, so it
 * is copied field by field, checked, and counts as unknown once stale.
 */
#include "node.h"

#include <string.h>

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
