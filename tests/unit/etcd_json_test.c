/*
 * etcd_json_test.c - the etcd v3 JSON gateway parser and builders
 * (heartbeatd/etcd_json.c): replies as etcd 3.4's gateway writes them,
 * absent fields as defaults, hostile replies refused with a reason.
 */
#include "etcd_json.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>

static int parse(enum etcd_call call, const char *text, struct etcd_reply *r,
		 char *err)
{
	return etcd_reply_parse(call, (const uint8_t *)text, strlen(text), r,
				err, 200);
}

static void test_grant_reads_string_int64_fields(void)
{
	struct etcd_reply r;
	char err[200];
	CHECK_EQ_INT(
		parse(ETCD_CALL_GRANT,
		      "{\"header\":{\"cluster_id\":\"14841639068965178418\","
		      "\"revision\":\"7\",\"raft_term\":\"2\"},"
		      "\"ID\":\"7587869145869318662\",\"TTL\":\"2\"}",
		      &r, err),
		0);
	CHECK_EQ_INT(r.revision, 7);
	CHECK(r.lease_id == 7587869145869318662LL);
	CHECK_EQ_INT(r.ttl_s, 2);
}

static void test_keepalive_is_a_stream_result_and_absent_ttl_means_gone(void)
{
	struct etcd_reply r;
	char err[200];
	CHECK_EQ_INT(parse(ETCD_CALL_KEEPALIVE,
			   "{\"result\":{\"header\":{\"revision\":\"9\"},"
			   "\"ID\":\"5\",\"TTL\":\"1\"}}",
			   &r, err),
		     0);
	CHECK_EQ_INT(r.ttl_s, 1);
	CHECK_EQ_INT(r.lease_id, 5);
	/* An expired lease: etcd leaves TTL out (its default, 0). */
	CHECK_EQ_INT(parse(ETCD_CALL_KEEPALIVE,
			   "{\"result\":{\"header\":{},\"ID\":\"5\"}}", &r,
			   err),
		     0);
	CHECK_EQ_INT(r.ttl_s, 0);
	CHECK_EQ_INT(parse(ETCD_CALL_KEEPALIVE, "{\"ID\":\"5\"}", &r, err),
		     -EBADMSG);
	CHECK_STR_CONTAINS(err, "result");
}

static void test_txn_ranges_decode_base64_and_absent_keys(void)
{
	struct etcd_reply r;
	char err[200];
	/* key /l = L2w=, value node1 = bm9kZTE= */
	const char *text =
		"{\"header\":{\"revision\":\"12\"},\"succeeded\":true,"
		"\"responses\":[{\"response_range\":{\"header\":{},\"kvs\":[{"
		"\"key\":\"L2w=\",\"create_revision\":\"4\",\"mod_revision\":"
		"\"11\",\"version\":\"3\",\"value\":\"bm9kZTE=\",\"lease\":"
		"\"99\"}],\"count\":\"1\"}},{\"response_range\":{\"header\":{}"
		"}},{\"response_put\":{\"header\":{}}}]}";
	CHECK_EQ_INT(parse(ETCD_CALL_TXN, text, &r, err), 0);
	CHECK(r.succeeded);
	CHECK_EQ_INT(r.revision, 12);
	CHECK_EQ_INT(r.range_count, 2);
	CHECK(r.ranges[0].present);
	CHECK(strcmp(r.ranges[0].key, "/l") == 0);
	CHECK(strcmp(r.ranges[0].value, "node1") == 0);
	CHECK_EQ_INT(r.ranges[0].create_revision, 4);
	CHECK_EQ_INT(r.ranges[0].mod_revision, 11);
	CHECK_EQ_INT(r.ranges[0].lease, 99);
	CHECK(!r.ranges[1].present);
	/* A failed txn: succeeded is absent (false). */
	CHECK_EQ_INT(parse(ETCD_CALL_TXN, "{\"header\":{}}", &r, err), 0);
	CHECK(!r.succeeded);
}

