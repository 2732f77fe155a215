/*
 * witnesses_test.c - several witnesses, a majority needed: the aggregate
 * the state machine sees, and the safety of it against the real witness
 * policy (witness_decide) under random reachability.
 */
#include "state.h"
#include "test.h"
#include "witness.h"
#include "witnesses.h"

#include <stdlib.h>
#include <string.h>

#define LEASE_MS  1000
#define RESEND_MS 100

struct sim {
	int64_t now;
	struct witness w[SKY_MAX_WITNESS_HOSTS];
	size_t witnesses;
};

static void sim_init(struct sim *s, size_t witnesses)
{
	memset(s, 0, sizeof(*s));
	s->now = 100000;
	s->witnesses = witnesses;
	for (size_t i = 0; i < witnesses; i++) {
		witness_init(&s->w[i], LEASE_MS, s->now, 0, "");
		s->w[i].quiet_until_ms = 0; /* no restart quiet period */
	}
}

/* One node's turn: each due request goes to the reachable witnesses. */
static void node_turn(struct sim *s, struct witness_set *set, struct sm *sm,
		      const char *name, const bool reachable[])
{
	struct pkt_lease_request req;
	struct pkt_lease_reply reply;

	for (size_t h = 0; h < set->count; h++) {
		if (!lease_client_poll(&set->lease[h], s->now, sm, &req))
			continue;
		if (!reachable[h])
			continue;
		witness_decide(&s->w[h], s->now, name, &req, &reply);
		size_t host = 99;
		CHECK_EQ_INT(witness_set_on_reply(set, s->now, &reply, &host),
			     0);
		CHECK_EQ_INT((int)host, (int)h);
	}
}

static void want(struct sm *sm, uint64_t generation)
{
	memset(sm, 0, sizeof(*sm));
	sm->want_lease = true;
	sm->generation = generation;
}

static void test_two_of_three_grant_and_one_is_not_enough(void)
{
	struct sim s;
	struct witness_set set;
	struct sm sm;
	struct sm_witness v;
	bool two[] = {true, true, false}, one[] = {true, false, false};

	sim_init(&s, 3);
	witness_set_init(&set, 3, RESEND_MS);
	want(&sm, 5);
	node_turn(&s, &set, &sm, "node1", one);
	witness_set_view(&set, s.now, &v);
	CHECK(!v.lease_valid);
	CHECK(!v.answered); /* a minority granted, the rest silent */
	CHECK_EQ_INT(witness_set_majority(&set), 2);

	s.now += RESEND_MS;
	node_turn(&s, &set, &sm, "node1", two);
	witness_set_view(&set, s.now, &v);
	CHECK(v.lease_valid);
	CHECK(v.answered && v.last_answer == LEASE_GRANTED);
	CHECK(strcmp(v.holder, "node1") == 0);
	CHECK(witness_set_valid_until(&set, s.now) > s.now);
	/* It ends when the second-latest lease does, with a margin. */
	CHECK(witness_set_valid_until(&set, s.now) <= s.now + LEASE_MS);
}

static void test_a_witness_that_knows_newer_data_refuses_for_all(void)
{
	struct sim s;
	struct witness_set set;
	struct sm sm;
	struct sm_witness v;
	bool all[] = {true, true, true};

	sim_init(&s, 3);
	/* node2 took generation 9 through witnesses 0 and 1 before. */
	s.w[0].newest_generation = 9;
	sky_strlcpy(s.w[0].newest_node, "node2", sizeof(s.w[0].newest_node));
	s.w[1].newest_generation = 9;
	sky_strlcpy(s.w[1].newest_node, "node2", sizeof(s.w[1].newest_node));
	witness_set_init(&set, 3, RESEND_MS);
	want(&sm, 7);
	node_turn(&s, &set, &sm, "node1", all);
	witness_set_view(&set, s.now, &v);
	CHECK(!v.lease_valid);
	CHECK(v.answered && v.last_answer == LEASE_OUTDATED);
	CHECK(strcmp(v.holder, "node2") == 0);
	CHECK(v.newest_generation == 9);
}

static void test_a_new_generation_needs_a_majority_and_takes_the_highest(void)
{
	struct sim s;
	struct witness_set set;
	struct sm sm;
	struct sm_witness v, before;
	bool first[] = {true, false, false}, second[] = {false, false, true};

	sim_init(&s, 3);
	s.w[2].newest_generation = 12; /* knew more: it numbers from there */
	sky_strlcpy(s.w[2].newest_node, "node1", sizeof(s.w[2].newest_node));
	witness_set_init(&set, 3, RESEND_MS);
	want(&sm, 10);
	sm.want_new_generation = true;
	node_turn(&s, &set, &sm, "node1", first);
	witness_set_view(&set, s.now, &v);
	CHECK(!v.generation_granted);
	/* The state machine sees no majority yet and clears nothing: the
	 * first witness's grant is kept for the next turn. */
	before = v;
	witness_set_feedback(&set, &before, &v);
	s.now += RESEND_MS;
	node_turn(&s, &set, &sm, "node1", second);
	witness_set_view(&set, s.now, &v);
	CHECK(v.lease_valid);
	CHECK(v.generation_granted);
	CHECK(v.granted_generation == 13);
	/* Taken by the state machine: cleared on every witness. */
	before = v;
	v.generation_granted = false;
	v.grants_cleared++;
	witness_set_feedback(&set, &before, &v);
	witness_set_view(&set, s.now, &v);
	CHECK(!v.generation_granted);
}

