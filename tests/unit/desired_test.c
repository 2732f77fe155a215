/*
 * desired_test.c - heartbeatd's desired state as every actuator reads it:
 * each field's type and range (a bad one rejects the message and says
 * which), and how long its word holds (valid_ms, on a fake clock).
 */
#include "desired.h"
#include "test.h"
#include "util.h"

#include <jansson.h>

static json_t *msg(const char *text)
{
	json_error_t e;
	json_t *m = json_loads(text, JSON_ALLOW_NUL, &e);
	if (!m)
		fprintf(stderr, "  bad JSON in the test: %s\n", e.text);
	return m;
}

#define GOOD                                                                   \
	"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\",\"epoch\":7,"   \
	"\"generation\":3,\"valid_ms\":250,\"sent_ms\":123456,"                \
	"\"targets\":{\"replicd\":"                                            \
	"\"primary\",\"vipd\":\"up\",\"checkd\":null}}"

static int parse(const char *text, enum sky_actuator which,
		 struct sky_desired *d, char *why, size_t size)
{
	json_t *m = msg(text);
	why[0] = '\0';
	int r = sky_desired_parse(m, "app", "n1", which, d, why, size);
	json_decref(m);
	return r;
}

static void test_every_field_of_a_good_message_is_read(void)
{
	struct sky_desired d;
	char why[160];
	CHECK_EQ_INT(parse(GOOD, SKY_ACT_VIPD, &d, why, sizeof(why)), 0);
	CHECK_EQ_INT(d.role, SKY_ROLE_PRIM);
	CHECK_EQ_INT(d.epoch, 7);
	CHECK_EQ_INT(d.valid_ms, 250);
	CHECK_EQ_INT(d.sent_ms, 123456);
	CHECK(d.target && strcmp(d.target, "up") == 0);
	CHECK_EQ_INT(parse(GOOD, SKY_ACT_REPLICD, &d, why, sizeof(why)), 0);
	CHECK(d.target && strcmp(d.target, "primary") == 0);
	CHECK_EQ_INT(parse(GOOD, SKY_ACT_CHECKD, &d, why, sizeof(why)), 0);
	CHECK(d.target == NULL); /* not asked yet */
}

static void test_a_message_without_valid_ms_is_read_as_zero(void)
{
	struct sky_desired d;
	char why[160];
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"SECOND\",\"epoch\":1,\"targets\":{\"vipd\":"
			   "\"down\"}}",
			   SKY_ACT_VIPD, &d, why, sizeof(why)),
		     0);
	CHECK_EQ_INT(d.valid_ms, 0);
	CHECK_EQ_INT(d.sent_ms, 0);
}

static void test_each_bad_field_is_rejected_and_named(void)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{"[]", "not a JSON object"},
		{"{\"node\":\"n1\"}", "module: missing"},
		{"{\"module\":7,\"node\":\"n1\"}", "module: not a string"},
		{"{\"module\":\"other\",\"node\":\"n1\"}", "module: not for"},
		{"{\"module\":\"app\",\"node\":\"n2\"}", "node: not for"},
		{"{\"module\":\"app\",\"node\":[\"n1\"]}",
		 "node: not a string"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":4}",
		 "role: not a string"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"KING\"}",
		 "role: unknown"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\"}",
		 "epoch: missing"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":\"7\"}",
		 "epoch: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1.5}",
		 "epoch: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":-1}",
		 "epoch: negative"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"generation\":\"3\"}",
		 "generation: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"generation\":-3}",
		 "generation: negative"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":\"250\"}",
		 "valid_ms: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":0}",
		 "valid_ms: 0 out of range"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":-5}",
		 "valid_ms: negative"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":600001}",
		 "valid_ms: 600001 out of range"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":true}",
		 "valid_ms: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"sent_ms\":-1}",
		 "sent_ms: negative"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"sent_ms\":1.5}",
		 "sent_ms: not an integer"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"discard_local\":1}",
		 "discard_local: not a boolean"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"ack_alone\":\"yes\"}",
		 "ack_alone: not a boolean"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9}",
		 "targets: missing"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"targets\":[]}",
		 "targets: not an object"},
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"targets\":{\"vipd\":1}}",
		 "targets.vipd: not a string or null"},
		/* replicd's targets are not vipd's */
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"targets\":{\"vipd\":"
		 "\"primary\"}}",
		 "targets.vipd: not a target of vipd"},
		/* a NUL inside: "up\0x" is not "up" */
		{"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		 "\"epoch\":1,\"valid_ms\":9,\"targets\":{\"vipd\":"
		 "\"up\\u0000x\"}}",
		 "targets.vipd: not a target of vipd"},
		{"{\"module\":\"app\\u0000x\",\"node\":\"n1\"}",
		 "module: not for"},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		struct sky_desired d;
		char why[160];
		json_t *m = msg(cases[i].text);
		CHECK(m != NULL);
		why[0] = '\0';
		int r = sky_desired_parse(m, "app", "n1", SKY_ACT_VIPD, &d, why,
					  sizeof(why));
		if (r != -EINVAL)
			fprintf(stderr, "  case %zu accepted: %s\n", i,
				cases[i].text);
		CHECK_EQ_INT(r, -EINVAL);
		CHECK_STR_CONTAINS(why, cases[i].says);
		json_decref(m);
	}
}

