/*
 * ratecap_test.c - the token bucket (shared/ratecap.h) with a fake clock:
 * without a cap it never holds back; with one, over any stretch of time the
 * sender sends at most burst + rate * time + one step, and no less than
 * the rate allows once it has something to send; waiting what wait_ms
 * says is enough; idle time does not pile up beyond the burst.
 */
#include "ratecap.h"
#include "test.h"
#include "util.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

static void test_no_cap_never_holds_back(void)
{
	struct sky_ratecap c;
	sky_ratecap_init(&c, 0, 0, 1000);
	for (int i = 0; i < 100; i++) {
		CHECK(sky_ratecap_ready(&c, 1000));
		sky_ratecap_charge(&c, MiB);
	}
	CHECK_EQ_INT(sky_ratecap_wait_ms(&c, 1000), 0);
	CHECK_EQ_INT(c.charged, 100 * MiB);
}

static void test_burst_defaults_to_a_tenth_of_a_second_at_least_64_kib(void)
{
	struct sky_ratecap c;
	sky_ratecap_init(&c, 10 * MiB, 0, 0);
	CHECK_EQ_INT(c.burst, MiB);
	sky_ratecap_init(&c, 100 * KiB, 0, 0);
	CHECK_EQ_INT(c.burst, 64 * KiB);
}

/* Send `step` bytes whenever allowed, 1 ms at a time, for ms: the bytes. */
static uint64_t run(struct sky_ratecap *c, int64_t *now, int64_t ms,
		    uint64_t step)
{
	uint64_t sent = 0;
	for (int64_t end = *now + ms; *now < end; (*now)++)
		while (sky_ratecap_ready(c, *now)) {
			sky_ratecap_charge(c, step);
			sent += step;
		}
	return sent;
}

static void test_capped_sender_keeps_to_the_rate_over_time(void)
{
	static const uint64_t rates[] = {64 * KiB, 1 * MiB, 3 * MiB + 7,
					 100 * MiB};
	static const uint64_t steps[] = {1, 4 * KiB, 64 * KiB, MiB};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(rates); i++)
		for (size_t j = 0; j < SKY_ARRAY_SIZE(steps); j++) {
			struct sky_ratecap c;
			int64_t now = 5000;
			uint64_t r = rates[i], step = steps[j];
			if (r == 100 * MiB && step == 1)
				continue; /* 10^8 steps: too slow here */
			sky_ratecap_init(&c, r, 0, now);
			uint64_t sent = run(&c, &now, 10000, step);
			uint64_t most = (uint64_t)c.burst + r * 10 + step;
			/* At most the bound; at least the rate less a step
			 * and the debt left at the end. */
			CHECK(sent <= most);
			CHECK(sent + 2 * step >= r * 10);
			if (sent > most || sent + 2 * step < r * 10)
				fprintf(stderr, "  rate %llu step %llu: %llu\n",
					(unsigned long long)r,
					(unsigned long long)step,
					(unsigned long long)sent);
		}
}

static void test_waiting_what_wait_ms_says_is_enough(void)
{
	struct sky_ratecap c;
	int64_t now = 0;
	sky_ratecap_init(&c, MiB, 0, now);
	CHECK(sky_ratecap_ready(&c, now));
	CHECK_EQ_INT(sky_ratecap_wait_ms(&c, now), 0);
	sky_ratecap_charge(&c, 2 * MiB); /* a step far above the burst */
	CHECK(!sky_ratecap_ready(&c, now));
	int64_t w = sky_ratecap_wait_ms(&c, now);
	/* 2 MiB - a tenth of a second's worth, at 1 MiB/s: 1.9 s. */
	CHECK(w >= 1899 && w <= 1901);
	CHECK(!sky_ratecap_ready(&c, now + w - 1));
	CHECK(sky_ratecap_ready(&c, now + w));
	CHECK_EQ_INT(sky_ratecap_wait_ms(&c, now + w), 0);
}

static void test_idle_time_does_not_pile_up_beyond_the_burst(void)
{
	struct sky_ratecap c;
	int64_t now = 0;
	sky_ratecap_init(&c, MiB, 0, now);
	now += 3600 * 1000; /* an hour idle */
	CHECK(sky_ratecap_ready(&c, now));
	CHECK_EQ_INT(c.tokens, c.burst);
	/* Straight after: a burst's worth, no more. */
	uint64_t sent = run(&c, &now, 1, 4 * KiB);
	CHECK(sent <= (uint64_t)c.burst + MiB / 1000 + 4 * KiB);
}

static void test_a_clock_going_backwards_adds_nothing(void)
{
	struct sky_ratecap c;
	sky_ratecap_init(&c, MiB, 0, 10000);
	sky_ratecap_charge(&c, (uint64_t)c.burst + 1);
	CHECK(!sky_ratecap_ready(&c, 5000));
	CHECK(!sky_ratecap_ready(&c, 10000));
	CHECK(sky_ratecap_ready(&c, 10001));
}

static void test_huge_charges_and_rates_stay_bounded(void)
{
	struct sky_ratecap c;
	sky_ratecap_init(&c, UINT64_MAX, 0, 0);
	CHECK(sky_ratecap_ready(&c, 0));
	sky_ratecap_charge(&c, UINT64_MAX);
	CHECK(c.tokens < 0);
	CHECK(sky_ratecap_wait_ms(&c, 0) >= 0);
	CHECK(sky_ratecap_ready(&c, 100000));
	sky_ratecap_init(&c, 1, 0, 0);
	sky_ratecap_charge(&c, UINT64_MAX);
	CHECK(sky_ratecap_wait_ms(&c, 0) > 0);
	CHECK(!sky_ratecap_ready(&c, INT64_MAX / 2));
}

TEST_MAIN(TEST(test_no_cap_never_holds_back),
	  TEST(test_burst_defaults_to_a_tenth_of_a_second_at_least_64_kib),
	  TEST(test_capped_sender_keeps_to_the_rate_over_time),
	  TEST(test_waiting_what_wait_ms_says_is_enough),
	  TEST(test_idle_time_does_not_pile_up_beyond_the_burst),
	  TEST(test_a_clock_going_backwards_adds_nothing),
	  TEST(test_huge_charges_and_rates_stay_bounded))
