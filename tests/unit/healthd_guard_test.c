/*
 * healthd_guard_test.c - the connection limits and the eviction policy,
 * with a fake clock: one source cannot take every connection, a full table
 * makes room by closing the oldest connection of the heaviest source that
 * has not sent a complete request, and a request head that does not arrive
 * within the deadline of accept (or, kept alive, of its first byte) closes
 * its connection.
 */
#include "../../healthd/guard.h"
#include "test.h"

#include <arpa/inet.h>

static struct healthd_source v4(const char *text)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct healthd_source s;
	inet_pton(AF_INET, text, &a.sin_addr);
	CHECK_EQ_INT(healthd_source_of((struct sockaddr *)&a, sizeof(a), &s),
		     0);
	return s;
}

static struct healthd_source v6(const char *text)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	struct healthd_source s;
	inet_pton(AF_INET6, text, &a.sin6_addr);
	CHECK_EQ_INT(healthd_source_of((struct sockaddr *)&a, sizeof(a), &s),
		     0);
	return s;
}

static void setup(struct healthd_guard *g, unsigned total, unsigned per,
		  int64_t header_ms)
{
	struct healthd_guard_conf c = {.max_total = total,
				       .max_per_addr = per,
				       .header_ms = header_ms};
	CHECK_EQ_INT(healthd_guard_init(g, &c), 0);
}

/* Admit fd from src at now; the evicted fd (or -1) in *evicted. */
static int admit(struct healthd_guard *g, int fd, const char *src, int64_t now,
		 int *evicted)
{
	struct healthd_source s = v4(src);
	int dummy;
	return healthd_guard_admit(g, fd, &s, now, evicted ? evicted : &dummy);
}

static void test_defaults_are_what_the_docs_say(void)
{
	struct healthd_guard_conf c;
	healthd_guard_conf_default(&c);
	CHECK_EQ_INT(c.max_total, 256);
	CHECK_EQ_INT(c.max_per_addr, 32);
	CHECK_EQ_INT(c.header_ms, 5000);
}

static void test_bad_limits_are_refused(void)
{
	struct healthd_guard g;
	struct healthd_guard_conf c = {
		.max_total = 0, .max_per_addr = 1, .header_ms = 1};
	CHECK_EQ_INT(healthd_guard_init(&g, &c), -EINVAL);
	c = (struct healthd_guard_conf){
		.max_total = 10, .max_per_addr = 11, .header_ms = 1};
	CHECK_EQ_INT(healthd_guard_init(&g, &c), -EINVAL);
	c = (struct healthd_guard_conf){
		.max_total = 10, .max_per_addr = 2, .header_ms = 0};
	CHECK_EQ_INT(healthd_guard_init(&g, &c), -EINVAL);
	c = (struct healthd_guard_conf){.max_total = HEALTHD_GUARD_LIMIT + 1,
					.max_per_addr = 2,
					.header_ms = 1};
	CHECK_EQ_INT(healthd_guard_init(&g, &c), -EINVAL);
}

static void test_one_address_is_capped_and_others_still_get_in(void)
{
	struct healthd_guard g;
	int ev;
	setup(&g, 16, 4, 5000);
	for (int fd = 10; fd < 14; fd++)
		CHECK(admit(&g, fd, "198.18.1.1", 0, &ev) >= 0);
	CHECK_EQ_INT(admit(&g, 14, "198.18.1.1", 0, &ev), -EUSERS);
	CHECK_EQ_INT(ev, -1);
	CHECK_EQ_INT(g.counters.refused_per_addr, 1);
	CHECK(admit(&g, 15, "198.18.1.2", 0, &ev) >= 0);
	CHECK_EQ_INT(ev, -1);
	/* One of the first address closes: it may open one again. */
	healthd_guard_closed(&g, healthd_guard_find(&g, 10));
	CHECK(admit(&g, 16, "198.18.1.1", 0, &ev) >= 0);
	struct healthd_source s = v4("198.18.1.1");
	CHECK_EQ_INT(healthd_guard_source_live(&g, &s), 4);
	CHECK_EQ_INT(g.live, 5);
	healthd_guard_free(&g);
}

