/*
 * vipd_packet_test.c - the packets vipd puts on the wire, byte by byte
 * against layouts written out by hand from RFC 826 / 5227 / 4861 (the NA
 * checksum computed by an independent implementation), hostile ARP input,
 * and the announcement schedule (keepalived's garp_master_* behaviour) on a
 * fake clock.
 */
#include "announce.h"
#include "buckets.h"
#include "frames.h"
#include "test.h"
#include "util.h"

#include <arpa/inet.h>

static const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};

static struct in_addr v4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a;
}

static void test_gratuitous_arp_is_a_request_from_the_vip_to_the_vip(void)
{
	static const uint8_t want[VIPD_ARP_LEN] = {
		0x00, 0x01,			    /* hardware: Ethernet */
		0x08, 0x00,			    /* protocol: IPv4 */
		6,    4,			    /* address lengths */
		0x00, 0x01,			    /* request */
		0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, /* sender MAC */
		198,  18,   0,	  100,		    /* sender IP: the VIP */
		0,    0,    0,	  0,	0,    0,    /* target MAC: unknown */
		198,  18,   0,	  100,		    /* target IP: the VIP */
	};
	uint8_t out[VIPD_ARP_LEN];
	CHECK_EQ_INT(vipd_arp_announce(out, mac, v4("198.18.0.100")),
		     VIPD_ARP_LEN);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
}

static void test_arp_reply_answers_the_asker_with_the_given_mac(void)
{
	static const uint8_t asker[6] = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	static const uint8_t want[VIPD_ARP_LEN] = {
		0x00, 0x01,			    /* hardware: Ethernet */
		0x08, 0x00,			    /* protocol: IPv4 */
		6,    4,			    /* address lengths */
		0x00, 0x02,			    /* reply */
		0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, /* sender MAC */
		198,  18,   0,	  100,		    /* sender IP: the VIP */
		0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, /* target: the asker */
		198,  18,   0,	  20,		    /* the asker's address */
	};
	uint8_t out[VIPD_ARP_LEN];
	CHECK_EQ_INT(vipd_arp_reply(out, mac, v4("198.18.0.100"), asker,
				    v4("198.18.0.20")),
		     VIPD_ARP_LEN);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	struct vipd_arp a;
	CHECK_EQ_INT(vipd_arp_parse(out, sizeof(out), &a), 0);
	CHECK_EQ_INT(a.op, 2);
}

static void test_arp_probe_has_an_unspecified_sender_address(void)
{
	/* clang-format off */
	static const uint8_t want[VIPD_ARP_LEN] = {
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, /* request */
		0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,       /* sender MAC */
		0, 0, 0, 0,                               /* sender IP: none */
		0, 0, 0, 0, 0, 0,                         /* target MAC */
		198, 18, 0, 100,                          /* target IP: the VIP */
	};
	/* clang-format on */
	uint8_t out[VIPD_ARP_LEN];
	CHECK_EQ_INT(vipd_arp_probe(out, mac, v4("198.18.0.100")),
		     VIPD_ARP_LEN);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
}

static void test_unsolicited_na_overrides_with_hop_limit_255(void)
{
	/* clang-format off */
	static const uint8_t want[VIPD_NA_LEN] = {
		/* IPv6: payload 32, next header 58, hop limit 255 */
		0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
		/* source: the VIP 2001:2::100 */
		0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
		/* destination: ff02::1 */
		0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		/* NA, code 0, checksum, flags: Override only */
		0x88, 0x00, 0xb4, 0x88, 0x20, 0x00, 0x00, 0x00,
		/* target: the VIP */
		0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
		/* option 2 (target link-layer address), 1 x 8 bytes */
		0x02, 0x01, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,
	};
	/* clang-format on */
	struct in6_addr vip;
	uint8_t out[VIPD_NA_LEN];
	inet_pton(AF_INET6, "2001:2::100", &vip);
	CHECK_EQ_INT(vipd_na_unsolicited(out, mac, &vip), VIPD_NA_LEN);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	for (size_t i = 0; i < VIPD_NA_LEN; i++)
		if (out[i] != want[i])
			fprintf(stderr, "  byte %zu: %02x, want %02x\n", i,
				out[i], want[i]);
}

/* An independent ICMPv6 checksum check: the sum over the pseudo-header and
 * the whole message, checksum included, is 0xffff. */
