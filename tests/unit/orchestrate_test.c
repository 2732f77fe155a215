/*
 * orchestrate_test.c - transitions step through the actuators in order,
 * and a step that fails or times out fails the promotion.
 */
#include "orchestrate.h"
#include "test.h"

static const enum sky_actuator order[] = {SKY_ACT_REPLICD, SKY_ACT_VIPD,
					  SKY_ACT_CHECKD};

static void test_promotion_asks_one_step_at_a_time_in_order(void)
{
	struct orch o;
	orch_init(&o, order, 3, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 4, 0);
	orch_step(&o, 0);
	CHECK(o.acts[0].target && strcmp(o.acts[0].target, "primary") == 0);
	CHECK(o.acts[1].target == NULL); /* VIP not before replication */
	CHECK(strcmp(o.pending, "replicd primary") == 0);
	orch_actual(&o, "replicd", "primary", 4, "", 10);
	orch_step(&o, 10);
	CHECK(strcmp(o.acts[1].target, "up") == 0);
	CHECK(o.acts[2].target == NULL);
	orch_actual(&o, "vipd", "up", 4, "", 20);
	orch_step(&o, 20);
	orch_actual(&o, "checkd", "up", 4, "", 30);
	orch_step(&o, 30);
	CHECK(orch_settled(&o));
	CHECK(o.pending[0] == '\0');
}

static void test_a_report_for_an_old_epoch_does_not_count(void)
{
	struct orch o;
	orch_init(&o, order, 1, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 4, 0);
	orch_actual(&o, "replicd", "primary", 3, "", 10);
	orch_step(&o, 10);
	CHECK(!orch_settled(&o));
}

static void test_demotion_goes_in_reverse_order(void)
{
	struct orch o;
	orch_init(&o, order, 3, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 1, 0);
	orch_actual(&o, "replicd", "primary", 1, "", 0);
	orch_actual(&o, "vipd", "up", 1, "", 0);
	orch_actual(&o, "checkd", "up", 1, "", 0);
	orch_step(&o, 0);
	CHECK(orch_settled(&o));
	orch_goal(&o, SKY_ROLE_SECOND, 2, 100);
	orch_step(&o, 100);
	CHECK(strcmp(o.acts[2].target, "down") == 0);
	CHECK(strcmp(o.acts[1].target, "up") ==
	      0); /* VIP stays until app stops */
	orch_actual(&o, "checkd", "down", 2, "", 110);
	orch_step(&o, 110);
	CHECK(strcmp(o.acts[1].target, "down") == 0);
	CHECK(strcmp(o.acts[0].target, "primary") == 0);
	orch_actual(&o, "vipd", "down", 2, "", 120);
	orch_step(&o, 120);
	CHECK(strcmp(o.acts[0].target, "secondary") == 0);
}

static void test_step_timeout_fails_the_promotion_with_a_reason(void)
{
	struct orch o;
	orch_init(&o, order, 3, 5000);
	orch_goal(&o, SKY_ROLE_ALONE, 7, 0);
	orch_actual(&o, "replicd", "primary", 7, "", 100);
	orch_step(&o, 100);
	orch_step(&o, 5000);
	CHECK(!o.failed); /* vipd's step started at 100 */
	orch_step(&o, 5101);
	CHECK(o.failed);
	CHECK_STR_CONTAINS(o.failure, "vipd did not reach 'up' within 5000 ms");
	CHECK_STR_CONTAINS(o.failure, "never heard from it");
}

static void test_reported_failure_fails_the_promotion(void)
{
	struct orch o;
	orch_init(&o, order, 3, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 2, 0);
	orch_actual(&o, "replicd", "failed", 2, "peer refused connection", 5);
	orch_step(&o, 5);
	CHECK(o.failed);
	CHECK_STR_CONTAINS(o.failure, "peer refused connection");
	CHECK_EQ_INT(orch_actual(&o, "nosuchd", "up", 2, "", 6), -EINVAL);
}

static void test_a_step_that_stops_being_reached_gets_a_fresh_timeout(void)
{
	struct orch o;
	orch_init(&o, order, 1, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 4, 0);
	orch_actual(&o, "replicd", "primary", 4, "", 10);
	orch_step(&o, 10);
	CHECK(orch_settled(&o));
	/* Long after the transition, the daemon restarts and reports the
	 * step as not reached: it has a full timeout from now. */
	orch_actual(&o, "replicd", "secondary", 4, "", 60000);
	orch_step(&o, 60000);
	CHECK(!o.failed);
	CHECK(strcmp(o.pending, "replicd primary") == 0);
	orch_step(&o, 64000);
	CHECK(!o.failed);
	orch_step(&o, 65001);
	CHECK(o.failed);
}

