/*
 * checkd_policy_test.c - checkd's pure decisions: checker damping, the
 * restart window, escalation, and the application's lifecycle.
 */
#include "app.h"
#include "policy.h"
#include "test.h"

/* --- damping ---------------------------------------------------------- */

static void test_checker_fails_only_after_k_consecutive_failures(void)
{
	struct checkd_damper d;
	checkd_damper_init(&d, 3, 2);
	CHECK(!checkd_damper_feed(&d, false));
	CHECK(!checkd_damper_feed(&d, false));
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_UNKNOWN);
	CHECK(checkd_damper_feed(&d, false));
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_FAILED);
	CHECK_EQ_INT(d.consecutive, 3);
	/* Staying failed is not a new change. */
	CHECK(!checkd_damper_feed(&d, false));
}

static void test_checker_flapping_below_threshold_never_fails(void)
{
	struct checkd_damper d;
	checkd_damper_init(&d, 3, 1);
	for (int round = 0; round < 50; round++) {
		checkd_damper_feed(&d, false);
		checkd_damper_feed(&d, false);
		checkd_damper_feed(&d, true);
		CHECK(d.state != CHECKD_HEALTH_FAILED);
	}
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_OK);
}

static void test_failed_checker_needs_k_successes_to_be_ok(void)
{
	struct checkd_damper d;
	checkd_damper_init(&d, 1, 3);
	CHECK(checkd_damper_feed(&d, false));
	CHECK(!checkd_damper_feed(&d, true));
	CHECK(!checkd_damper_feed(&d, true));
	CHECK(!checkd_damper_feed(&d, false)); /* the run of oks is broken */
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_FAILED);
	checkd_damper_feed(&d, true);
	checkd_damper_feed(&d, true);
	CHECK(checkd_damper_feed(&d, true));
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_OK);
}

static void test_damper_reset_forgets_history(void)
{
	struct checkd_damper d;
	checkd_damper_init(&d, 2, 2);
	checkd_damper_feed(&d, false);
	checkd_damper_reset(&d);
	CHECK_EQ_INT(d.state, CHECKD_HEALTH_UNKNOWN);
	CHECK(!checkd_damper_feed(&d, false));
	CHECK_EQ_INT(d.fail_after, 2);
}

/* --- restart window ---------------------------------------------------- */

static void test_restarts_slide_out_of_the_window(void)
{
	struct checkd_restarts r;
	checkd_restarts_init(&r, 3, 10000);
	checkd_restarts_record(&r, 1000);
	checkd_restarts_record(&r, 5000);
	checkd_restarts_record(&r, 9000);
	CHECK_EQ_INT(checkd_restarts_in_window(&r, 9000), 3);
	CHECK_EQ_INT(checkd_restarts_in_window(&r, 10999), 3);
	CHECK_EQ_INT(checkd_restarts_in_window(&r, 11000), 2); /* 1000 left */
	CHECK_EQ_INT(checkd_restarts_in_window(&r, 19000), 0);
}

static void test_restart_history_is_bounded(void)
{
	struct checkd_restarts r;
	checkd_restarts_init(&r, 100, 1000000);
	for (int i = 0; i < 1000; i++)
		checkd_restarts_record(&r, i);
	CHECK_EQ_INT(checkd_restarts_in_window(&r, 1000),
		     CHECKD_RESTART_HISTORY);
	CHECK_EQ_INT(r.at[r.count - 1], 999);
}

/* --- escalation --------------------------------------------------------- */

static void test_restart_until_max_then_escalate(void)
{
	struct checkd_cfg c = {.restart_max = 2,
			       .escalation = CHECKD_ACTION_FAILOVER,
			       .failover_refused = CHECKD_ACTION_RESTART};
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_RESTART, 0),
		     CHECKD_DO_RESTART);
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_RESTART, 1),
		     CHECKD_DO_RESTART);
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_RESTART, 2),
		     CHECKD_DO_FAILOVER);
	c.escalation = CHECKD_ACTION_STOP;
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_RESTART, 5),
		     CHECKD_DO_STOP);
	c.restart_max = 0; /* never restart: escalate at once */
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_RESTART, 0),
		     CHECKD_DO_STOP);
}

static void test_failover_and_stop_actions_skip_restarts(void)
{
	struct checkd_cfg c = {.restart_max = 5,
			       .escalation = CHECKD_ACTION_STOP};
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_FAILOVER, 0),
		     CHECKD_DO_FAILOVER);
	CHECK_EQ_INT(checkd_decide(&c, CHECKD_ACTION_STOP, 0), CHECKD_DO_STOP);
}

static void test_refused_failover_falls_back_as_configured(void)
{
	struct checkd_cfg c = {.failover_refused = CHECKD_ACTION_RESTART};
	CHECK_EQ_INT(checkd_decide_refused(&c), CHECKD_DO_RESTART);
	c.failover_refused = CHECKD_ACTION_STOP;
	CHECK_EQ_INT(checkd_decide_refused(&c), CHECKD_DO_STOP);
}