static void test_a_new_round_forgets_every_witness_answer(void)
{
	struct sim s;
	struct witness_set set;
	struct sm sm;
	struct sm_witness v, before;
	bool all[] = {true, true, true};

	sim_init(&s, 3);
	witness_set_init(&set, 3, RESEND_MS);
	want(&sm, 1);
	node_turn(&s, &set, &sm, "node1", all);
	witness_set_view(&set, s.now, &v);
	CHECK(v.answered);
	before = v;
	v.answered = false;
	v.answers_cleared++;
	witness_set_feedback(&set, &before, &v);
	witness_set_view(&set, s.now, &v);
	CHECK(!v.answered);
	CHECK(v.lease_valid); /* the leases themselves still hold */
}

static void test_one_witness_is_passed_through_unchanged(void)
{
	struct sim s;
	struct witness_set set;
	struct sm sm;
	struct sm_witness v;
	bool all[] = {true};

	sim_init(&s, 1);
	witness_set_init(&set, 1, RESEND_MS);
	want(&sm, 3);
	node_turn(&s, &set, &sm, "node1", all);
	witness_set_view(&set, s.now, &v);
	CHECK(v.lease_valid && v.answered && v.last_answer == LEASE_GRANTED);
	CHECK_EQ_INT(witness_set_majority(&set), 1);
	CHECK(memcmp(&v.holder, &set.view[0].holder, sizeof(v.holder)) == 0);
}

static void test_a_reply_to_no_request_is_counted_and_changes_nothing(void)
{
	struct witness_set set;
	struct pkt_lease_reply reply = {.request_id = 42,
					.answer = LEASE_GRANTED,
					.lease_ms = LEASE_MS};
	struct sm_witness v;
	size_t host;

	witness_set_init(&set, 3, RESEND_MS);
	CHECK_EQ_INT(witness_set_on_reply(&set, 1000, &reply, &host), -ENOENT);
	CHECK(witness_set_unknown_replies(&set) == 1);
	witness_set_view(&set, 1000, &v);
	CHECK(!v.lease_valid && !v.answered);
}

/*
 * Two nodes both wanting the lease, 3 or 5 witnesses, each pair's link up
 * or down at random, time going on in uneven steps: never both hold a
 * majority at once.
 */
static void test_two_nodes_never_both_hold_a_majority(void)
{
	for (size_t count = 3; count <= 5; count += 2) {
		struct sim s;
		struct witness_set a, b;
		struct sm sa, sb;
		bool reach_a[SKY_MAX_WITNESS_HOSTS],
			reach_b[SKY_MAX_WITNESS_HOSTS];
		unsigned seed = 7;
		int both = 0, a_held = 0, b_held = 0;

		sim_init(&s, count);
		witness_set_init(&a, count, RESEND_MS);
		witness_set_init(&b, count, RESEND_MS);
		want(&sa, 1);
		want(&sb, 1);
		for (int step = 0; step < 20000; step++) {
			if (step % 37 == 0)
				for (size_t h = 0; h < count; h++) {
					reach_a[h] = rand_r(&seed) % 3 != 0;
					reach_b[h] = rand_r(&seed) % 3 != 0;
				}
			s.now += 1 + rand_r(&seed) % 60;
			if (rand_r(&seed) % 2) {
				node_turn(&s, &a, &sa, "node1", reach_a);
				node_turn(&s, &b, &sb, "node2", reach_b);
			} else {
				node_turn(&s, &b, &sb, "node2", reach_b);
				node_turn(&s, &a, &sa, "node1", reach_a);
			}
			bool va = witness_set_valid(&a, s.now);
			bool vb = witness_set_valid(&b, s.now);
			both += va && vb;
			a_held += va;
			b_held += vb;
		}
		CHECK_EQ_INT(both, 0);
		/* And the campaign means something: each held it at times. */
		CHECK(a_held > 100 && b_held > 100);
	}
}

TEST_MAIN(TEST(test_two_of_three_grant_and_one_is_not_enough),
	  TEST(test_a_witness_that_knows_newer_data_refuses_for_all),
	  TEST(test_a_new_generation_needs_a_majority_and_takes_the_highest),
	  TEST(test_a_new_round_forgets_every_witness_answer),
	  TEST(test_one_witness_is_passed_through_unchanged),
	  TEST(test_a_reply_to_no_request_is_counted_and_changes_nothing),
	  TEST(test_two_nodes_never_both_hold_a_majority))