/* --- the word's lease, on a fake clock ------------------------------------ */

static struct sky_desired word(enum sky_role role, const char *target,
			       int64_t valid_ms)
{
	struct sky_desired d = {
		.role = role, .target = target, .valid_ms = valid_ms};
	return d;
}

static void test_nothing_expires_before_a_word_is_heard(void)
{
	struct sky_desired_lease l = {0};
	CHECK(!sky_desired_lease_expired(&l, 0));
	CHECK(!sky_desired_lease_expired(&l, 1000000));
}

static void test_a_serving_word_expires_valid_ms_after_its_receipt(void)
{
	struct sky_desired_lease l = {0};
	struct sky_desired d = word(SKY_ROLE_PRIM, "up", 250);
	char why[160];

	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &d, 1000);
	CHECK(!sky_desired_lease_expired(&l, 1000));
	CHECK(!sky_desired_lease_expired(&l, 1249));
	CHECK(sky_desired_lease_expired(&l, 1250));
	sky_desired_lease_why(&l, 1260, why, sizeof(why));
	CHECK_STR_CONTAINS(why, "heartbeatd silent for 260 ms");
	/* Renewed in time: never expires while heartbeatd speaks. */
	for (int64_t t = 1100; t < 5000; t += 100) {
		sky_desired_lease_renew(&l, SKY_ACT_VIPD, &d, t);
		CHECK(!sky_desired_lease_expired(&l, t + 99));
	}
}

static void test_a_word_that_does_not_serve_never_expires(void)
{
	struct sky_desired_lease l = {0};
	struct sky_desired down = word(SKY_ROLE_SECOND, "down", 250);
	struct sky_desired secondary = word(SKY_ROLE_SECOND, "secondary", 250);
	struct sky_desired unasked = word(SKY_ROLE_PRIM, NULL, 250);

	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &down, 1000);
	CHECK(!sky_desired_lease_expired(&l, 100000));
	sky_desired_lease_renew(&l, SKY_ACT_REPLICD, &secondary, 1000);
	CHECK(!sky_desired_lease_expired(&l, 100000));
	sky_desired_lease_renew(&l, SKY_ACT_CHECKD, &unasked, 1000);
	CHECK(!sky_desired_lease_expired(&l, 100000));
	/* replicd serves as primary, not "up". */
	struct sky_desired primary = word(SKY_ROLE_ALONE, "primary", 250);
	sky_desired_lease_renew(&l, SKY_ACT_REPLICD, &primary, 1000);
	CHECK(sky_desired_lease_expired(&l, 1250));
}

