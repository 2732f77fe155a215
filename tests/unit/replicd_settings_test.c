/*
 * replicd_settings_test.c - the replicd: section: defaults, and every bad
 * value refused with file:line:column and the field.
 */
#include "settings.h"
#include "test.h"

static int parse(const char *text, struct replicd_settings *s, char *err)
{
	return replicd_settings_parse("app.yaml", text, strlen(text), s, err,
				      256);
}

static void test_defaults(void)
{
	struct replicd_settings s;
	char err[256];
	CHECK_EQ_INT(parse("cluster: {name: x}\n"
			   "replicd:\n  directories: [/srv/a, /srv/ab]\n",
			   &s, err),
		     0);
	CHECK_EQ_INT(s.dir_count, 2);
	CHECK(strcmp(s.dirs[1], "/srv/ab") == 0);
	CHECK_EQ_INT(s.port, 7410);
	CHECK_EQ_INT(s.timeout_ms, 3000);
	CHECK(!s.async);
	CHECK_EQ_INT(s.resync_max_bytes_per_s, 0);
	CHECK(!s.resync_zstd);
	CHECK_EQ_INT(s.resync_compress_level, 3);
	CHECK(!s.commit);
	CHECK_EQ_INT(s.backup_hold_lost_after_ms, 15000);
	CHECK(s.backup_hold_max_bytes == 1ull << 30);
}

static void test_commit_mode(void)
{
	struct replicd_settings s;
	char err[256];
	CHECK_EQ_INT(parse("replicd:\n  directories: [/d]\n  mode: commit\n",
			   &s, err),
		     0);
	CHECK(s.commit);
	CHECK(!s.async);
	CHECK_EQ_INT(
		parse("replicd:\n  directories: [/d]\n  mode: sync\n", &s, err),
		0);
	CHECK(!s.commit);
	CHECK(!s.async);
}

static void test_every_field(void)
{
	struct replicd_settings s;
	char err[256];
	CHECK_EQ_INT(parse("heartbeat: {timeout_ms: 200}\n"
			   "replicd:\n  directories: [/d]\n  port: 9000\n"
			   "  mode: async\n  timeout_ms: 250\n",
			   &s, err),
		     0);
	CHECK_EQ_INT(s.port, 9000);
	CHECK(s.async);
	CHECK_EQ_INT(s.timeout_ms, 250);
	CHECK_EQ_INT(parse("replicd:\n  directories: [/d]\n"
			   "  resync_max_bytes_per_s: 12500000\n"
			   "  resync_compress: zstd\n"
			   "  resync_compress_level: 19\n",
			   &s, err),
		     0);
	CHECK_EQ_INT(s.resync_max_bytes_per_s, 12500000);
	CHECK(s.resync_zstd);
	CHECK_EQ_INT(s.resync_compress_level, 19);
	CHECK_EQ_INT(parse("replicd:\n  directories: [/d]\n"
			   "  resync_max_bytes_per_s: 0\n"
			   "  resync_compress: none\n",
			   &s, err),
		     0);
	CHECK_EQ_INT(s.resync_max_bytes_per_s, 0);
	CHECK(!s.resync_zstd);
	CHECK_EQ_INT(parse("replicd:\n  directories: [/d]\n"
			   "  backup_hold_lost_after_ms: 2000\n"
			   "  backup_hold_max_bytes: 17179869184\n",
			   &s, err),
		     0);
	CHECK_EQ_INT(s.backup_hold_lost_after_ms, 2000);
	CHECK(s.backup_hold_max_bytes == 16ull << 30);
}