static void test_error_objects_are_recognised_and_sanitised(void)
{
	struct etcd_reply r;
	char err[200];
	CHECK_EQ_INT(parse(ETCD_CALL_AUTH,
			   "{\"error\":\"etcdserver: authentication failed, "
			   "invalid user ID or password\",\"code\":3,"
			   "\"message\":\"etcdserver: authentication failed, "
			   "invalid user ID or password\"}",
			   &r, err),
		     -EREMOTEIO);
	CHECK(r.is_error);
	CHECK_EQ_INT(r.code, 3);
	CHECK_STR_CONTAINS(r.message, "authentication failed");
	CHECK_EQ_INT(parse(ETCD_CALL_TXN,
			   "{\"error\":\"x\",\"code\":16,\"message\":"
			   "\"etcdserver: invalid auth token\\n\\u001b[31m\"}",
			   &r, err),
		     -EREMOTEIO);
	CHECK(etcd_error_wants_token(&r));
	CHECK(strchr(r.message, '\n') == NULL);
	CHECK(strchr(r.message, 0x1b) == NULL);
	/* A stream's error shape. */
	CHECK_EQ_INT(parse(ETCD_CALL_KEEPALIVE,
			   "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
			   "\"message\":\"etcdserver: no leader\"}}",
			   &r, err),
		     -EREMOTEIO);
	CHECK_EQ_INT(r.code, ETCD_CODE_UNAVAILABLE);
}

static void test_hostile_replies_are_refused_with_a_reason(void)
{
	struct etcd_reply r;
	char err[200];
	static const struct {
		enum etcd_call call;
		const char *text, *why;
	} cases[] = {
		{ETCD_CALL_GRANT, "not json", "not JSON"},
		{ETCD_CALL_GRANT, "[1]", "not a JSON object"},
		{ETCD_CALL_GRANT, "{\"ID\":\"12x\",\"TTL\":\"2\"}", "ID"},
		{ETCD_CALL_GRANT, "{\"ID\":\"1\",\"TTL\":\"-5\"}", "TTL"},
		{ETCD_CALL_GRANT, "{\"ID\":\"99999999999999999999\"}", "range"},
		{ETCD_CALL_GRANT, "{\"header\":{}}", "without ID"},
		{ETCD_CALL_GRANT, "{\"ID\":\"1\",\"TTL\":\"2\",\"ID\":\"3\"}",
		 "duplicate"},
		{ETCD_CALL_TXN, "{\"succeeded\":\"yes\"}", "boolean"},
		{ETCD_CALL_TXN, "{\"responses\":{}}", "array"},
		{ETCD_CALL_TXN,
		 "{\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":"
		 "\"!!!\"}]}}]}",
		 "base64"},
		{ETCD_CALL_TXN,
		 "{\"responses\":[{\"response_range\":{\"kvs\":[{\"value\":"
		 "\"YQBi\"}]}}]}",
		 "NUL"},
		{ETCD_CALL_TXN,
		 "{\"responses\":[{\"response_range\":{\"kvs\":[{},{}]}}]}",
		 "asked for one"},
		{ETCD_CALL_AUTH, "{\"token\":\"abc\\r\\nX-Evil: 1\"}",
		 "printable"},
		{ETCD_CALL_AUTH, "{\"header\":{}}", "no token"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].call, cases[i].text, &r, err);
		if (rc != -EBADMSG)
			fprintf(stderr, "  case %zu: rc %d\n", i, rc);
		CHECK_EQ_INT(rc, -EBADMSG);
		CHECK_STR_CONTAINS(err, cases[i].why);
	}
	/* No body at all (curl's buffer never allocated). */
	CHECK_EQ_INT(
		etcd_reply_parse(ETCD_CALL_TXN, NULL, 0, &r, err, sizeof(err)),
		-EBADMSG);
	CHECK_STR_CONTAINS(err, "not JSON");
	/* Longer than the bound: refused before parsing. */
	size_t big = ETCD_REPLY_MAX + 1;
	char *text = malloc(big);
	memset(text, ' ', big);
	CHECK_EQ_INT(etcd_reply_parse(ETCD_CALL_TXN, (const uint8_t *)text, big,
				      &r, err, sizeof(err)),
		     -EBADMSG);
	free(text);
	/* A value longer than ETCD_VALUE_MAX. */
	char long_value[1024] = "{\"responses\":[{\"response_range\":{"
				"\"kvs\":[{\"value\":\"";
	size_t n = strlen(long_value);
	memset(long_value + n, 'Q', 400);
	memcpy(long_value + n + 400, "\"}]}}]}", 8);
	CHECK_EQ_INT(parse(ETCD_CALL_TXN, long_value, &r, err), -EBADMSG);
}

