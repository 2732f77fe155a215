/*
 * replicd_hold_test.c - the hold journal (replicd/hold.h): what is
 * appended reads back in order, a torn tail ends it quietly, damaged or
 * hostile bytes are refused, acknowledged entries lost are reported, and
 * replay resumes where it stopped without moving a name twice. Also
 * backupd's state message as replicd parses it (backup.h).
 */
#include "../../replicd/backup.h"
#include "hold.h"
#include "test.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[128];

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/replicd-hold-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/hold.journal", dir);
}

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static const uint8_t data[] = "some bytes the application wrote";

/* Three operations: a write, a rename, a truncate. */
static void write_journal(struct replicd_hold_journal *j, bool sync)
{
	struct replicd_op w = {.type = ROP_WRITE,
			       .seq = 7,
			       .dir = 0,
			       .path = "db/file",
			       .offset = 4096,
			       .data = data,
			       .data_len = sizeof(data)};
	struct replicd_op mv = {.type = ROP_RENAME,
				.seq = 8,
				.dir = 1,
				.path = "a",
				.path2 = "b"};
	struct replicd_op tr = {.type = ROP_TRUNCATE,
				.seq = 9,
				.path = "db/file",
				.offset = 10};
	CHECK_EQ_INT(replicd_hold_journal_create(j, dir, "bk-1"), 0);
	CHECK_EQ_INT(replicd_hold_journal_append(j, &w, 1 << 20), 0);
	CHECK_EQ_INT(replicd_hold_journal_append(j, &mv, 1 << 20), 0);
	/* A handle's release is journaled too (handles live in order). */
	struct replicd_op rel = {.type = ROP_RELEASE, .seq = 8, .handle = 3};
	CHECK_EQ_INT(replicd_hold_journal_append(j, &rel, 1 << 20), 0);
	if (sync)
		CHECK_EQ_INT(replicd_hold_journal_sync(j), 0);
	CHECK_EQ_INT(replicd_hold_journal_append(j, &tr, 1 << 20), 0);
	CHECK_EQ_INT(j->appended, 4);
}

struct seen {
	int n;
	uint64_t seq[8], off[8];
	uint8_t type[8];
};

static int seen_cb(void *ctx, uint64_t off, const struct replicd_op *op)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		s->off[s->n] = off;
		s->seq[s->n] = op->seq;
		s->type[s->n] = op->type;
	}
	s->n++;
	return 0;
}

static uint8_t *file(size_t *len)
{
	char *buf = NULL;
	CHECK_EQ_INT(sky_read_file(path, 1 << 24, &buf, len), 0);
	return (uint8_t *)buf;
}

static void test_appended_operations_read_back_in_order(void)
{
	struct replicd_hold_journal j;
	struct replicd_hold_header h;
	struct seen s = {0};
	size_t len, good;
	fresh_dir();
	write_journal(&j, true);
	replicd_hold_journal_close(&j);
	uint8_t *buf = file(&len);
	CHECK_EQ_INT(replicd_hold_parse(buf, len, &h, &good, seen_cb, &s), 0);
	CHECK_EQ_INT(good, len);
	CHECK_EQ_INT(s.n, 4);
	CHECK(s.seq[0] == 7 && s.seq[1] == 8 && s.seq[3] == 9);
	CHECK(s.type[0] == ROP_WRITE && s.type[1] == ROP_RENAME &&
	      s.type[2] == ROP_RELEASE && s.type[3] == ROP_TRUNCATE);
	CHECK(strcmp(h.id, "bk-1") == 0);
	CHECK_EQ_INT(h.applied_to, 0);
	/* synced before the truncate: the first two are promised. */
	CHECK(h.synced_to > REPLICD_HOLD_HEADER && h.synced_to < len);
	free(buf);
	remove_dir();
}

