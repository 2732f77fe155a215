/*
 * vipd_azure_test.c - the pure parts of vipd's Azure client: the IMDS
 * token, ARM error replies, moving an ipConfiguration within a NIC
 * document, and the vipd.azure section.
 */
#include "azure.h"
#include "test.h"

#include "util.h"
#include "vipcfg.h"
#include <ctype.h>

static void test_managed_identity_token_parsed_and_checked(void)
{
	char tok[64];
	int64_t exp;
	const char *good = "{\"access_token\":\"eyJ0eXAi.abc\",\"expires_on\":"
			   "\"1796112000\",\"token_type\":\"Bearer\"}";
	CHECK_EQ_INT(sky_azure_parse_token(good, strlen(good), tok, sizeof(tok),
					   &exp),
		     0);
	CHECK(strcmp(tok, "eyJ0eXAi.abc") == 0);
	CHECK_EQ_INT(exp, 1796112000000LL);
	static const char *const bad[] = {
		"",
		"{\"access_token\":\"a\"}",
		"{\"access_token\":\"a\",\"expires_on\":\"soon\"}",
		"{\"access_token\":\"a b\",\"expires_on\":\"1\"}",
		"{\"access_token\":5,\"expires_on\":\"1\"}",
		"{\"access_token\":\"a\",\"expires_on\":-4}",
		/* longer than the buffer */
		"{\"access_token\":\"0123456789012345678901234567890123456789"
		"0123456789012345678901234567890\",\"expires_on\":\"1\"}",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++)
		CHECK_EQ_INT(sky_azure_parse_token(bad[i], strlen(bad[i]), tok,
						   sizeof(tok), &exp),
			     -EBADMSG);
}

static void test_arm_errors_are_classified(void)
{
	char code[96], msg[200];
	const char *denied = "{\"error\":{\"code\":\"AuthorizationFailed\","
			     "\"message\":\"no write on NIC\"}}";
	CHECK_EQ_INT(vipd_azure_classify(403, denied, strlen(denied), code,
					 sizeof(code), msg, sizeof(msg)),
		     VIPD_AWS_FATAL);
	CHECK(strcmp(code, "AuthorizationFailed") == 0);
	CHECK(strcmp(msg, "no write on NIC") == 0);
	CHECK_EQ_INT(vipd_azure_classify(429, "", 0, code, sizeof(code), msg,
					 sizeof(msg)),
		     VIPD_AWS_RETRY);
	CHECK_EQ_INT(vipd_azure_classify(503, "<html>", 6, code, sizeof(code),
					 msg, sizeof(msg)),
		     VIPD_AWS_RETRY);
	CHECK_EQ_INT(vipd_azure_classify(401, "{}", 2, code, sizeof(code), msg,
					 sizeof(msg)),
		     VIPD_AWS_REFRESH);
	CHECK_EQ_INT(vipd_azure_classify(202, "{", 1, code, sizeof(code), msg,
					 sizeof(msg)),
		     VIPD_AWS_OK);
}

#define NIC                                                                    \
	"{\"etag\":\"W/\\\"4\\\"\",\"properties\":{\"ipConfigurations\":["     \
	"{\"name\":\"ipconfig1\",\"properties\":{\"privateIPAddress\":"        \
	"\"10.1.0.4\",\"primary\":true,\"subnet\":{\"id\":\"/s/sub1\"}}}"

