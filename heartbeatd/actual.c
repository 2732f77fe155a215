/*
 * actual.c - every field of an actuator's actual state checked before use
 * (actual.h). The fields and their values are docs/protocol.md's "Bus".
 */
#include "actual.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* replicd's counters heartbeatd copies into its status. */
static const char *const replicd_counters[] = {
	"rejected_frames", "rejected_handshakes", "apply_errors",
	"record_entries",  "changes_not_sent",	  "record_damaged",
	"bytes_sent",	   "ops_pending"};
/* The counters of replicd's "resync" object. */
static const char *const resync_counters[] = {
	"bytes_total", "bytes_done", "bytes_left", "rate_bps", "eta_s",
	"passes", "zones", "data_bytes_sent", "wire_bytes", "seconds",
	/* over a WAN: the cap and zstd (docs/replication.md) */
	"max_bytes_per_s", "throttled_ms", "op_bytes", "compressed_frames",
	"compressed_file_bytes", "compressed_bytes", "raw_frames",
	"compressed_rejected"};
static const char *const resync_compress_words[] = {"none", "zstd"};
static const char *const sync_words[] = {SKY_SYNC_INSYNC,   SKY_SYNC_RESYNCING,
					 SKY_SYNC_DEGRADED, SKY_SYNC_WAITING,
					 SKY_SYNC_DIVERGED, SKY_SYNC_STOPPED};
static const char *const resync_modes[] = {"record", "hash", "full"};

static bool one_of(const char *s, const char *const *words, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* A required string field equal to want. */
static int check_same(const json_t *msg, const char *key, const char *want,
		      char *err, size_t size)
{
	const json_t *v = json_object_get(msg, key);
	if (!json_is_string(v))
		return sky_refuse(err, size, "field '%s' must be a string",
				  key);
	if (strcmp(json_string_value(v), want) != 0)
		return sky_refuse(err, size, "field '%s' is not '%s'", key,
				  want);
	return 0;
}

/* An optional field that must be a string among words when present. */
static int check_word(const json_t *obj, const char *key,
		      const char *const *words, size_t count, char *err,
		      size_t size)
{
	const json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return sky_refuse(err, size, "field '%s' must be a string",
				  key);
	if (!one_of(json_string_value(v), words, count))
		return sky_refuse(err, size, "field '%s' has an unknown value",
				  key);
	return 0;
}

static int check_bool(const json_t *obj, const char *key, char *err,
		      size_t size)
{
	const json_t *v = json_object_get(obj, key);
	if (v && !json_is_boolean(v))
		return sky_refuse(err, size, "field '%s' must be true or false",
				  key);
	return 0;
}

/*
 * Counters are only shown, never decide anything: each must be an integer,
 * and a negative one is left out of the status (replicd's resync "seconds"
 * can be negative between two resyncs) rather than cost the whole message.
 */
static int check_counters(const json_t *obj, const char *where,
			  const char *const *keys, size_t count, char *err,
			  size_t size)
{
	for (size_t i = 0; i < count; i++) {
		const json_t *v = json_object_get(obj, keys[i]);
		if (v && !json_is_integer(v))
			return sky_refuse(err, size,
					  "field '%s%s' must be an integer",
					  where, keys[i]);
	}
	return 0;
}

/* Present: an integer >= 0 (a generation or a count that decides). */
static int check_uint(const json_t *obj, const char *key, char *err,
		      size_t size)
{
	const json_t *v = json_object_get(obj, key);
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
		return sky_refuse(err, size,
				  "field '%s' must be an integer >= 0", key);
	return 0;
}

/* Absent, null, or {count >= 0, first/last strings when present}. */
static int check_alone(const json_t *obj, const char *key, char *err,
		       size_t size)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return sky_refuse(err, size,
				  "field '%s' must be an object or null", key);
	const json_t *c = json_object_get(v, "count");
	const json_t *f = json_object_get(v, "first");
	const json_t *l = json_object_get(v, "last");
	if (!json_is_integer(c) || json_integer_value(c) < 0 ||
	    (f && !json_is_string(f)) || (l && !json_is_string(l)))
		return sky_refuse(err, size,
				  "field '%s' needs an integer count >= 0 and "
				  "string times",
				  key);
	return 0;
}

