/*
 * healthd_schema_test.c - every field of heartbeatd's status that healthd
 * reads has the JSON type docs/protocol.md gives it: a wrong one is removed
 * and reported by path, the rest of the status is kept, and a status that
 * heartbeatd really writes (nulls for ages not known yet) loses nothing.
 */
#include "../../healthd/modules.h"
#include "../../healthd/schema.h"
#include "test.h"

/* The status object of docs/protocol.md, as heartbeatd writes it. */
static json_t *good_status(void)
{
	json_error_t err;
	json_t *o = json_loads(
		"{\"cluster\":\"demo\",\"module\":\"app\",\"type\":\"mirror\","
		"\"node\":{\"name\":\"node1\",\"role\":\"PRIM\",\"epoch\":7,"
		"\"generation\":12,\"data\":\"uptodate\",\"persisted_data\":"
		"\"uptodate\",\"serving\":true,\"role_for_ms\":5230,"
		"\"waiting_for\":\"\"},"
		"\"peer\":{\"name\":\"node2\",\"visible\":true,\"role\":"
		"\"SECOND\",\"epoch\":7,\"generation\":12,\"data\":"
		"\"uptodate\","
		"\"last_seen_ms\":null,\"networks\":[{\"index\":0,\"local\":"
		"\"198.18.0.1\",\"peer\":\"198.18.0.2\",\"up\":true,"
		"\"last_seen_ms\":120},{\"index\":1,\"local\":\"198.18.1.1\","
		"\"peer\":\"198.18.1.2\",\"up\":false,\"last_seen_ms\":null}]},"
		"\"quorum\":{\"mode\":\"witness\",\"have\":true,\"via\":"
		"\"peer+witness\"},"
		"\"witness\":{\"addresses\":[\"198.18.0.10\"],\"lease\":"
		"\"held\","
		"\"expires_in_ms\":840,\"last_answer\":\"granted\",\"holder\":"
		"\"node1\"},"
		"\"transition\":{\"from\":\"SECOND\",\"to\":\"ALONE\","
		"\"reason\":"
		"\"peer lost\",\"at\":\"2026-11-23T12:03:55Z\",\"ago_ms\":2300,"
		"\"pending\":\"\"},"
		"\"actuators\":{\"replicd\":{\"target\":\"primary\",\"state\":"
		"\"primary\",\"epoch\":7,\"reason\":\"\",\"age_ms\":300,"
		"\"data\":\"uptodate\",\"sync\":\"insync\",\"peer_connected\":"
		"true,\"resync\":{\"bytes_left\":0,\"rate_bps\":0},"
		"\"counters\":"
		"{\"bytes_sent\":10,\"ops_pending\":0}},\"checkd\":{\"target\":"
		"\"up\",\"state\":\"unknown\",\"epoch\":0,\"reason\":\"\","
		"\"age_ms\":null,\"detail\":{\"restarts_in_window\":0,"
		"\"checkers\":[{\"name\":\"tcp\",\"state\":\"ok\",\"kind\":"
		"\"tcp\"}],\"app_pid\":123}}},"
		"\"counters\":{\"tx\":100,\"rx\":98,\"bad_mac\":0},"
		"\"timing\":{\"interval_ms\":200,\"timeout_ms\":1000,"
		"\"lease_ms\":1000},\"backup\":{\"configured\":true,"
		"\"requested\":false},\"extra\":{\"kept\":\"as is\"}}",
		0, &err);
	CHECK(o != NULL);
	return o;
}

static size_t sanitize(json_t *o, char *path, const char **want)
{
	return healthd_status_sanitize(o, path, HEALTHD_FIELD_PATH_MAX, want);
}

static void test_a_status_heartbeatd_writes_loses_nothing(void)
{
	json_t *o = good_status(), *copy = json_deep_copy(o);
	char path[HEALTHD_FIELD_PATH_MAX];
	const char *want = NULL;
	CHECK_EQ_INT(sanitize(o, path, &want), 0);
	CHECK(json_equal(o, copy));
	CHECK_EQ_INT(path[0], '\0');
	json_decref(o);
	json_decref(copy);
}

/* Set status[a][b]... to v (a JSON text), sanitize, and expect one removal
 * at path with the wanted type; the field is gone afterwards. */
static void expect_removed(const char *pointer_a, const char *pointer_b,
			   const char *value, const char *path,
			   const char *want)
{
	json_t *o = good_status();
	json_t *parent = pointer_b ? json_object_get(o, pointer_a) : o;
	const char *key = pointer_b ? pointer_b : pointer_a;
	char got[HEALTHD_FIELD_PATH_MAX];
	const char *got_want = NULL;

	json_object_set_new(parent, key,
			    json_loads(value, JSON_DECODE_ANY, NULL));
	CHECK_EQ_INT(sanitize(o, got, &got_want), 1);
	if (strcmp(got, path) != 0)
		fprintf(stderr, "  path '%s', expected '%s'\n", got, path);
	CHECK(strcmp(got, path) == 0);
	CHECK(got_want && strcmp(got_want, want) == 0);
	CHECK(json_object_get(parent, key) == NULL);
	/* Everything else stayed. */
	CHECK_EQ_INT(json_integer_value(json_object_get(
			     json_object_get(o, "timing"), "interval_ms")),
		     200);
	json_decref(o);
}

