/*
 * vipd_nft_test.c - `nft -f -` run from vipd (vipd/nft.c), with stand-ins
 * for nft named by $SKYHA_NFT: the whole script reaches its standard
 * input, a refusal comes back as -EPROTO with nft's "Error:" line (also
 * when nft stops reading: no SIGPIPE), a missing program as -ENOENT.
 */
#include "nft.h"
#include "test.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static const char *stand_in(const char *name, const char *body)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return path;
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/vipd-nft-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static void test_the_whole_script_reaches_nft(void)
{
	char script[20000], out[160], err[256];
	setup();
	/* Bigger than one pipe write, as a 256-bucket ruleset can be. */
	for (size_t i = 0; i + 1 < sizeof(script); i++)
		script[i] = (char)('a' + i % 26);
	script[sizeof(script) - 1] = '\0';
	snprintf(out, sizeof(out), "%s/got", dir);
	char body[256];
	snprintf(body, sizeof(body),
		 "[ \"$1 $2\" = \"-f -\" ] || exit 3\ncat > %s\n", out);
	setenv("SKYHA_NFT", stand_in("nft-ok", body), 1);
	CHECK_EQ_INT(vipd_nft_run(script, err, sizeof(err)), 0);
	char *got = NULL;
	size_t len = 0;
	CHECK_EQ_INT(sky_read_file(out, 1 << 20, &got, &len), 0);
	CHECK_EQ_INT(len, strlen(script));
	CHECK(got && memcmp(got, script, len) == 0);
	free(got);
}

static void test_a_refused_script_reports_nfts_error_line(void)
{
	char err[256];
	setup();
	setenv("SKYHA_NFT",
	       stand_in("nft-bad",
			"cat >/dev/null\n"
			"echo '/dev/stdin:3:9-12: Error: syntax error, "
			"unexpected junk' >&2\necho '  ^^^^' >&2\nexit 1\n"),
	       1);
	CHECK_EQ_INT(vipd_nft_run("table inet x\n", err, sizeof(err)), -EPROTO);
	CHECK(strncmp(err, "Error: syntax error", 19) == 0);
	/* A silent failure still says something. */
	setenv("SKYHA_NFT", stand_in("nft-quiet", "exit 2\n"), 1);
	CHECK_EQ_INT(vipd_nft_run("table inet x\n", err, sizeof(err)), -EPROTO);
	CHECK_STR_CONTAINS(err, "failed");
	/* An nft that stops reading: a script larger than the pipe meets a
	 * closed pipe, and that is EPIPE inside, not a SIGPIPE for the
	 * caller (this test keeps SIGPIPE's default: it would die). */
	static char big[200000];
	memset(big, '#', sizeof(big) - 1);
	setenv("SKYHA_NFT",
	       stand_in("nft-deaf", "exec 0<&-\necho 'Error: gave up' >&2\n"
				    "sleep 0.1\nexit 1\n"),
	       1);
	CHECK_EQ_INT(vipd_nft_run(big, err, sizeof(err)), -EPROTO);
	CHECK(strncmp(err, "Error: gave up", 14) == 0);
}

static void test_no_nft_is_enoent(void)
{
	char err[256];
	setup();
	setenv("SKYHA_NFT", "/nonexistent/nft", 1);
	CHECK_EQ_INT(vipd_nft_run("table inet x\n", err, sizeof(err)), -ENOENT);
	CHECK_STR_CONTAINS(err, "cannot run /nonexistent/nft");
	unsetenv("SKYHA_NFT");
	/* the last test: the stand-ins go */
	static const char *const names[] = {"nft-ok", "got", "nft-bad",
					    "nft-quiet", "nft-deaf"};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(names); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

TEST_MAIN(TEST(test_the_whole_script_reaches_nft),
	  TEST(test_a_refused_script_reports_nfts_error_line),
	  TEST(test_no_nft_is_enoent))
