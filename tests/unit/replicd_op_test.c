/*
 * replicd_op_test.c - replicated operations on the wire: every type round
 * trips, and truncated, oversized, trailing, badly flagged or escaping
 * input is rejected without crashing (a small deterministic fuzzer too).
 */
#include "op.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>
#include <sys/stat.h>

static struct replicd_op sample_write(void)
{
	static const uint8_t data[] = "payload bytes";
	struct replicd_op op = {.type = ROP_WRITE,
				.seq = 0x0102030405060708ull,
				.dir = 3,
				.handle = 77,
				.path = "dir/file\xff name",
				.offset = 5ull << 30,
				.data = data,
				.data_len = sizeof(data)};
	return op;
}

static int round_trip(const struct replicd_op *op, struct replicd_op *out,
		      struct replicd_op_store *st, uint8_t *buf, size_t size)
{
	int n = replicd_op_encode(op, buf, size);
	if (n < 0)
		return n;
	return replicd_op_decode(buf, (size_t)n, out, st);
}

static void test_write_round_trip_keeps_offset_beyond_4_gib_and_bytes(void)
{
	struct replicd_op op = sample_write(), q;
	struct replicd_op_store st;
	uint8_t buf[256];
	CHECK_EQ_INT(round_trip(&op, &q, &st, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(q.type, ROP_WRITE);
	CHECK_EQ_INT(q.seq, op.seq);
	CHECK_EQ_INT(q.dir, 3);
	CHECK_EQ_INT(q.handle, 77);
	CHECK_EQ_INT(q.offset, 5ull << 30);
	CHECK(strcmp(q.path, op.path) == 0);
	CHECK_EQ_INT(q.data_len, op.data_len);
	CHECK(memcmp(q.data, op.data, op.data_len) == 0);
}

static void test_every_type_round_trips(void)
{
	static const uint8_t v[] = {0, 1, 2};
	struct replicd_op ops[] = {
		{.type = ROP_TRUNCATE, .path = "a", .offset = 9},
		{.type = ROP_FALLOCATE,
		 .path = "a",
		 .flags = ROP_FALLOC_PUNCH_HOLE | ROP_FALLOC_KEEP_SIZE,
		 .offset = 1,
		 .length = 2},
		{.type = ROP_CREATE,
		 .path = "a",
		 .mode = S_IFIFO | 0640,
		 .rdev = 5,
		 .uid = 1,
		 .gid = 2,
		 .flags = ROP_CREATE_EXCL},
		{.type = ROP_MKDIR, .path = "d", .mode = 0750},
		{.type = ROP_UNLINK, .path = "a"},
		{.type = ROP_RMDIR, .path = "d"},
		{.type = ROP_RENAME,
		 .path = "a",
		 .path2 = "b/c",
		 .flags = ROP_RENAME_EXCHANGE},
		{.type = ROP_LINK, .path = "a", .path2 = "b"},
		{.type = ROP_SYMLINK, .path = "l", .target = "../../etc"},
		{.type = ROP_CHMOD, .path = "", .mode = 04755},
		{.type = ROP_CHOWN, .path = "a", .uid = UINT32_MAX, .gid = 7},
		/* A file unlinked while open: by handle, no path. */
		{.type = ROP_CHMOD, .handle = 9, .mode = 0600},
		{.type = ROP_CHOWN, .handle = 10, .uid = 3, .gid = 4},
		{.type = ROP_UTIMENS,
		 .handle = 11,
		 .atime = {.tv_sec = 1, .tv_nsec = UTIME_OMIT},
		 .mtime = {.tv_sec = -5, .tv_nsec = 999999999}},
		{.type = ROP_SETXATTR,
		 .handle = 12,
		 .name = "user.k",
		 .data = v,
		 .data_len = 3},
		{.type = ROP_REMOVEXATTR, .handle = 13, .name = "user.k"},
		/* The peer opens a handle: a write of nothing. */
		{.type = ROP_WRITE, .handle = 14, .path = "a/b"},
		{.type = ROP_UTIMENS,
		 .path = "a",
		 .atime = {.tv_sec = 1, .tv_nsec = UTIME_OMIT},
		 .mtime = {.tv_sec = -5, .tv_nsec = 999999999}},
		{.type = ROP_SETXATTR,
		 .path = "a",
		 .name = "user.k",
		 .data = v,
		 .data_len = 3,
		 .flags = ROP_XATTR_CREATE},
		{.type = ROP_REMOVEXATTR, .path = "a", .name = "user.k"},
		{.type = ROP_FSYNC, .handle = 4, .flags = ROP_FSYNC_DATASYNC},
		{.type = ROP_RELEASE, .handle = 4},
		{.type = ROP_PING},
		{.type = ROP_ACK, .seq = 99},
		{.type = ROP_EPOCH, .offset = 41},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(ops); i++) {
		struct replicd_op q;
		struct replicd_op_store st;
		uint8_t buf[512];
		if (!ops[i].path)
			ops[i].path = "";
		int r = round_trip(&ops[i], &q, &st, buf, sizeof(buf));
		CHECK_EQ_INT(r, 0);
		if (r != 0)
			continue;
		CHECK_EQ_INT(q.type, ops[i].type);
		CHECK_EQ_INT(q.flags, ops[i].flags);
		CHECK_EQ_INT(q.mode, ops[i].mode);
		CHECK_EQ_INT(q.uid, ops[i].uid);
		CHECK_EQ_INT(q.offset, ops[i].offset);
		CHECK_EQ_INT(q.length, ops[i].length);
		CHECK_EQ_INT(q.seq, ops[i].seq);
		CHECK_EQ_INT(q.handle, ops[i].handle);
		CHECK_EQ_INT(q.data_len, ops[i].data_len);
		if (q.path)
			CHECK(strcmp(q.path, ops[i].path) == 0);
		if (ops[i].type == ROP_UTIMENS) {
			CHECK_EQ_INT(q.atime.tv_nsec, UTIME_OMIT);
			CHECK_EQ_INT(q.mtime.tv_sec, -5);
		}
		if (ops[i].path2)
			CHECK(strcmp(q.path2, ops[i].path2) == 0);
		if (ops[i].target)
			CHECK(strcmp(q.target, ops[i].target) == 0);
	}
}

/* Operation 31: the primary's epoch, 8 bytes after type and sequence (no
 * directory), as docs/protocol.md lays it out. */
static void test_epoch_op_is_type_seq_and_an_eight_byte_epoch(void)
{
	struct replicd_op op = {.type = ROP_EPOCH,
				.offset = 0x0102030405060708ull};
	struct replicd_op q;
	struct replicd_op_store st;
	uint8_t buf[64];
	static const uint8_t want[] = {31, 0, 0, 0, 0, 0, 0, 0, 0,
				       1,  2, 3, 4, 5, 6, 7, 8};
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK_EQ_INT(n, sizeof(want));
	CHECK(n == (int)sizeof(want) && memcmp(buf, want, sizeof(want)) == 0);
	CHECK_EQ_INT(replicd_op_decode(want, sizeof(want), &q, &st), 0);
	CHECK_EQ_INT(q.type, ROP_EPOCH);
	CHECK_EQ_INT(q.offset, 0x0102030405060708ull);
	CHECK(strcmp(replicd_op_name(ROP_EPOCH), "epoch") == 0);
	CHECK(!replicd_op_changes_data(ROP_EPOCH));
	/* Short by one byte, or one byte too many: refused. */
	CHECK_EQ_INT(replicd_op_decode(want, sizeof(want) - 1, &q, &st),
		     -EBADMSG);
	uint8_t longer[sizeof(want) + 1] = {0};
	memcpy(longer, want, sizeof(want));
	CHECK_EQ_INT(replicd_op_decode(longer, sizeof(longer), &q, &st),
		     -EBADMSG);
}

static void test_every_truncation_is_rejected(void)
{
	struct replicd_op op = sample_write(), q;
	struct replicd_op_store st;
	uint8_t buf[256];
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK(n > 0);
	for (int len = 0; len < n; len++)
		CHECK_EQ_INT(replicd_op_decode(buf, (size_t)len, &q, &st),
			     -EBADMSG);
}

static void test_trailing_bytes_are_rejected(void)
{
	struct replicd_op op = sample_write(), q;
	struct replicd_op_store st;
	uint8_t buf[256];
	int n = replicd_op_encode(&op, buf, sizeof(buf) - 1);
	buf[n] = 0;
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n + 1, &q, &st), -EBADMSG);
}

