/*
 * net_drops_test.c - the drop log of heartbeatd/net.c, on a fake clock:
 * each kind of dropped packet logs at most one line a second, with the
 * count since the kind's last line; a kind never silences another; the
 * count of drops after a line is written once the second is over even if
 * nothing else arrives; and each drop raises its status counter.
 */
#include "log.h"
#include "net.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* What the drop log writes on stderr, captured in a temp file. */
static char captured[8192];
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
	unsetenv("JOURNAL_STREAM"); /* lines to stderr, not the journal */
	sky_log_init("net_drops_test", false);
	fflush(stderr);
	capture_file = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(capture_file), 2);
}

static const char *capture_end(void)
{
	size_t n;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture_file);
	n = fread(captured, 1, sizeof(captured) - 1, capture_file);
	captured[n] = '\0';
	fclose(capture_file);
	return captured;
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_first_drop_of_a_kind_is_logged_at_once(void)
{
	struct net_drops d = {0};
	struct net_counters c = {0};
	capture_start();
	net_drop(&c, &d, NET_DROP_BAD_MAC, 5000, "on network %d", 0);
	const char *out = capture_end();
	CHECK_STR_CONTAINS(out, "dropped 1 bad_mac packet: on network 0");
	CHECK_EQ_INT(c.bad_mac, 1);
}

static void test_drops_within_the_second_are_counted_in_one_line(void)
{
	struct net_drops d = {0};
	struct net_counters c = {0};
	capture_start();
	net_drop(&c, &d, NET_DROP_REPLAY, 1000, "first");
	for (int i = 0; i < 41; i++)
		net_drop(&c, &d, NET_DROP_REPLAY, 1100 + i, "seq %d", i);
	net_drops_flush(&d, 1999); /* the second is not over */
	const char *before = capture_end();
	CHECK_EQ_INT(count_lines(before, "dropped"), 1);
	capture_start();
	net_drops_flush(&d, 2000); /* over, and no packet came since */
	net_drops_flush(&d, 2500); /* nothing more to say */
	const char *after = capture_end();
	CHECK_STR_CONTAINS(
		after, "dropped 41 replay packets in 1.0 s, the last: seq 40");
	CHECK_EQ_INT(count_lines(after, "dropped"), 1);
	CHECK_EQ_INT(c.replay, 42);
}

static void test_a_kind_never_silences_another(void)
{
	struct net_drops d = {0};
	struct net_counters c = {0};
	capture_start();
	for (int k = 0; k < NET_DROP_KINDS; k++)
		net_drop(&c, &d, (enum net_drop)k, 700, "kind %d", k);
	const char *out = capture_end();
	for (int k = 0; k < NET_DROP_KINDS; k++) {
		char want[64];
		snprintf(want, sizeof(want), "dropped 1 %s packet: kind %d",
			 net_drop_name((enum net_drop)k), k);
		CHECK_STR_CONTAINS(out, want);
	}
	CHECK_EQ_INT(c.bad_mac + c.replay + c.malformed + c.oversized +
			     c.wrong_cluster + c.unknown_node,
		     NET_DROP_KINDS);
}

static void test_a_drop_after_a_quiet_second_is_logged_at_once(void)
{
	struct net_drops d = {0};
	capture_start();
	net_drop(NULL, &d, NET_DROP_OVERSIZED, 1000, "a");
	net_drop(NULL, &d, NET_DROP_OVERSIZED, 1500, "b");
	net_drop(NULL, &d, NET_DROP_OVERSIZED, 2001, "c"); /* with b's count */
	net_drop(NULL, &d, NET_DROP_OVERSIZED, 9000, "d");
	const char *out = capture_end();
	CHECK_STR_CONTAINS(out, "dropped 1 oversized packet: a");
	CHECK_STR_CONTAINS(out, "dropped 2 oversized packets in 1.0 s, the "
				"last: c");
	CHECK_STR_CONTAINS(out, "dropped 1 oversized packet: d");
	CHECK_EQ_INT(count_lines(out, "dropped"), 3);
}

static void test_decode_errors_map_to_their_kinds(void)
{
	CHECK_EQ_INT(net_drop_of(PKT_ERR_BAD_MAC), NET_DROP_BAD_MAC);
	CHECK_EQ_INT(net_drop_of(PKT_ERR_OVERSIZED), NET_DROP_OVERSIZED);
	CHECK_EQ_INT(net_drop_of(PKT_ERR_MALFORMED), NET_DROP_MALFORMED);
	CHECK(strcmp(net_drop_name(NET_DROP_WRONG_CLUSTER), "wrong_cluster") ==
	      0);
	CHECK(strcmp(net_drop_name(NET_DROP_KINDS), "unknown") == 0);
}

TEST_MAIN(TEST(test_first_drop_of_a_kind_is_logged_at_once),
	  TEST(test_drops_within_the_second_are_counted_in_one_line),
	  TEST(test_a_kind_never_silences_another),
	  TEST(test_a_drop_after_a_quiet_second_is_logged_at_once),
	  TEST(test_decode_errors_map_to_their_kinds))
