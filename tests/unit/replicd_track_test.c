/*
 * replicd_track_test.c - the change record: what is marked survives a
 * restart, a zone is written once, a reset empties it, and a damaged or
 * missing record is never trusted.
 */
#include "test.h"
#include "track.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/replicd-track-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
	static const char *names[] = {"track.rec", "backup.rec",
				      "backup-b1.rec", "backup-b2.rec"};
	char p[128];
	for (size_t i = 0; i < SKY_ARRAY_SIZE(names); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static bool exists(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static size_t zones_of(struct replicd_track *t, const char *path)
{
	struct changerec_entry *e;
	size_t n, zones = 0;
	CHECK_EQ_INT(replicd_track_entries(t, &e, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].path, path) == 0 && (e[i].kinds & TRK_ZONES))
			zones += e[i].count;
	replicd_track_entries_free(e, n);
	return zones;
}

static void test_a_missing_record_is_incomplete(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	CHECK(!replicd_track_alone(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	replicd_track_free(&t);
	CHECK(t == NULL);
	remove_dir();
}

static void test_marked_zones_survive_a_restart(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "a/file", TRK_ZONES, 3, 2, true),
		     0);
	CHECK_EQ_INT(replicd_track_mark(t, 1, "b", TRK_ENTRY, 0, 0, true), 0);
	CHECK_EQ_INT(replicd_track_mark_alone(t), 0);
	replicd_track_free(&t);

	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	CHECK(replicd_track_alone(t));
	CHECK_EQ_INT(zones_of(t, "a/file"), 2);
	CHECK_EQ_INT(replicd_track_count(t), 3);
	replicd_track_free(&t);
	remove_dir();
}

static void test_a_zone_already_marked_is_not_written_again(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 0, 4, true), 0);
	uint64_t len = replicd_track_length(t);
	CHECK(len > 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 1, 2, true), 0);
	CHECK_EQ_INT(replicd_track_length(t), len);
	/* Overlapping: only the new zones 4 and 5 are appended. */
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 2, 4, true), 0);
	CHECK(replicd_track_length(t) > len);
	CHECK_EQ_INT(zones_of(t, "f"), 6);
	/* A path kind already held costs nothing either. */
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_META, 0, 0, true), 0);
	len = replicd_track_length(t);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_META, 0, 0, true), 0);
	CHECK_EQ_INT(replicd_track_length(t), len);
	replicd_track_free(&t);
	remove_dir();
}

static void test_reset_empties_only_if_nothing_was_added(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 0, 1, true), 0);
	uint64_t len = replicd_track_length(t);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "g", TRK_ZONES, 0, 1, true), 0);
	CHECK_EQ_INT(replicd_track_reset(t, len), -EAGAIN);
	CHECK_EQ_INT(replicd_track_reset(t, replicd_track_length(t)), 0);
	CHECK_EQ_INT(replicd_track_count(t), 0);
	CHECK(replicd_track_complete(t));
	/* After a reset the same zone is marked (and synced) again. */
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 0, 1, true), 0);
	CHECK(replicd_track_length(t) > 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(zones_of(t, "f"), 1);
	CHECK_EQ_INT(zones_of(t, "g"), 0);
	CHECK_EQ_INT(replicd_track_set_incomplete(t), 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	replicd_track_free(&t);
	remove_dir();
}

static void test_dropping_the_alone_marker_keeps_the_entries(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark_alone(t), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 2, 3, true), 0);
	CHECK(replicd_track_alone(t));
	CHECK_EQ_INT(replicd_track_drop_alone(t), 0);
	CHECK(!replicd_track_alone(t));
	CHECK_EQ_INT(replicd_track_count(t), 1);
	/* Still appendable, and what is marked stays marked. */
	uint64_t len = replicd_track_length(t);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 3, 1, true), 0);
	CHECK_EQ_INT(replicd_track_length(t), len);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "g", TRK_ENTRY, 0, 0, true), 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	CHECK(!replicd_track_alone(t));
	CHECK_EQ_INT(zones_of(t, "f"), 3);
	CHECK_EQ_INT(replicd_track_count(t), 2);
	CHECK_EQ_INT(replicd_track_damaged(t), 0);
	replicd_track_free(&t);
	remove_dir();
}