static void test_oversized_data_length_is_rejected(void)
{
	struct replicd_op op = sample_write(), q;
	struct replicd_op_store st;
	uint8_t buf[256];
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	/* The data length field sits right before the data. */
	size_t at = (size_t)n - op.data_len - 4;
	buf[at] = 0x7f;
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	CHECK_EQ_INT(replicd_op_decode(buf, REPLICD_OP_MAX + 1, &q, &st),
		     -EBADMSG);
	op.data_len = REPLICD_DATA_MAX + 1;
	CHECK(replicd_op_encode(&op, buf, sizeof(buf)) < 0);
}

static void test_paths_that_could_escape_are_refused_both_ways(void)
{
	static const char *bad[] = {"/etc/passwd", "..",  "a/../../b", "a//b",
				    "a/",	   "./a", "a/."};
	struct replicd_op op = {.type = ROP_UNLINK}, q;
	struct replicd_op_store st;
	uint8_t buf[64];
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		op.path = bad[i];
		CHECK(replicd_op_encode(&op, buf, sizeof(buf)) < 0);
		CHECK(!replicd_path_valid(bad[i], strlen(bad[i])));
	}
	/* Forge one by hand: type, seq, dir, u16 len, "../x". */
	uint8_t forged[] = {ROP_UNLINK, 0, 0, 0, 0,   0,   0,	0,
			    1,		0, 0, 4, '.', '.', '/', 'x'};
	CHECK_EQ_INT(replicd_op_decode(forged, sizeof(forged), &q, &st),
		     -EBADMSG);
	/* A NUL inside a name. */
	uint8_t nul[] = {ROP_UNLINK, 0, 0, 0, 0,   0, 0,  0,
			 1,	     0, 0, 3, 'a', 0, 'b'};
	CHECK_EQ_INT(replicd_op_decode(nul, sizeof(nul), &q, &st), -EBADMSG);
	CHECK(replicd_path_valid("a/b\xff/c ", 7));
	CHECK(replicd_path_valid("", 0));
}

