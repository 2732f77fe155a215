/*
 * vipd_cfg_test.c - the vipd: section (errors name file:line:col and the
 * field), and an actuator's reading of heartbeatd's desired state (shared/
 * desired.c) with hostile messages.
 */
#include "desired.h"
#include "test.h"
#include "util.h"
#include "vipcfg.h"

#include <arpa/inet.h>

#define HEAD "cluster: {name: c}\nvipd:\n"

static int parse(const char *text, struct vipd_cfg *c, char *err, size_t size)
{
	err[0] = '\0';
	return vipd_cfg_parse("/etc/skyha/app.yaml", text, strlen(text), c, err,
			      size);
}

static void test_good_section_with_both_families(void)
{
	static struct vipd_cfg c;
	char err[512];
	const char *text =
		HEAD "  addresses:\n"
		     "    - {address: 198.18.0.100/24, interface: eth0}\n"
		     "    - address: \"2001:2:0::100/64\"\n"
		     "      interface: bond0.12\n"
		     "    - {address: 198.18.1.100, interface: eth1}\n"
		     "  announce: {repeat: 3, interval_ms: 20, delay_ms: 2000,"
		     " refresh_ms: 60000, refresh_repeat: 2}\n"
		     "  probe: {wait_ms: 300, count: 3, on_conflict: fail}\n";
	int r = parse(text, &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(c.vip_count, 3);
	CHECK_EQ_INT(c.vips[0].family, AF_INET);
	CHECK_EQ_INT(c.vips[0].prefix, 24);
	CHECK(strcmp(c.vips[0].ifname, "eth0") == 0);
	CHECK_EQ_INT(c.vips[1].family, AF_INET6);
	CHECK_EQ_INT(c.vips[1].prefix, 64);
	/* Written back in canonical form. */
	CHECK(strcmp(c.vips[1].text, "2001:2::100/64") == 0);
	CHECK(strcmp(c.vips[1].ifname, "bond0.12") == 0);
	CHECK_EQ_INT(c.vips[2].prefix, 32); /* no prefix: a host address */
	CHECK_EQ_INT(c.announce.repeat, 3);
	CHECK_EQ_INT(c.announce.refresh_repeat, 2);
	CHECK_EQ_INT(c.probe.count, 3);
	CHECK_EQ_INT(c.probe.on_conflict, VIPD_CONFLICT_FAIL);
}

static void test_defaults_are_keepalived_defaults(void)
{
	static struct vipd_cfg c;
	char err[512];
	CHECK_EQ_INT(parse(HEAD "  addresses: [{address: 10.0.0.1/8, "
				"interface: eth0}]\n",
			   &c, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(c.announce.repeat, 5);	 /* garp_master_repeat */
	CHECK_EQ_INT(c.announce.interval_ms, 0); /* garp_interval */
	CHECK_EQ_INT(c.announce.delay_ms, 5000); /* garp_master_delay */
	CHECK_EQ_INT(c.announce.refresh_ms, 0);	 /* garp_master_refresh */
	CHECK_EQ_INT(c.announce.refresh_repeat, 1);
	CHECK_EQ_INT(c.probe.wait_ms, 200);
	CHECK_EQ_INT(c.probe.on_conflict, VIPD_CONFLICT_REPORT);
}

struct bad_case {
	const char *text;
	const char *where; /* "app.yaml:line:col" expected */
	const char *says;
};

static void test_bad_sections_name_line_and_field(void)
{
	static struct vipd_cfg c;
	static const struct bad_case cases[] = {
		{"cluster: {name: c}\n", "app.yaml:1:1:", "vipd: section"},
		{HEAD "  announce: {repeat: 2}\n",
		 "app.yaml:3:3:", "vipd.addresses: required"},
		{HEAD "  addresses: []\n", "app.yaml:3:14:", "vipd.addresses"},
		{HEAD "  addresses:\n    - {address: 198.18.0.300/24, "
		      "interface: eth0}\n",
		 "app.yaml:4:17:", "vipd.addresses[0].address"},
		{HEAD "  addresses:\n    - {address: 198.18.0.1/33, "
		      "interface: eth0}\n",
		 "app.yaml:4:17:", "prefix"},
		{HEAD "  addresses:\n    - {address: \"::1/128\", "
		      "interface: eth0}\n",
		 "app.yaml:4:17:", "loopback"},
		{HEAD "  addresses:\n    - {address: \"fe80::1/64\", "
		      "interface: eth0}\n",
		 "app.yaml:4:17:", "link-local"},
		{HEAD "  addresses:\n    - {address: 224.0.0.1, "
		      "interface: eth0}\n",
		 "app.yaml:4:17:", "multicast"},
		{HEAD "  addresses:\n    - {address: 10.0.0.1}\n",
		 "app.yaml:4:7:", "vipd.addresses[0]: interface: required"},
		{HEAD "  addresses:\n    - {interface: eth0}\n",
		 "app.yaml:4:7:", "address: required"},
		{HEAD "  addresses:\n    - {address: 10.0.0.1, interface: "
		      "averyveryverylongname}\n",
		 "app.yaml:4:38:", "vipd.addresses[0].interface"},
		{HEAD "  addresses:\n    - {address: 10.0.0.1, interface: "
		      "\"a/b\"}\n",
		 "app.yaml:4:38:", "not a valid interface name"},
		{HEAD "  addresses:\n    - {address: 10.0.0.1, interface: e0}\n"
		      "    - {address: 10.0.0.1/24, interface: e1}\n",
		 "app.yaml:5:7:", "already vipd.addresses[0]"},
		{HEAD "  addresses:\n    - {address: 10.0.0.1, interface: e0, "
		      "labl: x}\n",
		 "app.yaml:4:", "labl"},
		{HEAD "  addresses: [{address: 10.0.0.1, interface: e0}]\n"
		      "  announce: {repeat: 0}\n",
		 "app.yaml:4:", "vipd.announce.repeat"},
		{HEAD "  addresses: [{address: 10.0.0.1, interface: e0}]\n"
		      "  announce: {refresh_ms: 10}\n",
		 "app.yaml:4:", "vipd.announce.refresh_ms"},
		{HEAD "  addresses: [{address: 10.0.0.1, interface: e0}]\n"
		      "  announce: {repeat: 10, interval_ms: 500, "
		      "delay_ms: 1000}\n",
		 "app.yaml:4:13:", "must end before delay_ms"},
		{HEAD "  addresses: [{address: 10.0.0.1, interface: e0}]\n"
		      "  probe: {on_conflict: ignore}\n",
		 "app.yaml:4:", "vipd.probe.on_conflict"},
		{HEAD "  addresses: [{address: 10.0.0.1, interface: e0}]\n"
		      "  probe: {wait_ms: 9000}\n",
		 "app.yaml:4:", "vipd.probe.wait_ms"},
		{HEAD "  adresses: []\n", "app.yaml:3:", "adresses"},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		char err[512];
		int r = parse(cases[i].text, &c, err, sizeof(err));
		CHECK_EQ_INT(r, -EINVAL);
		CHECK_STR_CONTAINS(err, cases[i].where);
		CHECK_STR_CONTAINS(err, cases[i].says);
		if (!strstr(err, cases[i].says))
			fprintf(stderr, "  case %zu: %s\n", i, err);
	}
}

static void test_too_many_addresses_refused(void)
{
	static struct vipd_cfg c;
	char text[4096] = HEAD "  addresses:\n", err[512];
	for (int i = 0; i <= VIPD_MAX_VIPS; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof(text) - n,
			 "    - {address: 10.0.0.%d, interface: eth0}\n",
			 i + 1);
	}
	CHECK_EQ_INT(parse(text, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "at most 16");
}

#define FARM   "cluster: {name: c}\nmodule: {name: web, type: farm}\nvipd:\n"
#define MIRROR "cluster: {name: c}\nmodule: {name: web, type: mirror}\nvipd:\n"
#define V4     "  addresses: [{address: 198.18.0.100/24, interface: eth0}]\n"

static void test_lb_buckets_in_a_farm(void)
{
	static struct vipd_cfg c;
	char err[512];
	CHECK_EQ_INT(parse(FARM V4, &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.lb, VIPD_LB_NONE); /* the default: today's VIP */
	int r = parse(FARM V4 "  lb: buckets\n", &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(c.lb, VIPD_LB_BUCKETS);
	CHECK_EQ_INT(c.buckets.hash, VIPD_HASH_ADDRESS);
	CHECK(!c.buckets.vmac_set);
	r = parse(FARM V4 "  lb: buckets\n"
			  "  buckets: {hash: address_port, vmac: "
			  "\"02:00:5E:10:00:01\"}\n",
		  &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(c.buckets.hash, VIPD_HASH_ADDRESS_PORT);
	CHECK(c.buckets.vmac_set);
	CHECK_EQ_INT(c.buckets.vmac[2], 0x5e);
	CHECK(strcmp(vipd_lb_name(c.lb), "buckets") == 0);
	CHECK(strcmp(vipd_hash_name(c.buckets.hash), "address_port") == 0);
	/* IPv6, alone or with IPv4 (dual stack) */
	r = parse(FARM "  addresses: [{address: \"fd00:198:18::100/64\", "
		       "interface: eth0}]\n  lb: buckets\n",
		  &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	r = parse(FARM "  addresses: [{address: 198.18.0.100/24, interface: "
		       "eth0}, {address: \"fd00:198:18::100/64\", "
		       "interface: eth0}]\n  lb: buckets\n",
		  &c, err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(c.vip_count, 2);
}

static void test_lb_buckets_refusals_name_line_and_field(void)
{
	static struct vipd_cfg c;
	static const struct bad_case cases[] = {
		/* a mirror: the VIP is on one node */
		{MIRROR V4 "  lb: buckets\n",
		 "app.yaml:5:7:", "vipd.lb: buckets needs module.type: farm"},
		/* no type: a mirror */
		{HEAD V4 "  lb: buckets\n",
		 "app.yaml:4:7:", "vipd.lb: buckets needs module.type: farm"},
		{FARM "  addresses: [{address: \"fe80::100/64\", "
		      "interface: eth0}]\n  lb: buckets\n",
		 "app.yaml:4:25:", "it is a link-local address"},
		{FARM V4 "  lb: spread\n",
		 "app.yaml:5:7:", "vipd.lb: must be none or buckets"},
		{FARM V4 "  lb: buckets\n  buckets: {hash: port}\n",
		 "app.yaml:6:19:",
		 "vipd.buckets.hash: must be address or "
		 "address_port"},
		{FARM V4 "  lb: buckets\n  buckets: {vmac: \"01:00:5e:00:00:"
			 "01\"}\n",
		 "app.yaml:6:",
		 "vipd.buckets.vmac: 01:00:5e:00:00:01 is a "
		 "multicast"},
		{FARM V4 "  lb: buckets\n  buckets: {vmac: 02:00}\n",
		 "app.yaml:6:", "vipd.buckets.vmac: must be a MAC"},
		{FARM V4 "  lb: buckets\n  buckets: {hashh: address}\n",
		 "app.yaml:6:", "hashh"},
		{FARM V4 "  buckets: {hash: address}\n",
		 "app.yaml:5:12:", "vipd.buckets: only with vipd.lb: buckets"},
		{FARM "  addresses: [{address: 198.18.0.100/24, "
		      "interface: \"e\\\"0\"}]\n  lb: buckets\n",
		 "app.yaml:5:7:", "nftables would misread"},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(cases); i++) {
		char err[512];
		int r = parse(cases[i].text, &c, err, sizeof(err));
		CHECK_EQ_INT(r, -EINVAL);
		CHECK_STR_CONTAINS(err, cases[i].where);
		CHECK_STR_CONTAINS(err, cases[i].says);
	}
}

static json_t *desired(const char *text)
{
	json_error_t e;
	return json_loads(text, 0, &e);
}

static void test_desired_state_for_vipd(void)
{
	struct sky_desired d;
	char why[128];
	json_t *m = desired("{\"module\":\"app\",\"node\":\"n1\",\"role\":"
			    "\"PRIM\",\"epoch\":7,\"targets\":{\"vipd\":"
			    "\"up\",\"checkd\":null}}");
	CHECK_EQ_INT(sky_desired_parse(m, "app", "n1", SKY_ACT_VIPD, &d, why,
				       sizeof(why)),
		     0);
	CHECK_EQ_INT(d.role, SKY_ROLE_PRIM);
	CHECK_EQ_INT(d.epoch, 7);
	CHECK(d.target && strcmp(d.target, "up") == 0);
	/* Not asked yet. */
	CHECK_EQ_INT(sky_desired_parse(m, "app", "n1", SKY_ACT_CHECKD, &d, why,
				       sizeof(why)),
		     0);
	CHECK(d.target == NULL);
	json_decref(m);
}

static void test_hostile_desired_states_rejected(void)
{
	static const char *const bad[] = {
		"{}",
		"{\"module\":\"other\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n2\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"KING\","
		"\"epoch\":1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":-1,\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":\"1\",\"targets\":{}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":[]}",
		/* replicd's targets are not vipd's */
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{\"vipd\":\"primary\"}}",
		"{\"module\":\"app\",\"node\":\"n1\",\"role\":\"PRIM\","
		"\"epoch\":1,\"targets\":{\"vipd\":1}}",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		struct sky_desired d;
		char why[128] = "";
		json_t *m = desired(bad[i]);
		CHECK(m != NULL);
		CHECK_EQ_INT(sky_desired_parse(m, "app", "n1", SKY_ACT_VIPD, &d,
					       why, sizeof(why)),
			     -EINVAL);
		CHECK(why[0] != '\0');
		json_decref(m);
	}
}

TEST_MAIN(TEST(test_good_section_with_both_families),
	  TEST(test_defaults_are_keepalived_defaults),
	  TEST(test_bad_sections_name_line_and_field),
	  TEST(test_too_many_addresses_refused),
	  TEST(test_lb_buckets_in_a_farm),
	  TEST(test_lb_buckets_refusals_name_line_and_field),
	  TEST(test_desired_state_for_vipd),
	  TEST(test_hostile_desired_states_rejected))
