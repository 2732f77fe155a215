/*
 * healthd_listen_test.c - --listen values: ports, IPv4, bracketed IPv6,
 * every address; and the errors a user sees for bad ones.
 */
#include "../../healthd/listen.h"
#include "test.h"
#include "util.h"

#include <arpa/inet.h>

static int parse(const char *spec, struct healthd_listen *l)
{
	char err[256] = "";
	int r = healthd_listen_parse(spec, l, err, sizeof(err));
	if (r < 0)
		CHECK(err[0] != '\0');
	return r;
}

static void test_port_alone_means_every_address(void)
{
	struct healthd_listen l;
	CHECK_EQ_INT(parse("9010", &l), 0);
	CHECK(l.any);
	CHECK_EQ_INT(l.sa.ss_family, AF_INET6);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&l.sa)->sin6_port), 9010);
	CHECK_EQ_INT(parse("*:80", &l), 0);
	CHECK(l.any);
}

static void test_ipv4_and_ipv6_addresses(void)
{
	struct healthd_listen l;
	CHECK_EQ_INT(parse("198.18.0.1:9010", &l), 0);
	CHECK(!l.any);
	CHECK_EQ_INT(l.sa.ss_family, AF_INET);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&l.sa)->sin_port), 9010);
	CHECK_EQ_INT(parse("[::1]:9011", &l), 0);
	CHECK(!l.any);
	CHECK_EQ_INT(l.sa.ss_family, AF_INET6);
	CHECK(strcmp(l.text, "[::1]:9011") == 0);
}

static void test_bad_values_are_refused(void)
{
	static const char *const bad[] = {
		"",
		"0",
		"65536",
		"-1",
		"x",
		"1.2.3:80",
		"::1:9010",
		"[::1]",
		"[::1:9010",
		"[]:80",
		"1.2.3.4:",
		"1.2.3.4:x",
		"[zz]:80",
		"9010 ",
		"host:9010",
		"1.2.3.4:+80",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"aaaa:80",
	};
	struct healthd_listen l;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i], &l) != -EINVAL)
			fprintf(stderr, "  accepted: '%s'\n", bad[i]);
		CHECK_EQ_INT(parse(bad[i], &l), -EINVAL);
	}
	CHECK_EQ_INT(parse(NULL, &l), -EINVAL);
}

TEST_MAIN(TEST(test_port_alone_means_every_address),
	  TEST(test_ipv4_and_ipv6_addresses), TEST(test_bad_values_are_refused))
