/*
 * vipd_packet_test.c - the packets vipd puts on the wire, byte by byte
 * against layouts written out by hand from RFC 826 / 5227 / 4861 (the NA
 * checksum computed by an independent implementation), hostile ARP input,
 * and the announcement schedule (keepalived's garp_master_* behaviour) on a
 * fake clock.
 */
#include "announce.h"
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
	  TEST(test_arp_reply_from_another_mac_is_a_conflict),
	  TEST(test_hostile_arp_packets_are_rejected),
	  TEST(test_announcements_burst_then_repeat_then_refresh),
	  TEST(test_announcements_stop_without_delay_or_refresh),
	  TEST(test_late_loop_does_not_send_a_burst_twice))