static void test_a_damaged_record_is_never_trusted(void)
{
	struct replicd_track *t = NULL;
	char p[128];
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 7, 1, true), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "g", TRK_ZONES, 7, 1, true), 0);
	replicd_track_free(&t);
	snprintf(p, sizeof(p), "%s/track.rec", dir);
	int fd = open(p, O_RDWR);
	CHECK(fd >= 0);
	uint8_t x = 0xff;
	CHECK(pwrite(fd, &x, 1, 30) == 1); /* inside the first entry */
	close(fd);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	CHECK_EQ_INT(replicd_track_damaged(t), 1);
	replicd_track_free(&t);

	/* A truncated tail too. */
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 7, 1, true), 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(truncate(p, 30), 0);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	replicd_track_free(&t);
	remove_dir();
}

static int count_cb(void *ctx, const struct changerec_entry *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* Read byte i of the record file. */
static int record_byte(int i)
{
	char p[128];
	uint8_t b = 0;
	snprintf(p, sizeof(p), "%s/track.rec", dir);
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pread(fd, &b, 1, i), 1);
	close(fd);
	return b;
}

static void flip_record_byte(int i)
{
	char p[128];
	uint8_t b = (uint8_t)(record_byte(i) ^ 0xff);
	snprintf(p, sizeof(p), "%s/track.rec", dir);
	int fd = open(p, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pwrite(fd, &b, 1, i), 1);
	close(fd);
}

/*
 * Entries that were not synced (the peer connected) survive a restart of
 * replicd, but after the machine itself restarted some may be lost: then
 * the record is not trusted. Synced entries alone are always trusted.
 */
static void test_unsynced_entries_are_not_trusted_after_a_reboot(void)
{
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "synced", TRK_ZONES, 0, 1, true),
		     0);
	replicd_track_free(&t);
	CHECK_EQ_INT(record_byte(8), 1); /* complete, nothing unsynced */
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(
		replicd_track_mark(t, 0, "in-flight", TRK_ZONES, 0, 64, false),
		0);
	CHECK_EQ_INT(
		replicd_track_mark(t, 0, "in-flight", TRK_ZONES, 64, 64, false),
		0);
	replicd_track_free(&t);
	CHECK_EQ_INT(record_byte(8), 3); /* complete + unsynced, this boot */
	/* replicd restarted, same boot: trusted, entries kept. */
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(zones_of(t, "in-flight"), 128);
	replicd_track_free(&t);
	/* The machine restarted: another boot id. */
	flip_record_byte(9);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	CHECK_EQ_INT(zones_of(t, "in-flight"), 128);
	/* Emptied, the record holds no boot and is trusted again. */
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(record_byte(8), 1);
	CHECK_EQ_INT(record_byte(9), 0);
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	replicd_track_free(&t);
	remove_dir();
}

static void test_parse_rejects_hostile_bytes(void)
{
	uint8_t buf[64] = "SKYTRK1\n";
	struct changerec_header h;
	int n = 0;
	CHECK_EQ_INT(changerec_parse(buf, 8, &h, count_cb, &n), -EBADMSG);
	CHECK_EQ_INT(changerec_parse(buf, 16, &h, count_cb, &n), 0);
	buf[9] = 1; /* a boot id without the flag that has one */
	CHECK_EQ_INT(changerec_parse(buf, 16, &h, count_cb, &n), -EBADMSG);
	buf[9] = 0;
	buf[8] = 4; /* unknown header flag */
	CHECK_EQ_INT(changerec_parse(buf, 16, &h, count_cb, &n), -EBADMSG);
	buf[8] = 1;
	/* An entry claiming a path longer than the buffer. */
	buf[16] = TRK_ZONES;
	buf[34] = 0xff;
	buf[35] = 0xff;
	CHECK_EQ_INT(changerec_parse(buf, sizeof(buf), &h, count_cb, &n),
		     -EBADMSG);
	CHECK_EQ_INT(n, 0);
	CHECK(!h.complete);
	/* Bad arguments to mark. */
	struct replicd_track *t = NULL;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "track.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, NULL, TRK_ZONES, 0, 1, true),
		     -EINVAL);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "x", 0x40, 0, 1, true), -EINVAL);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "../x", TRK_ENTRY, 0, 0, true),
		     -EINVAL);
	replicd_track_free(&t);
	remove_dir();
}