static void test_ipv6_sources_count_per_64_prefix(void)
{
	struct healthd_source a = v6("2001:db8:1:2::1"),
			      b = v6("2001:db8:1:2:ffff::9"),
			      c = v6("2001:db8:1:3::1"),
			      m = v6("::ffff:198.18.1.1"), d = v4("198.18.1.1");
	CHECK(memcmp(a.b, b.b, 16) == 0);
	CHECK(memcmp(a.b, c.b, 16) != 0);
	/* IPv4 through a dual-stack socket is the same IPv4 source. */
	CHECK(memcmp(m.b, d.b, 16) == 0);
	struct sockaddr_un_like {
		sa_family_t family;
	} other = {AF_UNIX};
	struct healthd_source s;
	CHECK_EQ_INT(
		healthd_source_of((struct sockaddr *)&other, sizeof(other), &s),
		-EAFNOSUPPORT);
}

static void test_full_table_evicts_the_heaviest_sources_oldest_waiter(void)
{
	struct healthd_guard g;
	int ev;
	setup(&g, 8, 6, 5000);
	/* An attacker: 6 held connections, opened at t=0..5. */
	for (int i = 0; i < 6; i++)
		CHECK(admit(&g, 100 + i, "198.18.9.1", i, &ev) >= 0);
	/* Two light clients, older than most of the attacker's. */
	CHECK(admit(&g, 200, "198.18.0.30", 0, &ev) >= 0);
	CHECK(admit(&g, 201, "198.18.0.31", 0, &ev) >= 0);
	CHECK_EQ_INT(g.live, 8);
	/* The probe: room is made by closing the attacker's oldest. */
	int p = admit(&g, 300, "198.18.0.20", 10, &ev);
	CHECK(p >= 0);
	CHECK_EQ_INT(ev, 100);
	CHECK_EQ_INT(g.counters.evicted, 1);
	CHECK_EQ_INT(g.live, 8);
	/* The evicted one is closing: it no longer counts, but exists. */
	CHECK(healthd_guard_find(&g, 100) >= 0);
	CHECK_EQ_INT(g.conns[healthd_guard_find(&g, 100)].state,
		     HEALTHD_CONN_CLOSING);
	/* The attacker reconnects: its own next-oldest goes. */
	CHECK(admit(&g, 106, "198.18.9.1", 11, &ev) >= 0);
	CHECK_EQ_INT(ev, 101);
	/* The light clients were never touched. */
	CHECK_EQ_INT(g.conns[healthd_guard_find(&g, 200)].state,
		     HEALTHD_CONN_WAITING);
	CHECK_EQ_INT(g.conns[healthd_guard_find(&g, 201)].state,
		     HEALTHD_CONN_WAITING);
	CHECK_EQ_INT(g.conns[p].state, HEALTHD_CONN_WAITING);
	healthd_guard_free(&g);
}

static void test_busy_connections_are_never_evicted(void)
{
	struct healthd_guard g;
	int ev;
	setup(&g, 3, 3, 5000);
	for (int i = 0; i < 3; i++) {
		int c = admit(&g, 10 + i, "198.18.9.1", i, &ev);
		CHECK(c >= 0);
		if (i < 2)
			healthd_guard_request(&g, c);
	}
	/* Only fd 12 waits for its request head: it goes. */
	CHECK(admit(&g, 20, "198.18.0.20", 5, &ev) >= 0);
	CHECK_EQ_INT(ev, 12);
	/* Now every live one but the newcomer is busy: it goes next. */
	CHECK(admit(&g, 21, "198.18.0.21", 6, &ev) >= 0);
	CHECK_EQ_INT(ev, 20);
	healthd_guard_request(&g, healthd_guard_find(&g, 21));
	/* All busy: refused, counted, nothing closed. */
	CHECK_EQ_INT(admit(&g, 22, "198.18.0.22", 7, &ev), -EMFILE);
	CHECK_EQ_INT(ev, -1);
	CHECK_EQ_INT(g.counters.refused_full, 1);
	/* An answered keep-alive connection sent no next request: evictable. */
	healthd_guard_answered(&g, healthd_guard_find(&g, 10), 8);
	CHECK(admit(&g, 23, "198.18.0.23", 9, &ev) >= 0);
	CHECK_EQ_INT(ev, 10);
	/* A pipelined request goes from IDLE to BUSY without a new byte. */
	healthd_guard_answered(&g, healthd_guard_find(&g, 11), 10);
	healthd_guard_request(&g, healthd_guard_find(&g, 11));
	CHECK_EQ_INT(g.conns[healthd_guard_find(&g, 11)].state,
		     HEALTHD_CONN_BUSY);
	/* first_byte only moves an IDLE one. */
	healthd_guard_first_byte(&g, healthd_guard_find(&g, 11), 11);
	CHECK_EQ_INT(g.conns[healthd_guard_find(&g, 11)].state,
		     HEALTHD_CONN_BUSY);
	healthd_guard_free(&g);
}

