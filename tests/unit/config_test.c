/*
 * config_test.c - configuration loading: good files give the documented
 * defaults; every bad file is refused with file:line:column and the field.
 */
#include "config.h"
#include "test.h"
#include "yamlcfg.h"

#include <sys/stat.h>

static char dir[64];
static char path[128];

static const char good[] = "cluster:\n"
			   "  name: demo\n"
			   "  key_file: cluster.key\n"
			   "module:\n"
			   "  name: app\n"
			   "  default_primary: node1\n"
			   "nodes:\n"
			   "  - name: node1\n"
			   "    addresses: [198.18.0.1, 198.18.1.1]\n"
			   "  - name: node2\n"
			   "    addresses: [198.18.0.2, 198.18.1.2]\n"
			   "witness:\n"
			   "  addresses: [198.18.0.10]\n";

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/skyha-config-test-%d", (int)getpid());
	sky_mkdir_p(dir, 0700);
	snprintf(path, sizeof(path), "%s/app.yaml", dir);
	char key_path[160];
	snprintf(key_path, sizeof(key_path), "%s/cluster.key", dir);
	const char *hex = "00112233445566778899aabbccddeeff"
			  "00112233445566778899aabbccddeeff\n";
	sky_write_file_atomic(key_path, hex, strlen(hex), 0600);
}

/* Parse `good` with one line replaced (or appended when `from` is NULL). */
static int parse_variant(const char *from, const char *to,
			 struct sky_config *cfg, char *err, size_t err_size)
{
	char text[4096];
	setup();
	if (!from) {
		snprintf(text, sizeof(text), "%s%s", good, to);
	} else {
		const char *at = strstr(good, from);
		if (!at)
			return -999;
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good,
			 to, at + strlen(from));
	}
	err[0] = '\0';
	return sky_config_parse(path, text, strlen(text), cfg, err, err_size);
}

static void test_good_config_loads_with_documented_defaults(void)
{
	static struct sky_config cfg;
	char err[512];
	CHECK_EQ_INT(parse_variant(NULL, "", &cfg, err, sizeof(err)), 0);
	CHECK(strcmp(cfg.cluster, "demo") == 0);
	CHECK_EQ_INT(cfg.node_count, 2);
	CHECK_EQ_INT(cfg.network_count, 2);
	CHECK_EQ_INT(cfg.heartbeat_port, 7400);
	CHECK_EQ_INT(cfg.interval_ms, 200);
	CHECK_EQ_INT(cfg.peer_lost_after_ms, 1000);
	CHECK_EQ_INT(cfg.lease_ms, 1000);
	CHECK_EQ_INT(cfg.witness_port, 7401);
	CHECK(cfg.quorum_witness);
	CHECK_EQ_INT(cfg.key[1], 0x11);
	CHECK(strcmp(sky_config_peer(&cfg, sky_config_node(&cfg, "node1"))
			     ->name,
		     "node2") == 0);
}

