/*
 * replicd_exclude_test.c - replicd.exclude: the pattern syntax, what a
 * pattern excludes (a path and everything under it), hostile patterns and
 * paths, and what the primary does with each operation across the
 * boundary (exclude.h).
 */
#include "exclude.h"
#include "settings.h"
#include "test.h"

#include <errno.h>

static struct replicd_exclude ex;

static void set(const char *const *pats, size_t n)
{
	const char *why;
	size_t at;
	memset(&ex, 0, sizeof(ex));
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(replicd_exclude_compile(pats[i], strlen(pats[i]),
						     &ex.pat[i], &why, &at),
			     0);
	ex.count = n;
}

static bool excluded(const char *path)
{
	return replicd_exclude_match(&ex, path);
}

static void test_a_name_without_slash_matches_at_any_depth(void)
{
	const char *p[] = {"*.swp", "tmp/"};
	set(p, 2);
	CHECK(excluded("a.swp"));
	CHECK(excluded("x/y/.a.swp"));
	CHECK(excluded("tmp"));
	CHECK(excluded("tmp/f"));
	CHECK(excluded("a/tmp/b/c"));
	CHECK(!excluded("a.swpx"));
	CHECK(!excluded("tmpx/f"));
	CHECK(!excluded("a/xtmp"));
	CHECK(!excluded(""));
}

static void test_a_pattern_with_slash_is_anchored(void)
{
	const char *p[] = {"cache/**", "/run", "var/*/log", "a/**/z"};
	set(p, 4);
	CHECK(excluded("cache"));
	CHECK(excluded("cache/x/y"));
	CHECK(!excluded("sub/cache/x"));
	CHECK(excluded("run"));
	CHECK(excluded("run/pid"));
	CHECK(!excluded("x/run"));
	CHECK(excluded("var/app/log"));
	CHECK(excluded("var/app/log/today"));
	CHECK(!excluded("var/log"));
	CHECK(!excluded("var/a/b/log"));
	CHECK(excluded("a/z"));
	CHECK(excluded("a/b/c/z/w"));
	CHECK(!excluded("a/b/c"));
}

static void test_classes_question_marks_and_escapes(void)
{
	const char *p[] = {"log[0-9]", "[!a-y]?", "\\*star", "x[]]"};
	set(p, 4);
	CHECK(excluded("log7"));
	CHECK(!excluded("logx"));
	CHECK(excluded("zq"));
	CHECK(!excluded("aq"));
	CHECK(excluded("*star"));
	CHECK(!excluded("Xstar"));
	CHECK(excluded("x]"));
}

static int compile(const char *t, const char **why, size_t *at)
{
	struct replicd_exclude_pattern pat;
	return replicd_exclude_compile(t, strlen(t), &pat, why, at);
}

