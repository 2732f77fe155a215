/*
 * actual_test.c - heartbeatd believes an actuator's actual state only once
 * every field it uses has its documented type and value (heartbeatd/
 * actual.c): the messages replicd, vipd and checkd really send pass, and
 * each way a forged or damaged one can be wrong is refused with the field
 * named.
 */
#include "actual.h"
#include "test.h"
#include "util.h"

static char err[160];

/* A message as the daemon publishes it (replicd/daemon.c, vipd, checkd). */
static json_t *sample(const char *daemon)
{
	json_t *m = json_pack(
		"{s:s,s:s,s:s,s:I,s:s,s:s}", "module", "app", "daemon", daemon,
		"node", "node1", "epoch", (json_int_t)7, "state",
		strcmp(daemon, "replicd") == 0 ? "secondary" : "up", "reason",
		"");
	if (strcmp(daemon, "replicd") == 0) {
		json_object_set_new(m, "data", json_string("uptodate"));
		json_object_set_new(m, "sync", json_string("insync"));
		json_object_set_new(m, "peer_connected", json_true());
		json_object_set_new(m, "mode", json_string("sync"));
		json_object_set_new(m, "in_sync", json_true());
		json_object_set_new(m, "bytes_sent", json_integer(10));
		json_object_set_new(m, "rejected_frames", json_integer(0));
		json_object_set_new(m, "resync",
				    json_pack("{s:b,s:I,s:I,s:I}", "active", 0,
					      "bytes_total", (json_int_t)5,
					      "bytes_done", (json_int_t)5,
					      "bytes_left", (json_int_t)0));
	}
	return m;
}

static int check(const char *topic, const json_t *msg)
{
	enum sky_actuator which;
	err[0] = '\0';
	return actual_check(topic, msg, "app", "node1", &which, err,
			    sizeof(err));
}

/* sample(daemon) with key set to value (NULL: removed) must be refused
 * with words in the error. */
static void check_refused(const char *daemon, const char *key, json_t *value,
			  const char *words)
{
	char topic[64];
	json_t *m = sample(daemon);
	if (value)
		json_object_set_new(m, key, value);
	else
		json_object_del(m, key);
	snprintf(topic, sizeof(topic), "app.%s.actual", daemon);
	int r = check(topic, m);
	if (r == 0)
		fprintf(stderr, "  accepted %s with a bad '%s'\n", daemon, key);
	CHECK_EQ_INT(r, -EINVAL);
	CHECK_STR_CONTAINS(err, words);
	json_decref(m);
}

static void test_what_each_actuator_really_sends_is_accepted(void)
{
	static const char *const daemons[] = {"replicd", "vipd", "checkd"};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(daemons); i++) {
		char topic[64];
		enum sky_actuator which;
		json_t *m = sample(daemons[i]);
		snprintf(topic, sizeof(topic), "app.%s.actual", daemons[i]);
		CHECK_EQ_INT(actual_check(topic, m, "app", "node1", &which, err,
					  sizeof(err)),
			     0);
		CHECK(strcmp(sky_actuator_name(which), daemons[i]) == 0);
		json_decref(m);
	}
	/* replicd before its first resync: "resync": null. */
	json_t *m = sample("replicd");
	json_object_set_new(m, "resync", json_null());
	CHECK_EQ_INT(check("app.replicd.actual", m), 0);
	/* A negative counter is only left out of the status (replicd's
	 * resync "seconds" can be negative between two resyncs). */
	json_object_set_new(json_object_get(m, "resync"), "seconds",
			    json_integer(-2));
	CHECK_EQ_INT(check("app.replicd.actual", m), 0);
	/* checkd's transient states are words too. */
	json_t *c = sample("checkd");
	json_object_set_new(c, "state", json_string("restarting"));
	CHECK_EQ_INT(check("app.checkd.actual", c), 0);
	json_decref(c);
	json_decref(m);
}

