/*
 * replicd_peer_test.c - one connection's buffers over a socketpair: frames
 * queued while earlier ones are half sent arrive whole and in order, the
 * secondary can tell whether another frame is already buffered (it acks
 * early only for the last), and which operations may be acked on receipt.
 */
#include "op.h"
#include "peer.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void frame_bytes(uint8_t *p, size_t len, unsigned k)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(k * 31u + i);
}

static void test_frames_queued_behind_a_partial_send_arrive_in_order(void)
{
	int sv[2];
	int small = 4096;
	struct replicd_conn *c = NULL;
	enum { FRAMES = 40, LEN = 50000 };
	static uint8_t want[LEN], got[LEN];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	CHECK_EQ_INT(replicd_conn_adopt(&c, sv[0]), 0);
	unsigned queued = 0, read_n = 0;
	size_t most = 0;
	/* Queue a frame, send what the socket takes, read one frame: the
	 * sent part is sometimes compacted away, sometimes not. */
	while (read_n < FRAMES) {
		if (queued < FRAMES) {
			frame_bytes(want, LEN, queued);
			CHECK_EQ_INT(replicd_conn_put(c, want, LEN), 0);
			queued++;
			if (c->out_len - c->out_off > most)
				most = c->out_len - c->out_off;
		}
		CHECK_EQ_INT(replicd_conn_flush(c), 0);
		if (queued < FRAMES && queued % 3)
			continue;
		/* Drain one frame; flush between reads as the socket frees. */
		uint8_t h[4];
		size_t got_n = 0;
		while (got_n < sizeof(h) + LEN) {
			ssize_t n = recv(
				sv[1], got_n < 4 ? h + got_n : got + got_n - 4,
				got_n < 4 ? 4 - got_n : LEN - (got_n - 4),
				MSG_DONTWAIT);
			if (n > 0)
				got_n += (size_t)n;
			else
				CHECK_EQ_INT(replicd_conn_flush(c), 0);
		}
		CHECK_EQ_INT(h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3], LEN);
		frame_bytes(want, LEN, read_n);
		CHECK(memcmp(got, want, LEN) == 0);
		read_n++;
	}
	CHECK(!replicd_conn_wants_write(c));
	/* The buffer stays within a small multiple of the largest backlog
	 * (sent bytes kept until they outnumber the rest, then doubling). */
	CHECK(c->out_cap <= 4 * most + 4096);
	replicd_conn_free(&c);
	close(sv[1]);
}

static void put_raw(int fd, const uint8_t *p, size_t len)
{
	uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};
	CHECK(write(fd, h, 4) == 4);
	if (len)
		CHECK(write(fd, p, len) == (ssize_t)len);
}

static void test_next_ready_sees_only_a_complete_following_frame(void)
{
	int sv[2];
	struct replicd_conn *c = NULL;
	const uint8_t *p;
	size_t len;
	uint8_t data[100] = {1, 2, 3};

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK_EQ_INT(replicd_conn_adopt(&c, sv[0]), 0);
	put_raw(sv[1], data, 10);
	CHECK_EQ_INT(replicd_conn_fill(c, 0), 0);
	CHECK_EQ_INT(replicd_conn_frame(c, 1000, &p, &len), 1);
	CHECK(!replicd_conn_next_ready(c));
	/* A following header alone, then part of its payload: not ready. */
	uint8_t h[4] = {0, 0, 0, 20};
	CHECK(write(sv[1], h, 4) == 4);
	CHECK_EQ_INT(replicd_conn_fill(c, 0), 0);
	CHECK(!replicd_conn_next_ready(c));
	CHECK(write(sv[1], data, 19) == 19);
	CHECK_EQ_INT(replicd_conn_fill(c, 0), 0);
	CHECK(!replicd_conn_next_ready(c));
	CHECK(write(sv[1], data, 1) == 1);
	CHECK_EQ_INT(replicd_conn_fill(c, 0), 0);
	CHECK(replicd_conn_next_ready(c));
	replicd_conn_consume(c);
	CHECK_EQ_INT(replicd_conn_frame(c, 1000, &p, &len), 1);
	CHECK_EQ_INT((int)len, 20);
	CHECK(!replicd_conn_next_ready(c));
	/* An empty frame after it counts too. */
	put_raw(sv[1], NULL, 0);
	CHECK_EQ_INT(replicd_conn_fill(c, 0), 0);
	CHECK(replicd_conn_next_ready(c));
	replicd_conn_consume(c);
	CHECK(!replicd_conn_next_ready(c));
	replicd_conn_consume(c);
	CHECK(!replicd_conn_next_ready(c));
	CHECK_EQ_INT(replicd_conn_frame(c, 1000, &p, &len), 0);
	replicd_conn_free(&c);
	close(sv[1]);
}

static void test_only_fsync_and_flush_wait_for_the_apply_before_the_ack(void)
{
	/* Their ack promises durability (docs/replication.md). */
	CHECK(!replicd_op_ack_on_receipt(ROP_FSYNC));
	CHECK(!replicd_op_ack_on_receipt(ROP_FLUSH));
	CHECK(replicd_op_ack_on_receipt(ROP_WRITE));
	CHECK(replicd_op_ack_on_receipt(ROP_TRUNCATE));
	CHECK(replicd_op_ack_on_receipt(ROP_RENAME));
	CHECK(replicd_op_ack_on_receipt(ROP_CREATE));
}

TEST_MAIN(TEST(test_frames_queued_behind_a_partial_send_arrive_in_order),
	  TEST(test_next_ready_sees_only_a_complete_following_frame),
	  TEST(test_only_fsync_and_flush_wait_for_the_apply_before_the_ack))
