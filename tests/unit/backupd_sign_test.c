/*
 * backupd_sign_test.c - SigV4 against AWS's published examples (the
 * signature v4 test suite's get-vanilla cases and the S3 documentation's
 * GET, ListObjects and PUT examples), SharedKey against the string to
 * sign of Azure's documentation, and the helpers they stand on.
 */
#include "httpc.h"
#include "sign.h"
#include "test.h"
#include "util.h"

#include <stdlib.h>

#define EMPTY_SHA                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void test_sha256_of_nothing_and_of_the_s3_example_body(void)
{
	char hex[BK_SHA256_HEX];
	bk_sha256_hex("", 0, hex);
	CHECK(!strcmp(hex, EMPTY_SHA));
	bk_sha256_hex("Welcome to Amazon S3.", 21, hex);
	CHECK(!strcmp(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e4"
			   "2034a8b803f8b072"));
}

static void test_sigv4_suite_get_vanilla(void)
{
	struct bk_kv h[] = {{"host", "example.amazonaws.com"},
			    {"x-amz-date", "20150830T123600Z"}};
	struct bk_sigv4 in = {
		.method = "GET",
		.path = "/",
		.query = "",
		.headers = h,
		.header_count = 2,
		.payload_sha256 = EMPTY_SHA,
		.amz_date = "20150830T123600Z",
		.region = "us-east-1",
		.service = "service",
		.key_id = "AKIDEXAMPLE",
		.secret = SUITE_SECRET,
	};
	char auth[512], canon[1024];
	CHECK_EQ_INT(bk_sigv4_authorization(&in, auth, sizeof(auth), canon,
					    sizeof(canon)),
		     0);
	CHECK(!strcmp(canon, "GET\n/\n\nhost:example.amazonaws.com\n"
			     "x-amz-date:20150830T123600Z\n\n"
			     "host;x-amz-date\n" EMPTY_SHA));
	CHECK(!strcmp(auth,
		      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
		      "us-east-1/service/aws4_request, SignedHeaders=host;"
		      "x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e"
		      "8372ff2a2260956d9b8aae1d763fbf31"));
}

static void test_sigv4_suite_query_order_key_case_is_sorted(void)
{
	/* The request says ?Param2=value2&Param1=value1. */
	struct bk_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	char query[128];
	CHECK_EQ_INT(bk_query_canonical(q, 2, query, sizeof(query)), 0);
	CHECK(!strcmp(query, "Param1=value1&Param2=value2"));
	struct bk_kv h[] = {{"x-amz-date", "20150830T123600Z"},
			    {"host", "example.amazonaws.com"}};
	struct bk_sigv4 in = {
		.method = "GET",
		.path = "/",
		.query = query,
		.headers = h,
		.header_count = 2,
		.payload_sha256 = EMPTY_SHA,
		.amz_date = "20150830T123600Z",
		.region = "us-east-1",
		.service = "service",
		.key_id = "AKIDEXAMPLE",
		.secret = SUITE_SECRET,
	};
	char auth[512];
	CHECK_EQ_INT(bk_sigv4_authorization(&in, auth, sizeof(auth), NULL, 0),
		     0);
	CHECK_STR_CONTAINS(auth, "Signature=b97d918cfa904a5beff61c982a1b6f45"
				 "8b799221646efd99d3219ec94cdf2500");
}

static void test_sigv4_s3_docs_get_object_with_range(void)
{
	struct bk_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"},
			    {"range", "bytes=0-9"},
			    {"x-amz-content-sha256", EMPTY_SHA},
			    {"x-amz-date", "20130524T000000Z"}};
	struct bk_sigv4 in = {
		.method = "GET",
		.path = "/test.txt",
		.query = "",
		.headers = h,
		.header_count = 4,
		.payload_sha256 = EMPTY_SHA,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret = S3_SECRET,
	};
	char auth[512];
	CHECK_EQ_INT(bk_sigv4_authorization(&in, auth, sizeof(auth), NULL, 0),
		     0);
	CHECK(!strcmp(auth,
		      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"
		      "20130524/us-east-1/s3/aws4_request, SignedHeaders=host;"
		      "range;x-amz-content-sha256;x-amz-date, Signature="
		      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039"
		      "c6036bdb41"));
}

