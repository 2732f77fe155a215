/*
 * control_test.c - the control request validator (heartbeatd/control.c):
 * every field of every request is checked for its JSON type and allowed
 * values as docs/protocol.md states them, every refusal names the field,
 * and no byte string makes it crash or accept nonsense (a small
 * deterministic fuzzer mutates valid requests).
 */
#include "bus.h"
#include "control.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>

static char err[256];

static int parse(const char *text, struct ctl_request *req)
{
	err[0] = '\0';
	return ctl_request_parse((const uint8_t *)text, strlen(text), req, err,
				 sizeof(err));
}

/* Parse text that must be refused; the error must say `words`. */
static void check_refused(const char *text, const char *words)
{
	struct ctl_request req;
	int r = parse(text, &req);
	if (r != -EINVAL)
		fprintf(stderr, "  accepted or wrong code %d: %s\n", r, text);
	CHECK_EQ_INT(r, -EINVAL);
	CHECK_STR_CONTAINS(err, words);
}

static void test_every_documented_request_is_accepted(void)
{
	struct ctl_request req;

	CHECK_EQ_INT(parse("{\"command\":\"status\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_STATUS);
	CHECK(!req.force && !req.discard_local && !req.has_reason);
	CHECK_EQ_INT(parse("{\"command\":\"swap\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_SWAP);
	CHECK_EQ_INT(parse("{\"command\":\"prim\",\"force\":true}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_PRIM);
	CHECK(req.force);
	CHECK_EQ_INT(parse("{\"command\":\"prim\",\"force\":false}", &req), 0);
	CHECK(!req.force);
	CHECK_EQ_INT(parse("{\"command\":\"second\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_SECOND);
	CHECK_EQ_INT(parse("{\"command\":\"stop\",\"force\":false}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_STOP);
	CHECK_EQ_INT(parse("{\"command\":\"start\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_START);
	CHECK_EQ_INT(parse("{\"command\":\"failover\",\"reason\":\"checkd: "
			   "app failed\"}",
			   &req),
		     0);
	CHECK_EQ_INT(req.command, CTL_FAILOVER);
	CHECK(req.has_reason && strcmp(req.reason, "checkd: app failed") == 0);
	CHECK_EQ_INT(
		parse("{\"command\":\"resync\",\"discard_local\":true}", &req),
		0);
	CHECK_EQ_INT(req.command, CTL_RESYNC);
	CHECK(req.discard_local);
	/* Whitespace and key order are JSON's business. */
	CHECK_EQ_INT(parse(" { \"reason\" : \"x\" , \"command\" : \"swap\" } ",
			   &req),
		     0);
	CHECK_EQ_INT(req.command, CTL_SWAP);
}

static void test_reason_that_is_a_number_is_refused(void)
{
	struct ctl_request req;
	CHECK_EQ_INT(parse("{\"command\":\"failover\",\"reason\":123}", &req),
		     -EINVAL);
	CHECK(strcmp(err, "field 'reason' must be a string") == 0);
	check_refused("{\"command\":\"failover\",\"reason\":null}",
		      "field 'reason' must be a string");
	check_refused("{\"command\":\"swap\",\"reason\":[\"a\"]}",
		      "field 'reason' must be a string");
	check_refused("{\"command\":\"swap\",\"reason\":{}}",
		      "field 'reason' must be a string");
}

static void test_every_field_of_the_wrong_type_is_named(void)
{
	check_refused("{\"command\":123}", "field 'command' must be a string");
	check_refused("{\"command\":null}", "field 'command' must be a string");
	check_refused("{\"command\":[\"swap\"]}",
		      "field 'command' must be a string");
	check_refused("{\"command\":\"prim\",\"force\":\"yes\"}",
		      "field 'force' must be true or false");
	check_refused("{\"command\":\"prim\",\"force\":1}",
		      "field 'force' must be true or false");
	check_refused("{\"command\":\"prim\",\"force\":null}",
		      "field 'force' must be true or false");
	check_refused("{\"command\":\"resync\",\"discard_local\":1}",
		      "field 'discard_local' must be true or false");
	check_refused("{\"command\":\"resync\",\"discard_local\":\"true\"}",
		      "field 'discard_local' must be true or false");
}

static void test_fields_are_refused_on_commands_they_do_not_apply_to(void)
{
	check_refused("{\"command\":\"swap\",\"force\":true}",
		      "field 'force' only applies to prim");
	check_refused("{\"command\":\"failover\",\"force\":true}",
		      "field 'force' only applies to prim");
	check_refused("{\"command\":\"prim\",\"discard_local\":true}",
		      "field 'discard_local' only applies to resync");
	check_refused("{\"command\":\"status\",\"discard_local\":false}",
		      "field 'discard_local' only applies to resync");
	check_refused("{\"command\":\"resync\"}",
		      "resync needs one of \"discard_local\": true or "
		      "\"full\": true");
	check_refused("{\"command\":\"resync\",\"discard_local\":false}",
		      "resync needs one of \"discard_local\": true");
	check_refused("{\"command\":\"resync\",\"discard_local\":true,"
		      "\"full\":true}",
		      "resync needs one of");
	check_refused("{\"command\":\"verify\",\"full\":true}",
		      "field 'full' only applies to resync");
}

static void test_backup_is_a_command_with_a_reason_only(void)
{
	struct ctl_request req;
	CHECK_EQ_INT(parse("{\"command\":\"backup\",\"reason\":\"healthd "
			   "API, user ops\"}",
			   &req),
		     0);
	CHECK_EQ_INT(req.command, CTL_BACKUP);
	CHECK(req.has_reason &&
	      strcmp(req.reason, "healthd API, user ops") == 0);
	CHECK(strcmp(ctl_command_name(CTL_BACKUP), "backup") == 0);
	check_refused("{\"command\":\"backup\",\"force\":true}",
		      "field 'force' only applies to prim");
	check_refused("{\"command\":\"backup\",\"full\":true}",
		      "field 'full' only applies to resync");
	check_refused("{\"command\":\"backup\",\"on\":true}",
		      "field 'on' only applies to checkers");
}

static void test_verify_and_resync_full_are_commands(void)
{
	struct ctl_request req;
	CHECK_EQ_INT(parse("{\"command\":\"verify\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_VERIFY);
	CHECK_EQ_INT(parse("{\"command\":\"resync\",\"full\":true}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_RESYNC);
	CHECK(req.full && !req.discard_local);
}

static void test_unknown_fields_and_commands_are_refused(void)
{
	/* A typo must not pass for a plain prim. */
	check_refused("{\"command\":\"prim\",\"forse\":true}",
		      "unknown field 'forse'");
	check_refused("{\"command\":\"status\",\"extra\":1}",
		      "unknown field 'extra'");
	check_refused("{\"no_command\":true}", "missing field 'command'");
	check_refused("{}", "missing field 'command'");
	/* The error lists every command, resync included. */
	check_refused(
		"{\"command\":\"fly\"}",
		"unknown command 'fly' (status, swap, prim, second, "
		"stop, start, failover, resync, restart, checkers, verify, "
		"backup)");
	check_refused("{\"command\":\"STATUS\"}", "unknown command 'STATUS'");
	/* Hostile text is echoed harmless: printable, bounded. */
	check_refused("{\"command\":\"a\\nb\\u001b[31m\"}",
		      "unknown command 'a?b?[31m'");
	check_refused("{\"command\":\"status\",\"\\u0007x\":1}",
		      "unknown field '?x'");
	struct ctl_request req;
	char text[400];
	snprintf(text, sizeof(text), "{\"command\":\"%0200d\"}", 0);
	CHECK_EQ_INT(parse(text, &req), -EINVAL);
	CHECK(strlen(err) < 160);
}

static void test_restart_and_checkers_for_checkd(void)
{
	struct ctl_request req;
	CHECK_EQ_INT(parse("{\"command\":\"restart\"}", &req), 0);
	CHECK_EQ_INT(req.command, CTL_RESTART);
	CHECK_EQ_INT(parse("{\"command\":\"checkers\",\"on\":false}", &req), 0);
	CHECK(req.command == CTL_CHECKERS && !req.on);
	CHECK_EQ_INT(parse("{\"command\":\"checkers\",\"on\":true,"
			   "\"reason\":\"x\"}",
			   &req),
		     0);
	CHECK(req.on);
	check_refused("{\"command\":\"checkers\"}",
		      "checkers needs \"on\": true or false");
	check_refused("{\"command\":\"checkers\",\"on\":\"off\"}",
		      "checkers needs \"on\"");
	check_refused("{\"command\":\"swap\",\"on\":true}",
		      "field 'on' only applies to checkers");
	check_refused("{\"command\":\"restart\",\"force\":true}",
		      "field 'force' only applies to prim");
}

static void test_what_is_not_one_json_object_is_refused(void)
{
	check_refused("not json", "request is not JSON");
	check_refused("[1, 2]", "request must be a JSON object, not an array");
	check_refused("\"status\"", "request is not JSON");
	check_refused("{\"command\":\"status\"} {}", "request is not JSON");
	check_refused("{\"command\":\"status\",\"command\":\"swap\"}",
		      "request is not JSON");
	check_refused("{\"command\":\"st\\u0000atus\"}", "request is not JSON");
	check_refused("{\"command\":\"\xff\xfe\"}", "request is not JSON");
	check_refused("", "empty request");
	/* Deep nesting within the size limit: refused, no crash. */
	char deep[SKY_CTL_MSG_MAX + 1];
	size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"command\":");
	for (int i = 0; i < 2040; i++)
		deep[n++] = '[';
	for (int i = 0; i < 2040; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	check_refused(deep, "field 'command' must be a string");
	/* A NUL byte inside the frame. */
	struct ctl_request req;
	static const char nul[] = "{\"command\":\"status\"}\0";
	CHECK_EQ_INT(ctl_request_parse((const uint8_t *)nul, sizeof(nul) - 1,
				       &req, err, sizeof(err)),
		     -EINVAL);
}

static void test_request_over_4096_bytes_is_refused_by_its_size(void)
{
	struct ctl_request req;
	size_t len = SKY_CTL_MSG_MAX + 1;
	char *text = malloc(len + 1);
	CHECK(text != NULL);
	if (!text)
		return;
	memset(text, ' ', len);
	memcpy(text, "{\"command\":\"status\"}", 20);
	text[len] = '\0';
	CHECK_EQ_INT(ctl_request_parse((const uint8_t *)text, len, &req, err,
				       sizeof(err)),
		     -EMSGSIZE);
	CHECK(strcmp(err, "request of 4097 bytes is over the 4096-byte "
			  "limit") == 0);
	/* Exactly the limit is fine. */
	CHECK_EQ_INT(ctl_request_parse((const uint8_t *)text, len - 1, &req,
				       err, sizeof(err)),
		     0);
	/* The size alone decides: a 10 MB frame's length, only its first
	 * bytes in the buffer (ASan would see any read past them). */
	CHECK_EQ_INT(ctl_request_parse((const uint8_t *)text, 10485787, &req,
				       err, sizeof(err)),
		     -EMSGSIZE);
	CHECK_STR_CONTAINS(err, "request of 10485787 bytes is over the "
				"4096-byte limit");
	free(text);
}

static void test_reason_is_bounded_and_made_printable(void)
{
	struct ctl_request req;
	char text[CTL_REASON_MAX + 64];

	snprintf(text, sizeof(text),
		 "{\"command\":\"swap\",\"reason\":\"%0*d\"}", CTL_REASON_MAX,
		 0);
	CHECK_EQ_INT(parse(text, &req), 0);
	CHECK_EQ_INT(strlen(req.reason), CTL_REASON_MAX);
	snprintf(text, sizeof(text),
		 "{\"command\":\"swap\",\"reason\":\"%0*d\"}",
		 CTL_REASON_MAX + 1, 0);
	CHECK_EQ_INT(parse(text, &req), -EINVAL);
	CHECK_STR_CONTAINS(err, "field 'reason' is 257 bytes, over the "
				"256-byte limit");
	/* A newline cannot forge a second log line; UTF-8 is kept. */
	CHECK_EQ_INT(parse("{\"command\":\"swap\",\"reason\":\"a\\nb\\t\\u00e9"
			   "\"}",
			   &req),
		     0);
	CHECK(strcmp(req.reason, "a?b?\xc3\xa9") == 0);
}

/* xorshift: the same mutations on every run. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void test_mutated_requests_never_crash_or_pass_nonsense(void)
{
	static const char *const seeds[] = {
		"{\"command\":\"status\"}",
		"{\"command\":\"prim\",\"force\":true}",
		"{\"command\":\"failover\",\"reason\":\"checkd: app\"}",
		"{\"command\":\"resync\",\"discard_local\":true}",
	};
	static const char alphabet[] = "{}[]\":,\\ 0123456789tfnul-.eE\x80\xff";
	uint8_t buf[128];
	int accepted = 0, refused = 0;

	for (int i = 0; i < 20000; i++) {
		const char *seed = seeds[rnd() % SKY_ARRAY_SIZE(seeds)];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		for (int m = 1 + (int)(rnd() % 4); m > 0; m--) {
			size_t at = len ? rnd() % len : 0;
			switch (rnd() % 3) {
			case 0: /* replace a byte */
				if (len)
					buf[at] = (uint8_t)
						alphabet[rnd() %
							 (sizeof(alphabet) -
							  1)];
				break;
			case 1: /* delete a byte */
				if (len) {
					memmove(buf + at, buf + at + 1,
						len - at - 1);
					len--;
				}
				break;
			default: /* insert a byte */
				if (len < sizeof(buf)) {
					memmove(buf + at + 1, buf + at,
						len - at);
					buf[at] = (uint8_t)
						alphabet[rnd() %
							 (sizeof(alphabet) -
							  1)];
					len++;
				}
			}
		}
		struct ctl_request req;
		err[0] = '\0';
		int r = ctl_request_parse(buf, len, &req, err, sizeof(err));
		if (r == 0) {
			accepted++;
			CHECK(req.command < CTL_COMMAND_COUNT);
			CHECK(!req.force || req.command == CTL_PRIM);
			CHECK(req.command != CTL_RESYNC ||
			      req.discard_local != req.full);
			CHECK(!req.full || req.command == CTL_RESYNC);
			CHECK(!req.discard_local || req.command == CTL_RESYNC);
			CHECK(strlen(req.reason) <= CTL_REASON_MAX);
		} else {
			refused++;
			CHECK_EQ_INT(r, -EINVAL);
			CHECK(err[0] != '\0');
		}
	}
	/* Both outcomes were exercised. */
	CHECK(accepted > 0);
	CHECK(refused > 0);
}

TEST_MAIN(TEST(test_verify_and_resync_full_are_commands),
	  TEST(test_every_documented_request_is_accepted),
	  TEST(test_restart_and_checkers_for_checkd),
	  TEST(test_reason_that_is_a_number_is_refused),
	  TEST(test_every_field_of_the_wrong_type_is_named),
	  TEST(test_fields_are_refused_on_commands_they_do_not_apply_to),
	  TEST(test_unknown_fields_and_commands_are_refused),
	  TEST(test_backup_is_a_command_with_a_reason_only),
	  TEST(test_what_is_not_one_json_object_is_refused),
	  TEST(test_request_over_4096_bytes_is_refused_by_its_size),
	  TEST(test_reason_is_bounded_and_made_printable),
	  TEST(test_mutated_requests_never_crash_or_pass_nonsense))