static void test_unknown_type_flags_and_directory_are_rejected(void)
{
	struct replicd_op op = {.type = ROP_RENAME, .path = "a", .path2 = "b"},
			  q;
	struct replicd_op_store st;
	uint8_t buf[64];
	op.flags = 0x80;
	CHECK_EQ_INT(replicd_op_encode(&op, buf, sizeof(buf)), -EINVAL);
	op.flags = 0;
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK(n > 0);
	buf[n - 1] = 0x80; /* flags: an unknown bit */
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	buf[n - 1] = 0;
	buf[9] = REPLICD_MAX_DIRS; /* dir index out of range */
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	buf[9] = 0;
	buf[0] = 0;
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	buf[0] = ROP_TYPE_MAX + 1;
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
}

static void test_encoder_reports_a_small_buffer(void)
{
	struct replicd_op op = sample_write();
	uint8_t buf[16];
	CHECK_EQ_INT(replicd_op_encode(&op, buf, sizeof(buf)), -EMSGSIZE);
}

static void test_mutated_frames_never_crash_the_decoder(void)
{
	struct replicd_op op = sample_write(), q;
	struct replicd_op_store st;
	uint8_t buf[256], m[256];
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	unsigned seed = 12345;
	for (int i = 0; i < 20000; i++) {
		memcpy(m, buf, (size_t)n);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % (unsigned)n] = (uint8_t)(seed >> 16);
		}
		seed = seed * 1103515245u + 12345u;
		size_t len = (size_t)n - (seed >> 20) % 4;
		if (replicd_op_decode(m, len, &q, &st) == 0 && q.path)
			CHECK(replicd_path_valid(q.path, strlen(q.path)));
	}
}

TEST_MAIN(TEST(test_write_round_trip_keeps_offset_beyond_4_gib_and_bytes),
	  TEST(test_every_type_round_trips),
	  TEST(test_epoch_op_is_type_seq_and_an_eight_byte_epoch),
	  TEST(test_every_truncation_is_rejected),
	  TEST(test_trailing_bytes_are_rejected),
	  TEST(test_oversized_data_length_is_rejected),
	  TEST(test_paths_that_could_escape_are_refused_both_ways),
	  TEST(test_unknown_type_flags_and_directory_are_rejected),
	  TEST(test_encoder_reports_a_small_buffer),
	  TEST(test_mutated_frames_never_crash_the_decoder))