static void test_sigv4_s3_docs_list_objects(void)
{
	struct bk_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
	char query[128];
	CHECK_EQ_INT(bk_query_canonical(q, 2, query, sizeof(query)), 0);
	CHECK(!strcmp(query, "max-keys=2&prefix=J"));
	struct bk_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"},
			    {"x-amz-content-sha256", EMPTY_SHA},
			    {"x-amz-date", "20130524T000000Z"}};
	struct bk_sigv4 in = {
		.method = "GET",
		.path = "/",
		.query = query,
		.headers = h,
		.header_count = 3,
		.payload_sha256 = EMPTY_SHA,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret = S3_SECRET,
	};
	char auth[512];
	CHECK_EQ_INT(bk_sigv4_authorization(&in, auth, sizeof(auth), NULL, 0),
		     0);
	CHECK_STR_CONTAINS(auth, "Signature=34b48302e7b5fa45bde8084f4b7868a8"
				 "6f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_sigv4_s3_docs_put_object_with_an_encoded_name(void)
{
	char path[64], sha[BK_SHA256_HEX];
	CHECK_EQ_INT(sky_url_encode_path("/test$file.text", path, sizeof(path)),
		     0);
	CHECK(!strcmp(path, "/test%24file.text"));
	bk_sha256_hex("Welcome to Amazon S3.", 21, sha);
	struct bk_kv h[] = {{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
			    {"date", "Fri, 24 May 2013 00:00:00 GMT"},
			    {"host", "examplebucket.s3.amazonaws.com"},
			    {"x-amz-date", "20130524T000000Z"},
			    {"x-amz-content-sha256", sha}};
	struct bk_sigv4 in = {
		.method = "PUT",
		.path = path,
		.query = "",
		.headers = h,
		.header_count = 5,
		.payload_sha256 = sha,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret = S3_SECRET,
	};
	char auth[512];
	CHECK_EQ_INT(bk_sigv4_authorization(&in, auth, sizeof(auth), NULL, 0),
		     0);
	CHECK_STR_CONTAINS(auth, "SignedHeaders=date;host;x-amz-content-"
				 "sha256;x-amz-date;x-amz-storage-class");
	CHECK_STR_CONTAINS(auth, "Signature=98ad721746da40c64f1a55b78f14c238"
				 "d841ea1380cd77a1b5971af0ece108bd");
}

static void test_query_encodes_names_values_and_empty_values(void)
{
	struct bk_kv q[] = {{"uploadId", "a/b+c=d"},
			    {"uploads", ""},
			    {"continuation-token",
			     "1ueGcxLPRx1Tr/XYExHnhbYLgveD"
			     "s2J/wm36Hy4vbOwM="},
			    {"prefix", "bk/data/aa obj~"}};
	char query[512];
	CHECK_EQ_INT(bk_query_canonical(q, 4, query, sizeof(query)), 0);
	CHECK(!strcmp(query,
		      "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveD"
		      "s2J%2Fwm36Hy4vbOwM%3D&prefix=bk%2Fdata%2Faa%20obj~"
		      "&uploadId=a%2Fb%2Bc%3Dd&uploads="));
	CHECK_EQ_INT(bk_query_canonical(q, 4, query, 20), -ENOSPC);
}

static void test_sharedkey_string_to_sign_of_the_azure_docs_example(void)
{
	/* Azure's "Authorize with Shared Key" example: Get Container
	 * Metadata, x-ms-version 2009-09-19. */
	struct bk_kv ms[] = {{"x-ms-version", "2009-09-19"},
			     {"x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"}};
	struct bk_kv params[] = {{"restype", "container"},
				 {"comp", "metadata"},
				 {"timeout", "20"}};
	struct bk_sharedkey in = {
		.method = "GET",
		.account = "myaccount",
		.path = "/myaccount/mycontainer",
		.params = params,
		.param_count = 3,
		.ms_headers = ms,
		.ms_count = 2,
	};
	char sts[512];
	CHECK_EQ_INT(bk_sharedkey_string(&in, sts, sizeof(sts)), 0);
	CHECK(!strcmp(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
			   "x-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\n"
			   "x-ms-version:2009-09-19\n"
			   "/myaccount/myaccount/mycontainer\n"
			   "comp:metadata\nrestype:container\ntimeout:20"));
	/* Signed with Azurite's published development key; the value is
	 * Python's hmac/base64 on the same string. */
	uint8_t key[96];
	size_t key_len;
	CHECK_EQ_INT(bk_base64_decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50"
				      "uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
				      "KBHBeksoGMGw==",
				      key, sizeof(key), &key_len),
		     0);
	CHECK_EQ_INT(key_len, 64);
	char auth[128];
	CHECK_EQ_INT(bk_sharedkey_authorization(&in, key, key_len, auth,
						sizeof(auth)),
		     0);
	CHECK(!strcmp(auth, "SharedKey myaccount:Su5rvibNeMxB7A4I87rOtEgCDtdI"
			    "CsL8v5H+yJs0W+M="));
}

static void test_sharedkey_names_length_type_range_when_sent(void)
{
	struct bk_kv ms[] = {{"x-ms-range", "bytes=0-9"},
			     {"x-ms-date", "D"},
			     {"x-ms-version", "2020-04-08"}};
	struct bk_sharedkey in = {
		.method = "PUT",
		.account = "a",
		.path = "/c/b",
		.ms_headers = ms,
		.ms_count = 3,
		.content_length = 12,
		.content_type = "application/octet-stream",
		.if_match = "\"0x8\"",
	};
	char sts[512];
	CHECK_EQ_INT(bk_sharedkey_string(&in, sts, sizeof(sts)), 0);
	CHECK(!strcmp(sts, "PUT\n\n\n12\n\napplication/octet-stream\n\n\n"
			   "\"0x8\"\n\n\n\nx-ms-date:D\nx-ms-range:bytes=0-9\n"
			   "x-ms-version:2020-04-08\n/a/c/b"));
	CHECK_EQ_INT(bk_sharedkey_string(&in, sts, 40), -ENOSPC);
}

static void test_base64_round_trip_and_refusals(void)
{
	char enc[64];
	uint8_t dec[64];
	size_t n;
	CHECK_EQ_INT(bk_base64_encode((const uint8_t *)"skyha-0000000001", 16,
				      enc, sizeof(enc)),
		     0);
	CHECK(!strcmp(enc, "c2t5aGEtMDAwMDAwMDAwMQ=="));
	CHECK_EQ_INT(bk_base64_decode(enc, dec, sizeof(dec), &n), 0);
	CHECK(n == 16 && !memcmp(dec, "skyha-0000000001", 16));
	CHECK_EQ_INT(bk_base64_decode("abc", dec, sizeof(dec), &n), -EINVAL);
	CHECK_EQ_INT(bk_base64_decode("ab!?", dec, sizeof(dec), &n), -EINVAL);
	CHECK_EQ_INT(bk_base64_decode("", dec, sizeof(dec), &n), -EINVAL);
	CHECK_EQ_INT(bk_base64_encode(dec, 16, enc, 10), -ENOSPC);
}

static void test_dates_in_both_formats(void)
{
	char a[20], h[40];
	bk_amz_date(1369353600, a, sizeof(a)); /* 2013-05-24 00:00:00 */
	CHECK(!strcmp(a, "20130524T000000Z"));
	bk_http_date(1255297753, h, sizeof(h));
	CHECK(!strcmp(h, "Sun, 11 Oct 2009 21:49:13 GMT"));
}

TEST_MAIN(TEST(test_sha256_of_nothing_and_of_the_s3_example_body),
	  TEST(test_sigv4_suite_get_vanilla),
	  TEST(test_sigv4_suite_query_order_key_case_is_sorted),
	  TEST(test_sigv4_s3_docs_get_object_with_range),
	  TEST(test_sigv4_s3_docs_list_objects),
	  TEST(test_sigv4_s3_docs_put_object_with_an_encoded_name),
	  TEST(test_query_encodes_names_values_and_empty_values),
	  TEST(test_sharedkey_string_to_sign_of_the_azure_docs_example),
	  TEST(test_sharedkey_names_length_type_range_when_sent),
	  TEST(test_base64_round_trip_and_refusals),
	  TEST(test_dates_in_both_formats))
