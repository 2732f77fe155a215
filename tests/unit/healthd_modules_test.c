/*
 * healthd_modules_test.c - the health decision: OK only for a fresh status
 * that says "serving", received on a live connection to heartbeatd; and the
 * module table and transition history, fed with hostile messages.
 */
#include "../../healthd/modules.h"
#include "test.h"

#define TOPIC "app.heartbeatd.status"

static json_t *status(const char *role, bool serving)
{
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:b},s:{s:s,s:s,s:s,s:s}}",
			 "cluster", "demo", "module", "app", "type", "mirror",
			 "node", "name", "node1", "role", role, "serving",
			 serving, "transition", "from", "SECOND", "to", role,
			 "reason", "peer lost", "at", "2026-11-23T12:03:55Z");
}

static int feed(struct healthd_module *m, const char *topic, json_t *obj,
		int64_t now)
{
	return healthd_module_on_message(m, topic, &obj, now);
}

static struct healthd_module *new_module(struct healthd_table *t)
{
	struct healthd_module *m = NULL;
	CHECK_EQ_INT(healthd_table_add(t, "app", &m), 0);
	return m;
}

static void test_serving_primary_is_ok(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	CHECK_EQ_INT(feed(m, TOPIC, status("PRIM", true), 1000), 0);
	CHECK_EQ_INT(healthd_module_health(m, 1000), HEALTHD_OK);
	CHECK_EQ_INT(feed(m, TOPIC, status("ALONE", true), 1500), 0);
	CHECK_EQ_INT(healthd_module_health(m, 1600), HEALTHD_OK);
	healthd_table_clear(&t);
}

static void test_not_serving_is_nok(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	feed(m, TOPIC, status("SECOND", false), 1000);
	CHECK_EQ_INT(healthd_module_health(m, 1000), HEALTHD_NOT_SERVING);
	/* PRIM whose application is not started yet. */
	feed(m, TOPIC, status("PRIM", false), 1100);
	CHECK_EQ_INT(healthd_module_health(m, 1100), HEALTHD_NOT_SERVING);
	/* "serving" from a role that cannot serve is not believed. */
	feed(m, TOPIC, status("WAIT", true), 1200);
	CHECK_EQ_INT(healthd_module_health(m, 1200), HEALTHD_NOT_SERVING);
	healthd_table_clear(&t);
}

static void test_stale_status_never_says_ok(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	feed(m, TOPIC, status("PRIM", true), 10000);
	CHECK_EQ_INT(healthd_module_health(m, 10000 + HEALTHD_STALE_MS - 1),
		     HEALTHD_OK);
	CHECK_EQ_INT(healthd_module_health(m, 10000 + HEALTHD_STALE_MS),
		     HEALTHD_STALE);
	CHECK_EQ_INT(healthd_module_health(m, 10000 + 60000), HEALTHD_STALE);
	/* A clock that went backwards is not trusted either. */
	CHECK_EQ_INT(healthd_module_health(m, 9000), HEALTHD_STALE);
	/* The next publication makes it fresh again. */
	feed(m, TOPIC, status("PRIM", true), 70000);
	CHECK_EQ_INT(healthd_module_health(m, 70001), HEALTHD_OK);
	CHECK_EQ_INT(HEALTHD_STALE_MS, 3000);
	healthd_table_clear(&t);
}

static void test_heartbeatd_gone_is_nok_at_once(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	feed(m, TOPIC, status("PRIM", true), 1000);
	healthd_module_disconnected(m);
	CHECK_EQ_INT(healthd_module_health(m, 1001), HEALTHD_DISCONNECTED);
	CHECK_EQ_INT(m->disconnects, 1);
	/* A status heartbeatd sent before dying, read after: dropped. */
	CHECK_EQ_INT(feed(m, TOPIC, status("PRIM", true), 1002), -ENOTCONN);
	CHECK_EQ_INT(m->ignored, 1);
	CHECK_EQ_INT(healthd_module_health(m, 1003), HEALTHD_DISCONNECTED);
	/* Reconnected: the old status is not current until a new one. */
	healthd_module_connected(m);
	CHECK_EQ_INT(healthd_module_health(m, 1100), HEALTHD_NO_STATUS);
	feed(m, TOPIC, status("WAIT", false), 1200);
	CHECK_EQ_INT(healthd_module_health(m, 1200), HEALTHD_NOT_SERVING);
	healthd_table_clear(&t);
}

