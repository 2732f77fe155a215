/*
 * healthd_render_test.c - /status JSON aggregation and /metrics text, from
 * a table fed with realistic and hostile statuses.
 */
#include "../../healthd/render.h"
#include "test.h"

#include <stdlib.h>

static const char full_status[] =
	"{\"cluster\":\"demo\",\"module\":\"app\",\"type\":\"mirror\","
	"\"node\":{\"name\":\"node1\",\"role\":\"PRIM\",\"epoch\":7,"
	"\"generation\":12,\"data\":\"uptodate\",\"serving\":true,"
	"\"role_for_ms\":5230,\"waiting_for\":\"\"},"
	"\"peer\":{\"name\":\"node2\",\"visible\":true,\"role\":\"SECOND\","
	"\"epoch\":7,\"generation\":12,\"data\":\"uptodate\","
	"\"last_seen_ms\":120,\"networks\":[{\"index\":0,\"local\":"
	"\"198.18.0.1\",\"peer\":\"198.18.0.2\",\"up\":true,\"last_seen_ms\":"
	"120},{\"index\":1,\"up\":false,\"last_seen_ms\":null}]},"
	"\"quorum\":{\"mode\":\"witness\",\"have\":true,\"via\":\"peer+"
	"witness\"},"
	"\"witness\":{\"lease\":\"held\",\"expires_in_ms\":840},"
	"\"transition\":{\"from\":\"SECOND\",\"to\":\"PRIM\",\"reason\":"
	"\"elected\",\"at\":\"2026-11-23T12:03:55Z\",\"ago_ms\":2300,"
	"\"pending\":\"\"},"
	"\"actuators\":{\"replicd\":{\"target\":\"primary\",\"state\":"
	"\"primary\"},\"vipd\":{\"target\":\"up\",\"state\":\"down\"}},"
	"\"counters\":{\"tx\":100,\"tx_errors\":0,\"rx\":98,\"bad_mac\":3,"
	"\"replay\":1,\"malformed\":0,\"oversized\":0,\"wrong_cluster\":0,"
	"\"unknown_node\":0,\"witness_unknown_replies\":0,"
	"\"ctl_bad_requests\":2,\"bus_bad_messages\":0},"
	"\"timing\":{\"interval_ms\":200,\"timeout_ms\":1000,\"lease_ms\":1000}"
	"}";

static struct healthd_module *add(struct healthd_table *t, const char *name,
				  const char *text, int64_t now)
{
	struct healthd_module *m = NULL;
	char topic[64];
	json_error_t e;
	CHECK_EQ_INT(healthd_table_add(t, name, &m), 0);
	healthd_module_connected(m);
	if (!text)
		return m;
	json_t *o = json_loads(text, 0, &e);
	CHECK(o != NULL);
	json_object_set_new(o, "module", json_string(name));
	snprintf(topic, sizeof(topic), "%s.heartbeatd.status", name);
	CHECK_EQ_INT(healthd_module_on_message(m, topic, &o, now), 0);
	return m;
}

static char *metrics(const struct healthd_table *t, int64_t now)
{
	struct healthd_stats stats = {.started_ms = 0};
	char *out = NULL;
	size_t len = 0;
	stats.requests[HEALTHD_CODE_200] = 5;
	stats.requests[HEALTHD_CODE_503] = 2;
	CHECK_EQ_INT(healthd_render_metrics(t, &stats, now, &out, &len), 0);
	CHECK(out && strlen(out) == len);
	return out;
}

static void test_metrics_show_roles_networks_and_drops(void)
{
	struct healthd_table t = {0};
	add(&t, "app", full_status, 1000);
	char *m = metrics(&t, 1500);
	CHECK_STR_CONTAINS(m, "# TYPE skyha_role gauge\n");
	CHECK_STR_CONTAINS(m, "skyha_role{module=\"app\",node=\"node1\","
			      "peer=\"false\",role=\"PRIM\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_role{module=\"app\",node=\"node1\","
			      "peer=\"false\",role=\"SECOND\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_role{module=\"app\",node=\"node2\","
			      "peer=\"true\",role=\"SECOND\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_module_healthy{module=\"app\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_serving{module=\"app\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_epoch{module=\"app\"} 7\n");
	CHECK_STR_CONTAINS(m, "skyha_module_status_age_seconds{module=\"app\"} "
			      "0.500\n");
	CHECK_STR_CONTAINS(m, "skyha_heartbeat_network_up{module=\"app\","
			      "network=\"0\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_heartbeat_network_up{module=\"app\","
			      "network=\"1\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_heartbeat_network_last_seen_seconds{"
			      "module=\"app\",network=\"0\"} 0.120\n");
	CHECK_STR_CONTAINS(m, "# TYPE skyha_dropped_packets_total counter\n");
	CHECK_STR_CONTAINS(m, "skyha_dropped_packets_total{module=\"app\","
			      "reason=\"bad_mac\"} 3\n");
	CHECK_STR_CONTAINS(m, "skyha_heartbeat_packets_total{module=\"app\","
			      "direction=\"received\"} 98\n");
	CHECK_STR_CONTAINS(m, "skyha_rejected_requests_total{module=\"app\","
			      "socket=\"ctl\"} 2\n");
	CHECK_STR_CONTAINS(m, "skyha_witness_lease_held{module=\"app\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_actuator_reached{module=\"app\","
			      "actuator=\"replicd\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_actuator_reached{module=\"app\","
			      "actuator=\"vipd\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_healthd_requests_total{code=\"503\"} 2\n");
	CHECK_STR_CONTAINS(m, "skyha_transitions_total{module=\"app\"} 0\n");
	free(m);
	healthd_table_clear(&t);
}