/* --- application lifecycle --------------------------------------------- */

static void test_app_waits_for_heartbeatd(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	checkd_app_desired(&a, NULL, true, 3); /* target null: not asked */
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
}

static void test_app_cleans_up_once_then_starts_when_up(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "down", true, 1);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "stopping") == 0);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
	checkd_app_desired(&a, "up", true, 2);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "starting") == 0);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE); /* one at a time */
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
	checkd_app_desired(&a, "down", true, 3);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
}

static void test_failed_start_cleans_up_and_reports_failed_for_epoch(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 7);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	checkd_app_done(&a, false, "timed out after 1000 ms");
	/* Never half-started: stop_prim first. */
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "failed") == 0);
	CHECK_STR_CONTAINS(a.reason, "start_prim timed out after 1000 ms");
	/* Not retried for the same epoch... */
	checkd_app_desired(&a, "up", true, 7);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	/* ...but for the next promotion. */
	checkd_app_desired(&a, "down", true, 8);
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
	checkd_app_desired(&a, "up", true, 9);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
}

static void test_restart_is_reported_up(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 1);
	checkd_app_next(&a);
	checkd_app_done(&a, true, "");
	checkd_app_restart(&a);
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	CHECK(strcmp(checkd_app_describe(&a), "restarting") == 0);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_describe(&a), "running") == 0);
}

static void test_failed_restart_holds_app_for_a_decision(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 1);
	checkd_app_next(&a);
	checkd_app_done(&a, true, "");
	checkd_app_restart(&a);
	checkd_app_next(&a);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	checkd_app_done(&a, false, "exited with status 1");
	CHECK(a.restart_failed);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM); /* clean */
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE); /* held */
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
	checkd_app_hold(&a, false); /* decided: restart again */
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
}

static void test_stop_escalation_stops_and_reports_failed(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 4);
	checkd_app_next(&a);
	checkd_app_done(&a, true, "");
	checkd_app_fail(&a, "checker web failed");
	CHECK(strcmp(checkd_app_report(&a), "failed") == 0);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	CHECK(strcmp(checkd_app_report(&a), "failed") == 0);
}

static void test_start_both_runs_before_start_prim_and_stop_both_on_stop(void)
{
	struct checkd_app a;
	checkd_app_init(&a, true);
	checkd_app_desired(&a, "up", true, 1);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_BOTH);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	checkd_app_done(&a, true, "");
	checkd_app_desired(&a, "down", false, 2); /* STOP */
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_BOTH);
	checkd_app_done(&a, true, "");
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
}

static void test_restarted_checkd_resumes_an_up_term(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 5);
	checkd_app_resume_term(&a); /* heartbeatd already had us up */
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
}

static void
test_silenced_app_stops_and_starts_again_when_heartbeatd_speaks(void)
{
	struct checkd_app a;
	checkd_app_init(&a, false);
	checkd_app_desired(&a, "up", true, 4);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
	/* heartbeatd's word expired: stopped, reported down, not restarted. */
	checkd_app_silence(&a, true);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_STOP_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "stopping") == 0);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_NONE);
	checkd_app_resume_term(&a); /* a stale status says "up": not now */
	CHECK(strcmp(checkd_app_report(&a), "down") == 0);
	/* A fresh word: a start, reported starting until it is up. */
	checkd_app_silence(&a, false);
	CHECK_EQ_INT(checkd_app_next(&a), CHECKD_JOB_START_PRIM);
	CHECK(strcmp(checkd_app_report(&a), "starting") == 0);
	checkd_app_done(&a, true, "");
	CHECK(strcmp(checkd_app_report(&a), "up") == 0);
}

TEST_MAIN(TEST(test_checker_fails_only_after_k_consecutive_failures),
	  TEST(test_checker_flapping_below_threshold_never_fails),
	  TEST(test_failed_checker_needs_k_successes_to_be_ok),
	  TEST(test_damper_reset_forgets_history),
	  TEST(test_restarts_slide_out_of_the_window),
	  TEST(test_restart_history_is_bounded),
	  TEST(test_restart_until_max_then_escalate),
	  TEST(test_failover_and_stop_actions_skip_restarts),
	  TEST(test_refused_failover_falls_back_as_configured),
	  TEST(test_app_waits_for_heartbeatd),
	  TEST(test_app_cleans_up_once_then_starts_when_up),
	  TEST(test_failed_start_cleans_up_and_reports_failed_for_epoch),
	  TEST(test_restart_is_reported_up),
	  TEST(test_failed_restart_holds_app_for_a_decision),
	  TEST(test_stop_escalation_stops_and_reports_failed),
	  TEST(test_start_both_runs_before_start_prim_and_stop_both_on_stop),
	  TEST(test_restarted_checkd_resumes_an_up_term),
	  TEST(test_silenced_app_stops_and_starts_again_when_heartbeatd_speaks))