static void expect_error(const char *from, const char *to, const char *where,
			 const char *what)
{
	static struct sky_config cfg;
	char err[512];
	CHECK(parse_variant(from, to, &cfg, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, path);
	CHECK_STR_CONTAINS(err, where);
	CHECK_STR_CONTAINS(err, what);
}

static void test_unknown_key_is_an_error_with_its_line(void)
{
	expect_error(NULL, "heartbeat:\n  intervl_ms: 100\n",
		     ":15:", "heartbeat.intervl_ms: unknown key");
}

static void test_timeout_below_three_intervals_names_the_field(void)
{
	expect_error(NULL,
		     "heartbeat:\n  interval_ms: 200\n  timeout_ms: 500\n",
		     ":16:",
		     "heartbeat.timeout_ms: must be at least 3 x interval_ms");
}

static void test_bad_address_names_node_and_index(void)
{
	expect_error(
		"198.18.1.2]", "198.18.1.x]", ":11:",
		"nodes[1].addresses[1]: '198.18.1.x' is not an IPv4 or IPv6");
}

static void test_witness_is_required_unless_quorum_none(void)
{
	static struct sky_config cfg;
	char err[512];
	expect_error("witness:\n  addresses: [198.18.0.10]\n", "",
		     "witness.addresses", "quorum: none");
	CHECK_EQ_INT(parse_variant("witness:\n  addresses: [198.18.0.10]\n",
				   "quorum: none\n", &cfg, err, sizeof(err)),
		     0);
	CHECK(!cfg.quorum_witness);
}

static void test_several_witness_hosts_each_with_its_addresses(void)
{
	static struct sky_config cfg;
	char err[512];
	const char *one = "witness:\n  addresses: [198.18.0.10]\n";

	CHECK_EQ_INT(parse_variant(one,
				   "witness:\n  addresses: [198.18.0.10]\n",
				   &cfg, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(cfg.witness_host_count, 1);
	CHECK_EQ_INT(parse_variant(one,
				   "witness:\n  hosts: [198.18.0.10, "
				   "[198.18.0.11, 198.18.1.11], 198.18.0.12]\n",
				   &cfg, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(cfg.witness_host_count, 3);
	CHECK_EQ_INT(cfg.witness_addr_count, 4);
	CHECK_EQ_INT(cfg.witness_host_of[0], 0);
	CHECK_EQ_INT(cfg.witness_host_of[1], 1);
	CHECK_EQ_INT(cfg.witness_host_of[2], 1);
	CHECK_EQ_INT(cfg.witness_host_of[3], 2);
	CHECK(strcmp(cfg.witness_addrs[2].text, "198.18.1.11") == 0);
	expect_error(one,
		     "witness:\n  addresses: [198.18.0.10]\n"
		     "  hosts: [198.18.0.11, 198.18.0.12]\n",
		     "witness", "not both");
	expect_error(one, "witness:\n  hosts: [198.18.0.11]\n", "witness.hosts",
		     "2 to 5 witness hosts, got 1");
	expect_error(one, "witness:\n  hosts: [198.18.0.11, 198.18.0.11]\n",
		     "witness.hosts", "198.18.0.11 is listed twice");
	expect_error(one, "witness:\n  hosts: [198.18.0.11, [198.18.0.x]]\n",
		     "witness.hosts[1][0]", "not an IPv4 or IPv6");
	expect_error(one, "witness:\n  hosts: 198.18.0.11\n", "witness.hosts",
		     "must be a list of witness hosts");
}

static void test_depends_on_names_other_modules(void)
{
	static struct sky_config cfg;
	char err[512];

	CHECK_EQ_INT(parse_variant("  name: app\n",
				   "  name: app\n  depends_on: [db, mq]\n",
				   &cfg, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(cfg.depends_count, 2);
	CHECK(strcmp(cfg.depends_on[1], "mq") == 0);
	expect_error("  name: app\n", "  name: app\n  depends_on: [app]\n",
		     "module.depends_on", "cannot depend on itself");
	expect_error("  name: app\n", "  name: app\n  depends_on: [db, db]\n",
		     "module.depends_on[1]", "'db' is listed twice");
	expect_error("  name: app\n", "  name: app\n  depends_on: db\n",
		     "module.depends_on", "must be a list of module names");
	expect_error("  name: app\n",
		     "  name: app\n  depends_on: [a, b, c, d, e]\n",
		     "module.depends_on", "1 to 4 modules, got 5");
	expect_error("  name: app\n", "  name: app\n  depends_on: [d/b]\n",
		     "module.depends_on[0]", "");
}

/* etcd.watchdog: off by default; a device path for a mirror whose lease
 * leaves at least a 1 s watchdog timeout. */
static void test_etcd_watchdog_is_checked_and_named(void)
{
	static struct sky_config cfg;
	char err[512];
	static const char etcd[] = "quorum: etcd\netcd:\n  endpoints: "
				   "[http://198.18.0.31:2379]\n";
	char text[512];
	CHECK_EQ_INT(parse_variant("witness:\n  addresses: [198.18.0.10]\n",
				   etcd, &cfg, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(cfg.etcd.watchdog[0], 0);
	snprintf(text, sizeof(text), "%s  watchdog: /dev/watchdog\n", etcd);
	CHECK_EQ_INT(parse_variant("witness:\n  addresses: [198.18.0.10]\n",
				   text, &cfg, err, sizeof(err)),
		     0);
	CHECK(strcmp(cfg.etcd.watchdog, "/dev/watchdog") == 0);
	static const char *const bad[] = {
		"  watchdog: dev/watchdog\n",
		"  watchdog: /dev/watchdog\n  lease_ms: 1300\n",
	};
	for (size_t i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "%s%s", etcd, bad[i]);
		CHECK(parse_variant("witness:\n  addresses: [198.18.0.10]\n",
				    text, &cfg, err, sizeof(err)) < 0);
		CHECK_STR_CONTAINS(err,
				   "etcd.watchdog: an absolute device path");
		CHECK_STR_CONTAINS(err, "app.yaml:");
	}
}

static void test_mismatched_network_counts_are_refused(void)
{
	expect_error("[198.18.0.2, 198.18.1.2]", "[198.18.0.2]",
		     ":10:", "one address per network");
}

static void test_default_primary_must_be_a_node(void)
{
	expect_error("default_primary: node1", "default_primary: node3", ":6:",
		     "module.default_primary: 'node3' is not one of "
		     "the nodes");
}

static void test_names_with_path_characters_are_refused(void)
{
	expect_error("name: app", "name: ../app", ":5:", "module.name");
}

static void test_yaml_syntax_error_has_a_position(void)
{
	expect_error("nodes:\n", "nodes: [\n", ":", "YAML syntax");
}

static void test_key_file_readable_by_others_is_refused(void)
{
	char key_path[160];
	setup();
	snprintf(key_path, sizeof(key_path), "%s/cluster.key", dir);
	chmod(key_path, 0644);
	expect_error(NULL, "", ":3:", "cluster.key_file");
	expect_error(NULL, "", "", "chmod 600");
	chmod(key_path, 0600);
}

static void test_short_key_is_refused(void)
{
	char key_path[160];
	setup();
	snprintf(key_path, sizeof(key_path), "%s/short.key", dir);
	sky_write_file_atomic(key_path, "abcd\n", 5, 0600);
	expect_error("key_file: cluster.key", "key_file: short.key",
		     ":3:", "exactly 64 hex characters");
}

static void test_daemon_sections_are_left_to_their_daemon(void)
{
	static struct sky_config cfg;
	char err[512];
	const char *section = "checkd:\n  restart_max: 3\n  interval_ms: x\n";
	CHECK_EQ_INT(parse_variant(NULL, section, &cfg, err, sizeof(err)), 0);

	/* ... which reads it with the same positions in its messages. */
	struct sky_yaml y;
	uint32_t v;
	char text[1024];
	snprintf(text, sizeof(text), "%s%s", good, section);
	CHECK_EQ_INT(sky_yaml_parse(&y, "app.yaml", text, strlen(text), err,
				    sizeof(err)),
		     0);
	yaml_node_t *checkd = sky_yaml_get(&y, sky_yaml_root(&y), "checkd");
	CHECK(checkd != NULL);
	CHECK_EQ_INT(sky_yaml_u32(&y, sky_yaml_get(&y, checkd, "restart_max"),
				  "checkd.restart_max", 0, 10, &v),
		     0);
	CHECK_EQ_INT(v, 3);
	CHECK(sky_yaml_u32(&y, sky_yaml_get(&y, checkd, "interval_ms"),
			   "checkd.interval_ms", 1, 10, &v) < 0);
	CHECK_STR_CONTAINS(err, "app.yaml:16:16: checkd.interval_ms:");
	sky_yaml_done(&y);
}

static void test_missing_file_says_so(void)
{
	static struct sky_config cfg;
	char err[512];
	CHECK(sky_config_load("/nonexistent/app.yaml", &cfg, err, sizeof(err)) <
	      0);
	CHECK_STR_CONTAINS(err, "/nonexistent/app.yaml: cannot read");
}

/* A farm file: its own header, any number of nodes, no witness. */
static int parse_farm(const char *type, const char *nodes, const char *extra,
		      struct sky_config *cfg, char *err, size_t err_size)
{
	char text[4096];
	setup();
	snprintf(text, sizeof(text),
		 "cluster:\n  name: demo\n  key_file: cluster.key\n"
		 "module:\n  name: web\n  type: %s\nnodes:\n%s%s",
		 type, nodes, extra);
	err[0] = '\0';
	return sky_config_parse(path, text, strlen(text), cfg, err, err_size);
}

#define THREE_NODES                                                            \
	"  - {name: node1, addresses: [198.18.0.1], weight: 2}\n"              \
	"  - {name: node2, addresses: [198.18.0.2]}\n"                         \
	"  - {name: node3, addresses: [198.18.0.3]}\n"

static void test_a_farm_of_three_loads_without_witness_or_primary(void)
{
	static struct sky_config cfg;
	char err[512];
	CHECK_EQ_INT(parse_farm("farm", THREE_NODES,
				"transitions: {order: [vipd, checkd], "
				"rejoin_after_ms: 30000}\n",
				&cfg, err, sizeof(err)),
		     0);
	CHECK_STR_CONTAINS(err, "");
	CHECK_EQ_INT(cfg.type, SKY_MODULE_FARM);
	CHECK_EQ_INT(cfg.node_count, 3);
	CHECK(!cfg.quorum_witness);
	CHECK_EQ_INT(cfg.nodes[0].weight, 2);
	CHECK_EQ_INT(cfg.nodes[1].weight, 1);
	CHECK_EQ_INT(cfg.rejoin_after_ms, 30000);
	/* A farm may serve only in etcd's majority's view. */
	CHECK_EQ_INT(parse_farm("farm", THREE_NODES,
				"quorum: etcd\netcd: {endpoints: "
				"[http://198.18.0.31:2379]}\n",
				&cfg, err, sizeof(err)),
		     0);
	CHECK_STR_CONTAINS(err, "");
	CHECK(cfg.quorum_etcd && !cfg.quorum_witness);
	CHECK_EQ_INT(cfg.lease_ms, 5000);
	CHECK_EQ_INT(parse_farm("light",
				"  - {name: node1, addresses: [198.18.0.1]}\n",
				"quorum: none\n", &cfg, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(cfg.type, SKY_MODULE_LIGHT);
}

static void test_farm_and_light_rules_name_the_field(void)
{
	static const struct {
		const char *type, *nodes, *extra, *says;
	} cases[] = {
		{"farm", "  - {name: node1, addresses: [198.18.0.1]}\n", "",
		 "nodes: a farm module needs 2 to 16 nodes, got 1"},
		{"light", THREE_NODES, "",
		 "nodes: a light module runs on exactly 1 node, got 3"},
		{"farm", THREE_NODES, "witness: {addresses: [198.18.0.10]}\n",
		 "witness: a farm module has no witness"},
		{"farm", THREE_NODES, "quorum: witness\n",
		 "quorum: a farm module serves without quorum"},
		{"light", "  - {name: node1, addresses: [198.18.0.1]}\n",
		 "quorum: etcd\netcd: {endpoints: "
		 "[http://198.18.0.31:2379]}\n",
		 "a light module has no quorum"},
		{"farm", THREE_NODES, "transitions: {order: [replicd]}\n",
		 "transitions.order: a farm module replicates nothing"},
		{"cluster", THREE_NODES, "",
		 "module.type: must be mirror, farm"},
		{"farm",
		 "  - {name: node1, addresses: [198.18.0.1], weight: "
		 "0}\n",
		 "", "nodes[0].weight"},
		{"farm",
		 "  - {name: node1, addresses: [198.18.0.1], weight: "
		 "101}\n",
		 "", "nodes[0].weight"},
	};
	static struct sky_config cfg;
	char err[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(parse_farm(cases[i].type, cases[i].nodes, cases[i].extra,
				 &cfg, err, sizeof(err)) < 0);
		CHECK_STR_CONTAINS(err, cases[i].says);
		CHECK_STR_CONTAINS(err, "app.yaml:");
	}
	/* The mirror's rules stay as they were. */
	CHECK(parse_variant(NULL, "transitions: {rejoin_after_ms: 5000}\n",
			    &cfg, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "only for a farm or light module");
	CHECK(parse_variant("  - name: node2\n    addresses: [198.18.0.2, "
			    "198.18.1.2]\n",
			    "", &cfg, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "a mirror module needs exactly 2 nodes, got 1");
}

TEST_MAIN(TEST(test_good_config_loads_with_documented_defaults),
	  TEST(test_a_farm_of_three_loads_without_witness_or_primary),
	  TEST(test_farm_and_light_rules_name_the_field),
	  TEST(test_unknown_key_is_an_error_with_its_line),
	  TEST(test_timeout_below_three_intervals_names_the_field),
	  TEST(test_bad_address_names_node_and_index),
	  TEST(test_witness_is_required_unless_quorum_none),
	  TEST(test_several_witness_hosts_each_with_its_addresses),
	  TEST(test_depends_on_names_other_modules),
	  TEST(test_etcd_watchdog_is_checked_and_named),
	  TEST(test_mismatched_network_counts_are_refused),
	  TEST(test_default_primary_must_be_a_node),
	  TEST(test_names_with_path_characters_are_refused),
	  TEST(test_yaml_syntax_error_has_a_position),
	  TEST(test_key_file_readable_by_others_is_refused),
	  TEST(test_short_key_is_refused),
	  TEST(test_daemon_sections_are_left_to_their_daemon),
	  TEST(test_missing_file_says_so))
