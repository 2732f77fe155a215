/*
 * replicd_alone_test.c - the count of changes made without the peer:
 * its file parser (hostile bytes), counting, saving, clearing.
 */
#include "alone.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static void test_a_well_formed_line_is_read(void)
{
	struct replicd_alone_stats st;
	const char *line = "7804 1733335331000 1733335495000\n";
	CHECK_EQ_INT(replicd_alone_parse(line, strlen(line), &st), 0);
	CHECK_EQ_INT(st.count, 7804);
	CHECK_EQ_INT(st.first_ms, 1733335331000);
	CHECK_EQ_INT(st.last_ms, 1733335495000);
}

static void test_malformed_lines_are_refused(void)
{
	static const char *const bad[] = {
		"",
		"1 2\n",
		"1 2 3",
		"1 2 3\n\n",
		"-1 2 3\n",
		"1 3 2\n",		      /* first after last */
		"0 0 5\n",		      /* no change, a time */
		"1 0 0\n",		      /* a change, no time */
		"99999999999999999999 1 2\n", /* overflow */
		"1 9223372036854775808 9223372036854775809\n", /* > INT64 */
		"1  2 3\n",
		"1 2 3 4\n",
		"a 2 3\n",
	};
	struct replicd_alone_stats st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(replicd_alone_parse(bad[i], strlen(bad[i]), &st),
			     -EBADMSG);
}

static void test_mutated_files_never_crash_the_parser(void)
{
	char buf[64];
	struct replicd_alone_stats st;
	uint32_t x = 7;
	for (int round = 0; round < 20000; round++) {
		size_t len = (x >> 8) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (char)("0123456789 \n-x"[(x >> 16) % 14]);
		}
		int r = replicd_alone_parse(buf, len, &st);
		CHECK(r == 0 || r == -EBADMSG);
		if (r == 0)
			CHECK(st.first_ms <= st.last_ms);
	}
}

static void test_counted_saved_read_back_and_cleared_with_the_marker(void)
{
	char dir[] = "/tmp/skyha-alone-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct replicd_alone a, b;
	CHECK_EQ_INT(replicd_alone_open(&a, dir), 0);
	CHECK_EQ_INT(replicd_alone_get(&a).count, 0);
	replicd_alone_note(&a, 2000);
	replicd_alone_note(&a, 1000);
	replicd_alone_note(&a, 3000);
	CHECK_EQ_INT(replicd_alone_sync(&a, true), 0);
	CHECK_EQ_INT(replicd_alone_open(&b, dir), 0);
	struct replicd_alone_stats st = replicd_alone_get(&b);
	CHECK_EQ_INT(st.count, 3);
	CHECK_EQ_INT(st.first_ms, 1000);
	CHECK_EQ_INT(st.last_ms, 3000);
	json_t *j = replicd_alone_json(&st);
	CHECK(json_is_object(j));
	CHECK_STR_CONTAINS(json_string_value(json_object_get(j, "first")),
			   "1970-01-01T00:00:01");
	json_decref(j);
	/* The record lost its marker (a resync brought the peer level). */
	CHECK_EQ_INT(replicd_alone_sync(&a, false), 0);
	CHECK_EQ_INT(replicd_alone_get(&a).count, 0);
	replicd_alone_close(&b);
	CHECK_EQ_INT(replicd_alone_open(&b, dir), 0);
	CHECK_EQ_INT(replicd_alone_get(&b).count, 0);
	replicd_alone_close(&a);
	replicd_alone_close(&b);
	char path[256];
	snprintf(path, sizeof(path), "%s/alone.stats", dir);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(TEST(test_a_well_formed_line_is_read),
	  TEST(test_malformed_lines_are_refused),
	  TEST(test_mutated_files_never_crash_the_parser),
	  TEST(test_counted_saved_read_back_and_cleared_with_the_marker))
