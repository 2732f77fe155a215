/*
 * replicd_pipeline_test.c - the write path's pipelining (repl.h) and the
 * secondary's ack batching (ackbatch.h): several operations in flight at
 * once, one cumulative ack releasing every writer it covers, the window
 * that bounds unacknowledged bytes in async and commit modes, commit
 * mode's rule that an fsync waits for every earlier change the peer may
 * lack, and when the secondary sends an ack.
 */
#include "ackbatch.h"
#include "repl.h"
#include "test.h"

#include <stdlib.h>

static uint8_t block[REPLICD_PIECE];

static struct replicd_op write_op(uint64_t off)
{
	return (struct replicd_op){.type = ROP_WRITE,
				   .path = "f",
				   .offset = off,
				   .data = block,
				   .data_len = sizeof(block)};
}

static struct replicd_op fsync_op(void)
{
	return (struct replicd_op){.type = ROP_FSYNC, .path = "f"};
}

/* A primary's queue, writable, connected or not. */
static void start(struct replicd_repl *r, bool async, bool commit,
		  bool connected)
{
	CHECK_EQ_INT(replicd_repl_init(r, async, commit, 1000), 0);
	replicd_repl_set_writable(r, true);
	replicd_repl_set_connected(r, connected);
}

static int submit(struct replicd_repl *r, struct replicd_op op, bool force,
		  struct replicd_ticket *t)
{
	CHECK_EQ_INT(replicd_repl_begin(r), 0);
	int q = replicd_repl_submit(r, &op, force, t);
	replicd_repl_end(r);
	return q;
}

/* What the loop does: take everything queued; returns how many. */
static size_t take_all(struct replicd_repl *r, uint64_t *bytes)
{
	size_t n = 0;
	struct replicd_item *it = replicd_repl_take(r);
	*bytes = 0;
	while (it) {
		struct replicd_item *next = it->next;
		*bytes += it->len;
		free(it);
		it = next;
		n++;
	}
	return n;
}

static void test_sync_writers_share_one_cumulative_ack(void)
{
	struct replicd_repl r;
	struct replicd_ticket t[4];
	uint64_t bytes;
	start(&r, false, false, true);
	/* Four writers queue before any ack: all four are in flight. */
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(
			submit(&r, write_op((uint64_t)i << 20), false, &t[i]),
			0);
		CHECK(t[i].wait);
		CHECK_EQ_INT(t[i].seq, (uint64_t)i + 1);
	}
	CHECK_EQ_INT(take_all(&r, &bytes), 4);
	/* One ack of the last releases every one of them. */
	replicd_repl_acked(&r, 4, bytes);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(replicd_repl_wait(&r, &t[i]), 0);
	CHECK_EQ_INT(r.unacked_bytes, 0);
	CHECK_EQ_INT(r.ack_waits, 0); /* nobody had to sleep */
	replicd_repl_destroy(&r);
}

static void test_window_bounds_unacked_bytes(void)
{
	for (int commit = 0; commit < 2; commit++) {
		struct replicd_repl r;
		struct replicd_ticket t;
		uint64_t bytes, sent = 0;
		start(&r, !commit, commit, true);
		/* Writes return at once until the window is full... */
		size_t n = 0;
		do {
			CHECK_EQ_INT(submit(&r, write_op(n * sizeof(block)),
					    false, &t),
				     0);
			n++;
		} while (!t.wait && n < 10000);
		CHECK(r.unacked_bytes > REPLICD_ASYNC_WINDOW);
		CHECK(r.unacked_bytes - REPLICD_ASYNC_WINDOW <=
		      sizeof(block) + 512);
		CHECK_EQ_INT(n, REPLICD_ASYNC_WINDOW / sizeof(block));
		CHECK_EQ_INT(take_all(&r, &bytes), n);
		sent = bytes;
		/* ...and the writer beyond it goes on once acked. */
		replicd_repl_acked(&r, t.seq, sent);
		CHECK_EQ_INT(replicd_repl_wait(&r, &t), 0);
		CHECK_EQ_INT(submit(&r, write_op(0), false, &t), 0);
		CHECK(!t.wait);
		replicd_repl_destroy(&r);
	}
}

static void test_commit_fsync_waits_for_the_ack(void)
{
	struct replicd_repl r;
	struct replicd_ticket w, f;
	uint64_t bytes;
	start(&r, false, true, true);
	CHECK_EQ_INT(submit(&r, write_op(0), false, &w), 0);
	CHECK(!w.wait); /* write() returns once queued */
	CHECK_EQ_INT(replicd_repl_wait(&r, &w), 0);
	CHECK_EQ_INT(submit(&r, fsync_op(), true, &f), 0);
	CHECK(f.wait && f.commit);
	CHECK_EQ_INT(f.need, 0);
	CHECK_EQ_INT(take_all(&r, &bytes), 2);
	replicd_repl_acked(&r, f.seq, bytes);
	CHECK_EQ_INT(replicd_repl_wait(&r, &f), 0);
	replicd_repl_destroy(&r);
}

/*
 * A write that returned unacked and was lost with its session: the next
 * fsync, even acked by a new session, waits until a session is in sync
 * after it (or heartbeatd says ALONE). A waiter that cannot be released
 * any more (no longer primary) fails with EIO rather than lie: that is
 * how this test sees it would wait.
 */