static void test_peer_record_entry_checked_and_copied(void)
{
	struct replicd_op op = {.type = ROP_RECORD,
				.dir = 1,
				.path = "a/b",
				.flags = TRK_ZONES,
				.offset = 3,
				.length = 2};
	struct changerec_entry e;
	CHECK_EQ_INT(replicd_track_entry_of(&op, 2, &e), 0);
	CHECK(e.dir == 1 && e.kinds == TRK_ZONES && e.first == 3 &&
	      e.count == 2 && strcmp(e.path, "a/b") == 0 && e.path != op.path);
	free(e.path);
	CHECK_EQ_INT(replicd_track_entry_of(&op, 1, &e), -EPROTO);
	op.length = 0; /* zones, but none */
	CHECK_EQ_INT(replicd_track_entry_of(&op, 2, &e), -EPROTO);
	op.flags = 0;
	CHECK_EQ_INT(replicd_track_entry_of(&op, 2, &e), -EPROTO);
	op.flags = TRK_TREE;
	op.type = ROP_WRITE;
	CHECK_EQ_INT(replicd_track_entry_of(&op, 2, &e), -EPROTO);
}

/* Entries of a record file, and whether a reader trusts it (boot rule). */
static int parse_file(const char *name, bool *trusted)
{
	char p[128];
	char *buf = NULL;
	size_t len = 0;
	int n = 0;
	struct changerec_header h;
	uint8_t boot[CHANGEREC_BOOT_BYTES];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	CHECK_EQ_INT(sky_read_file(p, 1 << 20, &buf, &len), 0);
	CHECK_EQ_INT(changerec_parse((uint8_t *)buf, len, &h, count_cb, &n), 0);
	free(buf);
	changerec_boot_id(boot);
	*trusted = changerec_trusted(&h, boot);
	return n;
}

static void test_rotation_hands_the_changes_to_a_backup(void)
{
	struct replicd_track *t = NULL;
	bool complete = true, trusted = true;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	/* A new node: no record of what changed before it started. */
	CHECK(!replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_mark(t, 0, "db", TRK_ZONES, 5, 2, false), 0);
	CHECK_EQ_INT(replicd_track_rotate(t, "backup-b1.rec", &complete), 0);
	CHECK(!complete);
	CHECK(exists("backup-b1.rec"));
	CHECK_EQ_INT(parse_file("backup-b1.rec", &trusted), 1);
	CHECK(!trusted);
	/* The new record is empty and covers everything from now on. */
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	CHECK_EQ_INT(zones_of(t, "db"), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "db", TRK_ZONES, 5, 1, false), 0);
	CHECK_EQ_INT(zones_of(t, "db"), 1); /* marked again: a new record */
	CHECK_EQ_INT(replicd_track_mark(t, 0, "log", TRK_ENTRY, 0, 0, false),
		     0);
	CHECK_EQ_INT(replicd_track_rotate(t, "backup-b2.rec", &complete), 0);
	CHECK(complete);
	CHECK_EQ_INT(parse_file("backup-b2.rec", &trusted), 2);
	CHECK(trusted); /* unsynced entries, but of this boot */
	replicd_track_free(&t);
	/* Reopened: the fresh record is there, complete and empty. */
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	replicd_track_free(&t);
	remove_dir();
}

