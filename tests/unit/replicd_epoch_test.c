/*
 * replicd_epoch_test.c - the secondary's fence by epoch (replicd/epoch.h):
 * a primary of an older epoch than this node knows is refused, at the
 * start of its session or once this node learns a newer one; one that
 * offered the epoch must say it before anything else; an older replicd
 * (no capability) goes unfenced, as before.
 */
#include "epoch.h"
#include "op.h"
#include "test.h"

static void test_primary_of_the_current_or_a_newer_epoch_is_accepted(void)
{
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, true);
	CHECK_EQ_INT(replicd_epoch_check(&g, 7, ROP_EPOCH, 7), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 7, ROP_SYNC, 0), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 7, ROP_WRITE, 0), 0);
	/* Promoted since: it says so, and we learn it after. */
	CHECK_EQ_INT(replicd_epoch_check(&g, 7, ROP_EPOCH, 9), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 9, ROP_WRITE, 0), 0);
	CHECK(!replicd_epoch_stale(&g, 9));
	/* A node that heard no epoch yet (0) takes any. */
	replicd_epoch_gate_start(&g, true);
	CHECK_EQ_INT(replicd_epoch_check(&g, 0, ROP_EPOCH, 3), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 0, ROP_CREATE, 0), 0);
}

static void test_primary_of_an_older_epoch_is_refused_at_once(void)
{
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, true);
	CHECK_EQ_INT(replicd_epoch_check(&g, 8, ROP_EPOCH, 7), -ESTALE);
	CHECK_EQ_INT(g.epoch, 7); /* for the log line: both epochs */
	/* And anything it sends after, if the caller went on. */
	CHECK_EQ_INT(replicd_epoch_check(&g, 8, ROP_WRITE, 0), -ESTALE);
	CHECK_EQ_INT(replicd_epoch_check(&g, 8, ROP_PING, 0), -ESTALE);
}

static void test_session_becomes_stale_when_this_node_learns_a_newer_epoch(void)
{
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, true);
	CHECK_EQ_INT(replicd_epoch_check(&g, 5, ROP_EPOCH, 5), 0);
	CHECK(!replicd_epoch_stale(&g, 5));
	CHECK(replicd_epoch_stale(&g, 6));
	CHECK_EQ_INT(replicd_epoch_check(&g, 6, ROP_WRITE, 0), -ESTALE);
}

static void test_operations_before_the_epoch_are_refused(void)
{
	static const uint8_t types[] = {ROP_WRITE,	ROP_CREATE, ROP_SYNC,
					ROP_GENERATION, ROP_FLUSH,  ROP_PING,
					ROP_WRITE_Z};
	for (size_t i = 0; i < sizeof(types); i++) {
		struct replicd_epoch_gate g;
		replicd_epoch_gate_start(&g, true);
		CHECK_EQ_INT(replicd_epoch_check(&g, 0, types[i], 0), -EPERM);
		CHECK(!g.have);
		CHECK(!replicd_epoch_stale(&g, 100));
	}
}

static void test_epoch_that_goes_back_is_a_protocol_error(void)
{
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, true);
	CHECK_EQ_INT(replicd_epoch_check(&g, 2, ROP_EPOCH, 9), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 2, ROP_EPOCH, 8), -EPROTO);
	CHECK_EQ_INT(g.epoch, 9);
	CHECK_EQ_INT(replicd_epoch_check(&g, 2, ROP_EPOCH, 9), 0);
}

static void test_older_replicd_without_the_capability_goes_unfenced(void)
{
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, false);
	CHECK_EQ_INT(replicd_epoch_check(&g, 50, ROP_WRITE, 0), 0);
	CHECK_EQ_INT(replicd_epoch_check(&g, 50, ROP_SYNC, 0), 0);
	CHECK(!replicd_epoch_stale(&g, 50));
	/* It never offered the epoch: an epoch op is not its protocol. */
	CHECK_EQ_INT(replicd_epoch_check(&g, 50, ROP_EPOCH, 60), -EPROTO);
}

TEST_MAIN(TEST(test_primary_of_the_current_or_a_newer_epoch_is_accepted),
	  TEST(test_primary_of_an_older_epoch_is_refused_at_once),
	  TEST(test_session_becomes_stale_when_this_node_learns_a_newer_epoch),
	  TEST(test_operations_before_the_epoch_are_refused),
	  TEST(test_epoch_that_goes_back_is_a_protocol_error),
	  TEST(test_older_replicd_without_the_capability_goes_unfenced))