static void test_txn_body_encodes_keys_values_and_int64_as_etcd_wants(void)
{
	json_t *cmp = json_array(), *ok = json_array(), *ko = json_array();
	CHECK_EQ_INT(etcd_txn_compare(cmp, "/l", ETCD_TARGET_CREATE, 0, NULL),
		     0);
	CHECK_EQ_INT(etcd_txn_compare(cmp, "/l", ETCD_TARGET_VALUE, 0, "node1"),
		     0);
	CHECK_EQ_INT(etcd_txn_put(ok, "/l", "node1", 99), 0);
	CHECK_EQ_INT(etcd_txn_range(ko, "/l"), 0);
	char *body = etcd_body_txn(cmp, ok, ko);
	CHECK(body != NULL);
	CHECK_STR_CONTAINS(body, "\"target\":\"CREATE\"");
	CHECK_STR_CONTAINS(body, "\"create_revision\":\"0\"");
	CHECK_STR_CONTAINS(body, "\"value\":\"bm9kZTE=\"");
	CHECK_STR_CONTAINS(body, "\"key\":\"L2w=\"");
	CHECK_STR_CONTAINS(body, "\"lease\":\"99\"");
	CHECK_STR_CONTAINS(body, "request_range");
	free(body);
	body = etcd_body_grant(2);
	CHECK(body && strcmp(body, "{\"TTL\":\"2\"}") == 0);
	free(body);
}

/* Watch messages as etcd 3.4's gateway streams them, one a line (recorded
 * from a real etcd: created, a new key, a renewal, a deletion). */
static void test_watch_messages_tell_creation_renewal_and_deletion(void)
{
	struct etcd_reply r;
	char err[200];
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"result\":{\"header\":{\"cluster_id\":"
			   "\"14841639068965178418\",\"revision\":\"1\"},"
			   "\"created\":true}}",
			   &r, err),
		     0);
	CHECK(r.created && !r.canceled);
	CHECK_EQ_INT(r.events, 0);
	/* node1 takes the key: a PUT (no type) at its create revision. */
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"result\":{\"header\":{\"revision\":\"2\"},"
			   "\"events\":[{\"kv\":{\"key\":\"L3NreS9sZWFkZXI=\","
			   "\"create_revision\":\"2\",\"mod_revision\":\"2\","
			   "\"version\":\"1\",\"value\":\"bm9kZTE=\"}}]}}",
			   &r, err),
		     0);
	CHECK(!r.created);
	CHECK_EQ_INT(r.events, 1);
	CHECK_EQ_INT(r.taken, 1);
	CHECK_EQ_INT(r.deleted, 0);
	/* Its renewal every round: an event, neither taken nor deleted. */
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"result\":{\"header\":{\"revision\":\"3\"},"
			   "\"events\":[{\"type\":\"PUT\",\"kv\":{\"key\":"
			   "\"L3NreS9sZWFkZXI=\",\"create_revision\":\"2\","
			   "\"mod_revision\":\"3\",\"version\":\"2\","
			   "\"value\":\"bm9kZTE=\"}}]}}",
			   &r, err),
		     0);
	CHECK_EQ_INT(r.events, 1);
	CHECK_EQ_INT(r.taken + r.deleted, 0);
	/* Its lease ended: the key is deleted. */
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"result\":{\"header\":{\"revision\":\"4\"},"
			   "\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
			   "\"L3NreS9sZWFkZXI=\",\"mod_revision\":\"4\"}}]}}",
			   &r, err),
		     0);
	CHECK_EQ_INT(r.deleted, 1);
	CHECK_EQ_INT(r.taken, 0);
	/* Canceled by etcd (compacted, or a member going away). */
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"result\":{\"canceled\":true,\"cancel_reason\":"
			   "\"mvcc: required revision has been compacted\"}}",
			   &r, err),
		     0);
	CHECK(r.canceled);
	CHECK_STR_CONTAINS(r.message, "compacted");
	/* An error in the stream. */
	CHECK_EQ_INT(parse(ETCD_CALL_WATCH,
			   "{\"error\":{\"grpc_code\":16,\"message\":"
			   "\"etcdserver: invalid auth token\"}}",
			   &r, err),
		     -EREMOTEIO);
	CHECK(etcd_error_wants_token(&r));
}

