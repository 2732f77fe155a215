/*
 * backupd_xml_test.c - the object stores' reply scanner: S3
 * ListObjectsV2 and Azure List Blobs pages as the services write them,
 * error bodies, and hostile replies (unclosed tags, bad entities, control
 * characters, oversized fields, a truncated page without a token).
 */
#include "test.h"
#include "xml.h"

#include <stdlib.h>

struct got {
	char names[8][BK_XML_KEY_MAX + 1];
	uint64_t sizes[8];
	int n, stop_at;
};

static int collect(void *ctx, const char *key, uint64_t size)
{
	struct got *g = ctx;
	if (g->n < 8) {
		snprintf(g->names[g->n], sizeof(g->names[0]), "%s", key);
		g->sizes[g->n] = size;
	}
	g->n++;
	return g->stop_at && g->n >= g->stop_at;
}

static const char s3_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>bkt</Name><Prefix>bk/</Prefix><KeyCount>2</KeyCount>"
	"<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
	"<Contents><Key>bk/config</Key><LastModified>2026-12-07T03:00:00.000Z"
	"</LastModified><ETag>&quot;abc&quot;</ETag><Size>77</Size>"
	"<StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents><Key>bk/data/a&amp;b&#x2D;c</Key><Size>20971520</Size>"
	"</Contents>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
	"</NextContinuationToken></ListBucketResult>";