static void test_a_failed_backup_merges_its_changes_back(void)
{
	struct replicd_track *t = NULL;
	bool complete;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "db", TRK_ZONES, 0, 4, false), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 1, "d", TRK_TREE, 0, 0, false), 0);
	CHECK_EQ_INT(replicd_track_rotate(t, "backup-b1.rec", &complete), 0);
	CHECK(complete);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "db", TRK_ZONES, 2, 4, false), 0);
	CHECK_EQ_INT(replicd_track_merge(t, "backup-b1.rec"), 0);
	CHECK(!exists("backup-b1.rec"));
	/* Zones 0-5 of db: both records', each once; the tree too. */
	CHECK_EQ_INT(zones_of(t, "db"), 6);
	CHECK_EQ_INT(replicd_track_count(t), 3);
	CHECK(replicd_track_complete(t));
	/* Merging nothing (a file already merged) changes nothing. */
	CHECK_EQ_INT(replicd_track_merge(t, "backup-b1.rec"), 0);
	CHECK(replicd_track_complete(t));
	/* It survives a restart with the merged entries. */
	replicd_track_free(&t);
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	CHECK_EQ_INT(zones_of(t, "db"), 6);
	CHECK(replicd_track_complete(t));
	/* A damaged rotated record: this one cannot cover everything. */
	CHECK_EQ_INT(replicd_track_rotate(t, "backup-b2.rec", &complete), 0);
	char p[128];
	snprintf(p, sizeof(p), "%s/backup-b2.rec", dir);
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "torn", 4) == 4);
	close(fd);
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_merge(t, "backup-b2.rec"), 0);
	CHECK(!replicd_track_complete(t));
	CHECK(!exists("backup-b2.rec"));
	replicd_track_free(&t);
	remove_dir();
}

static void test_a_record_past_its_limit_becomes_incomplete(void)
{
	struct replicd_track *t = NULL;
	bool complete;
	fresh_dir();
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	CHECK_EQ_INT(replicd_track_reset(t, UINT64_MAX), 0);
	replicd_track_set_limit(t, 8);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "f", TRK_ZONES, 0, 8, false), 0);
	CHECK(replicd_track_complete(t));
	CHECK_EQ_INT(zones_of(t, "f"), 8);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "g", TRK_META, 0, 0, false), 0);
	/* Nine keys: emptied, incomplete, and it takes nothing more. */
	CHECK(!replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "h", TRK_ENTRY, 0, 0, false), 0);
	CHECK_EQ_INT(replicd_track_count(t), 0);
	replicd_track_free(&t);
	CHECK_EQ_INT(replicd_track_open(dir, "backup.rec", "test", &t), 0);
	CHECK(!replicd_track_complete(t));
	CHECK_EQ_INT(replicd_track_count(t), 0);
	/* A rotation starts a complete record that lists changes again. */
	replicd_track_set_limit(t, 8);
	CHECK_EQ_INT(replicd_track_rotate(t, "backup-b1.rec", &complete), 0);
	CHECK(!complete);
	CHECK_EQ_INT(replicd_track_mark(t, 0, "h", TRK_ENTRY, 0, 0, false), 0);
	CHECK_EQ_INT(replicd_track_count(t), 1);
	CHECK(replicd_track_complete(t));
	replicd_track_free(&t);
	remove_dir();
}

TEST_MAIN(TEST(test_a_missing_record_is_incomplete),
	  TEST(test_unsynced_entries_are_not_trusted_after_a_reboot),
	  TEST(test_marked_zones_survive_a_restart),
	  TEST(test_a_zone_already_marked_is_not_written_again),
	  TEST(test_reset_empties_only_if_nothing_was_added),
	  TEST(test_dropping_the_alone_marker_keeps_the_entries),
	  TEST(test_a_damaged_record_is_never_trusted),
	  TEST(test_parse_rejects_hostile_bytes),
	  TEST(test_peer_record_entry_checked_and_copied),
	  TEST(test_rotation_hands_the_changes_to_a_backup),
	  TEST(test_a_failed_backup_merges_its_changes_back),
	  TEST(test_a_record_past_its_limit_becomes_incomplete))