/* Every line is a comment or `name{labels} value` with a number value. */
static void check_exposition_format(const char *text)
{
	const char *line = text;
	int families = 0;
	while (*line) {
		const char *end = strchr(line, '\n');
		CHECK(end != NULL);
		if (!end)
			return;
		size_t len = (size_t)(end - line);
		if (strncmp(line, "# TYPE ", 7) == 0)
			families++;
		if (line[0] != '#') {
			const char *sp = memrchr(line, ' ', len);
			CHECK(sp != NULL);
			if (sp) {
				char *num_end;
				strtod(sp + 1, &num_end);
				CHECK(num_end == end);
			}
			CHECK(memchr(line, '{', len) == NULL ||
			      line[(size_t)(sp - line) - 1] == '}');
		}
		line = end + 1;
	}
	CHECK(families > 20);
}

static void test_metrics_are_valid_exposition_text(void)
{
	struct healthd_table t = {0};
	add(&t, "app", full_status, 1000);
	add(&t, "db", NULL, 0);
	char *m = metrics(&t, 2000);
	check_exposition_format(m);
	/* Each family's TYPE line appears exactly once. */
	const char *first = strstr(m, "# TYPE skyha_role ");
	CHECK(first && !strstr(first + 1, "# TYPE skyha_role "));
	CHECK_STR_CONTAINS(m, "skyha_module_healthy{module=\"db\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_healthd_modules 2\n");
	free(m);
	healthd_table_clear(&t);
}

static void test_hostile_status_cannot_break_metrics(void)
{
	struct healthd_table t = {0};
	struct healthd_module *mod = add(&t, "app", full_status, 1000);
	json_t *st = mod->status;
	/* A node name with quotes, a newline and a backslash. */
	json_object_set_new(json_object_get(st, "node"), "name",
			    json_string("n\"1\n\\x} 9"));
	/* An absurd role, wrong types everywhere else. */
	json_object_set_new(json_object_get(st, "peer"), "role",
			    json_string("EVIL\"} 1"));
	json_object_set_new(json_object_get(st, "node"), "epoch",
			    json_string("7"));
	json_object_set_new(json_object_get(st, "node"), "generation",
			    json_integer(-5));
	json_object_set_new(st, "counters", json_array());
	json_t *nets = json_array();
	for (int i = 0; i < 100; i++)
		json_array_append_new(nets, json_pack("{s:i,s:b}", "index",
						      i * 1000, "up", 1));
	json_object_set_new(json_object_get(st, "peer"), "networks", nets);
	json_object_set_new(st, "actuators",
			    json_pack("{s:{s:s,s:s}}", "evil\"", "target", "up",
				      "state", "up"));
	char *m = metrics(&t, 1500);
	check_exposition_format(m);
	CHECK_STR_CONTAINS(m, "node=\"n\\\"1\\n\\\\x} 9\"");
	CHECK(strstr(m, "EVIL") == NULL);
	CHECK(strstr(m, "skyha_epoch{") == NULL);
	CHECK(strstr(m, "skyha_generation{") == NULL);
	CHECK(strstr(m, "skyha_dropped_packets_total{") == NULL);
	CHECK(strstr(m, "network=\"1000\"") == NULL); /* index > 255 */
	CHECK(strstr(m, "evil") == NULL);
	/* The peer's role is unknown, so no peer role is 1. */
	CHECK(strstr(m, "peer=\"true\",role=\"SECOND\"} 1") == NULL);
	free(m);
	healthd_table_clear(&t);
}