static void test_after_a_silence_only_a_serving_role_serves_again(void)
{
	struct sky_desired_lease l = {0};
	struct sky_desired prim = word(SKY_ROLE_PRIM, "up", 250);
	/* Waking up and demoting itself, heartbeatd still asks "up" of the
	 * later steps for a while: that must not bring the VIP back. */
	struct sky_desired demoting = word(SKY_ROLE_WAIT, "up", 250);
	struct sky_desired down = word(SKY_ROLE_SECOND, "down", 250);
	char why[160];

	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 1000);
	CHECK(sky_desired_lease_expired(&l, 3000));
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &demoting, 3000);
	CHECK(sky_desired_lease_expired(&l, 3000));
	sky_desired_lease_why(&l, 3000, why, sizeof(why));
	CHECK_STR_CONTAINS(why, "was silent for 2000 ms");
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &demoting, 3100);
	CHECK(sky_desired_lease_expired(&l, 3100));
	/* Told to let go: nothing to hold any more... */
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &down, 3200);
	CHECK(!sky_desired_lease_expired(&l, 3200));
	/* ...and a later promotion serves as usual. */
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &demoting, 3300);
	CHECK(!sky_desired_lease_expired(&l, 3300));
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 3400);
	CHECK(!sky_desired_lease_expired(&l, 3600));

	/* A short silence while still primary: a fresh PRIM word resumes. */
	CHECK(sky_desired_lease_expired(&l, 3700));
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 3700);
	CHECK(!sky_desired_lease_expired(&l, 3700));
}

/* A paused VM: the PRIM word waited in the actuator's socket while both
 * it and heartbeatd were stopped; read on waking, it must not renew. */
static void test_a_word_read_after_its_deadline_serves_nothing(void)
{
	struct sky_desired_lease l = {0};
	struct sky_desired prim = word(SKY_ROLE_PRIM, "up", 250);
	struct sky_desired demoting = word(SKY_ROLE_WAIT, "up", 250);
	char why[160];

	prim.sent_ms = 1000;
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 1010);
	CHECK(!sky_desired_lease_expired(&l, 1200));
	CHECK(sky_desired_lease_expired(&l, 1250)); /* 250 ms from sending */
	/* Another one, sent at 1100 and read only at 4000. */
	prim.sent_ms = 1100;
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 4000);
	CHECK(sky_desired_lease_expired(&l, 4000));
	sky_desired_lease_why(&l, 4000, why, sizeof(why));
	CHECK_STR_CONTAINS(why, "silent");
	/* The woken heartbeatd demotes itself: still no VIP. */
	demoting.sent_ms = 4010;
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &demoting, 4011);
	CHECK(sky_desired_lease_expired(&l, 4011));
	/* A fresh PRIM word (it kept the role after all) serves again. */
	prim.sent_ms = 4100;
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 4101);
	CHECK(!sky_desired_lease_expired(&l, 4200));
	/* A time ahead of ours is not our clock: counted from receipt. */
	prim.sent_ms = 999999;
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &prim, 5000);
	CHECK(!sky_desired_lease_expired(&l, 5249));
	CHECK(sky_desired_lease_expired(&l, 5250));
}

static void test_a_word_without_valid_ms_never_serves(void)
{
	struct sky_desired_lease l = {0};
	struct sky_desired old = word(SKY_ROLE_PRIM, "up", 0);
	struct sky_desired old_down = word(SKY_ROLE_SECOND, "down", 0);
	char why[200];

	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &old, 1000);
	CHECK(sky_desired_lease_expired(&l, 1000));
	sky_desired_lease_why(&l, 1000, why, sizeof(why));
	CHECK_STR_CONTAINS(why, "carries no valid_ms");
	/* Releasing is always safe: obeyed. */
	sky_desired_lease_renew(&l, SKY_ACT_VIPD, &old_down, 1100);
	CHECK(!sky_desired_lease_expired(&l, 1100));
}

