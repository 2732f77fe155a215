/*
 * test.h - a tiny test runner for skyha's unit tests.
 *
 * A test file defines `static void test_<behaviour>(void)` functions and
 * lists them in TEST_MAIN(...). Each CHECK that fails prints file:line and
 * the expression and marks the current test failed; the run ends with the
 * line "N passed, N failed" that CI reads. Tests run under ASan/UBSan.
 */
#ifndef SKYHA_TEST_H
#define SKYHA_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int test_current_failed;

#define CHECK(expr)                                                            \
	do {                                                                   \
		if (!(expr)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",         \
				__FILE__, __LINE__, #expr);                    \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                     \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_) {                                                \
			fprintf(stderr,                                        \
				"  %s:%d: %s == %s failed: %lld != %lld\n",    \
				__FILE__, __LINE__, #a, #b, a_, b_);           \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                        \
	do {                                                                   \
		const char *h_ = (hay), *n_ = (needle);                        \
		if (!h_ || !strstr(h_, n_)) {                                  \
			fprintf(stderr,                                        \
				"  %s:%d: '%s' does not contain '%s'\n",       \
				__FILE__, __LINE__, h_ ? h_ : "(null)", n_);   \
			test_current_failed = 1;                               \
		}                                                              \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(fn)                                                               \
	{                                                                      \
#fn, fn                                                        \
	}

#define TEST_MAIN(...)                                                         \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		static const struct test_case cases[] = {__VA_ARGS__};         \
		int passed = 0, failed = 0;                                    \
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]);       \
		     i++) {                                                    \
			if (argc > 1 && !strstr(cases[i].name, argv[1]))       \
				continue;                                      \
			test_current_failed = 0;                               \
			cases[i].fn();                                         \
			printf("%s %s\n",                                      \
			       test_current_failed ? "FAIL" : "PASS",          \
			       cases[i].name);                                 \
			if (test_current_failed)                               \
				failed++;                                      \
			else                                                   \
				passed++;                                      \
		}                                                              \
		printf("%d passed, %d failed\n", passed, failed);              \
		return failed ? 1 : 0;                                         \
	}

#endif
