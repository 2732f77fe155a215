/*
 * backup_cfg_test.c - the backup: section of the module file
 * (backupd/bkcfg.c): a full section is read with its defaults, relative
 * file names resolve beside the module file, the paths default to
 * replicd.directories, and each mistake is refused with the file, line,
 * column and field named.
 */
#include "bkcfg.h"
#include "test.h"

#include <stdlib.h>

static char err[512];
static struct bk_cfg cfg;

static int parse(const char *text)
{
	memset(&cfg, 0, sizeof(cfg));
	err[0] = 0;
	return bk_cfg_parse("/etc/skyha/app.yaml", text, strlen(text), &cfg,
			    err, sizeof(err));
}

static void test_a_full_section_is_read_with_its_defaults(void)
{
	const char *text = "replicd:\n"
			   "  directories: [/srv/a, /srv/b]\n"
			   "backup:\n"
			   "  key_file: app.key\n"
			   "  pre_backup: /usr/local/bin/freeze\n"
			   "  targets:\n"
			   "    - name: local\n"
			   "      kind: dir\n"
			   "      path: /var/backups/app\n"
			   "      keep_last: 7\n"
			   "      keep_monthly: 12\n"
			   "      max_age: 36h\n"
			   "    - name: east\n"
			   "      kind: s3\n"
			   "      bucket: b\n"
			   "      region: us-east-2\n"
			   "      nodes: [node2]\n"
			   "      timeout_ms: 5000\n";
	CHECK(parse(text) == 0);
	CHECK(!strcmp(cfg.key_file, "/etc/skyha/app.key"));
	CHECK(cfg.path_count == 2 && !strcmp(cfg.paths[1], "/srv/b"));
	CHECK(cfg.target_count == 2);
	const struct bk_target *t = bk_cfg_target(&cfg, "local");
	CHECK(t && t->store.kind == BK_TARGET_DIR && t->keep.last == 7 &&
	      t->keep.monthly == 12 && t->keep.daily == 0 &&
	      t->max_age_s == 36 * 3600 && !strcmp(t->on_calendar, "daily"));
	CHECK(t && bk_target_for_node(t, "anyone"));
	t = bk_cfg_target(&cfg, "east");
	CHECK(t && t->store.kind == BK_TARGET_S3 &&
	      !strcmp(t->store.bucket, "b") && t->store.timeout_ms == 5000);
	CHECK(t && bk_target_for_node(t, "node2") &&
	      !bk_target_for_node(t, "node1"));
	CHECK(!strcmp(cfg.pre_backup, "/usr/local/bin/freeze"));
}

static void refused(const char *text, const char *where, const char *field)
{
	CHECK(parse(text) < 0);
	CHECK_STR_CONTAINS(err, where);
	CHECK_STR_CONTAINS(err, field);
}

static void test_mistakes_name_line_column_and_field(void)
{
	refused("backup:\n  targets:\n    - {name: a, kind: dir, path: /x}\n"
		"  paths: [/srv]\n",
		"app.yaml:2:", "backup.key_file");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - name: a\n      kind: tape\n",
		"app.yaml:6:13", "backup.targets[0].kind");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - name: a\n      kind: dir\n      path: relative\n",
		"app.yaml:5:", "absolute");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - {name: a, kind: dir, path: /x}\n"
		"    - {name: a, kind: dir, path: /y}\n",
		"app.yaml:6:", "used twice");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - {name: a, kind: dir, path: /x, keep_lots: 3}\n",
		"app.yaml:5:", "backup.targets[0].keep_lots");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - {name: a, kind: dir, path: /x, max_age: soon}\n",
		"app.yaml:5:", "max_age");
	refused("backup:\n  key_file: k\n  passphrase_file: p\n",
		"app.yaml:3:", "not both");
	refused("backup:\n  key_file: k\n  targets:\n"
		"    - {name: a, kind: dir, path: /x}\n",
		"app.yaml:2:", "backup.paths");
	refused("backup:\n  key_file: k\n  paths: [srv]\n  targets:\n"
		"    - {name: a, kind: dir, path: /x}\n",
		"app.yaml:3:", "backup.paths");
	refused("backup:\n  key_file: k\n  paths: [/srv]\n  targets:\n"
		"    - {name: a, kind: s3}\n",
		"app.yaml:5:", "bucket");
	refused("cluster: {name: x}\n", "app.yaml", "backup");
}

TEST_MAIN(TEST(test_a_full_section_is_read_with_its_defaults),
	  TEST(test_mistakes_name_line_column_and_field))
