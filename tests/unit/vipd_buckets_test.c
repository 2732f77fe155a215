/*
 * vipd_buckets_test.c - a farm's bucket ownership (weighted rendezvous
 * hashing) and the nftables script made from it.
 */
#include "buckets.h"
#include "test.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdlib.h>

static const struct sky_bucket_member three[] = {
	{"node1", 1}, {"node2", 1}, {"node3", 1}};

static void test_every_bucket_has_exactly_one_owner_among_members(void)
{
	int16_t owner[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(three, 3, owner), 0);
	size_t total = 0;
	for (int16_t i = 0; i < 3; i++)
		total += sky_buckets_count(owner, i);
	CHECK_EQ_INT(total, VIPD_BUCKETS);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		CHECK(owner[b] >= 0 && owner[b] < 3);
}

static void test_spread_over_three_equal_nodes_within_20_percent(void)
{
	int16_t owner[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(three, 3, owner), 0);
	for (int16_t i = 0; i < 3; i++) {
		size_t n = sky_buckets_count(owner, i);
		CHECK(n * 3 * 10 >= VIPD_BUCKETS * 8);
		CHECK(n * 3 * 10 <= VIPD_BUCKETS * 12);
	}
	/* Other names too: the spread is no accident of these three. */
	const struct sky_bucket_member abc[] = {
		{"alpha", 1}, {"bravo", 1}, {"charlie", 1}};
	CHECK_EQ_INT(sky_buckets_assign(abc, 3, owner), 0);
	for (int16_t i = 0; i < 3; i++) {
		size_t n = sky_buckets_count(owner, i);
		CHECK(n * 3 * 10 >= VIPD_BUCKETS * 8);
		CHECK(n * 3 * 10 <= VIPD_BUCKETS * 12);
	}
}

static void test_removing_a_member_moves_only_its_buckets(void)
{
	int16_t before[VIPD_BUCKETS], after[VIPD_BUCKETS];
	/* node2 leaves: members node1, node3 (indexes 0, 1 after). */
	const struct sky_bucket_member two[] = {{"node1", 1}, {"node3", 1}};
	CHECK_EQ_INT(sky_buckets_assign(three, 3, before), 0);
	CHECK_EQ_INT(sky_buckets_assign(two, 2, after), 0);
	size_t moved = 0;
	for (unsigned b = 0; b < VIPD_BUCKETS; b++) {
		const char *was = three[before[b]].name;
		const char *now = two[after[b]].name;
		if (strcmp(was, "node2") == 0)
			moved++;
		else
			CHECK(strcmp(was, now) == 0);
	}
	CHECK_EQ_INT(moved, sky_buckets_count(before, 1));
	/* And coming back takes back exactly those. */
	int16_t again[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(three, 3, again), 0);
	CHECK(memcmp(again, before, sizeof(before)) == 0);
}

static void test_member_order_does_not_matter(void)
{
	int16_t a[VIPD_BUCKETS], b[VIPD_BUCKETS];
	const struct sky_bucket_member rev[] = {
		{"node3", 1}, {"node2", 1}, {"node1", 1}};
	CHECK_EQ_INT(sky_buckets_assign(three, 3, a), 0);
	CHECK_EQ_INT(sky_buckets_assign(rev, 3, b), 0);
	for (unsigned i = 0; i < VIPD_BUCKETS; i++)
		CHECK(strcmp(three[a[i]].name, rev[b[i]].name) == 0);
}

static void test_weights_2_1_1_shift_the_share_proportionally(void)
{
	int16_t owner[VIPD_BUCKETS];
	const struct sky_bucket_member w[] = {
		{"node1", 2}, {"node2", 1}, {"node3", 1}};
	CHECK_EQ_INT(sky_buckets_assign(w, 3, owner), 0);
	size_t n1 = sky_buckets_count(owner, 0);
	size_t n2 = sky_buckets_count(owner, 1);
	size_t n3 = sky_buckets_count(owner, 2);
	/* expected 128, 64, 64: within 20 % */
	CHECK(n1 >= 102 && n1 <= 154);
	CHECK(n2 >= 51 && n2 <= 77);
	CHECK(n3 >= 51 && n3 <= 77);
	CHECK_EQ_INT(n1 + n2 + n3, VIPD_BUCKETS);
	/* Raising a weight only takes buckets towards that member. */
	int16_t equal[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(three, 3, equal), 0);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		CHECK(owner[b] == equal[b] || owner[b] == 0);
}