static void test_a_farms_members_are_read_and_checked(void)
{
	struct sky_desired d;
	char why[160];
	CHECK_EQ_INT(
		parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":\"UP\","
		      "\"epoch\":2,\"members\":[\"n1\",\"n3\"],"
		      "\"targets\":{\"vipd\":\"up\"}}",
		      SKY_ACT_VIPD, &d, why, sizeof(why)),
		0);
	CHECK_EQ_INT(d.role, SKY_ROLE_UP);
	CHECK(d.target && strcmp(d.target, "up") == 0);
	CHECK_EQ_INT(d.member_count, 2);
	CHECK(strcmp(d.members[1], "n3") == 0);
	CHECK_EQ_INT(parse(GOOD, SKY_ACT_VIPD, &d, why, sizeof(why)), 0);
	CHECK_EQ_INT(d.member_count, 0); /* a mirror's: none */
	static const struct {
		const char *members, *says;
	} bad[] = {
		{"\"n1\"", "members: not a list"},
		{"[\"n3\",\"n1\"]", "members[1]: not sorted or repeated"},
		{"[\"n1\",\"n1\"]", "members[1]: not sorted or repeated"},
		{"[\"n1\",7]", "members[1]: not a node name"},
		{"[\"../x\"]", "members[0]: not a node name"},
		{"[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
		 "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]",
		 "members: more than 16"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"module\":\"app\",\"node\":\"n1\",\"role\":\"UP\","
			 "\"epoch\":2,\"members\":%s,\"targets\":{}}",
			 bad[i].members);
		CHECK(parse(text, SKY_ACT_VIPD, &d, why, sizeof(why)) < 0);
		CHECK_STR_CONTAINS(why, bad[i].says);
	}
}

/* restart in place and checkers off, for checkd (docs/protocol.md) */
static void test_the_operators_word_for_checkd_is_read_and_typed(void)
{
	struct sky_desired d;
	char why[160];
	CHECK_EQ_INT(parse(GOOD, SKY_ACT_CHECKD, &d, why, sizeof(why)), 0);
	CHECK(d.app_restart == 0 && !d.checkers_off);
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"PRIM\",\"epoch\":7,\"valid_ms\":250,"
			   "\"app_restart\":99,\"checkers\":false,"
			   "\"targets\":{\"checkd\":\"up\"}}",
			   SKY_ACT_CHECKD, &d, why, sizeof(why)),
		     0);
	CHECK(d.app_restart == 99 && d.checkers_off);
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"PRIM\",\"epoch\":7,\"checkers\":true,"
			   "\"targets\":{}}",
			   SKY_ACT_CHECKD, &d, why, sizeof(why)),
		     0);
	CHECK(!d.checkers_off);
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"PRIM\",\"epoch\":7,\"checkers\":\"off\","
			   "\"targets\":{}}",
			   SKY_ACT_CHECKD, &d, why, sizeof(why)),
		     -EINVAL);
	CHECK_STR_CONTAINS(why, "checkers: not a boolean");
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"PRIM\",\"epoch\":7,\"app_restart\":-1,"
			   "\"targets\":{}}",
			   SKY_ACT_CHECKD, &d, why, sizeof(why)),
		     -EINVAL);
	CHECK_STR_CONTAINS(why, "app_restart: negative");
	CHECK_EQ_INT(parse("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			   "\"PRIM\",\"epoch\":7,\"app_restart\":\"1\","
			   "\"targets\":{}}",
			   SKY_ACT_CHECKD, &d, why, sizeof(why)),
		     -EINVAL);
	CHECK_STR_CONTAINS(why, "app_restart: not an integer");
}

TEST_MAIN(TEST(test_every_field_of_a_good_message_is_read),
	  TEST(test_the_operators_word_for_checkd_is_read_and_typed),
	  TEST(test_a_farms_members_are_read_and_checked),
	  TEST(test_a_message_without_valid_ms_is_read_as_zero),
	  TEST(test_each_bad_field_is_rejected_and_named),
	  TEST(test_nothing_expires_before_a_word_is_heard),
	  TEST(test_a_serving_word_expires_valid_ms_after_its_receipt),
	  TEST(test_a_word_that_does_not_serve_never_expires),
	  TEST(test_after_a_silence_only_a_serving_role_serves_again),
	  TEST(test_a_word_read_after_its_deadline_serves_nothing),
	  TEST(test_a_word_without_valid_ms_never_serves))