static bool icmp6_sum_ok(const uint8_t *pkt, size_t len)
{
	uint64_t sum = 0;
	size_t plen = len - 40;
	for (size_t i = 8; i < 40; i += 2)
		sum += (uint64_t)(pkt[i] << 8 | pkt[i + 1]);
	sum += plen + 58;
	for (size_t i = 40; i < len; i += 2)
		sum += (uint64_t)(pkt[i] << 8 | (i + 1 < len ? pkt[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void set_checksum(uint8_t *pkt, size_t len)
{
	pkt[42] = pkt[43] = 0;
	uint64_t sum = 0;
	for (size_t i = 8; i < 40; i += 2)
		sum += (uint64_t)(pkt[i] << 8 | pkt[i + 1]);
	sum += (len - 40) + 58;
	for (size_t i = 40; i < len; i += 2)
		sum += (uint64_t)(pkt[i] << 8 | (i + 1 < len ? pkt[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt[42] = (uint8_t)(~sum >> 8);
	pkt[43] = (uint8_t)~sum;
}

/* A solicitation from src to dst for target, with a source link-layer
 * option (the layout Linux sends): 72 bytes. */
static size_t ns_build(uint8_t out[72], const char *src, const char *dst,
		       const char *target, const uint8_t sll[6])
{
	memset(out, 0, 72);
	out[0] = 0x60;
	out[5] = 32;
	out[6] = 58;
	out[7] = 255;
	inet_pton(AF_INET6, src, out + 8);
	inet_pton(AF_INET6, dst, out + 24);
	out[40] = 135;
	inet_pton(AF_INET6, target, out + 48);
	out[64] = 1;
	out[65] = 1;
	memcpy(out + 66, sll, 6);
	set_checksum(out, 72);
	return 72;
}

static void test_solicited_na_answers_the_asker_with_override(void)
{
	struct in6_addr vip, asker, any = IN6ADDR_ANY_INIT;
	uint8_t out[VIPD_NA_LEN];
	inet_pton(AF_INET6, "fd00:198:18::100", &vip);
	inet_pton(AF_INET6, "fd00:198:18::20", &asker);
	CHECK_EQ_INT(vipd_na_reply(out, mac, &vip, &asker), VIPD_NA_LEN);
	CHECK_EQ_INT(out[7], 255);
	CHECK(memcmp(out + 8, &vip, 16) == 0);	  /* from the VIP */
	CHECK(memcmp(out + 24, &asker, 16) == 0); /* to the asker */
	CHECK_EQ_INT(out[40], 136);
	CHECK_EQ_INT(out[44], 0x60); /* Solicited, Override */
	CHECK(memcmp(out + 48, &vip, 16) == 0);
	CHECK_EQ_INT(out[64], 2); /* target link-layer address */
	CHECK(memcmp(out + 66, mac, 6) == 0);
	CHECK(icmp6_sum_ok(out, VIPD_NA_LEN));
	/* duplicate address detection: to ff02::1, not Solicited */
	CHECK_EQ_INT(vipd_na_reply(out, mac, &vip, &any), VIPD_NA_LEN);
	CHECK_EQ_INT(out[24], 0xff);
	CHECK_EQ_INT(out[39], 0x01);
	CHECK_EQ_INT(out[44], 0x20);
	CHECK(icmp6_sum_ok(out, VIPD_NA_LEN));
}

static void test_ns_parse_takes_solicitations_and_refuses_hostile_ones(void)
{
	static const uint8_t sll[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	uint8_t p[80], q[80];
	struct vipd_ns ns;
	size_t n = ns_build(p, "fd00:198:18::20", "ff02::1:ff00:100",
			    "fd00:198:18::100", sll);
	CHECK_EQ_INT(vipd_ns_parse(p, n, &ns), 0);
	char t[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &ns.target, t, sizeof(t));
	CHECK(strcmp(t, "fd00:198:18::100") == 0);
	inet_ntop(AF_INET6, &ns.src, t, sizeof(t));
	CHECK(strcmp(t, "fd00:198:18::20") == 0);
	/* Ethernet padding after the packet is fine */
	memcpy(q, p, n);
	memset(q + n, 0xee, sizeof(q) - n);
	CHECK_EQ_INT(vipd_ns_parse(q, sizeof(q), &ns), 0);
	/* every short length */
	for (size_t len = 0; len < n; len++)
		CHECK_EQ_INT(vipd_ns_parse(p, len, &ns), -EBADMSG);
	CHECK_EQ_INT(vipd_ns_parse(NULL, 72, &ns), -EBADMSG);
	struct {
		size_t at;
		uint8_t value;
		bool fix_checksum;
	} bad[] = {
		{7, 254, true},	   /* crossed a router */
		{6, 17, true},	   /* not ICMPv6 */
		{40, 136, true},   /* an advertisement */
		{41, 1, true},	   /* code 1 */
		{50, 0xab, false}, /* checksum wrong */
		{65, 0, true},	   /* option of length 0 */
		{65, 2, true},	   /* option past the end */
		{48, 0xff, true},  /* multicast target */
		{0, 0x40, true},   /* IPv4 */
		{5, 200, true},	   /* payload past the end */
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		memcpy(q, p, n);
		q[bad[i].at] = bad[i].value;
		if (bad[i].fix_checksum)
			set_checksum(q, n);
		CHECK_EQ_INT(vipd_ns_parse(q, n, &ns), -EBADMSG);
	}
	/* duplicate address detection: from ::, to the solicited-node
	 * group, without a source link-layer option */
	n = ns_build(p, "::", "ff02::1:ff00:100", "fd00:198:18::100", sll);
	CHECK_EQ_INT(vipd_ns_parse(p, n, &ns), -EBADMSG);
	p[5] = 24;
	set_checksum(p, 64);
	CHECK_EQ_INT(vipd_ns_parse(p, 64, &ns), 0);
	n = ns_build(p, "::", "fd00:198:18::100", "fd00:198:18::100", sll);
	p[5] = 24;
	set_checksum(p, 64);
	CHECK_EQ_INT(vipd_ns_parse(p, 64, &ns), -EBADMSG);
}

/* What the ruleset's output rule does to the kernel's solicitations from
 * an IPv6 VIP (buckets.c): the option's MAC becomes the virtual one and
 * the Reserved field takes the difference; the checksum stays right. */
static void test_ns_rewritten_to_the_virtual_mac_keeps_its_checksum(void)
{
	static const uint8_t own[][6] = {
		{0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
		{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x00, 0x00, 0x00, 0x00, 0x00, 0x01},
		{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}, /* the same as vmac */
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(own); i++) {
		uint8_t p[72];
		struct vipd_ns ns;
		ns_build(p, "fd00:198:18::100", "ff02::1:ff00:20",
			 "fd00:198:18::20", own[i]);
		CHECK(icmp6_sum_ok(p, 72));
		uint16_t fix = vipd_buckets_ns_fixup(own[i], mac);
		memcpy(p + 66, mac, 6);	     /* @th,208,48 */
		p[44] = (uint8_t)(fix >> 8); /* @th,32,16 */
		p[45] = (uint8_t)fix;
		CHECK(icmp6_sum_ok(p, 72));
		CHECK_EQ_INT(vipd_ns_parse(p, 72, &ns), 0);
	}
}

static void test_arp_reply_from_another_mac_is_a_conflict(void)
{
	/* clang-format off */
	static const uint8_t reply[VIPD_ARP_LEN + 18] = {
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, /* reply */
		0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,       /* sender MAC */
		198, 18, 0, 100,                          /* sender IP */
		0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,       /* target MAC: us */
		0, 0, 0, 0,
		/* Ethernet padding follows: accepted */
	};
	/* clang-format on */
	struct vipd_arp a;
	CHECK_EQ_INT(vipd_arp_parse(reply, sizeof(reply), &a), 0);
	CHECK_EQ_INT(a.op, 2);
	CHECK(vipd_arp_conflicts(&a, mac, v4("198.18.0.100")));
	CHECK(!vipd_arp_conflicts(&a, mac, v4("198.18.0.101")));
	/* Our own announcement is no conflict. */
	uint8_t own[VIPD_ARP_LEN];
	vipd_arp_announce(own, mac, v4("198.18.0.100"));
	CHECK_EQ_INT(vipd_arp_parse(own, sizeof(own), &a), 0);
	CHECK(!vipd_arp_conflicts(&a, mac, v4("198.18.0.100")));
	char text[18];
	vipd_mac_text(reply + 8, text);
	CHECK(strcmp(text, "0a:0b:0c:0d:0e:0f") == 0);
}

static void test_hostile_arp_packets_are_rejected(void)
{
	uint8_t good[VIPD_ARP_LEN], bad[VIPD_ARP_LEN];
	struct vipd_arp a;
	vipd_arp_announce(good, mac, v4("198.18.0.100"));
	CHECK_EQ_INT(vipd_arp_parse(NULL, 0, &a), -EBADMSG);
	for (size_t n = 0; n < VIPD_ARP_LEN; n++)
		CHECK_EQ_INT(vipd_arp_parse(good, n, &a), -EBADMSG);
	static const struct {
		size_t at;
		uint8_t value;
	} damage[] = {
		{1, 6},	   /* hardware type IEEE 802 */
		{2, 0x86}, /* protocol IPv6 */
		{4, 8},	   /* hardware length */
		{5, 16},   /* protocol length */
		{7, 3},	   /* RARP request */
		{7, 0},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(damage); i++) {
		memcpy(bad, good, sizeof(bad));
		bad[damage[i].at] = damage[i].value;
		CHECK_EQ_INT(vipd_arp_parse(bad, sizeof(bad), &a), -EBADMSG);
	}
}

static const struct vipd_announce_cfg keepalived_like = {
	.repeat = 3,
	.interval_ms = 10,
	.delay_ms = 5000,
	.refresh_ms = 60000,
	.refresh_repeat = 2,
};

/* Run the schedule on a fake clock; record the times of the rounds. */
static size_t run_schedule(const struct vipd_announce_cfg *cfg, int64_t until,
			   int64_t *at, size_t max)
{
	struct vipd_announcer a;
	size_t n = 0;
	vipd_announcer_start(&a, cfg, 1000);
	for (int64_t now = 1000; now <= until && n < max; now++)
		while (vipd_announcer_due(&a, now) && n < max) {
			at[n++] = now;
			vipd_announcer_sent(&a, now);
		}
	return n;
}

static void test_announcements_burst_then_repeat_then_refresh(void)
{
	int64_t at[32];
	size_t n = run_schedule(&keepalived_like, 1000 + 130000, at, 32);
	static const int64_t want[] = {
		1000,	1010,	1020, /* burst: at once, interval apart */
		6000,	6010,	6020, /* again after delay_ms */
		66000,	66010,	      /* refresh_repeat, refresh_ms later */
		126000, 126010,
	};
	CHECK_EQ_INT(n, SKY_ARRAY_SIZE(want));
	for (size_t i = 0; i < n && i < SKY_ARRAY_SIZE(want); i++)
		CHECK_EQ_INT(at[i], want[i]);
}

static void test_announcements_stop_without_delay_or_refresh(void)
{
	struct vipd_announce_cfg cfg = {.repeat = 5, .interval_ms = 0};
	int64_t at[32];
	size_t n = run_schedule(&cfg, 100000, at, 32);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(at[4], 1000); /* interval 0: back to back */
	struct vipd_announcer a;
	vipd_announcer_start(&a, &cfg, 0);
	vipd_announcer_stop(&a);
	CHECK(!vipd_announcer_due(&a, 0));
	CHECK_EQ_INT(vipd_announcer_next(&a), INT64_MAX);
}

static void test_late_loop_does_not_send_a_burst_twice(void)
{
	struct vipd_announcer a;
	vipd_announcer_start(&a, &keepalived_like, 0);
	/* The loop wakes up long after the second burst and the first
	 * refresh were due: each is sent once, still interval_ms apart. */
	int64_t at[32];
	size_t n = 0;
	for (int64_t now = 70000; now < 71000; now++)
		while (vipd_announcer_due(&a, now) && n < 32) {
			at[n++] = now;
			vipd_announcer_sent(&a, now);
		}
	/* First burst (3), then the second (3), then one refresh (2). */
	CHECK_EQ_INT(n, 8);
	CHECK_EQ_INT(at[0], 70000);
	CHECK_EQ_INT(at[1], 70010);
	CHECK_EQ_INT(at[7], 70050);
	/* The next refresh keeps its place in the schedule. */
	CHECK_EQ_INT(vipd_announcer_next(&a), 125000);
}

TEST_MAIN(TEST(test_gratuitous_arp_is_a_request_from_the_vip_to_the_vip),
	  TEST(test_arp_reply_answers_the_asker_with_the_given_mac),
	  TEST(test_arp_probe_has_an_unspecified_sender_address),
	  TEST(test_unsolicited_na_overrides_with_hop_limit_255),
	  TEST(test_solicited_na_answers_the_asker_with_override),
	  TEST(test_ns_parse_takes_solicitations_and_refuses_hostile_ones),
	  TEST(test_ns_rewritten_to_the_virtual_mac_keeps_its_checksum),
	  TEST(test_arp_reply_from_another_mac_is_a_conflict),
	  TEST(test_hostile_arp_packets_are_rejected),
	  TEST(test_announcements_burst_then_repeat_then_refresh),
	  TEST(test_announcements_stop_without_delay_or_refresh),
	  TEST(test_late_loop_does_not_send_a_burst_twice))