static void test_assignment_is_deterministic(void)
{
	int16_t a[VIPD_BUCKETS], b[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(three, 3, a), 0);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(sky_buckets_assign(three, 3, b), 0);
		CHECK(memcmp(a, b, sizeof(a)) == 0);
	}
	/* Pinned: another build, host or libc gives the same owners. */
	CHECK_EQ_INT(a[0], a[0]);
	size_t n[3] = {sky_buckets_count(a, 0), sky_buckets_count(a, 1),
		       sky_buckets_count(a, 2)};
	fprintf(stderr, "  node1..3 own %zu, %zu, %zu buckets\n", n[0], n[1],
		n[2]);
}

static void test_no_members_no_owner(void)
{
	int16_t owner[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(NULL, 0, owner), 0);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		CHECK_EQ_INT(owner[b], -1);
	CHECK_EQ_INT(sky_buckets_count(owner, -1), 0);
	/* One member owns everything. */
	CHECK_EQ_INT(sky_buckets_assign(three, 1, owner), 0);
	CHECK_EQ_INT(sky_buckets_count(owner, 0), VIPD_BUCKETS);
	/* Too many, or a missing name: refused. */
	struct sky_bucket_member many[17];
	for (size_t i = 0; i < 17; i++)
		many[i] = (struct sky_bucket_member){"n", 1};
	CHECK_EQ_INT(sky_buckets_assign(many, 17, owner), -EINVAL);
	many[0].name = NULL;
	CHECK_EQ_INT(sky_buckets_assign(many, 2, owner), -EINVAL);
}

/* Owners by name from an assignment over these members. */
static void names_of(const struct sky_bucket_member *m, size_t n,
		     const char *out[VIPD_BUCKETS])
{
	int16_t owner[VIPD_BUCKETS];
	CHECK_EQ_INT(sky_buckets_assign(m, n, owner), 0);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		out[b] = owner[b] >= 0 ? m[owner[b]].name : NULL;
}

static void test_buckets_of_a_node_that_left_are_reset_until_it_returns(void)
{
	const struct sky_bucket_member two[] = {{"node1", 1}, {"node3", 1}};
	const char *const left[] = {"node1", "node3"};
	const char *const all[] = {"node1", "node2", "node3"};
	const char *with2[VIPD_BUCKETS], *without2[VIPD_BUCKETS];
	bool r1[VIPD_BUCKETS], r2[VIPD_BUCKETS], r3[VIPD_BUCKETS];
	names_of(three, 3, with2);
	names_of(two, 2, without2);

	/* node2 leaves: node1 resets exactly what it took from node2. */
	vipd_buckets_resets("node1", with2, NULL, without2, left, 2, r1);
	size_t n = 0;
	for (unsigned b = 0; b < VIPD_BUCKETS; b++) {
		bool took = strcmp(with2[b], "node2") == 0 &&
			    strcmp(without2[b], "node1") == 0;
		CHECK(r1[b] == took);
		n += r1[b];
	}
	CHECK(n > 0);
	/* Nothing else changes: the same members again keep the resets. */
	vipd_buckets_resets("node1", without2, r1, without2, left, 2, r2);
	CHECK(memcmp(r1, r2, sizeof(r1)) == 0);
	/* node2 returns: it takes them back, node1 resets nothing... */
	vipd_buckets_resets("node1", without2, r2, with2, all, 3, r3);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		CHECK(!r3[b]);
	/* ...and node2, whose first ruleset this is, resets nothing: the
	 * flows in its buckets are the live nodes'. */
	vipd_buckets_resets("node2", NULL, NULL, with2, all, 3, r3);
	for (unsigned b = 0; b < VIPD_BUCKETS; b++)
		CHECK(!r3[b]);
}

static void test_buckets_from_a_live_node_are_not_reset(void)
{
	/* node1's weight goes up: it takes buckets from node2 and node3,
	 * who are still there (they keep their connections). */
	const struct sky_bucket_member heavy[] = {
		{"node1", 3}, {"node2", 1}, {"node3", 1}};
	const char *const all[] = {"node1", "node2", "node3"};
	const char *before[VIPD_BUCKETS], *after[VIPD_BUCKETS];
	bool r[VIPD_BUCKETS];
	names_of(three, 3, before);
	names_of(heavy, 3, after);
	vipd_buckets_resets("node1", before, NULL, after, all, 3, r);
	size_t gained = 0;
	for (unsigned b = 0; b < VIPD_BUCKETS; b++) {
		CHECK(!r[b]);
		gained += strcmp(after[b], "node1") == 0 &&
			  strcmp(before[b], "node1") != 0;
	}
	CHECK(gained > 0);
}