/* What replicd adds: its words decide whether a secondary is promotable. */
static int check_replicd(const json_t *msg, char *err, size_t size)
{
	static const char *data_words[SKY_REPLICA_COUNT];
	const json_t *resync = json_object_get(msg, "resync");
	int r;

	for (int i = 0; i < SKY_REPLICA_COUNT; i++)
		data_words[i] = sky_replica_name((enum sky_replica)i);
	if ((r = check_word(msg, "data", data_words, SKY_REPLICA_COUNT, err,
			    size)) < 0 ||
	    (r = check_word(msg, "sync", sync_words, SKY_ARRAY_SIZE(sync_words),
			    err, size)) < 0 ||
	    (r = check_bool(msg, "peer_connected", err, size)) < 0 ||
	    (r = check_bool(msg, "peer_receiving", err, size)) < 0 ||
	    (r = check_alone(msg, "alone_changes", err, size)) < 0 ||
	    (r = check_alone(msg, "peer_alone_changes", err, size)) < 0 ||
	    (r = check_uint(msg, "generation", err, size)) < 0 ||
	    (r = check_uint(msg, "generation_sent", err, size)) < 0 ||
	    (r = check_uint(msg, "writers_waiting", err, size)) < 0 ||
	    (r = check_counters(msg, "", replicd_counters,
				SKY_ARRAY_SIZE(replicd_counters), err, size)) <
		    0)
		return r;
	if (!resync || json_is_null(resync))
		return 0;
	if (!json_is_object(resync))
		return sky_refuse(err, size,
				  "field 'resync' must be an object or null");
	if ((r = check_bool(resync, "active", err, size)) < 0 ||
	    (r = check_word(resync, "mode", resync_modes,
			    SKY_ARRAY_SIZE(resync_modes), err, size)) < 0 ||
	    (r = check_word(resync, "compress", resync_compress_words,
			    SKY_ARRAY_SIZE(resync_compress_words), err, size)) <
		    0)
		return r;
	return check_counters(resync, "resync.", resync_counters,
			      SKY_ARRAY_SIZE(resync_counters), err, size);
}

static bool is_state_word(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > ACTUAL_STATE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

int actual_check(const char *topic, const json_t *msg, const char *module,
		 const char *node, enum sky_actuator *which, char *err,
		 size_t err_size)
{
	char want[SKY_TOPIC_MAX];
	const json_t *epoch = json_object_get(msg, "epoch");
	const json_t *state = json_object_get(msg, "state");
	const json_t *reason = json_object_get(msg, "reason");
	int r;

	/* The topic names the daemon; the message must agree with it. */
	for (*which = 0; *which < SKY_ACT_COUNT; (*which)++)
		if (sky_bus_topic(want, sizeof(want), module,
				  sky_actuator_name(*which),
				  SKY_KIND_ACTUAL) == 0 &&
		    strcmp(topic, want) == 0)
			break;
	if (*which == SKY_ACT_COUNT)
		return sky_refuse(err, err_size,
				  "topic is not %s.replicd|vipd|checkd.actual",
				  module);
	if (!json_is_object(msg))
		return sky_refuse(err, err_size,
				  "message is not a JSON object");
	if ((r = check_same(msg, "module", module, err, err_size)) < 0 ||
	    (r = check_same(msg, "daemon", sky_actuator_name(*which), err,
			    err_size)) < 0 ||
	    (r = check_same(msg, "node", node, err, err_size)) < 0)
		return r;
	if (!json_is_integer(epoch) || json_integer_value(epoch) < 0)
		return sky_refuse(
			err, err_size,
			"field 'epoch' must be a non-negative integer");
	if (!json_is_string(state))
		return sky_refuse(err, err_size,
				  "field 'state' must be a string");
	if (!is_state_word(json_string_value(state)))
		return sky_refuse(err, err_size,
				  "field 'state' must be a word of at most %d "
				  "letters a-z, _ or -",
				  ACTUAL_STATE_MAX);
	if (reason && !json_is_string(reason))
		return sky_refuse(err, err_size,
				  "field 'reason' must be a string");
	return *which == SKY_ACT_REPLICD ? check_replicd(msg, err, err_size)
					 : 0;
}