static void test_nothing_heard_is_nok(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	CHECK_EQ_INT(healthd_module_health(m, 0), HEALTHD_NO_STATUS);
	healthd_module_connected(m);
	CHECK_EQ_INT(healthd_module_health(m, 0), HEALTHD_NO_STATUS);
	healthd_table_clear(&t);
}

static void test_hostile_messages_are_refused(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	feed(m, TOPIC, status("PRIM", true), 1000);
	uint64_t bad = m->bad_messages;

	/* Wrong topic, wrong module, wrong types, oversized words. */
	CHECK_EQ_INT(feed(m, "app.heartbeatd.desired", status("SECOND", false),
			  1100),
		     -EBADMSG);
	CHECK_EQ_INT(
		feed(m, "db.heartbeatd.status", status("SECOND", false), 1100),
		-EBADMSG);
	CHECK_EQ_INT(feed(m, NULL, status("SECOND", false), 1100), -EBADMSG);
	json_t *o = status("SECOND", false);
	json_object_set_new(o, "module", json_string("db"));
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	o = status("SECOND", false);
	json_object_set_new(json_object_get(o, "node"), "serving",
			    json_string("true"));
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	o = status("SECOND", false);
	json_object_set_new(json_object_get(o, "node"), "serving",
			    json_integer(1));
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	o = status("SECOND", false);
	json_object_del(json_object_get(o, "node"), "role");
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	CHECK_EQ_INT(feed(m, TOPIC, status("PRIMPRIMPRIMPRIMPRIM", true), 1100),
		     -EBADMSG);
	o = status("SECOND", false);
	json_object_set_new(o, "node", json_array());
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	o = status("SECOND", false);
	json_object_set_new(o, "type", json_integer(3));
	CHECK_EQ_INT(feed(m, TOPIC, o, 1100), -EBADMSG);
	CHECK_EQ_INT(feed(m, TOPIC, json_array(), 1100), -EBADMSG);
	CHECK_EQ_INT(feed(m, TOPIC, json_string("x"), 1100), -EBADMSG);

	CHECK_EQ_INT(m->bad_messages - bad, 12);
	/* None of them changed the answer or the time of the last status. */
	CHECK_EQ_INT(healthd_module_health(m, 1200), HEALTHD_OK);
	CHECK_EQ_INT(m->received_ms, 1000);
	CHECK(strcmp(m->role, "PRIM") == 0);
	healthd_table_clear(&t);
}

static void test_transitions_are_kept_newest_last_and_bounded(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	healthd_module_connected(m);
	feed(m, TOPIC, status("PRIM", true), 1000);
	/* The same transition again is not a new one. */
	feed(m, TOPIC, status("PRIM", true), 2000);
	CHECK_EQ_INT(m->history_count, 1);
	CHECK_EQ_INT(m->transitions, 0);
	for (int i = 0; i < 40; i++) {
		json_t *o = status(i % 2 ? "PRIM" : "SECOND", i % 2);
		char at[32];
		snprintf(at, sizeof(at), "2026-11-23T12:%02d:00Z", i);
		json_object_set_new(json_object_get(o, "transition"), "at",
				    json_string(at));
		feed(m, TOPIC, o, 3000 + i);
	}
	CHECK_EQ_INT(m->transitions, 40);
	CHECK_EQ_INT(m->history_count, HEALTHD_HISTORY_MAX);
	CHECK(strcmp(m->history[HEALTHD_HISTORY_MAX - 1].at,
		     "2026-11-23T12:39:00Z") == 0);
	CHECK(strcmp(m->history[HEALTHD_HISTORY_MAX - 1].to, "PRIM") == 0);
	healthd_table_clear(&t);
}