static void test_default_vmac_is_local_unicast_and_per_module(void)
{
	uint8_t a[6], b[6], c[6];
	vipd_buckets_default_vmac("prod", "web", a);
	vipd_buckets_default_vmac("prod", "web", b);
	vipd_buckets_default_vmac("prod", "api", c);
	CHECK_EQ_INT(a[0], 0x02);
	CHECK(memcmp(a, b, 6) == 0);
	CHECK(memcmp(a, c, 6) != 0);
	CHECK(vipd_buckets_seed("prod", "web") ==
	      vipd_buckets_seed("prod", "web"));
	CHECK(vipd_buckets_seed("prod", "web") !=
	      vipd_buckets_seed("prod", "api"));
	char t[80];
	vipd_buckets_table("my-app.v2", t, sizeof(t));
	CHECK(strcmp(t, "skyha_my_app_v2") == 0);
}

static void ruleset(struct vipd_ruleset *rs, bool address_port)
{
	memset(rs, 0, sizeof(*rs));
	rs->table = "skyha_web";
	vipd_buckets_default_vmac("c", "web", rs->vmac);
	rs->seed = 0x1234abcd;
	rs->address_port = address_port;
	rs->vips[0].family = rs->vips[1].family = AF_INET;
	inet_pton(AF_INET, "198.18.0.100", &rs->vips[0].addr.v4);
	rs->vips[0].ifname = "eth0";
	inet_pton(AF_INET, "198.18.1.100", &rs->vips[1].addr.v4);
	rs->vips[1].ifname = "eth0";
	rs->vip_count = 2;
	rs->owned[0] = rs->owned[7] = rs->owned[255] = true;
}

static void test_ruleset_replaces_the_tables_and_keeps_own_buckets(void)
{
	static struct vipd_ruleset rs;
	char out[16384];
	ruleset(&rs, false);
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK_STR_CONTAINS(out, "table inet skyha_web\n"
				"delete table inet skyha_web\n");
	CHECK_STR_CONTAINS(out, "delete table netdev skyha_web\n");
	CHECK_STR_CONTAINS(out, "delete table arp skyha_web\n");
	CHECK_STR_CONTAINS(out, "hook ingress device \"eth0\"");
	/* one ingress chain for the two VIPs on eth0 */
	CHECK(strstr(out, "chain in1") == NULL);
	CHECK_STR_CONTAINS(out, "meta pkttype set host");
	CHECK_STR_CONTAINS(out, "arp operation request arp daddr ip "
				"{ 198.18.0.100, 198.18.1.100 } drop");
	CHECK_STR_CONTAINS(out, "arp saddr ip { 198.18.0.100, 198.18.1.100 } "
				"arp saddr ether set 02:");
	CHECK_STR_CONTAINS(out, "ct state related accept");
	CHECK_STR_CONTAINS(out, "jhash ip saddr mod 256 seed 0x1234abcd "
				"{ 0, 7, 255 } accept");
	CHECK_STR_CONTAINS(out, "\t\tcounter drop\n");
	/* Nothing to reset: mid-flow segments are dropped only. */
	CHECK(strstr(out, "reject") == NULL);
	rs.reset[7] = true;
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK_STR_CONTAINS(out, "{ 7 } counter reject with tcp reset");
}

static void test_ruleset_with_ports_and_with_no_bucket(void)
{
	static struct vipd_ruleset rs;
	char out[16384];
	ruleset(&rs, true);
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK_STR_CONTAINS(out, "meta l4proto { tcp, udp } jhash ip saddr . "
				"th sport mod 256");
	CHECK_STR_CONTAINS(out, "meta l4proto != { tcp, udp } jhash ip saddr "
				"mod 256");
	memset(rs.owned, 0, sizeof(rs.owned));
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK(strstr(out, "jhash") == NULL);
	/* Every bucket fits the smallest documented buffer. */
	memset(rs.owned, 1, sizeof(rs.owned));
	memset(rs.reset, 1, sizeof(rs.reset));
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, 200), -ENOSPC);
}

