/*
 * vipd_aws_test.c - the pure parts of vipd's AWS client: reading API
 * answers (bounded XML scan, error classification), IMDS credentials,
 * backoff with jitter, URL encoding, and the vipd.aws section.
 */
#include "aws.h"
#include "httpc.h"
#include "test.h"
#include "util.h"
#include "vipcfg.h"

static enum vipd_aws_verdict classify(long status, const char *body, char *code,
				      char *msg)
{
	return vipd_aws_classify(status, body, strlen(body), code, 96, msg,
				 200);
}

static void test_api_answers_are_classified(void)
{
	char code[96], msg[200];
	CHECK_EQ_INT(
		classify(200,
			 "<AssignPrivateIpAddressesResponse><return>"
			 "true</return></AssignPrivateIpAddressesResponse>",
			 code, msg),
		VIPD_AWS_OK);
	const char *throttled = "<Response><Errors><Error><Code>"
				"RequestLimitExceeded</Code><Message>Request "
				"limit exceeded.</Message></Error></Errors>"
				"</Response>";
	CHECK_EQ_INT(classify(503, throttled, code, msg), VIPD_AWS_RETRY);
	CHECK(strcmp(code, "RequestLimitExceeded") == 0);
	CHECK(strcmp(msg, "Request limit exceeded.") == 0);
	/* EC2 also throttles with 400. */
	CHECK_EQ_INT(classify(400, throttled, code, msg), VIPD_AWS_RETRY);
	CHECK_EQ_INT(classify(429, "", code, msg), VIPD_AWS_RETRY);
	CHECK_EQ_INT(classify(502, "<html>bad gateway</html>", code, msg),
		     VIPD_AWS_RETRY);
	CHECK_EQ_INT(classify(400,
			      "<Response><Errors><Error><Code>ExpiredToken"
			      "</Code></Error></Errors></Response>",
			      code, msg),
		     VIPD_AWS_REFRESH);
	CHECK_EQ_INT(classify(401, "", code, msg), VIPD_AWS_REFRESH);
	CHECK_EQ_INT(classify(403,
			      "<Response><Errors><Error><Code>"
			      "UnauthorizedOperation</Code><Message>You are "
			      "not authorized &amp; that is that</Message>"
			      "</Error></Errors></Response>",
			      code, msg),
		     VIPD_AWS_FATAL);
	CHECK(strcmp(code, "UnauthorizedOperation") == 0);
	CHECK(strcmp(msg, "You are not authorized & that is that") == 0);
	CHECK_EQ_INT(classify(400,
			      "<Response><Errors><Error><Code>"
			      "InvalidRoute.NotFound</Code></Error></Errors>"
			      "</Response>",
			      code, msg),
		     VIPD_AWS_FATAL);
	/* A 200 that is not an API answer is not a success. */
	CHECK_EQ_INT(classify(200, "<<<garbage", code, msg), VIPD_AWS_RETRY);
	CHECK(strcmp(code, "MalformedReply") == 0);
}

static void test_xml_scan_is_bounded_and_printable(void)
{
	char out[8];
	const char body[] = "<Code>Abcdefghijkl</Code><Message>a\x01"
			    "b</Message><Open>never closed";
	CHECK_EQ_INT(
		vipd_xml_text(body, sizeof(body) - 1, "Code", out, sizeof(out)),
		0);
	CHECK(strcmp(out, "Abcdefg") == 0); /* cut to the buffer */
	CHECK_EQ_INT(vipd_xml_text(body, sizeof(body) - 1, "Message", out,
				   sizeof(out)),
		     0);
	CHECK(strcmp(out, "a?b") == 0);
	CHECK_EQ_INT(
		vipd_xml_text(body, sizeof(body) - 1, "Open", out, sizeof(out)),
		-ENOENT);
	/* The length bounds the scan, not a NUL. */
	CHECK_EQ_INT(vipd_xml_text(body, 10, "Code", out, sizeof(out)),
		     -ENOENT);
}

static void test_imds_credentials_parsed_and_checked(void)
{
	struct sky_aws_creds c;
	const char *good = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAX\","
			   "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
			   "\"Expiration\":\"2026-12-01T08:00:00Z\"}";
	CHECK_EQ_INT(sky_aws_parse_creds(good, strlen(good), &c), 0);
	CHECK(c.have && strcmp(c.key_id, "ASIAX") == 0);
	CHECK(strcmp(c.token, "tok") == 0);
	CHECK_EQ_INT(c.expires_wall_ms, 1796112000000LL);
	static const char *const bad[] = {
		"",
		"[]",
		"{\"Code\":\"Failure\",\"AccessKeyId\":\"a\","
		"\"SecretAccessKey\":\"b\"}",
		"{\"AccessKeyId\":12,\"SecretAccessKey\":\"b\"}",
		"{\"AccessKeyId\":\"a\"}",
		"{\"AccessKeyId\":\"a b\",\"SecretAccessKey\":\"b\"}",
		"{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\","
		"\"Token\":\"x\\r\\nEvil: 1\"}",
		"{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\","
		"\"Expiration\":\"tomorrow\"}",
		"{\"AccessKeyId\":\"a\",\"AccessKeyId\":\"b\","
		"\"SecretAccessKey\":\"b\"}",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++)
		CHECK_EQ_INT(sky_aws_parse_creds(bad[i], strlen(bad[i]), &c),
			     -EBADMSG);
}