static void test_long_reason_is_cut_on_a_character(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m = new_module(&t);
	char reason[1024];
	healthd_module_connected(m);
	/* "é" is two bytes: a cut in the middle would be invalid UTF-8. */
	for (size_t i = 0; i + 2 < sizeof(reason); i += 2) {
		reason[i] = (char)0xc3;
		reason[i + 1] = (char)0xa9;
		reason[i + 2] = '\0';
	}
	json_t *o = status("PRIM", true);
	json_object_set_new(json_object_get(o, "transition"), "reason",
			    json_string(reason));
	CHECK_EQ_INT(feed(m, TOPIC, o, 1000), 0);
	const char *r = m->history[0].reason;
	CHECK(strlen(r) < HEALTHD_REASON_MAX);
	CHECK(strlen(r) % 2 == 0);
	json_t *s = json_string(r);
	CHECK(s != NULL); /* jansson accepts only valid UTF-8 */
	json_decref(s);
	healthd_table_clear(&t);
}

static void test_table_is_sorted_bounded_and_checks_names(void)
{
	struct healthd_table t = {0};
	struct healthd_module *m;
	char name[16];
	CHECK_EQ_INT(healthd_table_add(&t, "zeta", &m), 0);
	CHECK_EQ_INT(healthd_table_add(&t, "alpha", &m), 0);
	CHECK_EQ_INT(healthd_table_add(&t, "mid", &m), 0);
	CHECK_EQ_INT(healthd_table_add(&t, "mid", &m), -EEXIST);
	CHECK(strcmp(m->name, "mid") == 0);
	CHECK(strcmp(t.mods[0]->name, "alpha") == 0);
	CHECK(strcmp(t.mods[2]->name, "zeta") == 0);
	CHECK(healthd_table_find(&t, "zeta") == t.mods[2]);
	CHECK(healthd_table_find(&t, "nope") == NULL);
	CHECK(healthd_table_find(&t, "..") == NULL);
	CHECK(healthd_table_find(&t, NULL) == NULL);
	CHECK_EQ_INT(healthd_table_add(&t, "..", &m), -EINVAL);
	CHECK_EQ_INT(healthd_table_add(&t, "a/b", &m), -EINVAL);
	CHECK_EQ_INT(healthd_table_add(&t, "", &m), -EINVAL);
	for (int i = 0; t.count < HEALTHD_MODULES_MAX; i++) {
		snprintf(name, sizeof(name), "m%03d", i);
		CHECK_EQ_INT(healthd_table_add(&t, name, &m), 0);
	}
	CHECK_EQ_INT(healthd_table_add(&t, "onemore", &m), -ENOSPC);
	for (size_t i = 1; i < t.count; i++)
		CHECK(strcmp(t.mods[i - 1]->name, t.mods[i]->name) < 0);
	healthd_table_remove(&t, healthd_table_find(&t, "mid"));
	CHECK(healthd_table_find(&t, "mid") == NULL);
	CHECK_EQ_INT(t.count, HEALTHD_MODULES_MAX - 1);
	healthd_table_clear(&t);
	CHECK_EQ_INT(t.count, 0);
}

TEST_MAIN(TEST(test_serving_primary_is_ok), TEST(test_not_serving_is_nok),
	  TEST(test_stale_status_never_says_ok),
	  TEST(test_heartbeatd_gone_is_nok_at_once),
	  TEST(test_nothing_heard_is_nok),
	  TEST(test_hostile_messages_are_refused),
	  TEST(test_transitions_are_kept_newest_last_and_bounded),
	  TEST(test_long_reason_is_cut_on_a_character),
	  TEST(test_table_is_sorted_bounded_and_checks_names))