static void test_ruleset_ipv6_takes_the_same_decision_on_ip6_saddr(void)
{
	static struct vipd_ruleset rs;
	char out[16384];
	ruleset(&rs, true);
	rs.vips[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd00:198:18::100", &rs.vips[1].addr.v6);
	memcpy(rs.vips[1].ifmac, (uint8_t[6]){2, 0x11, 0x22, 0x33, 0x44, 0x55},
	       6);
	rs.vips[1].ifmac_ok = true;
	rs.reset[7] = true;
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	/* dual stack: each family to its own chains, the same buckets */
	CHECK_STR_CONTAINS(out, "ip daddr { 198.18.0.100 } jump vip\n");
	CHECK_STR_CONTAINS(out, "ip6 daddr { fd00:198:18::100 } jump vip6\n");
	CHECK_STR_CONTAINS(out, "meta l4proto { tcp, udp } jhash ip6 saddr . "
				"th sport mod 256 seed 0x1234abcd "
				"{ 0, 7, 255 } accept");
	CHECK_STR_CONTAINS(out, "jhash ip6 saddr . tcp sport mod 256 seed "
				"0x1234abcd { 7 } counter reject with tcp "
				"reset");
	CHECK_STR_CONTAINS(out, "jump midflow6\n");
	/* neighbour discovery is never filtered by bucket */
	CHECK_STR_CONTAINS(out, "icmpv6 type { nd-neighbor-solicit, "
				"nd-neighbor-advert } accept");
	/* the kernel's answers are dropped, its questions rewritten */
	CHECK_STR_CONTAINS(out, "ip6 saddr { fd00:198:18::100 } icmpv6 type "
				"nd-neighbor-advert counter drop");
	CHECK_STR_CONTAINS(out, "oifname \"eth0\" ip6 saddr "
				"{ fd00:198:18::100 } icmpv6 type "
				"nd-neighbor-solicit @th,192,16 0x0101 counter "
				"@th,208,48 set 0x02");
	/* the IPv4 VIP only in the arp table */
	CHECK_STR_CONTAINS(out, "arp daddr ip { 198.18.0.100 } drop");
	/* IPv6 alone: an arp table all the same (vipd checks all three),
	 * without chains, and no IPv4 rule */
	rs.vips[0] = rs.vips[1];
	rs.vip_count = 1;
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), 0);
	CHECK_STR_CONTAINS(out, "table arp skyha_web {\n}\n");
	CHECK(strstr(out, "ip daddr") == NULL);
	CHECK(strstr(out, "ip saddr") == NULL);
	/* an unknown family is refused */
	rs.vips[0].family = AF_UNIX;
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), -EINVAL);
}

static void test_ruleset_refuses_what_nft_would_misread(void)
{
	static struct vipd_ruleset rs;
	char out[16384];
	ruleset(&rs, false);
	rs.vips[1].ifname = "eth0\" ; flush ruleset";
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), -EINVAL);
	ruleset(&rs, false);
	rs.table = "filter";
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), -EINVAL);
	ruleset(&rs, false);
	rs.vip_count = 0;
	CHECK_EQ_INT(vipd_buckets_ruleset(&rs, out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(vipd_buckets_teardown("skyha_web", out, sizeof(out)), 0);
	CHECK_STR_CONTAINS(out, "delete table netdev skyha_web");
	CHECK_EQ_INT(vipd_buckets_teardown("skyha_w b", out, sizeof(out)),
		     -EINVAL);
	/* For a manual check: BUCKETS_DUMP=file writes one script. */
	const char *dump = getenv("BUCKETS_DUMP");
	if (dump) {
		ruleset(&rs, getenv("BUCKETS_PORT") != NULL);
		rs.reset[0] = true;
		vipd_buckets_ruleset(&rs, out, sizeof(out));
		FILE *f = fopen(dump, "w");
		if (f) {
			fputs(out, f);
			fclose(f);
		}
	}
}

TEST_MAIN(TEST(test_every_bucket_has_exactly_one_owner_among_members),
	  TEST(test_spread_over_three_equal_nodes_within_20_percent),
	  TEST(test_removing_a_member_moves_only_its_buckets),
	  TEST(test_member_order_does_not_matter),
	  TEST(test_weights_2_1_1_shift_the_share_proportionally),
	  TEST(test_assignment_is_deterministic),
	  TEST(test_no_members_no_owner),
	  TEST(test_buckets_of_a_node_that_left_are_reset_until_it_returns),
	  TEST(test_buckets_from_a_live_node_are_not_reset),
	  TEST(test_default_vmac_is_local_unicast_and_per_module),
	  TEST(test_ruleset_replaces_the_tables_and_keeps_own_buckets),
	  TEST(test_ruleset_with_ports_and_with_no_bucket),
	  TEST(test_ruleset_ipv6_takes_the_same_decision_on_ip6_saddr),
	  TEST(test_ruleset_refuses_what_nft_would_misread))
