/*
 * replicd_zframe_test.c - compressed resync writes (replicd/zframe.h):
 * data that shrinks goes as one zstd frame and comes back byte for byte
 * through the wire encoding; data that does not shrink goes raw; and the
 * receiving side refuses every frame that is not exactly what it says: a
 * size that differs from the frame's, no size, truncated, two frames,
 * trailing bytes, a "bomb" that would decompress beyond the bound, and
 * garbage, without writing past its buffer, and keeps working after.
 */
#include "op.h"
#include "test.h"
#include "util.h"
#include "zframe.h"

#include <stdlib.h>
#include <zstd.h>

static uint8_t text[REPLICD_DATA_MAX];
static uint8_t noise[REPLICD_DATA_MAX];
static uint8_t out[REPLICD_DATA_MAX];
static uint8_t frame[REPLICD_OP_MAX];

static void fill(void)
{
	static const char words[] = "resync over a wan: the same lines ";
	static int done;
	if (done++)
		return;
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(text); i++) {
		text[i] = (uint8_t)words[i % (sizeof(words) - 1)];
		x = x * 1103515245u + 12345u;
		noise[i] = (uint8_t)(x >> 16);
	}
	for (size_t i = 0; i < sizeof(text); i += 997)
		text[i] = (uint8_t)i; /* not all of it one pattern */
}

static struct replicd_op write_of(const uint8_t *data, size_t len)
{
	struct replicd_op op = {.type = ROP_WRITE,
				.seq = 7,
				.dir = 1,
				.path = "big/file",
				.offset = 3ull << 32,
				.data = data,
				.data_len = len};
	return op;
}

static void test_compressible_write_goes_as_one_frame_and_comes_back(void)
{
	fill();
	struct replicd_zstd *z = NULL, *rx = NULL;
	CHECK_EQ_INT(replicd_zstd_new(&z, 3), 0);
	CHECK_EQ_INT(replicd_zstd_new(&rx, 1), 0);
	struct replicd_op op = write_of(text, sizeof(text));
	CHECK_EQ_INT(replicd_zstd_pack(z, &op), 1);
	CHECK_EQ_INT(op.type, ROP_WRITE_Z);
	CHECK_EQ_INT(op.length, sizeof(text));
	CHECK(op.data_len < sizeof(text) / 4);
	/* Through the wire encoding, as the secondary gets it. */
	struct replicd_op q;
	struct replicd_op_store st;
	int n = replicd_op_encode(&op, frame, sizeof(frame));
	CHECK(n > 0);
	CHECK_EQ_INT(replicd_op_decode(frame, (size_t)n, &q, &st), 0);
	CHECK_EQ_INT(q.type, ROP_WRITE_Z);
	CHECK_EQ_INT(q.offset, 3ull << 32);
	CHECK(strcmp(q.path, "big/file") == 0);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &q, out, sizeof(out)),
		     sizeof(text));
	CHECK(memcmp(out, text, sizeof(text)) == 0);
	CHECK(replicd_op_changes_data(ROP_WRITE_Z));
	CHECK(strcmp(replicd_op_name(ROP_WRITE_Z), "write-z") == 0);
	replicd_zstd_free(&z);
	replicd_zstd_free(&rx);
	CHECK(z == NULL);
}

static void test_data_that_does_not_shrink_goes_raw(void)
{
	fill();
	struct replicd_zstd *z = NULL;
	CHECK_EQ_INT(replicd_zstd_new(&z, 19), 0);
	struct replicd_op op = write_of(noise, sizeof(noise));
	CHECK_EQ_INT(replicd_zstd_pack(z, &op), 0);
	CHECK_EQ_INT(op.type, ROP_WRITE);
	CHECK(op.data == noise);
	CHECK_EQ_INT(op.data_len, sizeof(noise));
	/* Small writes are not worth an attempt; other types neither. */
	op = write_of(text, REPLICD_ZSTD_MIN - 1);
	CHECK_EQ_INT(replicd_zstd_pack(z, &op), 0);
	CHECK_EQ_INT(op.type, ROP_WRITE);
	op = write_of(text, 8192);
	op.type = ROP_SETXATTR;
	op.name = "user.x";
	CHECK_EQ_INT(replicd_zstd_pack(z, &op), 0);
	replicd_zstd_free(&z);
	CHECK_EQ_INT(replicd_zstd_new(&z, 0), -EINVAL);
	CHECK_EQ_INT(replicd_zstd_new(&z, 20), -EINVAL);
}

/* A write-z carrying data (len) said to decompress to length bytes. */
static struct replicd_op wz(const uint8_t *data, size_t len, uint64_t length)
{
	struct replicd_op op = write_of(data, len);
	op.type = ROP_WRITE_Z;
	op.length = length;
	return op;
}