static void test_backups_become_metrics_with_the_target_as_label(void)
{
	struct healthd_table t = {0};
	struct healthd_module *mod = add(&t, "app", full_status, 1000);
	json_t *all = json_array();
	json_array_append_new(
		all, json_pack("{s:s,s:{s:I,s:I},s:n,s:I,s:I,s:b}", "target",
			       "offsite", "last_success", "time_ms",
			       (json_int_t)1796620431815, "bytes_uploaded",
			       (json_int_t)8414371, "last_failure", "age_s",
			       (json_int_t)60, "max_age_s", (json_int_t)129600,
			       "stale", 0));
	json_array_append_new(
		all, json_pack("{s:s,s:n,s:{s:I,s:s},s:b}", "target", "s3\"x",
			       "last_success", "last_failure", "time_ms",
			       (json_int_t)1, "reason", "403", "stale", 1));
	/* Not an object, and one without a target: left out. */
	json_array_append_new(all, json_string("junk"));
	json_array_append_new(all, json_pack("{s:b}", "stale", 1));
	json_object_set_new(mod->status, "backups", all);
	char *m = metrics(&t, 2000);
	check_exposition_format(m);
	CHECK_STR_CONTAINS(m, "skyha_backup_last_success_timestamp_seconds{"
			      "module=\"app\",target=\"offsite\"} "
			      "1796620431.815\n");
	CHECK_STR_CONTAINS(m, "skyha_backup_age_seconds{module=\"app\","
			      "target=\"offsite\"} 60\n");
	CHECK_STR_CONTAINS(m, "skyha_backup_stale{module=\"app\",target="
			      "\"offsite\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_backup_stale{module=\"app\",target="
			      "\"s3\\\"x\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_backup_failing{module=\"app\",target="
			      "\"s3\\\"x\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_backup_last_bytes_uploaded{module=\"app\","
			      "target=\"offsite\"} 8414371\n");
	free(m);
	healthd_table_clear(&t);
}

static void test_status_aggregates_every_module(void)
{
	struct healthd_table t = {0};
	struct healthd_stats stats = {.started_ms = 100};
	add(&t, "app", full_status, 1000);
	add(&t, "db", NULL, 0);
	json_t *o = healthd_render_status(&t, &stats, "node1", 1500);
	CHECK(o != NULL);
	CHECK(strcmp(json_string_value(json_object_get(o, "host")), "node1") ==
	      0);
	json_t *mods = json_object_get(o, "modules");
	CHECK_EQ_INT(json_object_size(mods), 2);
	json_t *app = json_object_get(mods, "app");
	CHECK(strcmp(json_string_value(json_object_get(app, "health")), "OK") ==
	      0);
	CHECK_EQ_INT(json_integer_value(json_object_get(app, "age_ms")), 500);
	json_t *st = json_object_get(app, "status");
	CHECK(strcmp(json_string_value(json_object_get(
			     json_object_get(st, "peer"), "role")),
		     "SECOND") == 0);
	json_t *tr = json_array_get(json_object_get(app, "transitions"), 0);
	CHECK(strcmp(json_string_value(json_object_get(tr, "reason")),
		     "elected") == 0);
	json_t *db = json_object_get(mods, "db");
	CHECK(strcmp(json_string_value(json_object_get(db, "health")), "NOK") ==
	      0);
	CHECK(json_is_null(json_object_get(db, "status")));
	CHECK(json_is_null(json_object_get(db, "age_ms")));
	CHECK_EQ_INT(json_integer_value(json_object_get(
			     json_object_get(o, "healthd"), "stale_after_ms")),
		     3000);
	/* The answer is a copy: changing it leaves the table alone. */
	json_object_set_new(st, "module", json_string("changed"));
	CHECK(strcmp(json_string_value(json_object_get(
			     healthd_table_find(&t, "app")->status, "module")),
		     "app") == 0);
	json_decref(o);
	healthd_table_clear(&t);
}

static void test_stale_module_shows_why_in_status(void)
{
	struct healthd_table t = {0};
	struct healthd_stats stats = {0};
	add(&t, "app", full_status, 1000);
	json_t *o = healthd_render_status(&t, &stats, "n", 1000 + 5000);
	json_t *app = json_object_get(json_object_get(o, "modules"), "app");
	CHECK(strcmp(json_string_value(json_object_get(app, "health")),
		     "NOK") == 0);
	CHECK(strcmp(json_string_value(json_object_get(app, "reason")),
		     "stale status") == 0);
	json_decref(o);
	healthd_table_clear(&t);
}

static void test_codes_are_counted_by_class(void)
{
	CHECK_EQ_INT(healthd_code_of(200), HEALTHD_CODE_200);
	CHECK_EQ_INT(healthd_code_of(404), HEALTHD_CODE_404);
	CHECK_EQ_INT(healthd_code_of(405), HEALTHD_CODE_405);
	CHECK_EQ_INT(healthd_code_of(503), HEALTHD_CODE_503);
	CHECK_EQ_INT(healthd_code_of(431), HEALTHD_CODE_OTHER);
}