static void test_wrong_types_are_removed_and_named(void)
{
	expect_removed("node", "epoch", "\"7\"", "node.epoch", "an integer");
	expect_removed("node", "waiting_for", "null", "node.waiting_for",
		       "a string");
	expect_removed("peer", "visible", "1", "peer.visible", "a boolean");
	expect_removed("peer", "networks", "{}", "peer.networks",
		       "an array of objects");
	expect_removed("quorum", "have", "\"yes\"", "quorum.have", "a boolean");
	expect_removed("witness", "holder", "null", "witness.holder",
		       "a string");
	expect_removed("witness", "expires_in_ms", "0.5",
		       "witness.expires_in_ms", "an integer");
	expect_removed("transition", NULL, "\"SECOND->PRIM\"", "transition",
		       "an object");
	expect_removed("counters", NULL, "[1,2]", "counters",
		       "an object of integers");
	expect_removed("counters", "tx", "\"100\"", "counters.tx",
		       "an integer");
	expect_removed("actuators", "vipd", "\"up\"", "actuators.vipd",
		       "an object");
	expect_removed("timing", "lease_ms", "true", "timing.lease_ms",
		       "an integer");
	expect_removed("cluster", NULL, "{}", "cluster", "a string");
	expect_removed("backup", "requested", "\"yes\"", "backup.requested",
		       "a boolean");
}

static void test_wrong_elements_and_deep_fields_are_removed(void)
{
	json_t *o = good_status();
	json_t *nets = json_object_get(json_object_get(o, "peer"), "networks");
	json_t *repl =
		json_object_get(json_object_get(o, "actuators"), "replicd");
	json_t *chk =
		json_object_get(json_object_get(o, "actuators"), "checkd");
	char path[HEALTHD_FIELD_PATH_MAX];
	const char *want;

	json_object_set_new(json_array_get(nets, 1), "up", json_string("true"));
	json_array_append_new(nets, json_integer(3));
	json_object_set_new(json_object_get(repl, "counters"), "bytes_sent",
			    json_real(1.5));
	json_object_set_new(json_object_get(repl, "resync"), "rate_bps",
			    json_string("fast"));
	json_object_set_new(
		json_object_get(json_object_get(chk, "detail"), "checkers"),
		"x", json_null()); /* not an object: no-op */
	json_array_append_new(
		json_object_get(json_object_get(chk, "detail"), "checkers"),
		json_pack("{s:i,s:s}", "name", 5, "state", "failed"));
	json_array_append_new(
		json_object_get(json_object_get(o, "witness"), "addresses"),
		json_integer(10));

	CHECK_EQ_INT(sanitize(o, path, &want), 6);
	CHECK_EQ_INT(json_array_size(nets), 2);
	CHECK(json_object_get(json_array_get(nets, 1), "up") == NULL);
	CHECK(json_object_get(json_array_get(nets, 1), "index") != NULL);
	CHECK(json_object_get(json_object_get(repl, "counters"),
			      "bytes_sent") == NULL);
	CHECK(json_object_get(json_object_get(repl, "counters"),
			      "ops_pending") != NULL);
	CHECK(json_object_get(json_object_get(repl, "resync"), "rate_bps") ==
	      NULL);
	json_t *checkers =
		json_object_get(json_object_get(chk, "detail"), "checkers");
	CHECK_EQ_INT(json_array_size(checkers), 2);
	CHECK(json_object_get(json_array_get(checkers, 1), "name") == NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(
			     json_object_get(o, "witness"), "addresses")),
		     1);
	json_decref(o);
	/* Not an object at all: nothing to do, nothing reported. */
	json_t *a = json_array();
	CHECK_EQ_INT(sanitize(a, path, &want), 0);
	json_decref(a);
}

static void test_a_module_keeps_a_status_with_a_bad_display_field(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = NULL;
	json_t *o = good_status();

	CHECK_EQ_INT(healthd_table_add(&t, "app", &m), 0);
	healthd_module_connected(m);
	json_object_set_new(json_object_get(o, "node"), "generation",
			    json_string("12"));
	CHECK_EQ_INT(
		healthd_module_on_message(m, "app.heartbeatd.status", &o, 1000),
		0);
	CHECK_EQ_INT(healthd_module_health(m, 1000), HEALTHD_OK);
	CHECK_EQ_INT(m->bad_fields, 1);
	CHECK(strcmp(m->bad_field, "node.generation") == 0);
	CHECK(json_object_get(json_object_get(m->status, "node"),
			      "generation") == NULL);
	/* A decision field of a wrong type still refuses the message. */
	o = good_status();
	json_object_set_new(json_object_get(o, "node"), "serving",
			    json_string("true"));
	CHECK_EQ_INT(
		healthd_module_on_message(m, "app.heartbeatd.status", &o, 1100),
		-EBADMSG);
	CHECK_EQ_INT(m->bad_messages, 1);
	healthd_table_clear(&t);
}

TEST_MAIN(TEST(test_a_status_heartbeatd_writes_loses_nothing),
	  TEST(test_wrong_types_are_removed_and_named),
	  TEST(test_wrong_elements_and_deep_fields_are_removed),
	  TEST(test_a_module_keeps_a_status_with_a_bad_display_field))