static void test_a_torn_tail_ends_the_journal(void)
{
	struct replicd_hold_journal j;
	struct replicd_hold_header h;
	struct seen s = {0};
	size_t len, good;
	fresh_dir();
	write_journal(&j, true);
	replicd_hold_journal_close(&j);
	uint8_t *buf = file(&len);
	for (size_t cut = 1; cut < 30; cut += 7) {
		s.n = 0;
		CHECK_EQ_INT(replicd_hold_parse(buf, len - cut, &h, &good,
						seen_cb, &s),
			     0);
		CHECK_EQ_INT(s.n, 3);
		CHECK(good < len - cut);
	}
	/* A damaged byte inside the second entry: only the first. */
	s.n = 0;
	CHECK_EQ_INT(replicd_hold_parse(buf, len, &h, &good, seen_cb, &s), 0);
	CHECK_EQ_INT(s.n, 4);
	buf[s.off[1] + 9] ^= 0x40;
	s.n = 0;
	CHECK_EQ_INT(replicd_hold_parse(buf, len, &h, &good, seen_cb, &s), 0);
	CHECK_EQ_INT(s.n, 1);
	free(buf);
	remove_dir();
}

static void test_hostile_headers_and_entries_are_refused(void)
{
	uint8_t hdr[REPLICD_HOLD_HEADER + 16];
	struct replicd_hold_header h = {.applied_to = 0};
	struct replicd_op op;
	struct replicd_op_store *st = malloc(sizeof(*st));
	size_t size, good;
	struct seen s = {0};

	sky_strlcpy(h.id, "ok.id_1", sizeof(h.id));
	CHECK_EQ_INT(replicd_hold_header_encode(&h, hdr), 0);
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     0);
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, 40, &h), -EBADMSG);
	hdr[0] = 'X';
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     -EBADMSG);
	hdr[0] = 'S';
	hdr[32] = 65; /* an id longer than allowed */
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     -EBADMSG);
	hdr[32] = 7;
	hdr[33] = '/'; /* it names a file: no slash */
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     -EBADMSG);
	hdr[33] = 'o';
	hdr[103] = 1; /* padding must be zero */
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     -EBADMSG);
	hdr[103] = 0;
	hdr[15] = 5; /* applied_to inside the header */
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     -EBADMSG);
	hdr[15] = 0;
	CHECK_EQ_INT(replicd_hold_parse(hdr, REPLICD_HOLD_HEADER, &h, &good,
					seen_cb, &s),
		     0);
	CHECK_EQ_INT(good, REPLICD_HOLD_HEADER);
	/* Entries: a zero length, a huge one, a short one. */
	uint8_t e[16] = {0};
	CHECK_EQ_INT(replicd_hold_entry_decode(e, sizeof(e), &size, &op, st),
		     -EBADMSG);
	e[0] = 0xff;
	CHECK_EQ_INT(replicd_hold_entry_decode(e, sizeof(e), &size, &op, st),
		     -EBADMSG);
	e[0] = 0;
	e[3] = 200;
	CHECK_EQ_INT(replicd_hold_entry_decode(e, sizeof(e), &size, &op, st),
		     -EAGAIN);
	CHECK_EQ_INT(replicd_hold_entry_decode(e, 3, &size, &op, st), -EAGAIN);
	e[3] = 2; /* right length, wrong hash */
	CHECK_EQ_INT(replicd_hold_entry_decode(e, sizeof(e), &size, &op, st),
		     -EBADMSG);
	/* The longest id fits the header whole. */
	char longest[REPLICD_HOLD_ID_MAX + 1];
	memset(longest, 'z', REPLICD_HOLD_ID_MAX);
	longest[REPLICD_HOLD_ID_MAX] = '\0';
	sky_strlcpy(h.id, longest, sizeof(h.id));
	CHECK_EQ_INT(replicd_hold_header_encode(&h, hdr), 0);
	CHECK_EQ_INT(replicd_hold_header_decode(hdr, REPLICD_HOLD_HEADER, &h),
		     0);
	CHECK(strcmp(h.id, longest) == 0);
	CHECK(!replicd_hold_id_valid("..", 2));
	CHECK(!replicd_hold_id_valid("", 0));
	CHECK(replicd_hold_id_valid("2026-12-07T04.00Z", 17));
	free(st);
}

