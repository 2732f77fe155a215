/*
 * witness_test.c - the witness's lease policy and a node's lease client.
 */
#include "lease.h"
#include "test.h"
#include "witness.h"

static struct pkt_lease_request request(uint64_t gen, uint8_t flags)
{
	return (struct pkt_lease_request){
		.request_id = 1, .generation = gen, .flags = flags};
}

static void test_nothing_is_granted_during_the_quiet_period_after_start(void)
{
	struct witness w;
	struct pkt_lease_reply r;
	struct pkt_lease_request q = request(0, 0);
	witness_init(&w, 1000, 5000, 0, "");
	witness_decide(&w, 5500, "node1", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_HELD_BY_OTHER);
	witness_decide(&w, 6001, "node1", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
}

static void test_lease_is_exclusive_until_it_expires_or_is_released(void)
{
	struct witness w;
	struct pkt_lease_reply r;
	struct pkt_lease_request q = request(3, 0);
	witness_init(&w, 1000, 0, 3, "node1");
	witness_decide(&w, 2000, "node1", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
	witness_decide(&w, 2500, "node2", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_HELD_BY_OTHER);
	CHECK(strcmp(r.holder, "node1") == 0);
	CHECK_EQ_INT(r.lease_ms, 500);
	witness_decide(&w, 3001, "node2", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
	struct pkt_lease_request rel = request(3, LEASE_FLAG_RELEASE);
	witness_decide(&w, 3100, "node2", &rel, &r);
	CHECK_EQ_INT(r.answer, LEASE_RELEASED);
	witness_decide(&w, 3101, "node1", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
}

static void test_new_generation_makes_the_other_node_outdated(void)
{
	struct witness w;
	struct pkt_lease_reply r;
	witness_init(&w, 1000, 0, 5, "node1");
	struct pkt_lease_request q = request(5, LEASE_FLAG_NEW_GENERATION);
	witness_decide(&w, 2000, "node2", &q, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
	CHECK_EQ_INT(r.generation, 6);
	CHECK(w.dirty); /* must be persisted before the reply leaves */
	struct pkt_lease_request old = request(5, LEASE_FLAG_NEW_GENERATION);
	witness_decide(&w, 5000, "node1", &old, &r);
	CHECK_EQ_INT(r.answer, LEASE_OUTDATED);
	CHECK(strcmp(r.holder, "node2") == 0);
	/* The holder of the newest generation may come back with it even if
	 * it crashed before saving the number. */
	witness_decide(&w, 5000, "node2", &old, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
	CHECK_EQ_INT(r.generation, 7);
}

static void test_force_overrides_the_generation_but_not_a_live_lease(void)
{
	struct witness w;
	struct pkt_lease_reply r;
	witness_init(&w, 1000, 0, 9, "node2");
	struct pkt_lease_request f =
		request(2, LEASE_FLAG_FORCE | LEASE_FLAG_NEW_GENERATION);
	struct pkt_lease_request q = request(9, 0);
	witness_decide(&w, 2000, "node2", &q, &r);
	witness_decide(&w, 2100, "node1", &f, &r);
	CHECK_EQ_INT(r.answer, LEASE_HELD_BY_OTHER);
	witness_decide(&w, 3500, "node1", &f, &r);
	CHECK_EQ_INT(r.answer, LEASE_GRANTED);
	CHECK_EQ_INT(r.generation, 10);
}

static void test_client_ignores_replies_to_requests_it_never_sent(void)
{
	struct lease_client lc;
	struct sm sm = {0};
	struct sm_witness wv = {0};
	struct pkt_lease_request req;
	lease_client_init(&lc, 200);
	sm.want_lease = true;
	CHECK(lease_client_poll(&lc, 1000, &sm, &req));
	struct pkt_lease_reply forged = {.request_id = req.request_id ^ 1,
					 .answer = LEASE_GRANTED,
					 .lease_ms = 60000};
	CHECK_EQ_INT(lease_client_on_reply(&lc, 1001, &forged, &wv), -ENOENT);
	CHECK(!lease_client_valid(&lc, 1002));
	struct pkt_lease_reply real = {.request_id = req.request_id,
				       .answer = LEASE_GRANTED,
				       .lease_ms = 1000};
	CHECK_EQ_INT(lease_client_on_reply(&lc, 1050, &real, &wv), 0);
	/* Valid from the send time, less a 10% margin. */
	CHECK(lease_client_valid(&lc, 1899));
	CHECK(!lease_client_valid(&lc, 1900));
	/* A replay of the same reply is not accepted twice. */
	CHECK_EQ_INT(lease_client_on_reply(&lc, 1060, &real, &wv), -ENOENT);
}

static void test_client_releases_once_when_it_no_longer_wants_the_lease(void)
{
	struct lease_client lc;
	struct sm sm = {0};
	struct pkt_lease_request req;
	lease_client_init(&lc, 200);
	sm.want_lease = true;
	CHECK(lease_client_poll(&lc, 1000, &sm, &req));
	CHECK(!lease_client_poll(&lc, 1100, &sm, &req)); /* not yet due */
	CHECK(lease_client_poll(&lc, 1200, &sm, &req));
	sm.want_lease = false;
	CHECK(lease_client_poll(&lc, 1250, &sm, &req));
	CHECK(req.flags & LEASE_FLAG_RELEASE);
	CHECK(!lease_client_poll(&lc, 1500, &sm, &req));
}

static void test_client_retries_when_the_other_lease_ends(void)
{
	struct lease_client lc;
	struct sm sm = {0};
	struct sm_witness wv = {0};
	struct pkt_lease_request req;
	lease_client_init(&lc, 200);
	sm.want_lease = true;
	CHECK(lease_client_poll(&lc, 1000, &sm, &req));
	struct pkt_lease_reply held = {.request_id = req.request_id,
				       .answer = LEASE_HELD_BY_OTHER,
				       .lease_ms = 30};
	CHECK_EQ_INT(lease_client_on_reply(&lc, 1002, &held, &wv), 0);
	CHECK(!lease_client_poll(&lc, 1032, &sm, &req));
	CHECK(lease_client_poll(&lc, 1033, &sm, &req)); /* not at 1200 */
}

TEST_MAIN(TEST(test_client_retries_when_the_other_lease_ends),
	  TEST(test_nothing_is_granted_during_the_quiet_period_after_start),
	  TEST(test_lease_is_exclusive_until_it_expires_or_is_released),
	  TEST(test_new_generation_makes_the_other_node_outdated),
	  TEST(test_force_overrides_the_generation_but_not_a_live_lease),
	  TEST(test_client_ignores_replies_to_requests_it_never_sent),
	  TEST(test_client_releases_once_when_it_no_longer_wants_the_lease))