static void test_bad_sections_name_line_column_and_field(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"cluster: {name: x}\n", "replicd: section missing"},
		{"replicd:\n  port: 1\n", "replicd.directories: required"},
		{"replicd:\n  directories: []\n",
		 "app.yaml:2:16: replicd.directories: must list 1 to 16"},
		{"replicd:\n  directories: [srv]\n",
		 "replicd.directories[0]: 'srv' must be an absolute path"},
		{"replicd:\n  directories: [/]\n", "and not '/'"},
		{"replicd:\n  directories: [/a/../b]\n", "'..'"},
		{"replicd:\n  directories: [/a/]\n", "trailing"},
		{"replicd:\n  directories: [/a, /a/b]\n",
		 "replicd.directories[1]: '/a/b' overlaps directories[0]"},
		{"replicd:\n  directories: [/a, /a]\n", "overlaps"},
		{"replicd:\n  directories: [/a]\n  mode: fast\n",
		 "app.yaml:3:9: replicd.mode: must be sync, async or commit"},
		{"replicd:\n  directories: [/a]\n  port: 0\n", "replicd.port"},
		{"replicd:\n  directories: [/a]\n  timeout_ms: 10\n",
		 "replicd.timeout_ms"},
		{"replicd:\n  directories: [/a]\n  dirs: [/b]\n",
		 "replicd.dirs: unknown key"},
		{"replicd: [1]\n", "replicd"},
		{"replicd:\n  directories: [/a]\n"
		 "  resync_max_bytes_per_s: 1000\n",
		 "app.yaml:3:27: replicd.resync_max_bytes_per_s: must be 0 "
		 "(no cap) or at least 65536"},
		{"replicd:\n  directories: [/a]\n"
		 "  resync_max_bytes_per_s: -1\n",
		 "app.yaml:3:27: replicd.resync_max_bytes_per_s: must be a "
		 "whole number"},
		{"replicd:\n  directories: [/a]\n"
		 "  resync_max_bytes_per_s: 10MB\n",
		 "replicd.resync_max_bytes_per_s"},
		{"replicd:\n  directories: [/a]\n  resync_compress: lz4\n",
		 "app.yaml:3:20: replicd.resync_compress: must be none or "
		 "zstd"},
		{"replicd:\n  directories: [/a]\n  resync_compress_level: 0\n",
		 "app.yaml:3:26: replicd.resync_compress_level: must be a "
		 "whole "
		 "number from 1 to 19"},
		{"replicd:\n  directories: [/a]\n  resync_compress_level: 22\n",
		 "replicd.resync_compress_level"},
		{"replicd:\n  directories: [/a]\n"
		 "  backup_hold_lost_after_ms: 500\n",
		 "app.yaml:3:30: replicd.backup_hold_lost_after_ms"},
		{"replicd:\n  directories: [/a]\n"
		 "  backup_hold_max_bytes: 1000\n",
		 "app.yaml:3:26: replicd.backup_hold_max_bytes: must be a "
		 "number "
		 "of bytes, at least 16777216"},
		{"replicd:\n  directories: [/a]\n"
		 "  backup_hold_max_bytes: 1GiB\n",
		 "replicd.backup_hold_max_bytes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct replicd_settings s;
		char err[256] = "";
		CHECK_EQ_INT(parse(cases[i].text, &s, err), -EINVAL);
		CHECK_STR_CONTAINS(err, cases[i].want);
	}
}

static void test_timeout_must_exceed_the_heartbeat_timeout(void)
{
	struct replicd_settings s;
	char err[256];
	CHECK(parse("heartbeat: {timeout_ms: 1000}\n"
		    "replicd:\n  directories: [/d]\n  timeout_ms: 1000\n",
		    &s, err) < 0);
	CHECK_STR_CONTAINS(err, "app.yaml:4:15: replicd.timeout_ms: 1000 ms "
				"must be above heartbeat.timeout_ms (1000 ms)");
	/* The heartbeat default (1000 ms) counts when the section is silent. */
	CHECK(parse("replicd:\n  directories: [/d]\n  timeout_ms: 900\n", &s,
		    err) < 0);
	CHECK_STR_CONTAINS(err, "heartbeat.timeout_ms (1000 ms)");
	CHECK_EQ_INT(
		parse("heartbeat: {timeout_ms: 1000}\n"
		      "replicd:\n  directories: [/d]\n  timeout_ms: 1001\n",
		      &s, err),
		0);
}

TEST_MAIN(TEST(test_timeout_must_exceed_the_heartbeat_timeout),
	  TEST(test_defaults), TEST(test_commit_mode), TEST(test_every_field),
	  TEST(test_bad_sections_name_line_column_and_field))