static void test_metrics_show_replication_and_checkers(void)
{
	struct healthd_table t = {0};
	struct healthd_module *mod = add(&t, "app", full_status, 1000);
	json_t *acts = json_object_get(mod->status, "actuators");
	json_t *replicd = json_object_get(acts, "replicd");
	json_object_set_new(replicd, "peer_connected", json_true());
	json_object_set_new(replicd, "sync", json_string("resyncing"));
	json_object_set_new(replicd, "data", json_string("uptodate"));
	json_object_set_new(replicd, "counters",
			    json_pack("{s:I,s:I,s:s}", "bytes_sent",
				      (json_int_t)123456789, "ops_pending",
				      (json_int_t)7, "rejected_frames", "x"));
	json_object_set_new(replicd, "resync",
			    json_pack("{s:b,s:I,s:I}", "active", 1,
				      "bytes_left", (json_int_t)4096,
				      "rate_bps", (json_int_t)-3));
	json_object_set_new(
		acts, "checkd",
		json_pack("{s:s,s:s,s:{s:i,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},"
			  "{s:i,s:s}]}}",
			  "target", "up", "state", "up", "detail",
			  "restarts_in_window", 2, "checkers", "name", "proc",
			  "state", "ok", "name", "http\"\n", "state", "failed",
			  "name", "new", "state", "unknown", "name", 5, "state",
			  "failed"));
	char *m = metrics(&t, 1500);
	check_exposition_format(m);
	CHECK_STR_CONTAINS(
		m, "skyha_replication_peer_connected{module=\"app\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_replication_in_sync{module=\"app\"} 0\n");
	CHECK_STR_CONTAINS(m,
			   "skyha_replication_bytes_sent_total{module=\"app\"} "
			   "123456789\n");
	CHECK_STR_CONTAINS(m,
			   "skyha_replication_ops_pending{module=\"app\"} 7\n");
	CHECK_STR_CONTAINS(
		m, "skyha_replication_data_uptodate{module=\"app\"} 1\n");
	CHECK_STR_CONTAINS(m, "skyha_resync_bytes_left{module=\"app\"} 4096\n");
	/* A negative rate and a counter that is no number are left out. */
	CHECK(strstr(m, "skyha_resync_rate_bytes_per_second{") == NULL);
	CHECK(strstr(m, "skyha_replication_rejected_frames_total{") == NULL);
	CHECK_STR_CONTAINS(m,
			   "skyha_app_restarts_in_window{module=\"app\"} 2\n");
	CHECK_STR_CONTAINS(
		m,
		"skyha_checker_failing{module=\"app\",checker=\"proc\"} 0\n");
	CHECK_STR_CONTAINS(m, "skyha_checker_failing{module=\"app\",checker="
			      "\"http\\\"\\n\"} 1\n");
	CHECK_STR_CONTAINS(
		m, "skyha_checker_failing{module=\"app\",checker=\"new\"} 0\n");
	CHECK(strstr(m, "checker=\"5\"") ==
	      NULL); /* a name that is no string */
	free(m);
	healthd_table_clear(&t);
}

static void test_metrics_show_a_farms_buckets(void)
{
	struct healthd_table t = {0};
	struct healthd_module *mod = add(&t, "web", full_status, 1000);
	json_t *acts = json_object_get(mod->status, "actuators");
	json_object_set_new(json_object_get(acts, "vipd"), "detail",
			    json_pack("{s:{s:i,s:i,s:i,s:i,s:i}}", "buckets",
				      "owned", 85, "total", 256, "members", 3,
				      "changes", 4, "nft_errors", -1));
	char *m = metrics(&t, 1500);
	check_exposition_format(m);
	CHECK_STR_CONTAINS(m, "skyha_farm_buckets_owned{module=\"web\"} 85\n");
	CHECK_STR_CONTAINS(m, "skyha_farm_bucket_changes_total{module=\"web\"} "
			      "4\n");
	/* a negative count is left out */
	CHECK(strstr(m, "skyha_farm_bucket_nft_errors_total{") == NULL);
	free(m);
	healthd_table_clear(&t);
}

TEST_MAIN(TEST(test_metrics_show_roles_networks_and_drops),
	  TEST(test_metrics_show_replication_and_checkers),
	  TEST(test_metrics_show_a_farms_buckets),
	  TEST(test_metrics_are_valid_exposition_text),
	  TEST(test_hostile_status_cannot_break_metrics),
	  TEST(test_backups_become_metrics_with_the_target_as_label),
	  TEST(test_status_aggregates_every_module),
	  TEST(test_stale_module_shows_why_in_status),
	  TEST(test_codes_are_counted_by_class))