static void test_news_when_a_step_asks_or_the_goal_is_reached(void)
{
	struct orch o;
	orch_init(&o, order, 2, 5000);
	orch_goal(&o, SKY_ROLE_PRIM, 1, 0);
	orch_step(&o, 0);
	CHECK(o.news); /* replicd asked */
	o.news = false;
	orch_step(&o, 5);
	CHECK(!o.news); /* nothing new */
	orch_actual(&o, "replicd", "primary", 1, "", 10);
	orch_step(&o, 10);
	CHECK(o.news); /* vipd asked */
	o.news = false;
	orch_actual(&o, "vipd", "up", 1, "", 20);
	orch_step(&o, 20);
	CHECK(o.news && orch_settled(&o)); /* serving */
	o.news = false;
	orch_step(&o, 30);
	CHECK(!o.news);
}

/* Settled as PRIM at t=30 (every actuator reported primary/up). */
static void settle_prim(struct orch *o)
{
	orch_init(o, order, 3, 5000);
	o->silent_ms = 3000;
	orch_goal(o, SKY_ROLE_PRIM, 4, 0);
	orch_step(o, 0);
	orch_actual(o, "replicd", "primary", 4, "", 10);
	orch_step(o, 10);
	orch_actual(o, "vipd", "up", 4, "", 20);
	orch_step(o, 20);
	orch_actual(o, "checkd", "up", 4, "", 30);
	orch_step(o, 30);
}

static void test_an_actuator_silent_between_transitions_fails_the_primary(void)
{
	struct orch o;
	settle_prim(&o);
	CHECK(orch_settled(&o));
	/* Everyone speaks every second, but replicd went silent at t=10. */
	for (int64_t t = 1000; t <= 3000; t += 1000) {
		orch_actual(&o, "vipd", "up", 4, "", t);
		orch_actual(&o, "checkd", "up", 4, "", t);
		orch_step(&o, t);
		CHECK(!o.failed);
	}
	orch_actual(&o, "vipd", "up", 4, "", 3100);
	orch_actual(&o, "checkd", "up", 4, "", 3100);
	orch_step(&o, 3100);
	CHECK(o.failed);
	CHECK(!orch_settled(&o));
	CHECK_STR_CONTAINS(o.failure, "replicd silent for");
	CHECK_STR_CONTAINS(o.failure, "'primary' last");
}

static void test_a_restarted_actuator_is_asked_again_and_recovers_in_place(void)
{
	struct orch o;
	settle_prim(&o);
	/* replicd restarted: it reports stopped, then reaches primary. */
	orch_actual(&o, "replicd", "stopped", 4, "", 1000);
	orch_actual(&o, "vipd", "up", 4, "", 1000);
	orch_actual(&o, "checkd", "up", 4, "", 1000);
	orch_step(&o, 1000);
	CHECK(!o.failed);
	CHECK(!orch_settled(&o));
	CHECK_STR_CONTAINS(o.pending, "replicd primary");
	orch_actual(&o, "replicd", "primary", 4, "", 1500);
	orch_step(&o, 1500);
	CHECK(orch_settled(&o));
	CHECK(!o.failed);
}

static void test_silence_is_not_watched_when_disabled(void)
{
	struct orch o;
	settle_prim(&o);
	o.silent_ms = 0;
	orch_step(&o, 100000);
	CHECK(orch_settled(&o));
	CHECK(!o.failed);
}

TEST_MAIN(TEST(test_promotion_asks_one_step_at_a_time_in_order),
	  TEST(test_an_actuator_silent_between_transitions_fails_the_primary),
	  TEST(test_a_restarted_actuator_is_asked_again_and_recovers_in_place),
	  TEST(test_silence_is_not_watched_when_disabled),
	  TEST(test_a_report_for_an_old_epoch_does_not_count),
	  TEST(test_demotion_goes_in_reverse_order),
	  TEST(test_step_timeout_fails_the_promotion_with_a_reason),
	  TEST(test_reported_failure_fails_the_promotion),
	  TEST(test_a_step_that_stops_being_reached_gets_a_fresh_timeout),
	  TEST(test_news_when_a_step_asks_or_the_goal_is_reached))