static void test_a_message_for_another_module_node_or_daemon_is_refused(void)
{
	json_t *m = sample("vipd");
	CHECK_EQ_INT(check("other.vipd.actual", m), -EINVAL);
	CHECK_STR_CONTAINS(err, "topic is not app.replicd|vipd|checkd.actual");
	CHECK_EQ_INT(check("app.heartbeatd.actual", m), -EINVAL);
	CHECK_EQ_INT(check("app.vipd.desired", m), -EINVAL);
	/* The topic says checkd, the message vipd. */
	CHECK_EQ_INT(check("app.checkd.actual", m), -EINVAL);
	CHECK_STR_CONTAINS(err, "field 'daemon' is not 'checkd'");
	json_decref(m);
	check_refused("vipd", "module", json_string("other"),
		      "field 'module' is not 'app'");
	check_refused("vipd", "node", json_string("node2"),
		      "field 'node' is not 'node1'");
	check_refused("vipd", "node", NULL, "field 'node' must be a string");
}

static void test_every_common_field_of_the_wrong_type_is_named(void)
{
	check_refused("vipd", "module", json_integer(1),
		      "field 'module' must be a string");
	check_refused("checkd", "daemon", json_true(),
		      "field 'daemon' must be a string");
	check_refused("vipd", "node", json_null(),
		      "field 'node' must be a string");
	check_refused("vipd", "epoch", json_string("7"),
		      "field 'epoch' must be a non-negative integer");
	check_refused("vipd", "epoch", json_real(7.0),
		      "field 'epoch' must be a non-negative integer");
	check_refused("vipd", "epoch", json_integer(-1),
		      "field 'epoch' must be a non-negative integer");
	check_refused("vipd", "epoch", NULL,
		      "field 'epoch' must be a non-negative integer");
	check_refused("checkd", "state", json_integer(1),
		      "field 'state' must be a string");
	check_refused("checkd", "state", NULL,
		      "field 'state' must be a string");
	check_refused("checkd", "state", json_string(""),
		      "field 'state' must be a word");
	check_refused("checkd", "state", json_string("up\nforged log"),
		      "field 'state' must be a word");
	check_refused("checkd", "state", json_string("upupupupupupupupup"),
		      "field 'state' must be a word");
	check_refused("vipd", "reason", json_integer(123),
		      "field 'reason' must be a string");
	check_refused("vipd", "reason", json_null(),
		      "field 'reason' must be a string");
}

static void test_every_replicd_field_heartbeatd_uses_is_checked(void)
{
	check_refused("replicd", "data", json_integer(1),
		      "field 'data' must be a string");
	check_refused("replicd", "data", json_string("UPTODATE"),
		      "field 'data' has an unknown value");
	check_refused("replicd", "sync", json_false(),
		      "field 'sync' must be a string");
	check_refused("replicd", "sync", json_string("fine"),
		      "field 'sync' has an unknown value");
	check_refused("replicd", "peer_connected", json_string("true"),
		      "field 'peer_connected' must be true or false");
	check_refused("replicd", "rejected_frames", json_real(1.0),
		      "field 'rejected_frames' must be an integer");
	check_refused("replicd", "ops_pending", json_string("5"),
		      "field 'ops_pending' must be an integer");
	check_refused("replicd", "resync", json_string("full"),
		      "field 'resync' must be an object or null");
	check_refused("replicd", "resync", json_pack("{s:i}", "active", 1),
		      "field 'active' must be true or false");
	check_refused("replicd", "resync",
		      json_pack("{s:b,s:s}", "active", 1, "mode", "all"),
		      "field 'mode' has an unknown value");
	check_refused("replicd", "resync",
		      json_pack("{s:b,s:f}", "active", 1, "bytes_done", 1.5),
		      "field 'resync.bytes_done' must be an integer");
}

TEST_MAIN(TEST(test_what_each_actuator_really_sends_is_accepted),
	  TEST(test_a_message_for_another_module_node_or_daemon_is_refused),
	  TEST(test_every_common_field_of_the_wrong_type_is_named),
	  TEST(test_every_replicd_field_heartbeatd_uses_is_checked))
