/*
 * backups_test.c - backupd's state files as heartbeatd shows them in its
 * status: checked, bounded, the stale rule.
 */
#include "backups.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1000000000000LL /* wall ms */

static json_t *parse(const char *text)
{
	json_t *out = NULL;
	if (node_backup_parse(text, strlen(text), NOW, &out) < 0)
		return NULL;
	return out;
}

static void test_a_recent_success_is_shown_and_not_stale(void)
{
	json_t *b = parse("{\"target\":\"local\",\"max_age_s\":3600,"
			  "\"last_success\":{\"ok\":true,\"time\":\"2001-09-"
			  "09T01:46:40Z\","
			  "\"time_ms\":999999940000,\"duration_ms\":1200,"
			  "\"snapshot\":\"3fa2c1\",\"bytes_read\":2621440,"
			  "\"bytes_uploaded\":317440},"
			  "\"last_failure\":{\"time_ms\":999999000000,"
			  "\"reason\":\"old\"}}");
	CHECK(b != NULL);
	CHECK(!json_is_true(json_object_get(b, "stale")));
	CHECK_EQ_INT((int)json_integer_value(json_object_get(b, "age_s")), 60);
	CHECK(json_is_null(json_object_get(b, "last_failure"))); /* repaired */
	const json_t *ok = json_object_get(b, "last_success");
	CHECK(strcmp(json_string_value(json_object_get(ok, "snapshot")),
		     "3fa2c1") == 0);
	json_decref(b);
}

static void test_old_or_missing_success_is_stale_and_a_later_failure_shows(void)
{
	json_t *b = parse("{\"target\":\"s3\",\"max_age_s\":60,"
			  "\"last_success\":{\"time_ms\":999999000000},"
			  "\"last_failure\":{\"time_ms\":999999990000,"
			  "\"reason\":\"s3: 403 AccessDenied\\u001b[31m\"}}");
	CHECK(b != NULL);
	CHECK(json_is_true(json_object_get(b, "stale")));
	const json_t *bad = json_object_get(b, "last_failure");
	CHECK(json_is_object(bad));
	/* A control character from the file never reaches a terminal. */
	CHECK(strchr(json_string_value(json_object_get(bad, "reason")), 0x1b) ==
	      NULL);
	json_decref(b);
	b = parse("{\"target\":\"blob\",\"last_success\":null}");
	CHECK(b && json_is_true(json_object_get(b, "stale")));
	json_decref(b);
}

static void test_files_that_are_not_state_files_are_refused(void)
{
	const char *bad[] = {"",
			     "[]",
			     "{}",
			     "{\"target\":\"../etc\"}",
			     "{\"target\":\"a b\"}",
			     "{\"target\":5}",
			     "{\"target\":\"x\",\"target\":\"y\"}",
			     "not json"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i]) == NULL);
	/* Wrong types inside are ignored, not trusted. */
	json_t *b = parse("{\"target\":\"t\",\"max_age_s\":\"1\","
			  "\"last_success\":{\"time_ms\":\"x\"}}");
	CHECK(b && json_is_null(json_object_get(b, "last_success")));
	json_decref(b);
}

static void test_the_folder_is_read_in_name_order_with_odd_files_named(void)
{
	char dir[] = "/tmp/skyha-backups-test.XXXXXX";
	char path[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/b.json", dir);
	sky_write_file_atomic(path, "{\"target\":\"b\"}", 14, 0600);
	snprintf(path, sizeof(path), "%s/a.json", dir);
	sky_write_file_atomic(path, "garbage", 7, 0600);
	snprintf(path, sizeof(path), "%s/c.txt", dir);
	sky_write_file_atomic(path, "x", 1, 0600);
	json_t *all = node_backups_read(dir, NOW);
	CHECK_EQ_INT((int)json_array_size(all), 2);
	CHECK(strcmp(json_string_value(
			     json_object_get(json_array_get(all, 0), "target")),
		     "a") == 0);
	CHECK(json_is_string(json_object_get(json_array_get(all, 0), "error")));
	json_decref(all);
	all = node_backups_read("/nonexistent/skyha", NOW);
	CHECK_EQ_INT((int)json_array_size(all), 0);
	json_decref(all);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK(system(path) == 0);
}

TEST_MAIN(TEST(test_a_recent_success_is_shown_and_not_stale),
	  TEST(test_old_or_missing_success_is_stale_and_a_later_failure_shows),
	  TEST(test_files_that_are_not_state_files_are_refused),
	  TEST(test_the_folder_is_read_in_name_order_with_odd_files_named))
