/*
 * replicd_track_op_test.c - what one operation records (replicd/track_op.h):
 * exact 64 KiB zones for the backup record, 4 MiB extents for the change
 * record while connected, the zones between the old and the new end of a
 * truncate, a renamed directory as a whole tree, and nothing for an fsync.
 */
#include "test.h"
#include "track_op.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], state[96], data[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/replicd-track-op-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	CHECK_EQ_INT(mkdir(state, 0700), 0);
	CHECK_EQ_INT(mkdir(data, 0700), 0);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

/* Zones of path in t, and the kinds recorded for it (all entries). */
static uint64_t zones(struct replicd_track *t, const char *path,
		      uint64_t *first, uint8_t *kinds)
{
	struct changerec_entry *e;
	size_t n;
	uint64_t z = 0;
	*first = UINT64_MAX;
	*kinds = 0;
	CHECK_EQ_INT(replicd_track_entries(t, &e, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].path, path) != 0)
			continue;
		*kinds |= e[i].kinds;
		if (e[i].kinds & TRK_ZONES) {
			z += e[i].count;
			if (e[i].first < *first)
				*first = e[i].first;
		}
	}
	replicd_track_entries_free(e, n);
	return z;
}

static void test_operations_record_what_they_change(void)
{
	struct replicd_track *b = NULL, *t = NULL;
	uint64_t first;
	uint8_t kinds;
	setup();
	int root = open(data, O_RDONLY | O_DIRECTORY);
	CHECK(root >= 0);
	CHECK_EQ_INT(replicd_track_open(state, "backup.rec", "test", &b), 0);
	CHECK_EQ_INT(replicd_track_open(state, "track.rec", "test", &t), 0);
	static const uint8_t bytes[100];
	/* 100 bytes at 130 KiB: zone 2 exactly; as an extent, zones 0-63. */
	struct replicd_op w = {.type = ROP_WRITE,
			       .path = "f",
			       .offset = 130 << 10,
			       .data = bytes,
			       .data_len = sizeof(bytes)};
	CHECK_EQ_INT(replicd_track_op(b, root, &w, -1, false, false), 0);
	CHECK_EQ_INT(replicd_track_op(t, root, &w, -1, true, false), 0);
	CHECK_EQ_INT(zones(b, "f", &first, &kinds), 1);
	CHECK_EQ_INT(first, 2);
	CHECK_EQ_INT(zones(t, "f", &first, &kinds), 64);
	CHECK_EQ_INT(first, 0);
	/* A truncate from 1 MiB to 200 KiB: zones 3-15 and the size. */
	char p[160];
	snprintf(p, sizeof(p), "%s/g", data);
	int fd = open(p, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	struct replicd_op tr = {
		.type = ROP_TRUNCATE, .path = "g", .offset = 200 << 10};
	CHECK_EQ_INT(replicd_track_op(b, root, &tr, -1, false, false), 0);
	CHECK_EQ_INT(zones(b, "g", &first, &kinds), 13);
	CHECK_EQ_INT(first, 3);
	CHECK(kinds & TRK_META);
	/* A directory renamed: both names, whole trees. */
	snprintf(p, sizeof(p), "%s/d", data);
	CHECK_EQ_INT(mkdir(p, 0700), 0);
	struct replicd_op mv = {.type = ROP_RENAME, .path = "d", .path2 = "e"};
	CHECK_EQ_INT(replicd_track_op(b, root, &mv, -1, false, false), 0);
	CHECK_EQ_INT(zones(b, "d", &first, &kinds), 0);
	CHECK(kinds & TRK_TREE);
	CHECK_EQ_INT(zones(b, "e", &first, &kinds), 0);
	CHECK(kinds & TRK_TREE);
	/* A resync's removal and a chmod; an fsync changes nothing. */
	struct replicd_op rm = {.type = ROP_REMOVE, .path = "x"};
	struct replicd_op ch = {.type = ROP_CHMOD, .path = "f", .mode = 0600};
	struct replicd_op fs = {.type = ROP_FSYNC, .path = "h"};
	CHECK_EQ_INT(replicd_track_op(b, root, &rm, -1, false, false), 0);
	CHECK_EQ_INT(replicd_track_op(b, root, &ch, -1, false, false), 0);
	CHECK_EQ_INT(replicd_track_op(b, root, &fs, -1, false, false), 0);
	zones(b, "x", &first, &kinds);
	CHECK(kinds == TRK_TREE);
	zones(b, "f", &first, &kinds);
	CHECK(kinds == (TRK_ZONES | TRK_META));
	zones(b, "h", &first, &kinds);
	CHECK(kinds == 0);
	CHECK(replicd_track_complete(b) == false); /* a new record */
	/* A file unlinked while open that has another name: incomplete. */
	CHECK_EQ_INT(replicd_track_reset(b, UINT64_MAX), 0);
	snprintf(p, sizeof(p), "%s/g", data);
	fd = open(p, O_RDWR);
	struct replicd_op k = {.type = ROP_WRITE,
			       .handle = 9,
			       .path = "",
			       .data = bytes,
			       .data_len = sizeof(bytes)};
	CHECK_EQ_INT(replicd_track_op(b, root, &k, fd, false, false), 0);
	CHECK(!replicd_track_complete(b));
	close(fd);
	replicd_track_free(&b);
	replicd_track_free(&t);
	close(root);
	teardown();
}

TEST_MAIN(TEST(test_operations_record_what_they_change))
