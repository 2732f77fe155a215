/*
 * skyctl_goal_test.c - what skyctl wait accepts and when it stops, and the
 * role skyctl state reads, from hostile status objects too.
 */
#include "bus.h"
#include "goal.h"
#include "render.h"
#include "test.h"

#include <string.h>

static json_t *status_of(const char *role, const char *sync)
{
	json_t *s = json_pack("{s:{s:s}}", "node", "role", role);
	if (sync)
		json_object_set_new(
			s, "actuators",
			json_pack("{s:{s:s}}", "replicd", "sync", sync));
	return s;
}

static void test_one_role_any_case(void)
{
	struct skyctl_goal g;
	char err[256];
	_cleanup_json_ json_t *prim = status_of("PRIM", NULL);
	_cleanup_json_ json_t *second = status_of("SECOND", NULL);

	CHECK_EQ_INT(skyctl_goal_parse("prim", &g, err, sizeof(err)), 0);
	CHECK(skyctl_goal_reached(prim, &g));
	CHECK(!skyctl_goal_reached(second, &g));
}

static void test_several_states_any_of_them(void)
{
	struct skyctl_goal g;
	char err[256], text[256];
	_cleanup_json_ json_t *alone = status_of("ALONE", NULL);
	_cleanup_json_ json_t *wait = status_of("WAIT", NULL);
	_cleanup_json_ json_t *second_insync = status_of("SECOND", "insync");
	_cleanup_json_ json_t *second_resync = status_of("SECOND", "resyncing");

	CHECK_EQ_INT(
		skyctl_goal_parse("PRIM,ALONE,in-sync", &g, err, sizeof(err)),
		0);
	CHECK(skyctl_goal_reached(alone, &g));
	CHECK(!skyctl_goal_reached(wait, &g));
	CHECK(skyctl_goal_reached(second_insync, &g));
	CHECK(!skyctl_goal_reached(second_resync, &g));
	skyctl_goal_describe(&g, text, sizeof(text));
	CHECK(strcmp(text, "ALONE or PRIM or insync") == 0);
}

static void test_serving_is_prim_alone_or_up(void)
{
	struct skyctl_goal g;
	char err[256];
	const char *yes[] = {"PRIM", "ALONE", "UP"};
	const char *no[] = {"STOP", "WAIT", "SECOND"};

	CHECK_EQ_INT(skyctl_goal_parse("serving", &g, err, sizeof(err)), 0);
	for (size_t i = 0; i < 3; i++) {
		_cleanup_json_ json_t *y = status_of(yes[i], NULL);
		_cleanup_json_ json_t *n = status_of(no[i], NULL);
		CHECK(skyctl_goal_reached(y, &g));
		CHECK(!skyctl_goal_reached(n, &g));
	}
}

static void test_words_that_are_not_states_are_refused(void)
{
	struct skyctl_goal g;
	char err[256], longer[400];

	CHECK_EQ_INT(skyctl_goal_parse("PRIM,sideways", &g, err, sizeof(err)),
		     -EINVAL);
	CHECK_STR_CONTAINS(err, "'sideways' is not a state");
	CHECK_EQ_INT(skyctl_goal_parse("", &g, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(skyctl_goal_parse(",,,", &g, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "no state given");
	CHECK_EQ_INT(skyctl_goal_parse("UNKNOWN", &g, err, sizeof(err)),
		     -EINVAL);
	memset(longer, 'P', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	CHECK_EQ_INT(skyctl_goal_parse(longer, &g, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "too long");
}

static void test_hostile_status_never_matches(void)
{
	struct skyctl_goal g;
	char err[256];
	_cleanup_json_ json_t *number =
		json_pack("{s:{s:i}}", "node", "role", 4);
	_cleanup_json_ json_t *unknown = status_of("UNKNOWN", "1nsync");
	_cleanup_json_ json_t *array = json_array();
	_cleanup_json_ json_t *sync_number =
		json_pack("{s:{s:{s:i}}}", "actuators", "replicd", "sync", 0);

	CHECK_EQ_INT(skyctl_goal_parse("STOP,WAIT,SECOND,ALONE,PRIM,UP,insync",
				       &g, err, sizeof(err)),
		     0);
	CHECK(!skyctl_goal_reached(number, &g));
	CHECK(!skyctl_goal_reached(unknown, &g));
	CHECK(!skyctl_goal_reached(array, &g));
	CHECK(!skyctl_goal_reached(NULL, &g));
	CHECK(!skyctl_goal_reached(sync_number, &g));
	CHECK_EQ_INT(skyctl_status_role(number), -1);
	CHECK_EQ_INT(skyctl_status_role(unknown), -1);
	CHECK_EQ_INT(skyctl_status_role(NULL), -1);
}

static void test_state_role_numbers_are_the_documented_exit_codes(void)
{
	const char *roles[] = {"STOP", "WAIT", "SECOND", "ALONE", "PRIM", "UP"};

	for (int i = 0; i < 6; i++) {
		_cleanup_json_ json_t *s = status_of(roles[i], NULL);
		/* skyctl --help: 10 STOP ... 15 UP */
		CHECK_EQ_INT(SKYCTL_STATE_EXIT_BASE + skyctl_status_role(s),
			     10 + i);
	}
}

TEST_MAIN(TEST(test_one_role_any_case), TEST(test_several_states_any_of_them),
	  TEST(test_serving_is_prim_alone_or_up),
	  TEST(test_words_that_are_not_states_are_refused),
	  TEST(test_hostile_status_never_matches),
	  TEST(test_state_role_numbers_are_the_documented_exit_codes))