static void test_s3_page_gives_keys_sizes_and_the_next_token(void)
{
	struct got g = {0};
	char next[256];
	CHECK_EQ_INT(bk_xml_s3_list(s3_page, sizeof(s3_page) - 1, collect, &g,
				    next, sizeof(next)),
		     0);
	CHECK_EQ_INT(g.n, 2);
	CHECK(!strcmp(g.names[0], "bk/config") && g.sizes[0] == 77);
	CHECK(!strcmp(g.names[1], "bk/data/a&b-c") && g.sizes[1] == 20971520);
	CHECK(!strcmp(next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="));
}

static void test_s3_last_page_has_no_token_and_a_callback_can_stop(void)
{
	static const char last[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a</Key><Size>1</Size></Contents>"
		"<Contents><Key>b</Key><Size>2</Size></Contents>"
		"</ListBucketResult>";
	struct got g = {.stop_at = 1};
	char next[64] = "stale";
	CHECK_EQ_INT(bk_xml_s3_list(last, sizeof(last) - 1, collect, &g, next,
				    sizeof(next)),
		     1);
	CHECK_EQ_INT(g.n, 1);
	CHECK(next[0] == '\0');
	static const char empty[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<KeyCount>0</KeyCount></ListBucketResult>";
	struct got e = {0};
	CHECK_EQ_INT(bk_xml_s3_list(empty, sizeof(empty) - 1, collect, &e, next,
				    sizeof(next)),
		     0);
	CHECK_EQ_INT(e.n, 0);
}

static void test_s3_hostile_pages_are_refused(void)
{
	static const char *const bad[] = {
		/* more pages but no way to ask for them */
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"</ListBucketResult>",
		/* an error, not a listing */
		"<Error><Code>AccessDenied</Code></Error>",
		/* a Contents without Size, or with a bad one */
		"<ListBucketResult><Contents><Key>a</Key></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key>"
		"<Size>99999999999999999999999</Size></Contents>"
		"</ListBucketResult>",
		/* unclosed */
		"<ListBucketResult><Contents><Key>a</Key><Size>1</Size>",
		"<ListBucketResult><Contents><Key>a<Size>1</Size></Contents>",
		/* entities and characters names may not hold */
		"<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a&#x;</Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a\x01</Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key></Key><Size>1</Size>"
		"</Contents></ListBucketResult>",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct got g = {0};
		char next[64];
		int r = bk_xml_s3_list(bad[i], strlen(bad[i]), collect, &g,
				       next, sizeof(next));
		if (r != -EBADMSG)
			fprintf(stderr, "  bad[%zu]: %d\n", i, r);
		CHECK_EQ_INT(r, -EBADMSG);
		CHECK(next[0] == '\0');
	}
}

static void test_a_key_longer_than_1024_bytes_is_refused(void)
{
	size_t n = 2000;
	char *page = malloc(n + 200);
	int o = snprintf(page, 200, "<ListBucketResult><Contents><Key>");
	memset(page + o, 'k', n);
	snprintf(page + o + n, 200,
		 "</Key><Size>1</Size></Contents>"
		 "</ListBucketResult>");
	struct got g = {0};
	char next[8];
	CHECK_EQ_INT(bk_xml_s3_list(page, strlen(page), collect, &g, next,
				    sizeof(next)),
		     -EBADMSG);
	CHECK_EQ_INT(g.n, 0);
	/* A token longer than the caller's buffer: refused too. */
	snprintf(page, n,
		 "<ListBucketResult><IsTruncated>true</IsTruncated>"
		 "<NextContinuationToken>0123456789abcdef"
		 "</NextContinuationToken></ListBucketResult>");
	CHECK_EQ_INT(bk_xml_s3_list(page, strlen(page), collect, &g, next,
				    sizeof(next)),
		     -EBADMSG);
	free(page);
}

static const char blob_page[] =
	"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/"
	"devstoreaccount1\" ContainerName=\"bkt\"><Prefix>bk/</Prefix>"
	"<Blobs><Blob><Name>bk/config</Name><Properties>"
	"<Creation-Time>Mon, 07 Dec 2026 03:00:00 GMT</Creation-Time>"
	"<Content-Length>77</Content-Length><BlobType>BlockBlob</BlobType>"
	"</Properties></Blob><Blob><Name>bk/keys/x</Name><Properties>"
	"<Content-Length>0</Content-Length></Properties></Blob></Blobs>"
	"<NextMarker>2!80!MDAwMDE2IWJrL2tleXMveCEwMDAwMjgh</NextMarker>"
	"</EnumerationResults>";

static void test_blob_page_gives_names_sizes_and_the_marker(void)
{
	struct got g = {0};
	char next[128];
	CHECK_EQ_INT(bk_xml_blob_list(blob_page, sizeof(blob_page) - 1, collect,
				      &g, next, sizeof(next)),
		     0);
	CHECK_EQ_INT(g.n, 2);
	CHECK(!strcmp(g.names[0], "bk/config") && g.sizes[0] == 77);
	CHECK(!strcmp(g.names[1], "bk/keys/x") && g.sizes[1] == 0);
	CHECK(!strcmp(next, "2!80!MDAwMDE2IWJrL2tleXMveCEwMDAwMjgh"));
	static const char last[] = "<EnumerationResults><Blobs /><NextMarker />"
				   "</EnumerationResults>";
	struct got e = {0};
	CHECK_EQ_INT(bk_xml_blob_list(last, sizeof(last) - 1, collect, &e, next,
				      sizeof(next)),
		     0);
	CHECK(e.n == 0 && next[0] == '\0');
}

static void test_blob_hostile_pages_are_refused(void)
{
	static const char *const bad[] = {
		"<Error><Code>AuthorizationFailure</Code></Error>",
		"<EnumerationResults><Blobs><Blob><Name>a</Name></Blob>"
		"</Blobs></EnumerationResults>",
		"<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
		"<Content-Length>x</Content-Length></Properties></Blob>"
		"</Blobs></EnumerationResults>",
		"<EnumerationResults><NextMarker>abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct got g = {0};
		char next[64];
		CHECK_EQ_INT(bk_xml_blob_list(bad[i], strlen(bad[i]), collect,
					      &g, next, sizeof(next)),
			     -EBADMSG);
		CHECK_EQ_INT(g.n, 0);
	}
}

static void test_error_bodies_give_code_and_first_line_of_message(void)
{
	static const char s3[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
		"SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match</Message><RequestId>1</RequestId>"
		"</Error>";
	char code[32], msg[128];
	bk_xml_error(s3, sizeof(s3) - 1, code, sizeof(code), msg, sizeof(msg));
	CHECK(!strcmp(code, "SignatureDoesNotMatch"));
	CHECK(!strcmp(msg, "The request signature we calculated does not "
			   "match"));
	static const char az[] = "<Error><Code>AuthorizationFailure</Code>"
				 "<Message>Server failed.\nRequestId:x\nTime:y"
				 "</Message></Error>";
	bk_xml_error(az, sizeof(az) - 1, code, sizeof(code), msg, sizeof(msg));
	CHECK(!strcmp(code, "AuthorizationFailure"));
	CHECK(!strcmp(msg, "Server failed."));
	/* Too long for the buffer: what fits. Garbage: nothing. */
	bk_xml_error(az, sizeof(az) - 1, code, 6, msg, sizeof(msg));
	CHECK(!strcmp(code, "Autho"));
	bk_xml_error("<html>502</html>", 16, code, sizeof(code), msg,
		     sizeof(msg));
	CHECK(code[0] == '\0' && msg[0] == '\0');
}

static void test_next_finds_elements_with_attributes_and_empty_ones(void)
{
	static const char doc[] = "<a x=\"1\">one</a><ab>no</ab><a/><a>two</a>";
	size_t pos = 0, n;
	const char *s;
	CHECK_EQ_INT(bk_xml_next(doc, sizeof(doc) - 1, &pos, "a", &s, &n), 0);
	CHECK(n == 3 && !memcmp(s, "one", 3));
	CHECK_EQ_INT(bk_xml_next(doc, sizeof(doc) - 1, &pos, "a", &s, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(bk_xml_next(doc, sizeof(doc) - 1, &pos, "a", &s, &n), 0);
	CHECK(n == 3 && !memcmp(s, "two", 3));
	CHECK_EQ_INT(bk_xml_next(doc, sizeof(doc) - 1, &pos, "a", &s, &n),
		     -ENOENT);
	/* Never reads past len, even for a tag cut in the middle. */
	pos = 0;
	CHECK_EQ_INT(bk_xml_next(doc, 2, &pos, "a", &s, &n), -ENOENT);
}

TEST_MAIN(TEST(test_s3_page_gives_keys_sizes_and_the_next_token),
	  TEST(test_s3_last_page_has_no_token_and_a_callback_can_stop),
	  TEST(test_s3_hostile_pages_are_refused),
	  TEST(test_a_key_longer_than_1024_bytes_is_refused),
	  TEST(test_blob_page_gives_names_sizes_and_the_marker),
	  TEST(test_blob_hostile_pages_are_refused),
	  TEST(test_error_bodies_give_code_and_first_line_of_message),
	  TEST(test_next_finds_elements_with_attributes_and_empty_ones))