static void test_backoff_grows_with_full_jitter_and_a_cap(void)
{
	unsigned seed = 42;
	for (uint32_t attempt = 1; attempt <= 12; attempt++) {
		uint64_t cap = 200ULL << (attempt - 1);
		if (cap > 10000)
			cap = 10000;
		for (int k = 0; k < 50; k++)
			CHECK(sky_backoff_ms(200, attempt, &seed) <= cap);
	}
	/* Jitter: not always the same value. */
	uint32_t first = sky_backoff_ms(1000, 3, &seed);
	bool differs = false;
	for (int k = 0; k < 20 && !differs; k++)
		differs = sky_backoff_ms(1000, 3, &seed) != first;
	CHECK(differs);
}

static void test_url_encoding_keeps_only_unreserved(void)
{
	char out[128];
	CHECK_EQ_INT(sky_url_encode("arn:aws:x/y z~._-", out, sizeof(out)), 0);
	CHECK(strcmp(out, "arn%3Aaws%3Ax%2Fy%20z~._-") == 0);
	CHECK_EQ_INT(sky_url_encode("::::", out, 12), -ENOSPC);
}

#define AWS_HEAD                                                               \
	"cluster: {name: c}\n"                                                 \
	"vipd:\n"                                                              \
	"  aws:\n"                                                             \
	"    region: eu-west-3\n"

static void test_aws_section(void)
{
	static struct vipd_cfg c;
	char err[512] = "";
	const char *text =
		AWS_HEAD "    nodes:\n"
			 "      node1: {eni: eni-1, instance: i-1}\n"
			 "    private_ips: [10.0.0.10]\n"
			 "    routes: [{table: rtb-1, destination: "
			 "10.1.0.0/24}]\n"
			 "    target_groups: [{arn: \"arn:aws:elasticload"
			 "balancing:eu-west-3:1:targetgroup/a/b\"}]\n";
	int r = vipd_cfg_parse("/etc/skyha/app.yaml", text, strlen(text), &c,
			       err, sizeof(err));
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		fprintf(stderr, "  %s\n", err);
	CHECK(c.aws.set && c.vip_count == 0); /* cloud only is fine */
	CHECK(strcmp(c.aws.ec2_endpoint,
		     "https://ec2.eu-west-3.amazonaws.com") == 0);
	CHECK(strcmp(c.aws.imds_endpoint, "http://169.254.169.254") == 0);
	CHECK(vipd_aws_node(&c.aws, "node1") != NULL);
	CHECK(vipd_aws_node(&c.aws, "node2") == NULL); /* not in AWS */
	CHECK_EQ_INT(c.aws.attempts, 5);
	CHECK(strcmp(c.aws.nodes[0].eni, "eni-1") == 0);
	CHECK(strcmp(c.aws.nodes[0].instance, "i-1") == 0);
	CHECK(strcmp(c.aws.routes[0].destination, "10.1.0.0/24") == 0);
	CHECK_EQ_INT(c.aws.target_group_count, 1);
	CHECK_EQ_INT(c.aws.target_groups[0].port, 0);

	static const struct {
		const char *text, *says;
	} bad[] = {
		{"cluster: {name: c}\nvipd:\n  aws: {nodes: {}}\n",
		 "vipd.aws: region: required"},
		{AWS_HEAD "    private_ips: [10.0.0.1]\n", "nodes: required"},
		{AWS_HEAD "    nodes: {n1: {instance: i-1}}\n"
			  "    private_ips: [10.0.0.1]\n",
		 "eni required"},
		{AWS_HEAD "    nodes: {n1: {eni: eni-1}}\n", "nothing to do"},
		{AWS_HEAD "    nodes: {n1: {eni: \"eni 1\"}}\n",
		 "vipd.aws.nodes.n1.eni"},
		{AWS_HEAD "    ec2_endpoint: ftp://x\n",
		 "vipd.aws.ec2_endpoint"},
		{AWS_HEAD "    private_ips: [\"::1\"]\n",
		 "vipd.aws.private_ips[0]"},
		{AWS_HEAD "    routes: [{table: rtb-1}]\n",
		 "destination: required"},
		{AWS_HEAD "    target_groups: [{arn: tg-1}]\n", "arn:"},
		{AWS_HEAD "    credentials: instance\n", "imds or env"},
		{AWS_HEAD "    nodes: {n1: {eni: eni-1, enis: eni-2}}\n",
		 "vipd.aws.nodes.n1"},
		/* A farm's nodes: at most 16 (one more here). */
		{AWS_HEAD
		 "    nodes: {a: {eni: e-0}, b: {eni: e-1}, c: {eni: e-2}, d: "
		 "{eni: e-3}, e: {eni: e-4}, f: {eni: e-5}, g: {eni: e-6}, h: "
		 "{eni: e-7}, i: {eni: e-8}, j: {eni: e-9}, k: {eni: e-10}, l:"
		 " {eni: e-11}, m: {eni: e-12}, n: {eni: e-13}, o: {eni: e-14}"
		 ", p: {eni: e-15}, q: {eni: e-16}}\n",
		 "at most 16 nodes"},
		{AWS_HEAD
		 "    routes: [{table: rtb-1, destination: 10.0.0.0}]\n",
		 "vipd.aws.routes[0].destination"},
		{AWS_HEAD
		 "    target_groups: [{arn: \"arn:x\", port: 70000}]\n",
		 "vipd.aws.target_groups[0].port"},
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

TEST_MAIN(TEST(test_api_answers_are_classified),
	  TEST(test_xml_scan_is_bounded_and_printable),
	  TEST(test_imds_credentials_parsed_and_checked),
	  TEST(test_backoff_grows_with_full_jitter_and_a_cap),
	  TEST(test_url_encoding_keeps_only_unreserved), TEST(test_aws_section))