static void test_hostile_watch_messages_are_refused(void)
{
	static const char *const bad[] = {
		"{\"created\":true}", /* not a stream result */
		"{\"result\":{\"created\":\"yes\"}}",
		"{\"result\":{\"events\":{}}}",
		"{\"result\":{\"events\":[7]}}",
		"{\"result\":{\"events\":[{\"type\":\"ERASE\"}]}}",
		"{\"result\":{\"events\":[{\"type\":1}]}}",
		"{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!\"}}]}}",
		"{\"result\":{\"canceled\":true,\"cancel_reason\":5}}",
		"{\"result\":{\"header\":{\"revision\":\"x\"}}}",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		struct etcd_reply r;
		char err[200];
		CHECK_EQ_INT(parse(ETCD_CALL_WATCH, bad[i], &r, err), -EBADMSG);
		CHECK(err[0] != '\0');
	}
	char *body = etcd_body_watch("/skyha/demo/app/leader");
	CHECK(body != NULL);
	CHECK_STR_CONTAINS(body, "{\"create_request\":{\"key\":"
				 "\"L3NreWhhL2RlbW8vYXBwL2xlYWRlcg==\"}}");
	free(body);
}

static void test_generation_record_round_trips_and_refuses_junk(void)
{
	char buf[64], node[SKY_NAME_MAX + 1];
	uint64_t g = 0;
	CHECK_EQ_INT(etcd_generation_format(42, "node2", buf, sizeof(buf)), 0);
	CHECK_EQ_INT(etcd_generation_parse(buf, &g, node, sizeof(node)), 0);
	CHECK(g == 42 && strcmp(node, "node2") == 0);
	CHECK_EQ_INT(etcd_generation_parse("x node1", &g, node, sizeof(node)),
		     -EBADMSG);
	CHECK_EQ_INT(etcd_generation_parse("42", &g, node, sizeof(node)),
		     -EBADMSG);
	CHECK_EQ_INT(etcd_generation_parse("99999999999999999999999 n", &g,
					   node, sizeof(node)),
		     -EBADMSG);
	CHECK_EQ_INT(etcd_generation_parse("4 a b", &g, node, sizeof(node)),
		     -EBADMSG);
}

TEST_MAIN(TEST(test_grant_reads_string_int64_fields),
	  TEST(test_watch_messages_tell_creation_renewal_and_deletion),
	  TEST(test_hostile_watch_messages_are_refused),
	  TEST(test_keepalive_is_a_stream_result_and_absent_ttl_means_gone),
	  TEST(test_txn_ranges_decode_base64_and_absent_keys),
	  TEST(test_error_objects_are_recognised_and_sanitised),
	  TEST(test_hostile_replies_are_refused_with_a_reason),
	  TEST(test_txn_body_encodes_keys_values_and_int64_as_etcd_wants),
	  TEST(test_generation_record_round_trips_and_refuses_junk))