static void test_ip_configuration_added_and_removed_in_a_nic(void)
{
	json_error_t e;
	bool changed;
	json_t *nic = json_loads(NIC "]}}", 0, &e);
	CHECK(nic != NULL);
	CHECK_EQ_INT(
		vipd_azure_nic_edit(nic, "vip", "10.1.0.10", true, &changed),
		0);
	CHECK(changed);
	json_t *list = json_object_get(json_object_get(nic, "properties"),
				       "ipConfigurations");
	CHECK_EQ_INT(json_array_size(list), 2);
	json_t *added = json_object_get(json_array_get(list, 1), "properties");
	CHECK(strcmp(json_string_value(
			     json_object_get(added, "privateIPAddress")),
		     "10.1.0.10") == 0);
	CHECK(json_is_false(json_object_get(added, "primary")));
	CHECK(strcmp(json_string_value(json_object_get(
			     json_object_get(added, "subnet"), "id")),
		     "/s/sub1") == 0);
	/* Again: nothing to do (idempotent). */
	CHECK_EQ_INT(
		vipd_azure_nic_edit(nic, "vip", "10.1.0.10", true, &changed),
		0);
	CHECK(!changed);
	CHECK_EQ_INT(vipd_azure_nic_edit(nic, "vip", "", false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(json_array_size(list), 1);
	CHECK_EQ_INT(vipd_azure_nic_edit(nic, "vip", "", false, &changed), 0);
	CHECK(!changed);
	json_decref(nic);
	static const char *const bad[] = {
		"{}",
		"{\"properties\":{\"ipConfigurations\":[]}}",
		"{\"properties\":{\"ipConfigurations\":[{\"name\":1}]}}",
		/* no subnet to put the new one in */
		"{\"properties\":{\"ipConfigurations\":[{\"name\":\"a\","
		"\"properties\":{}}]}}",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		nic = json_loads(bad[i], 0, &e);
		CHECK_EQ_INT(vipd_azure_nic_edit(nic, "vip", "10.1.0.10", true,
						 &changed),
			     -EBADMSG);
		json_decref(nic);
	}
}

#define AZ_HEAD                                                                \
	"cluster: {name: c}\n"                                                 \
	"vipd:\n"                                                              \
	"  azure:\n"                                                           \
	"    subscription: 0000-abcd\n"                                        \
	"    resource_group: rg1\n"

static void test_azure_section(void)
{
	static struct vipd_cfg c;
	char err[512] = "";
	const char *text =
		AZ_HEAD "    nodes:\n"
			"      node1: {nic: nic-1, address: 10.1.0.4}\n"
			"      node2: {nic: nic-2, address: 10.1.0.5}\n"
			"    ip_configurations: [{name: vip, address: "
			"10.1.0.10}]\n"
			"    routes: [{table: rt, route: r1, prefix: "
			"10.2.0.0/24}]\n";
	int r = vipd_cfg_parse("/etc/skyha/app.yaml", text, strlen(text), &c,
			       err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK(strcmp(c.azure.arm_endpoint, "https://management.azure.com") ==
	      0);
	CHECK(strcmp(c.azure.resource, "https://management.azure.com/") == 0);
	CHECK(vipd_azure_node(&c.azure, "node2") != NULL);
	CHECK_EQ_INT(c.azure.operation_timeout_ms, 120000);
	/* the call fields both cloud sections share, with AWS's defaults */
	CHECK(strcmp(c.azure.imds_endpoint, "http://169.254.169.254") == 0);
	CHECK_EQ_INT(c.azure.timeout_ms, 5000);
	CHECK_EQ_INT(c.azure.attempts, 5);
	CHECK_EQ_INT(c.azure.backoff_ms, 200);
	CHECK(strcmp(c.azure.nodes[1].nic, "nic-2") == 0);
	CHECK(strcmp(c.azure.nodes[1].address, "10.1.0.5") == 0);
	CHECK(strcmp(c.azure.ipconfs[0].name, "vip") == 0);
	CHECK(strcmp(c.azure.routes[0].prefix, "10.2.0.0/24") == 0);
	CHECK(strcmp(c.azure.routes[0].route, "r1") == 0);
	static const struct {
		const char *text, *says;
	} bad[] = {
		{"cluster: {name: c}\nvipd:\n  azure: {resource_group: rg}\n",
		 "subscription: required"},
		{AZ_HEAD "    routes: [{table: t, route: r, prefix: "
			 "10.0.0.0/8}]\n",
		 "nodes: required"},
		{AZ_HEAD "    nodes: {n1: {nic: a}}\n"
			 "    routes: [{table: t, route: r, prefix: "
			 "10.0.0.0/8}]\n",
		 "address required"},
		{AZ_HEAD "    nodes: {n1: {nic: \"a/b\"}}\n",
		 "vipd.azure.nodes.n1.nic"},
		{AZ_HEAD "    nodes: {n1: {nic: a}}\n", "nothing to do"},
		{AZ_HEAD "    attempts: 0\n", "vipd.azure.attempts"},
		{AZ_HEAD "    imds_endpoint: ftp://x\n",
		 "vipd.azure.imds_endpoint"},
		{AZ_HEAD "    imds_endpoints: http://x\n",
		 "vipd.azure.imds_endpoints"},
		{AZ_HEAD "    nodes: {n1: {nic: a}}\n"
			 "    routes: [{table: t, route: r}]\n",
		 "prefix: required"},
		{AZ_HEAD "    ip_configurations: [{name: v, address: x}]\n",
		 "vipd.azure.ip_configurations[0].address"},
		{AZ_HEAD "    nodes: {n1: {address: 10.0.0.1}}\n",
		 "vipd.azure.nodes.n1: nic: required"},
		{AZ_HEAD "    ip_configurations: [{name: v}]\n",
		 "vipd.azure.ip_configurations[0]: address: required"},
		{AZ_HEAD
		 "    nodes: {n1: {nic: a}}\n"
		 "    routes: [{table: t, route: r, prefix: 10.0.0.0}]\n",
		 "vipd.azure.routes[0].prefix"},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		CHECK_EQ_INT(vipd_cfg_parse("/etc/skyha/app.yaml", bad[i].text,
					    strlen(bad[i].text), &c, err,
					    sizeof(err)),
			     -EINVAL);
		CHECK_STR_CONTAINS(err, "app.yaml:");
		CHECK_STR_CONTAINS(err, bad[i].says);
	}
}

static void test_token_goes_only_below_the_arm_endpoint(void)
{
	struct vipd_azure_cfg cfg = {0};
	snprintf(cfg.arm_endpoint, sizeof(cfg.arm_endpoint),
		 "https://management.azure.com");
	CHECK(vipd_azure_url_trusted(
		&cfg, "https://management.azure.com/subscriptions/s/providers/"
		      "Microsoft.Network/locations/x/operations/1"));
	CHECK(!vipd_azure_url_trusted(&cfg,
				      "https://management.azure.com.evil/x"));
	CHECK(!vipd_azure_url_trusted(&cfg, "https://evil.example/"));
	CHECK(!vipd_azure_url_trusted(&cfg, "http://management.azure.com/x"));
	CHECK(!vipd_azure_url_trusted(&cfg, "https://management.azure.com"));
}

static void test_async_operation_status_read(void)
{
	char state[32], msg[200];
#define OP(s)                                                                  \
	vipd_azure_parse_operation(s, strlen(s), state, sizeof(state), msg,    \
				   sizeof(msg))
	CHECK_EQ_INT(OP("{\"status\":\"Succeeded\"}"), 1);
	CHECK_EQ_INT(OP("{\"status\":\"InProgress\"}"), 0);
	CHECK(strcmp(state, "InProgress") == 0);
	CHECK_EQ_INT(OP("{\"status\":\"Failed\",\"error\":{\"message\":"
			"\"no room\"}}"),
		     -EPROTO);
	CHECK(strcmp(state, "Failed") == 0 && strcmp(msg, "no room") == 0);
	CHECK_EQ_INT(OP("{\"status\":\"Canceled\"}"), -EPROTO);
	CHECK_EQ_INT(OP("{\"status\":\"\"}"), -EBADMSG);
	CHECK_EQ_INT(OP("{}"), -EBADMSG);
	CHECK_EQ_INT(OP("not json"), -EBADMSG);
#undef OP
}

static void test_a_nic_joins_and_leaves_a_backend_pool(void)
{
	static const char pool[] =
		"/subscriptions/s/resourceGroups/rg/providers/"
		"Microsoft.Network/loadBalancers/lb/"
		"backendAddressPools/web";
	json_error_t e;
	bool changed;
	/* Two ipConfigurations, the primary second; another pool kept. */
	json_t *nic = json_loads(
		"{\"properties\":{\"ipConfigurations\":["
		"{\"name\":\"vip\",\"properties\":{\"primary\":false}},"
		"{\"name\":\"ipconfig1\",\"properties\":{\"primary\":true,"
		"\"loadBalancerBackendAddressPools\":[{\"id\":\"/"
		"other\"}]}}]}}",
		0, &e);
	CHECK(nic != NULL);
	CHECK_EQ_INT(vipd_azure_nic_pool_edit(nic, pool, true, &changed), 0);
	CHECK(changed);
	json_t *list = json_object_get(json_object_get(nic, "properties"),
				       "ipConfigurations");
	json_t *pools = json_object_get(
		json_object_get(json_array_get(list, 1), "properties"),
		"loadBalancerBackendAddressPools");
	CHECK_EQ_INT(json_array_size(pools), 2);
	CHECK(!json_object_get(
		json_object_get(json_array_get(list, 0), "properties"),
		"loadBalancerBackendAddressPools"));
	/* Again, with the ID in another case: already a member. */
	char upper[sizeof(pool)];
	for (size_t i = 0; i < sizeof(pool); i++)
		upper[i] = (char)toupper((unsigned char)pool[i]);
	CHECK_EQ_INT(vipd_azure_nic_pool_edit(nic, upper, true, &changed), 0);
	CHECK(!changed);
	CHECK_EQ_INT(vipd_azure_nic_pool_edit(nic, upper, false, &changed), 0);
	CHECK(changed);
	CHECK_EQ_INT(json_array_size(pools), 1);
	CHECK(strcmp(json_string_value(
			     json_object_get(json_array_get(pools, 0), "id")),
		     "/other") == 0);
	CHECK_EQ_INT(vipd_azure_nic_pool_edit(nic, pool, false, &changed), 0);
	CHECK(!changed);
	json_decref(nic);
	/* Not a NIC as ARM writes them. */
	static const char *const bad[] = {
		"{}",
		"{\"properties\":{\"ipConfigurations\":[]}}",
		"{\"properties\":{\"ipConfigurations\":[{\"name\":\"a\"}]}}",
		"{\"properties\":{\"ipConfigurations\":[{\"name\":\"a\","
		"\"properties\":{\"loadBalancerBackendAddressPools\":7}}]}}",
		"{\"properties\":{\"ipConfigurations\":[{\"name\":\"a\","
		"\"properties\":{\"loadBalancerBackendAddressPools\":[{}]}}]}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nic = json_loads(bad[i], 0, &e);
		CHECK(nic != NULL);
		CHECK_EQ_INT(
			vipd_azure_nic_pool_edit(nic, pool, true, &changed),
			-EBADMSG);
		json_decref(nic);
	}
}

TEST_MAIN(TEST(test_a_nic_joins_and_leaves_a_backend_pool),
	  TEST(test_token_goes_only_below_the_arm_endpoint),
	  TEST(test_managed_identity_token_parsed_and_checked),
	  TEST(test_arm_errors_are_classified),
	  TEST(test_ip_configuration_added_and_removed_in_a_nic),
	  TEST(test_azure_section), TEST(test_async_operation_status_read))
