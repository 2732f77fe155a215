/*
 * checkd_cfg_test.c - the checkd: section (errors name file:line:col and
 * the field), hostile bus messages, the HTTP status line and script output.
 */
#include "app.h"
#include "cfg.h"
#include "log.h"
#include "msg.h"
#include "probe.h"
#include "proc.h"
#include "test.h"

#define HEAD                                                                   \
	"cluster: {name: c}\n"                                                 \
	"checkd:\n"                                                            \
	"  scripts:\n"                                                         \
	"    start_prim: /bin/true\n"                                          \
	"    stop_prim: {path: /bin/true, timeout_ms: 2000}\n"

static int parse(const char *text, struct checkd_cfg *c, char *err, size_t size)
{
	err[0] = '\0';
	return checkd_cfg_parse("/etc/skyha/app.yaml", text, strlen(text), c,
				err, size);
}

static void test_good_section_with_every_kind(void)
{
	static struct checkd_cfg c;
	char err[512];
	const char *text =
		HEAD "  restart: {max: 2, window_ms: 60000}\n"
		     "  escalation: stop\n"
		     "  environment: {APP_PORT: \"8080\"}\n"
		     "  checkers:\n"
		     "    - {name: p, kind: process, pidfile: app.pid}\n"
		     "    - {name: t, kind: tcp, address: 127.0.0.1, "
		     "port: 80}\n"
		     "    - {name: h, kind: http, address: self, port: "
		     "8080, path: /health, expect_status: 204}\n"
		     "    - {name: i, kind: icmp, address: \"::1\"}\n"
		     "    - {name: l, kind: interface, interface: eth0}\n"
		     "    - {name: c, kind: custom, command: /bin/true, "
		     "interval_ms: 500, timeout_ms: 400, fail_after: "
		     "2, ok_after: 5, action: failover}\n";
	int r = parse(text, &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(c.checker_count, 6);
	CHECK_EQ_INT(c.restart_max, 2);
	CHECK_EQ_INT(c.escalation, CHECKD_ACTION_STOP);
	CHECK_EQ_INT(c.scripts[CHECKD_START_PRIM].timeout_ms, 30000);
	CHECK_EQ_INT(c.scripts[CHECKD_STOP_PRIM].timeout_ms, 2000);
	CHECK(strcmp(c.dir, "/etc/skyha") == 0);
	CHECK_EQ_INT(c.checkers[0].fail_after, 3);
	CHECK_EQ_INT(c.checkers[0].interval_ms, 1000);
	CHECK(c.checkers[2].addr_self);
	CHECK_EQ_INT(c.checkers[2].expect_status, 204);
	/* An interface checker fails over by default. */
	CHECK_EQ_INT(c.checkers[4].action, CHECKD_ACTION_FAILOVER);
	CHECK_EQ_INT(c.checkers[5].ok_after, 5);
	CHECK_EQ_INT(c.checkers[5].action, CHECKD_ACTION_FAILOVER);
	CHECK(strcmp(c.env[0].name, "APP_PORT") == 0);
}

struct bad_case {
	const char *text;
	const char *where; /* "line:col" expected */
	const char *says;
};

static void test_bad_sections_name_line_and_field(void)
{
	static struct checkd_cfg c;
	static const struct bad_case cases[] = {
		{"cluster: {name: c}\n",
		 "app.yaml:1:1:", "checkd: section missing"},
		{HEAD "  checkers:\n    - {name: a, kind: htttp}\n",
		 ":7:", "checkd.checkers[0].kind"},
		{HEAD "  checkers:\n    - name: a\n      kind: tcp\n"
		      "      address: 1.2.3.4\n      port: 99999\n",
		 ":10:13:", "checkd.checkers[0].port"},
		{HEAD "  checkers:\n    - name: a\n      kind: custom\n"
		      "      command: /bin/true\n      interval_ms: 100\n"
		      "      timeout_ms: 200\n",
		 ":11:19:", "must not exceed interval_ms"},
		{HEAD "  checkers:\n    - {name: a, kind: tcp, port: 1}\n",
		 ":7:", "checkd.checkers[0].address: required"},
		{HEAD "  checkers:\n    - {name: a, kind: process}\n",
		 ":7:", "needs pidfile"},
		{HEAD
		 "  checkers:\n    - {name: a, kind: interface, interface: "
		 "eth0, action: restart}\n",
		 ":7:", "cannot restart"},
		{HEAD "  checkers:\n    - {name: a, kind: custom, command: "
		      "/nonexistent/x}\n",
		 ":7:", "checkd.checkers[0].command"},
		{HEAD
		 "  checkers:\n    - {name: a, kind: icmp, address: 1.1.1.1}\n"
		 "    - {name: a, kind: icmp, address: 1.1.1.2}\n",
		 ":8:", "used twice"},
		{HEAD "  restart: {max: 2, windw_ms: 5}\n",
		 ":6:31:", "checkd.restart.windw_ms: unknown key"},
		{HEAD "  escalation: restart\n", ":6:15:", "failover or stop"},
		{HEAD "  environment: {SKYHA_ROLE: x}\n",
		 ":6:", "set by checkd"},
		{"checkd:\n  scripts:\n    start_prim: /bin/true\n",
		 ":2:", "start_prim and stop_prim are required"},
		{HEAD "  unit: app.service\n", ":3:3:", "not both"},
		{HEAD
		 "  checkers:\n    - {name: a, kind: http, address: 1.1.1.1, "
		 "port: 80, path: \"/a b\"}\n",
		 ":7:", "checkd.checkers[0].path"},
		{HEAD "  checkers: [1, 2]\n", ":6:", "must be a mapping"},
		{HEAD "  checkers: {a: 1}\n", ":6:13:", "must be a list"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512];
		int r = parse(cases[i].text, &c, err, sizeof(err));
		CHECK_EQ_INT(r, -EINVAL);
		CHECK_STR_CONTAINS(err, "/etc/skyha/app.yaml");
		CHECK_STR_CONTAINS(err, cases[i].where);
		CHECK_STR_CONTAINS(err, cases[i].says);
	}
}

static void test_too_many_checkers_refused(void)
{
	static struct checkd_cfg c;
	static char text[8192];
	char err[512];
	size_t n =
		(size_t)snprintf(text, sizeof(text), "%s  checkers:\n", HEAD);
	for (int i = 0; i <= CHECKD_MAX_CHECKERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "    - {name: c%d, kind: icmp, address: "
				      "127.0.0.1}\n",
				      i);
	CHECK_EQ_INT(parse(text, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "at most 16 checkers");
}

static void test_desired_messages_are_checked(void)
{
	struct checkd_desired d;
	char why[160];
	json_t *m = json_loads("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			       "\"PRIM\",\"epoch\":7,\"targets\":{\"checkd\":"
			       "\"up\"}}",
			       0, NULL);
	CHECK_EQ_INT(checkd_msg_desired(m, "app", "n1", &d, why, sizeof(why)),
		     0);
	CHECK(d.target && strcmp(d.target, "up") == 0);
	CHECK_EQ_INT(d.epoch, 7);
	CHECK_EQ_INT(d.role, SKY_ROLE_PRIM);
	CHECK_EQ_INT(checkd_msg_desired(m, "app", "n2", &d, why, sizeof(why)),
		     -EINVAL);
	json_decref(m);

	static const char *const bad[] = {
		"{}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"KING\","
		"\"epoch\":1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":-1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":\"7\",\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":[]}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{\"checkd\":\"sideways\"}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{\"checkd\":5}}",
		"{\"module\":7,\"node\":\"n1\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = json_loads(bad[i], 0, NULL);
		CHECK(m != NULL);
		CHECK_EQ_INT(checkd_msg_desired(m, "app", "n1", &d, why,
						sizeof(why)),
			     -EINVAL);
		json_decref(m);
	}
	m = json_loads("{\"module\":\"app\",\"node\":\"n1\",\"role\":\"WAIT\","
		       "\"epoch\":1,\"targets\":{\"checkd\":null}}",
		       0, NULL);
	CHECK_EQ_INT(checkd_msg_desired(m, "app", "n1", &d, why, sizeof(why)),
		     0);
	CHECK(d.target == NULL);
	json_decref(m);
}

static void test_status_tells_whether_checkd_was_counted_up(void)
{
	json_t *s = json_loads("{\"actuators\":{\"checkd\":{\"state\":\"up\","
			       "\"epoch\":4}}}",
			       0, NULL);
	CHECK(checkd_msg_status_counts_up(s, 4));
	CHECK(!checkd_msg_status_counts_up(s, 5));
	json_decref(s);
	s = json_loads("{\"actuators\":7}", 0, NULL);
	CHECK(!checkd_msg_status_counts_up(s, 4));
	json_decref(s);
}

static void test_http_status_line_parser(void)
{
	int st = 0;
	const char *ok = "HTTP/1.0 200 OK\r\n";
	CHECK_EQ_INT(checkd_http_status(ok, strlen(ok), &st), 0);
	CHECK_EQ_INT(st, 200);
	const char *bare = "HTTP/1.1 503\r\n";
	CHECK_EQ_INT(checkd_http_status(bare, strlen(bare), &st), 0);
	CHECK_EQ_INT(st, 503);
	static const char *const bad[] = {"",
					  "HTTP/1.1",
					  "HTTP/2 200 OK\r\n",
					  "HTTP/1.1 20x OK",
					  "HTTP/1.1 2000 OK",
					  "SSH-2.0-OpenSSH",
					  "HTTP/1.1 099 X"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(checkd_http_status(bad[i], strlen(bad[i]), &st),
			     -EBADMSG);
}

static void test_script_output_is_split_bounded_and_pid_read(void)
{
	struct checkd_proc p;
	static char big[3000];
	checkd_proc_init(&p);
	p.priority = LOG_DEBUG;
	memset(big, 'x', sizeof(big));
	checkd_proc_feed(&p, "hello\nSKYHA_PID=4242\n", 21);
	CHECK_EQ_INT(p.reported_pid, 4242);
	checkd_proc_feed(&p, big, sizeof(big));
	checkd_proc_feed(&p, "\n", 1);
	CHECK_EQ_INT(strlen(p.last_line), CHECKD_LINE_MAX);
	checkd_proc_feed(&p, "SKYHA_PID=-3\nSKYHA_PID=99999999999\n", 35);
	CHECK_EQ_INT(p.reported_pid, 4242);
	for (int i = 0; i < 500; i++)
		checkd_proc_feed(&p, "line\n", 5);
	CHECK(p.lines_dropped > 0);
	CHECK_EQ_INT(p.lines, 505);
}

static void test_pidfile_and_echo_reply_read_from_bytes(void)
{
	static const uint8_t raw[28] = {
		0x45, [24] = 0x12, [25] = 0x34, [27] = 7};
	static const uint8_t v6[8] = {129, [7] = 7};
	pid_t pid = 0;
	CHECK_EQ_INT(checkd_pid_parse(" 4242\n", 6, &pid), 0);
	CHECK_EQ_INT(pid, 4242);
	CHECK_EQ_INT(checkd_pid_parse("1\n", 2, &pid), -EBADMSG);
	CHECK_EQ_INT(checkd_pid_parse("12x", 3, &pid), -EBADMSG);
	CHECK(checkd_icmp_is_reply(raw, sizeof(raw), false, true, 0x1234, 7));
	CHECK(!checkd_icmp_is_reply(raw, sizeof(raw), false, true, 0x1235, 7));
	CHECK(!checkd_icmp_is_reply(raw, 27, false, true, 0x1234, 7));
	/* A ping socket rewrites the id: only the sequence counts. */
	CHECK(checkd_icmp_is_reply(v6, sizeof(v6), true, false, 0x1234, 7));
	CHECK(!checkd_icmp_is_reply(v6, sizeof(v6), true, false, 0x1234, 8));
}

static void test_a_farm_names_its_scripts_start_both_and_stop_both(void)
{
	static struct checkd_cfg c;
	char err[512];
	CHECK_EQ_INT(
		parse("module: {name: web, type: farm}\n"
		      "checkd:\n"
		      "  scripts:\n"
		      "    start_both: /bin/true\n"
		      "    stop_both: {path: /bin/false, timeout_ms: 2000}\n",
		      &c, err, sizeof(err)),
		0);
	CHECK(c.farm);
	/* Read into the slots that run where heartbeatd asks for the app. */
	CHECK(c.scripts[CHECKD_START_PRIM].set);
	CHECK(strcmp(c.scripts[CHECKD_STOP_PRIM].path, "/bin/false") == 0);
	CHECK(!c.scripts[CHECKD_START_BOTH].set);
	CHECK(strcmp(checkd_cfg_job_name(&c, CHECKD_JOB_START_PRIM),
		     "start_both") == 0);
	CHECK(parse("module: {name: web, type: light}\n"
		    "checkd: {scripts: {start_prim: /bin/true, stop_prim: "
		    "/bin/true}}\n",
		    &c, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "app.yaml:");
	CHECK_STR_CONTAINS(err,
			   "checkd.scripts: a farm module runs start_both");
	CHECK(parse("module: {name: web, type: farm}\n"
		    "checkd: {scripts: {start_both: /bin/true}}\n",
		    &c, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "start_both and stop_both are required");
	/* A mirror is as before: start_prim, and start_both as an extra. */
	CHECK_EQ_INT(parse(HEAD, &c, err, sizeof(err)), 0);
	CHECK(!c.farm);
	CHECK(strcmp(checkd_cfg_job_name(&c, CHECKD_JOB_START_PRIM),
		     "start_prim") == 0);
}

TEST_MAIN(TEST(test_a_farm_names_its_scripts_start_both_and_stop_both),
	  TEST(test_good_section_with_every_kind),
	  TEST(test_bad_sections_name_line_and_field),
	  TEST(test_too_many_checkers_refused),
	  TEST(test_desired_messages_are_checked),
	  TEST(test_status_tells_whether_checkd_was_counted_up),
	  TEST(test_http_status_line_parser),
	  TEST(test_script_output_is_split_bounded_and_pid_read),
	  TEST(test_pidfile_and_echo_reply_read_from_bytes))
