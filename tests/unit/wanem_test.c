/*
 * wanem_test.c - tools/wanem's pure parts: the parameters and the control
 * file's parser (params.c), and one direction of the link (line.c) on a
 * fake clock: delay, jitter that never reorders and never delivers early,
 * seeded loss that replays, reordering, the rate, the bounded queue.
 */
#include "line.h"
#include "params.h"
#include "test.h"

#include <stdlib.h>

#define MS 1000000LL

static void test_options_parse_decimals_into_integers(void)
{
	struct wanem_params p;
	char err[200];

	wanem_params_default(&p);
	CHECK_EQ_INT(wanem_params_set(&p, "delay_ms", "7.5", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(p.delay_ns, 7500000);
	CHECK_EQ_INT(wanem_params_set(&p, "loss_pct", "0.25", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(p.loss_ppm, 2500);
	CHECK_EQ_INT(
		wanem_params_set(&p, "rate_mbit", "1000", err, sizeof(err)), 0);
	CHECK_EQ_INT(p.rate_bps, 1000000000);
	CHECK_EQ_INT(wanem_params_set(&p, "seed", "42", err, sizeof(err)), 0);
	CHECK_EQ_INT(p.seed, 42);
}

static void test_options_refuse_what_is_not_a_bounded_decimal(void)
{
	const char *bad[][2] = {
		{"delay_ms", ""},	  {"delay_ms", "-1"},
		{"delay_ms", "1e3"},	  {"delay_ms", "60000.1"},
		{"delay_ms", ".5"},	  {"delay_ms", "5."},
		{"delay_ms", "1.2.3"},	  {"delay_ms", "0.0000001"},
		{"loss_pct", "100.0001"}, {"loss_pct", "12345678901234567890"},
		{"seed", "1.5"},	  {"rate_mbit", "100001"},
		{"bandwidth", "1"},	  {"delay_ms", " 5"},
	};
	struct wanem_params p;
	char err[200];

	wanem_params_default(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = wanem_params_set(&p, bad[i][0], bad[i][1], err,
					 sizeof(err));
		if (r != -EINVAL)
			fprintf(stderr, "  accepted %s=%s\n", bad[i][0],
				bad[i][1]);
		CHECK_EQ_INT(r, -EINVAL);
	}
	CHECK_EQ_INT(p.delay_ns, 0);
}

static void test_control_file_sets_on_top_and_says_where_it_is_wrong(void)
{
	const char good[] = "# cut the WAN\n  loss_pct = 100\n\ndelay_ms=15 "
			    "# one way\n";
	const char twice[] = "delay_ms = 1\ndelay_ms = 2\n";
	const char junk[] = "delay_ms = 15\n  jitter_ms = 5 ms\n";
	struct wanem_params base, p;
	unsigned line, col;
	char err[200];

	wanem_params_default(&base);
	base.jitter_ns = 3 * MS;
	p = base;
	CHECK_EQ_INT(wanem_params_parse(good, sizeof(good) - 1, &p, &line, &col,
					err, sizeof(err)),
		     0);
	CHECK_EQ_INT(p.loss_ppm, 1000000);
	CHECK_EQ_INT(p.delay_ns, 15 * MS);
	CHECK_EQ_INT(p.jitter_ns, 3 * MS); /* kept from the base */
	p = base;
	CHECK_EQ_INT(wanem_params_parse(twice, sizeof(twice) - 1, &p, &line,
					&col, err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(line, 2);
	CHECK_STR_CONTAINS(err, "twice");
	CHECK_EQ_INT(wanem_params_parse(junk, sizeof(junk) - 1, &p, &line, &col,
					err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(line, 2);
	CHECK_EQ_INT(col, 17);
	CHECK_EQ_INT(p.delay_ns, 0); /* a bad file changes nothing */
	CHECK_EQ_INT(
		wanem_params_parse("", 0, &p, &line, &col, err, sizeof(err)),
		0);
}

static uint8_t frame[1514];

static void test_delay_is_exact_and_jitter_never_reorders(void)
{
	struct wanem_line l;
	struct wanem_params p;
	int64_t prev = 0;

	wanem_params_default(&p);
	p.delay_ns = 15 * MS;
	CHECK_EQ_INT(wanem_line_init(&l, 100, 1), 0);
	CHECK_EQ_INT(wanem_line_admit(&l, &p, 1000, frame, 100), WANEM_QUEUED);
	CHECK_EQ_INT(wanem_line_head(&l)->due_ns, 1000 + 15 * MS);
	wanem_line_pop(&l, 1);
	p.jitter_ns = 5 * MS;
	for (int i = 0; i < 100; i++) {
		int64_t now = 2000 + i * 100000LL; /* 10 frames per ms */
		CHECK_EQ_INT(wanem_line_admit(&l, &p, now, frame, 100),
			     WANEM_QUEUED);
	}
	for (uint32_t i = 0; i < l.count; i++) {
		int64_t due = wanem_line_at(&l, i)->due_ns;
		int64_t now = 2000 + (int64_t)i * 100000LL;
		CHECK(due >= prev);	     /* FIFO */
		CHECK(due >= now + 10 * MS); /* never below delay - jitter */
		prev = due;
	}
	CHECK_EQ_INT(wanem_line_admit(&l, &p, 0, frame, 100), WANEM_DROPPED);
	CHECK_EQ_INT(l.c.queue_full, 1);
	CHECK_EQ_INT(l.c.queued_max, 100);
	wanem_line_free(&l);
}

static unsigned lost_of(uint64_t seed, unsigned n)
{
	struct wanem_line l;
	struct wanem_params p;

	wanem_params_default(&p);
	p.loss_ppm = 100000; /* 10 % */
	wanem_line_init(&l, 10, seed);
	for (unsigned i = 0; i < n; i++) {
		wanem_line_admit(&l, &p, i, frame, 64);
		wanem_line_pop(&l, l.count);
	}
	wanem_line_free(&l);
	return (unsigned)l.c.lost;
}

static void test_loss_is_about_the_share_and_a_seed_replays_it(void)
{
	unsigned a = lost_of(7, 100000);

	CHECK(a > 9500 && a < 10500);
	CHECK_EQ_INT(lost_of(7, 100000), a);
	CHECK(lost_of(8, 100000) != a);
}

static void test_reorder_sends_at_once_and_rate_spaces_frames(void)
{
	struct wanem_line l;
	struct wanem_params p;
	int sent_now = 0;

	wanem_params_default(&p);
	p.delay_ns = 10 * MS;
	p.reorder_ppm = 500000;
	wanem_line_init(&l, 1000, 3);
	for (int i = 0; i < 200; i++)
		if (wanem_line_admit(&l, &p, i, frame, 100) == WANEM_SEND_NOW)
			sent_now++;
	CHECK(sent_now > 60 && sent_now < 140);
	CHECK_EQ_INT(l.c.reordered, sent_now);
	wanem_line_free(&l);

	/* 1514 bytes at 1 Gbit/s: 12112 ns each, back to back */
	wanem_params_default(&p);
	p.rate_bps = 1000000000;
	wanem_line_init(&l, 1000, 3);
	for (int i = 0; i < 3; i++)
		wanem_line_admit(&l, &p, 0, frame, sizeof(frame));
	CHECK_EQ_INT(wanem_line_at(&l, 0)->due_ns, 12112);
	CHECK_EQ_INT(wanem_line_at(&l, 2)->due_ns, 3 * 12112);
	CHECK_EQ_INT(wanem_line_admit(&l, &p, 0, frame, WANEM_FRAME_MAX + 1),
		     WANEM_DROPPED);
	CHECK_EQ_INT(l.c.oversize, 1);
	wanem_line_free(&l);
}

TEST_MAIN(TEST(test_options_parse_decimals_into_integers),
	  TEST(test_options_refuse_what_is_not_a_bounded_decimal),
	  TEST(test_control_file_sets_on_top_and_says_where_it_is_wrong),
	  TEST(test_delay_is_exact_and_jitter_never_reorders),
	  TEST(test_loss_is_about_the_share_and_a_seed_replays_it),
	  TEST(test_reorder_sends_at_once_and_rate_spaces_frames))