static void test_commit_fsync_covers_writes_lost_with_a_session(void)
{
	struct replicd_repl r;
	struct replicd_ticket w, f;
	uint64_t bytes;
	start(&r, false, true, true);
	CHECK_EQ_INT(submit(&r, write_op(0), false, &w), 0);
	CHECK_EQ_INT(take_all(&r, &bytes), 1);
	replicd_repl_set_connected(&r, false); /* never acked */
	CHECK_EQ_INT(r.commit_need, 2);	       /* a session after gen 1 */
	replicd_repl_set_connected(&r, true);  /* session gen 1 */
	CHECK_EQ_INT(submit(&r, fsync_op(), true, &f), 0);
	CHECK_EQ_INT(f.need, 2);
	CHECK_EQ_INT(take_all(&r, &bytes), 1);
	replicd_repl_acked(&r, f.seq, bytes);
	replicd_repl_set_writable(&r, false);
	CHECK_EQ_INT(replicd_repl_wait(&r, &f), -EIO);
	/* Session 1 brings the peer in sync: that covers it. */
	replicd_repl_set_insync(&r);
	CHECK_EQ_INT(replicd_repl_wait(&r, &f), 0);
	replicd_repl_destroy(&r);
}

static void test_commit_write_without_peer_returns_fsync_waits(void)
{
	struct replicd_repl r;
	struct replicd_ticket w, f;
	start(&r, false, true, false);
	CHECK_EQ_INT(submit(&r, write_op(0), false, &w), 0);
	CHECK(!w.wait && !w.degraded); /* recorded; returns at once */
	CHECK_EQ_INT(replicd_repl_wait(&r, &w), 0);
	CHECK_EQ_INT(r.commit_need, 1);
	CHECK_EQ_INT(submit(&r, fsync_op(), true, &f), 0);
	CHECK(f.degraded);
	replicd_repl_set_writable(&r, false);
	CHECK_EQ_INT(replicd_repl_wait(&r, &f), -EIO);
	/* heartbeatd says ALONE: a newer generation covers everything. */
	replicd_repl_set_alone(&r, true);
	CHECK_EQ_INT(r.commit_need, 0);
	CHECK_EQ_INT(replicd_repl_wait(&r, &f), 0);
	replicd_repl_destroy(&r);
}

static void test_sync_mode_is_unchanged_by_commit_rules(void)
{
	struct replicd_repl r;
	struct replicd_ticket w;
	start(&r, false, false, false);
	CHECK_EQ_INT(submit(&r, write_op(0), false, &w), 0);
	CHECK(w.degraded); /* sync: the writer waits for ALONE */
	CHECK_EQ_INT(r.commit_need, 0);
	replicd_repl_set_alone(&r, true);
	CHECK_EQ_INT(replicd_repl_wait(&r, &w), 0);
	replicd_repl_destroy(&r);
}

/* --- ackbatch ------------------------------------------------------------ */

static void test_ack_at_end_of_read_batch(void)
{
	struct replicd_ackbatch b = {0};
	CHECK(!replicd_ackbatch_add(&b, 1, true, 100));
	CHECK(!replicd_ackbatch_add(&b, 2, true, 100));
	CHECK(replicd_ackbatch_add(&b, 3, false, 100)); /* nothing more */
	CHECK_EQ_INT(replicd_ackbatch_take(&b), 3);
	CHECK_EQ_INT(replicd_ackbatch_take(&b), 0);
	CHECK_EQ_INT(b.acks, 1);
	CHECK_EQ_INT(b.acked_frames, 3);
}

static void test_ack_every_n_frames_of_a_burst(void)
{
	struct replicd_ackbatch b = {0};
	int acks = 0;
	for (uint64_t seq = 1; seq <= 10 * REPLICD_ACK_FRAMES; seq++)
		if (replicd_ackbatch_add(&b, seq, true, 100)) {
			CHECK_EQ_INT(replicd_ackbatch_take(&b), seq);
			CHECK_EQ_INT(seq % REPLICD_ACK_FRAMES, 0);
			acks++;
		}
	CHECK_EQ_INT(acks, 10);
}

static void test_ack_within_a_millisecond(void)
{
	struct replicd_ackbatch b = {0};
	CHECK(!replicd_ackbatch_add(&b, 7, true, 1000));
	CHECK(!replicd_ackbatch_overdue(&b, 1000));
	CHECK(replicd_ackbatch_overdue(&b, 1000 + REPLICD_ACK_MS));
	CHECK(replicd_ackbatch_add(&b, 8, true, 1000 + REPLICD_ACK_MS));
	CHECK_EQ_INT(replicd_ackbatch_take(&b), 8);
	/* The clock starts again with the next frame. */
	CHECK(!replicd_ackbatch_add(&b, 9, true, 5000));
	replicd_ackbatch_reset(&b);
	CHECK_EQ_INT(replicd_ackbatch_take(&b), 0);
}

TEST_MAIN(TEST(test_sync_writers_share_one_cumulative_ack),
	  TEST(test_window_bounds_unacked_bytes),
	  TEST(test_commit_fsync_waits_for_the_ack),
	  TEST(test_commit_fsync_covers_writes_lost_with_a_session),
	  TEST(test_commit_write_without_peer_returns_fsync_waits),
	  TEST(test_sync_mode_is_unchanged_by_commit_rules),
	  TEST(test_ack_at_end_of_read_batch),
	  TEST(test_ack_every_n_frames_of_a_burst),
	  TEST(test_ack_within_a_millisecond))