static void test_hostile_frames_are_refused(void)
{
	fill();
	static uint8_t c[2 * REPLICD_DATA_MAX], two[2 * REPLICD_DATA_MAX];
	struct replicd_zstd *rx = NULL;
	CHECK_EQ_INT(replicd_zstd_new(&rx, 3), 0);
	size_t len = 64 << 10;
	size_t n = ZSTD_compress(c, sizeof(c), text, len, 3);
	CHECK(!ZSTD_isError(n) && n < len);
	struct replicd_op op = wz(c, n, len);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), (int)len);

	/* A size that is not the frame's, either way. */
	op = wz(c, n, len - 1);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	op = wz(c, n, len + 1);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* More than the receiver's room, or than any write. */
	op = wz(c, n, len);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, len - 1), -EBADMSG);
	op = wz(c, n, REPLICD_DATA_MAX + 1ull);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* Every truncation. */
	for (size_t k = 0; k < n; k++) {
		op = wz(c, k, len);
		CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)),
			     -EBADMSG);
	}
	/* Trailing bytes, and two frames back to back. */
	memcpy(two, c, n);
	memcpy(two + n, c, n);
	op = wz(two, n + 1, len);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	op = wz(two, 2 * n, 2 * len);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* "Compressed" data no smaller than it says it is. */
	op = wz(c, n, n);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* Garbage. */
	op = wz(noise, 4096, 65536);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* Still works after all that. */
	op = wz(c, n, len);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), (int)len);
	CHECK(memcmp(out, text, len) == 0);
	replicd_zstd_free(&rx);
}

static void test_bombs_and_frames_without_a_size_are_refused(void)
{
	fill();
	static uint8_t c[1 << 16];
	struct replicd_zstd *rx = NULL;
	CHECK_EQ_INT(replicd_zstd_new(&rx, 3), 0);
	/* 64 MiB of zeros: a few KiB on the wire. Said to be 1 MiB. */
	size_t big = 64u << 20;
	uint8_t *zeros = calloc(1, big);
	CHECK(zeros != NULL);
	if (!zeros)
		return;
	size_t n = ZSTD_compress(c, sizeof(c), zeros, big, 3);
	CHECK(!ZSTD_isError(n) && n < sizeof(c));
	struct replicd_op op = wz(c, n, REPLICD_DATA_MAX);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* The same bomb without its size in the header (a stream). */
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	ZSTD_outBuffer ob = {c, sizeof(c), 0};
	ZSTD_inBuffer ib = {zeros, REPLICD_DATA_MAX * 4ull, 0};
	size_t left = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
	CHECK(!ZSTD_isError(left) && left == 0);
	CHECK_EQ_INT(ZSTD_getFrameContentSize(c, ob.pos),
		     ZSTD_CONTENTSIZE_UNKNOWN);
	op = wz(c, ob.pos, REPLICD_DATA_MAX);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	/* A 1 MiB frame without its size: refused all the same. */
	ZSTD_CCtx_reset(cc, ZSTD_reset_session_only);
	ob.pos = 0;
	ib = (ZSTD_inBuffer){zeros, REPLICD_DATA_MAX, 0};
	left = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
	CHECK(!ZSTD_isError(left) && left == 0);
	op = wz(c, ob.pos, REPLICD_DATA_MAX);
	CHECK_EQ_INT(replicd_zstd_unpack(rx, &op, out, sizeof(out)), -EBADMSG);
	ZSTD_freeCCtx(cc);
	free(zeros);
	replicd_zstd_free(&rx);
}

static void test_decoder_bounds_the_declared_size(void)
{
	fill();
	struct replicd_op op = wz(text, 100, 0);
	uint8_t buf[512];
	struct replicd_op q;
	struct replicd_op_store st;
	/* Encodes (the encoder does not judge), but never decodes. */
	int n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	op.length = REPLICD_DATA_MAX + 1ull;
	n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), -EBADMSG);
	op.length = REPLICD_DATA_MAX;
	n = replicd_op_encode(&op, buf, sizeof(buf));
	CHECK_EQ_INT(replicd_op_decode(buf, (size_t)n, &q, &st), 0);
}

TEST_MAIN(TEST(test_compressible_write_goes_as_one_frame_and_comes_back),
	  TEST(test_data_that_does_not_shrink_goes_raw),
	  TEST(test_hostile_frames_are_refused),
	  TEST(test_bombs_and_frames_without_a_size_are_refused),
	  TEST(test_decoder_bounds_the_declared_size))