static void test_closing_entries_fill_up_then_new_ones_are_refused(void)
{
	struct healthd_guard g;
	int ev;
	setup(&g, 2, 2, 5000);
	/* Capacity is 4 entries: 2 live + 2 evicted but not yet closed. */
	CHECK(admit(&g, 1, "198.18.9.1", 0, &ev) >= 0);
	CHECK(admit(&g, 2, "198.18.9.1", 1, &ev) >= 0);
	CHECK(admit(&g, 3, "198.18.9.2", 2, &ev) >= 0);
	CHECK_EQ_INT(ev, 1);
	CHECK(admit(&g, 4, "198.18.9.3", 3, &ev) >= 0);
	CHECK_EQ_INT(ev, 2);
	/* No entry to reuse: refused before anything is evicted. */
	CHECK_EQ_INT(admit(&g, 5, "198.18.9.4", 4, &ev), -EMFILE);
	CHECK_EQ_INT(ev, -1);
	CHECK_EQ_INT(g.counters.refused_full, 1);
	CHECK_EQ_INT(g.counters.evicted, 2);
	healthd_guard_closed(&g, healthd_guard_find(&g, 1));
	CHECK(admit(&g, 6, "198.18.9.4", 5, &ev) >= 0);
	healthd_guard_free(&g);
}

static void test_slow_request_heads_are_closed_at_the_deadline(void)
{
	struct healthd_guard g;
	int fds[8], ev;
	setup(&g, 8, 8, 5000);
	int slow = admit(&g, 10, "198.18.9.1", 1000, &ev);
	int quick = admit(&g, 11, "198.18.0.20", 2000, &ev);
	CHECK_EQ_INT(healthd_guard_next_deadline(&g), 6000);
	healthd_guard_request(&g, quick);
	CHECK_EQ_INT(healthd_guard_expire(&g, 5999, fds, 8), 0);
	CHECK_EQ_INT(healthd_guard_expire(&g, 6000, fds, 8), 1);
	CHECK_EQ_INT(fds[0], 10);
	CHECK_EQ_INT(g.conns[slow].state, HEALTHD_CONN_CLOSING);
	CHECK_EQ_INT(g.counters.header_timeouts, 1);
	/* Busy for a long time: no deadline (the idle timeout's job). */
	CHECK_EQ_INT(healthd_guard_expire(&g, 60000, fds, 8), 0);
	CHECK_EQ_INT(healthd_guard_next_deadline(&g), INT64_MAX);
	/* Kept alive and silent: only the idle timeout applies. */
	healthd_guard_answered(&g, quick, 70000);
	CHECK_EQ_INT(g.conns[quick].state, HEALTHD_CONN_IDLE);
	CHECK_EQ_INT(healthd_guard_next_deadline(&g), INT64_MAX);
	CHECK_EQ_INT(healthd_guard_expire(&g, 90000, fds, 8), 0);
	/* The next request's first byte starts its deadline. */
	healthd_guard_first_byte(&g, quick, 91000);
	CHECK_EQ_INT(healthd_guard_next_deadline(&g), 96000);
	CHECK_EQ_INT(healthd_guard_expire(&g, 95999, fds, 8), 0);
	CHECK_EQ_INT(healthd_guard_expire(&g, 96000, fds, 8), 1);
	CHECK_EQ_INT(fds[0], 11);
	CHECK_EQ_INT(g.live, 0);
	/* Closing twice is harmless; the entry is then free. */
	healthd_guard_closed(&g, slow);
	healthd_guard_closed(&g, slow);
	healthd_guard_closed(&g, -1);
	healthd_guard_closed(&g, 1 << 20);
	CHECK_EQ_INT(healthd_guard_find(&g, 10), -ENOENT);
	healthd_guard_free(&g);
}

