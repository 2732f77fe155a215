/*
 * skyctl_snapshot_test.c - the module file handed over by skyctl snapshot
 * keeps its shape and loses its secret values, whatever their form.
 */
#include "support.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static char *redact(const char *in, unsigned *removed)
{
	char *out = NULL;
	size_t len = 0;

	if (skyctl_redact_config(in, strlen(in), &out, &len, removed) < 0)
		return NULL;
	CHECK_EQ_INT((int)strlen(out), (int)len);
	return out;
}

static void test_secret_values_go_and_everything_else_stays(void)
{
	const char *in = "cluster:\n"
			 "  name: prod  # the cluster\n"
			 "  key_file: /etc/skyha/cluster.key\n"
			 "etcd:\n"
			 "  user: skyha\n"
			 "  password: hunter2\n"
			 "  password_file: /etc/skyha/etcd.pw\n"
			 "backup:\n"
			 "  passphrase: 'correct horse'\n"
			 "  targets:\n"
			 "    - name: s3\n"
			 "      credentials: env\n"
			 "      secret_access_key: AKIAsecret\n"
			 "      \"token\": abc\n";
	unsigned removed = 0;
	char *out = redact(in, &removed);

	CHECK(out != NULL);
	CHECK_EQ_INT((int)removed, 4);
	CHECK(strstr(out, "hunter2") == NULL);
	CHECK(strstr(out, "correct horse") == NULL);
	CHECK(strstr(out, "AKIAsecret") == NULL);
	CHECK(strstr(out, "abc") == NULL);
	CHECK_STR_CONTAINS(out, "  name: prod  # the cluster\n");
	CHECK_STR_CONTAINS(out, "key_file: /etc/skyha/cluster.key\n");
	CHECK_STR_CONTAINS(out, "password_file: /etc/skyha/etcd.pw\n");
	CHECK_STR_CONTAINS(out, "credentials: env\n");
	CHECK_STR_CONTAINS(out,
			   "  password: \"<removed by skyctl snapshot>\"\n");
	CHECK_STR_CONTAINS(out, "user: skyha\n");
	free(out);
}

static void test_a_block_value_is_removed_whole(void)
{
	const char *in = "tls:\n"
			 "  private_key: |\n"
			 "    -----BEGIN PRIVATE KEY-----\n"
			 "    MIIEvQIBADANBgkq\n"
			 "\n"
			 "    -----END PRIVATE KEY-----\n"
			 "  cert_file: /etc/ssl/x.pem\n"
			 "api_key:\n"
			 "  - one\n"
			 "  - two\n"
			 "after: kept\n";
	unsigned removed = 0;
	char *out = redact(in, &removed);

	CHECK(out != NULL);
	CHECK_EQ_INT((int)removed, 2);
	CHECK(strstr(out, "MIIEvQIBADANBgkq") == NULL);
	CHECK(strstr(out, "BEGIN") == NULL);
	CHECK(strstr(out, "one") == NULL);
	CHECK_STR_CONTAINS(out, "  cert_file: /etc/ssl/x.pem\n");
	CHECK_STR_CONTAINS(out, "after: kept\n");
	free(out);
}

static void test_odd_input_is_copied_not_misread(void)
{
	const char *cases[] = {"",
			       "\n\n",
			       "no newline at the end: password",
			       "password",
			       ":\n",
			       "- \n",
			       "url: http://user:password@host/\n",
			       "# password: in a comment\n",
			       "\"unterminated: x\n"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned removed = 9;
		char *out = redact(cases[i], &removed);
		CHECK(out != NULL);
		CHECK_EQ_INT((int)removed, 0);
		free(out);
	}
	/* A line with no newline still loses its secret. */
	unsigned removed = 0;
	char *out = redact("token: zzz", &removed);
	CHECK(out && strstr(out, "zzz") == NULL && removed == 1);
	free(out);
}

TEST_MAIN(TEST(test_secret_values_go_and_everything_else_stays),
	  TEST(test_a_block_value_is_removed_whole),
	  TEST(test_odd_input_is_copied_not_misread))