static void test_bad_patterns_are_refused_with_the_place(void)
{
	const char *why;
	size_t at;
	const char *bad[] = {"",      "/",	 "**",	"*",	"a//b",
			     "./a",   "a/../b",	 "a**", "[abc", "a\\",
			     "**/**", "x/[a/b]", "/**/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(compile(bad[i], &why, &at), -EINVAL);
	CHECK_EQ_INT(compile("ab[cd", &why, &at), -EINVAL);
	CHECK_EQ_INT(at, 2);
	CHECK_STR_CONTAINS(why, "']'");
	char longp[400];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ_INT(compile(longp, &why, &at), -EINVAL);
	CHECK_STR_CONTAINS(why, "255");
	CHECK_EQ_INT(compile("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", &why, &at),
		     -EINVAL);
	CHECK_STR_CONTAINS(why, "16 components");
	CHECK_EQ_INT(replicd_exclude_compile(
			     "a\0b", 3, &(struct replicd_exclude_pattern){0},
			     &why, &at),
		     -EINVAL);
}

/* Many stars against a long name and a deep path: bounded, and right. */
static void test_hostile_stars_and_deep_paths_stay_cheap(void)
{
	const char *p[] = {"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
			   "**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/q"};
	set(p, 2);
	char name[256];
	memset(name, 'a', 255);
	name[255] = '\0';
	CHECK(!excluded(name));
	name[254] = 'b';
	CHECK(excluded(name));
	static char deep[REPLICD_PATH_MAX + 1];
	size_t n = 0;
	while (n + 2 <= REPLICD_PATH_MAX - 2) {
		deep[n++] = 'x';
		deep[n++] = '/';
	}
	deep[n] = 'x';
	deep[n + 1] = '\0';
	for (int i = 0; i < 50; i++)
		CHECK(!excluded(deep));
	deep[n] = 'q';
	CHECK(excluded(deep));
}

static void test_operations_across_the_boundary(void)
{
	const char *p[] = {"tmp/"};
	set(p, 1);
	struct replicd_op op = {.type = ROP_WRITE, .path = "tmp/a"};
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_LOCAL);
	op.path = "data/a";
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_SEND);
	op.path = "";
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_SEND);
	op = (struct replicd_op){
		.type = ROP_RENAME, .path = "tmp/a", .path2 = "tmp/b"};
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_LOCAL);
	op.path2 = "a"; /* into the replicated paths */
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), -EXDEV);
	op.path = "a";
	op.path2 = "tmp/a"; /* out of them: the peer removes "a" */
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_REMOVE);
	op.flags = ROP_RENAME_EXCHANGE;
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), -EXDEV);
	op = (struct replicd_op){
		.type = ROP_LINK, .path = "a", .path2 = "tmp/a"};
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), -EXDEV);
	op.path = "tmp/b";
	CHECK_EQ_INT(replicd_exclude_op(&ex, &op), REPLICD_EX_LOCAL);
	CHECK_EQ_INT(replicd_exclude_op(NULL, &op), REPLICD_EX_SEND);
}

static void test_settings_name_file_line_column_and_field(void)
{
	struct replicd_settings s;
	char err[256];
	const char *ok = "replicd:\n  directories: [/d]\n"
			 "  exclude: [tmp/, \"*.swp\", cache/**]\n"
			 "  verify_max_bytes_per_s: 1048576\n";
	CHECK_EQ_INT(replicd_settings_parse("app.yaml", ok, strlen(ok), &s, err,
					    sizeof(err)),
		     0);
	CHECK_EQ_INT(s.exclude.count, 3);
	CHECK_EQ_INT(s.verify_max_bytes_per_s, 1048576);
	CHECK(strcmp(s.exclude.pat[1].shown, "*.swp") == 0);
	const char *bad = "replicd:\n  directories: [/d]\n"
			  "  exclude:\n    - tmp/\n    - a//b\n";
	CHECK(replicd_settings_parse("app.yaml", bad, strlen(bad), &s, err,
				     sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "app.yaml:5:7: replicd.exclude[1]: 'a//b' has "
				"an empty, '.' or '..' component (at byte 3");
	const char *cap = "replicd:\n  directories: [/d]\n"
			  "  verify_max_bytes_per_s: 10\n";
	CHECK(replicd_settings_parse("app.yaml", cap, strlen(cap), &s, err,
				     sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "replicd.verify_max_bytes_per_s");
	const char *map = "replicd:\n  directories: [/d]\n  exclude: {a: b}\n";
	CHECK(replicd_settings_parse("app.yaml", map, strlen(map), &s, err,
				     sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "replicd.exclude");
}

TEST_MAIN(TEST(test_a_name_without_slash_matches_at_any_depth),
	  TEST(test_a_pattern_with_slash_is_anchored),
	  TEST(test_classes_question_marks_and_escapes),
	  TEST(test_bad_patterns_are_refused_with_the_place),
	  TEST(test_hostile_stars_and_deep_paths_stay_cheap),
	  TEST(test_operations_across_the_boundary),
	  TEST(test_settings_name_file_line_column_and_field))