static void test_expire_reports_at_most_max(void)
{
	struct healthd_guard g;
	int fds[2], ev;
	setup(&g, 8, 8, 100);
	for (int i = 0; i < 5; i++)
		admit(&g, 10 + i, "198.18.9.1", 0, &ev);
	CHECK_EQ_INT(healthd_guard_expire(&g, 100, fds, 2), 2);
	CHECK_EQ_INT(healthd_guard_expire(&g, 100, fds, 2), 2);
	CHECK_EQ_INT(healthd_guard_expire(&g, 100, fds, 2), 1);
	CHECK_EQ_INT(g.counters.header_timeouts, 5);
	CHECK_EQ_INT(g.live, 0);
	healthd_guard_free(&g);
}

/*
 * An attack in the model: `sources` addresses try to hold 64 connections
 * each and reconnect at once when closed; a probe arrives every 10 ms and
 * sends its request within 1 ms. Every probe must get in and never be
 * evicted before its request is complete.
 */
static void churn(int sources, struct healthd_guard *g)
{
	struct healthd_guard_conf c;
	int ev, next_fd = 1000, probes = 0;
	healthd_guard_conf_default(&c);
	CHECK_EQ_INT(healthd_guard_init(g, &c), 0);
	for (int64_t now = 0; now < 2000; now++) {
		for (int a = 0; a < sources; a++) {
			char src[32];
			snprintf(src, sizeof(src), "198.18.9.%d", a + 1);
			for (int k = 0; k < 8; k++) {
				int r = admit(g, next_fd++, src, now, &ev);
				if (ev >= 0)
					healthd_guard_closed(
						g, healthd_guard_find(g, ev));
				if (r < 0)
					break;
			}
		}
		if (now % 10 == 0) {
			CHECK(admit(g, 1, "198.18.0.20", now, &ev) >= 0);
			if (ev >= 0)
				healthd_guard_closed(g,
						     healthd_guard_find(g, ev));
			probes++;
		} else if (now % 10 == 1) {
			int p = healthd_guard_find(g, 1);
			CHECK(p >= 0 &&
			      g->conns[p].state == HEALTHD_CONN_WAITING);
			if (p >= 0) {
				healthd_guard_request(g, p);
				healthd_guard_closed(g, p);
			}
		}
	}
	CHECK_EQ_INT(probes, 200);
	for (int a = 0; a < sources; a++) {
		char src[32];
		snprintf(src, sizeof(src), "198.18.9.%d", a + 1);
		struct healthd_source s = v4(src);
		CHECK(healthd_guard_source_live(g, &s) <= 32);
	}
}

static void test_probes_get_in_while_five_sources_hold_connections(void)
{
	struct healthd_guard g;
	/* The testers' attack: the per-address cap alone stops it. */
	churn(5, &g);
	CHECK(g.counters.refused_per_addr > 0);
	CHECK_EQ_INT(g.counters.evicted, 0);
	CHECK_EQ_INT(g.live, 5 * 32);
	healthd_guard_free(&g);
}

static void test_probes_get_in_while_twelve_sources_fill_the_table(void)
{
	struct healthd_guard g;
	/* More sources than the table holds: eviction makes the room. */
	churn(12, &g);
	CHECK(g.counters.evicted > 0);
	CHECK_EQ_INT(g.live, 256);
	healthd_guard_free(&g);
}

TEST_MAIN(TEST(test_defaults_are_what_the_docs_say),
	  TEST(test_bad_limits_are_refused),
	  TEST(test_one_address_is_capped_and_others_still_get_in),
	  TEST(test_ipv6_sources_count_per_64_prefix),
	  TEST(test_full_table_evicts_the_heaviest_sources_oldest_waiter),
	  TEST(test_busy_connections_are_never_evicted),
	  TEST(test_closing_entries_fill_up_then_new_ones_are_refused),
	  TEST(test_slow_request_heads_are_closed_at_the_deadline),
	  TEST(test_expire_reports_at_most_max),
	  TEST(test_probes_get_in_while_five_sources_hold_connections),
	  TEST(test_probes_get_in_while_twelve_sources_fill_the_table))