static void test_the_journal_never_passes_its_bound(void)
{
	struct replicd_hold_journal j;
	struct replicd_op w = {.type = ROP_WRITE,
			       .path = "f",
			       .data = data,
			       .data_len = sizeof(data)};
	fresh_dir();
	CHECK_EQ_INT(replicd_hold_journal_create(&j, dir, "b"), 0);
	uint64_t max = REPLICD_HOLD_HEADER + 3 * 80;
	int r = 0, n = 0;
	while ((r = replicd_hold_journal_append(&j, &w, max)) == 0)
		n++;
	CHECK_EQ_INT(r, -EFBIG);
	CHECK(n >= 2 && j.length <= max);
	struct stat st;
	CHECK_EQ_INT(stat(path, &st), 0);
	CHECK_EQ_INT((uint64_t)st.st_size, j.length);
	replicd_hold_journal_close(&j);
	remove_dir();
}

/* A fake copy for replay: what was applied, a failure to inject. */
struct fake {
	int applied, syncs;
	uint64_t seq[8];
	uint64_t fail_seq; /* apply fails (ENOSPC) at this seq */
	uint64_t ino;	   /* inode of every path */
};

static int fake_apply(void *ctx, const struct replicd_op *op)
{
	struct fake *f = ctx;
	if (op->seq == f->fail_seq)
		return -ENOSPC;
	if (f->applied < 8)
		f->seq[f->applied] = op->seq;
	f->applied++;
	return 0;
}

static int fake_sync(void *ctx)
{
	((struct fake *)ctx)->syncs++;
	return 0;
}

static uint64_t fake_inode(void *ctx, const struct replicd_op *op)
{
	(void)op;
	return ((struct fake *)ctx)->ino;
}

static void test_replay_resumes_without_moving_a_name_twice(void)
{
	struct replicd_hold_journal j;
	struct fake f = {.fail_seq = 9, .ino = 1};
	struct replicd_replay_ops ops = {.ctx = &f,
					 .apply = fake_apply,
					 .sync = fake_sync,
					 .inode = fake_inode};
	struct replicd_replay_result res;
	fresh_dir();
	write_journal(&j, true);
	replicd_hold_journal_close(&j);
	/* The disk fills at the third: the first two are applied, the
	 * position saved after the rename, the journal kept. */
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), -ENOSPC);
	CHECK_EQ_INT(f.applied, 3);
	CHECK(access(path, F_OK) == 0);
	/* Again: from the truncate on, never the rename a second time. */
	f.fail_seq = 0;
	f.applied = 0;
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), 0);
	CHECK_EQ_INT(f.applied, 1);
	CHECK_EQ_INT(f.seq[0], 9);
	CHECK(strcmp(res.id, "bk-1") == 0);
	CHECK(access(path, F_OK) != 0); /* applied: removed */
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), -ENOENT);
	remove_dir();
}

static void test_an_interrupted_swap_is_not_swapped_back(void)
{
	struct replicd_hold_journal j;
	struct fake f = {.ino = 41};
	struct replicd_replay_ops ops = {.ctx = &f,
					 .apply = fake_apply,
					 .sync = fake_sync,
					 .inode = fake_inode};
	struct replicd_replay_result res;
	struct replicd_op x = {.type = ROP_RENAME,
			       .seq = 3,
			       .path = "a",
			       .path2 = "b",
			       .flags = ROP_RENAME_EXCHANGE};
	fresh_dir();
	CHECK_EQ_INT(replicd_hold_journal_create(&j, dir, "bk"), 0);
	CHECK_EQ_INT(replicd_hold_journal_append(&j, &x, 1 << 20), 0);
	CHECK_EQ_INT(replicd_hold_journal_sync(&j), 0);
	replicd_hold_journal_close(&j);
	/* As if a power cut came during the swap: the position says "at
	 * the swap, a had inode 41". */
	int fd = open(path, O_RDWR);
	uint8_t pos[16] = {0};
	pos[7] = REPLICD_HOLD_HEADER;
	pos[15] = 41;
	CHECK(pwrite(fd, pos, 16, 8) == 16);
	close(fd);
	f.ino = 42; /* a has b's inode now: the swap happened */
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), 0);
	CHECK_EQ_INT(f.applied, 0);
	remove_dir();
}

