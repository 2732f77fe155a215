/*
 * backup_chunker_test.c - where backupd cuts files (backupd/chunker.h):
 * chunk sizes stay within min..max around avg, cuts come back after an
 * insertion (content-defined), and large files are cut at every zone
 * boundary so a chunk never straddles two of replicd's 64 KiB zones.
 */
#include "chunker.h"
#include "test.h"

#include <stdlib.h>

static uint8_t *random_data(size_t len, unsigned seed)
{
	uint8_t *b = malloc(len);
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* Cut points (offsets where a chunk starts) of buf; returns the count. */
static size_t cuts(const struct bk_chunker *c, const uint8_t *buf, size_t len,
		   int forced, uint64_t *out, size_t max)
{
	size_t n = 0, at = 0;
	while (at < len && n < max) {
		out[n++] = at;
		size_t avail = len - at;
		at += bk_chunk_next(c, buf + at, avail, at, forced);
	}
	return n;
}

static struct bk_chunker chunker(void)
{
	struct bk_chunker c;
	int r = bk_chunker_init(&c, BK_CHUNK_MIN, BK_CHUNK_AVG, BK_CHUNK_MAX,
				BK_ZONE);
	CHECK(r == 0);
	return c;
}

static void test_chunks_stay_within_bounds_around_the_average(void)
{
	struct bk_chunker c = chunker();
	size_t len = 16u << 20;
	uint8_t *b = random_data(len, 1);
	static uint64_t at[4096];
	size_t n = cuts(&c, b, len, 0, at, 4096);
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t size = at[i + 1] - at[i];
		CHECK(size >= BK_CHUNK_MIN && size <= BK_CHUNK_MAX);
	}
	size_t avg = len / n;
	CHECK(avg > BK_CHUNK_AVG / 2 && avg < BK_CHUNK_AVG * 2);
	free(b);
}

static void test_cuts_come_back_after_an_insertion(void)
{
	struct bk_chunker c = chunker();
	size_t len = 4u << 20;
	uint8_t *b = random_data(len + 100, 2);
	uint8_t *shifted = malloc(len + 100);
	/* 100 bytes inserted at 1 MiB */
	memcpy(shifted, b, 1u << 20);
	memset(shifted + (1u << 20), 0xAB, 100);
	memcpy(shifted + (1u << 20) + 100, b + (1u << 20), len - (1u << 20));
	static uint64_t a[1024], s[1024];
	size_t na = cuts(&c, b, len, 0, a, 1024);
	size_t ns = cuts(&c, shifted, len + 100, 0, s, 1024);
	size_t same = 0, after = 0;
	for (size_t i = 0; i < na; i++) {
		if (a[i] <= (2u << 20))
			continue;
		after++;
		for (size_t j = 0; j < ns; j++)
			if (s[j] == a[i] + 100) {
				same++;
				break;
			}
	}
	CHECK(after > 10);
	CHECK(same == after); /* every cut past the next MiB moved by 100 */
	/* and every cut before the insertion is unchanged */
	for (size_t i = 0; i < na && a[i] + BK_CHUNK_MAX < (1u << 20); i++)
		CHECK(s[i] == a[i]);
	free(b);
	free(shifted);
}

static void test_large_files_are_cut_at_every_zone_boundary(void)
{
	struct bk_chunker c = chunker();
	size_t len = 8u << 20;
	uint8_t *b = random_data(len, 3);
	static uint64_t at[4096];
	size_t n = cuts(&c, b, len, 1, at, 4096);
	size_t zone_starts = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t end = i + 1 < n ? at[i + 1] : len;
		/* no chunk straddles a zone */
		CHECK(at[i] / BK_ZONE == (end - 1) / BK_ZONE);
		zone_starts += at[i] % BK_ZONE == 0;
	}
	CHECK_EQ_INT(zone_starts, len / BK_ZONE);
	free(b);
}

static void test_a_changed_zone_changes_the_cuts_of_that_zone_only(void)
{
	struct bk_chunker c = chunker();
	size_t len = 4u << 20;
	uint8_t *b = random_data(len, 4);
	static uint64_t a[4096], m[4096];
	size_t na = cuts(&c, b, len, 1, a, 4096);
	memset(b + 10 * BK_ZONE + 5000, 0x55, 30000);
	size_t nm = cuts(&c, b, len, 1, m, 4096);
	size_t ia = 0, im = 0, differ = 0;
	while (ia < na && im < nm) {
		if (a[ia] == m[im]) {
			ia++, im++;
			continue;
		}
		uint64_t off = a[ia] < m[im] ? a[ia] : m[im];
		CHECK(off / BK_ZONE == 10);
		differ++;
		if (a[ia] < m[im])
			ia++;
		else
			im++;
	}
	CHECK(ia == na && im == nm);
	(void)differ;
	free(b);
}

static void test_bad_parameters_are_refused(void)
{
	struct bk_chunker c;
	CHECK(bk_chunker_init(&c, 16, 64, 256, 0) < 0); /* min < 64 */
	CHECK(bk_chunker_init(&c, 1 << 14, 1 << 14, 1 << 18, 0) < 0); /* avg */
	CHECK(bk_chunker_init(&c, 1 << 14, 3 << 14, 1 << 18, 0) < 0); /* 2^n */
	CHECK(bk_chunker_init(&c, 1 << 14, 1 << 16, 1 << 24, 0) < 0); /* max */
	CHECK(bk_chunker_init(&c, 1 << 14, 1 << 16, 1 << 18, 3) < 0); /* zone */
}

TEST_MAIN(TEST(test_chunks_stay_within_bounds_around_the_average),
	  TEST(test_cuts_come_back_after_an_insertion),
	  TEST(test_large_files_are_cut_at_every_zone_boundary),
	  TEST(test_a_changed_zone_changes_the_cuts_of_that_zone_only),
	  TEST(test_bad_parameters_are_refused))