static void test_lost_acknowledged_entries_are_reported(void)
{
	struct replicd_hold_journal j;
	struct fake f = {0};
	struct replicd_replay_ops ops = {.ctx = &f,
					 .apply = fake_apply,
					 .sync = fake_sync,
					 .inode = fake_inode};
	struct replicd_replay_result res;
	fresh_dir();
	write_journal(&j, false);
	CHECK_EQ_INT(replicd_hold_journal_sync(&j), 0); /* all three */
	uint64_t len = j.length;
	replicd_hold_journal_close(&j);
	/* The last entry torn although it was synced: damage. */
	CHECK_EQ_INT(truncate(path, (off_t)len - 5), 0);
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), -EBADMSG);
	CHECK(res.damaged);
	CHECK_EQ_INT(f.applied, 3);
	/* Unsynced entries torn: not a damage (never promised). */
	f.applied = 0;
	write_journal(&j, true);
	len = j.length;
	replicd_hold_journal_close(&j);
	CHECK_EQ_INT(truncate(path, (off_t)len - 5), 0);
	CHECK_EQ_INT(replicd_hold_replay(dir, &ops, &res), 0);
	CHECK(!res.damaged);
	CHECK_EQ_INT(f.applied, 3);
	remove_dir();
}

static void test_backupd_state_is_checked(void)
{
	char hold[REPLICD_HOLD_ID_MAX + 1], done[REPLICD_HOLD_ID_MAX + 1];
	char err[160];
	json_t *m = json_pack("{s:s,s:s,s:n}", "node", "node2", "hold",
			      "2026-12-07.1", "completed");
	CHECK_EQ_INT(
		replicd_backup_parse(m, "node2", hold, done, err, sizeof(err)),
		0);
	CHECK(strcmp(hold, "2026-12-07.1") == 0 && done[0] == '\0');
	CHECK_EQ_INT(
		replicd_backup_parse(m, "node1", hold, done, err, sizeof(err)),
		-EINVAL);
	json_object_set_new(m, "hold", json_string("../../etc/passwd"));
	CHECK_EQ_INT(
		replicd_backup_parse(m, "node2", hold, done, err, sizeof(err)),
		-EINVAL);
	CHECK_STR_CONTAINS(err, "hold");
	json_object_set_new(m, "hold", json_integer(3));
	CHECK_EQ_INT(
		replicd_backup_parse(m, "node2", hold, done, err, sizeof(err)),
		-EINVAL);
	json_object_set_new(m, "hold", json_null());
	json_object_set_new(m, "completed", json_string("b1"));
	CHECK_EQ_INT(
		replicd_backup_parse(m, "node2", hold, done, err, sizeof(err)),
		0);
	CHECK(hold[0] == '\0' && strcmp(done, "b1") == 0);
	json_decref(m);
}

TEST_MAIN(TEST(test_appended_operations_read_back_in_order),
	  TEST(test_a_torn_tail_ends_the_journal),
	  TEST(test_hostile_headers_and_entries_are_refused),
	  TEST(test_the_journal_never_passes_its_bound),
	  TEST(test_replay_resumes_without_moving_a_name_twice),
	  TEST(test_an_interrupted_swap_is_not_swapped_back),
	  TEST(test_lost_acknowledged_entries_are_reported),
	  TEST(test_backupd_state_is_checked))
