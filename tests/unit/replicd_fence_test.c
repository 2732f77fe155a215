/*
 * replicd_fence_test.c - a writer held at replicd's fence while
 * heartbeatd's word is expired, and what lets it go: a fresh word that
 * keeps us primary (0), anything else or a stop (its error). Expiry is
 * made certain (valid_ms 1, then a pause), freshness too (valid_ms
 * 600000): the test orders events, it measures no time.
 */
#include "fence.h"
#include "test.h"
#include "util.h"

#include <pthread.h>
#include <time.h>

struct writer {
	struct replicd_fence *f;
	int refused, result;
	pthread_t thread;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	w->result = replicd_fence_pass(w->f, w->refused);
	return NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
	nanosleep(&ts, NULL);
}

static void hear(struct replicd_fence *f, enum sky_role role,
		 const char *target, int64_t valid_ms)
{
	struct sky_desired d = {
		.role = role, .target = target, .valid_ms = valid_ms};
	replicd_fence_heard(f, &d, sky_now_ms());
}

static uint64_t waiting(struct replicd_fence *f)
{
	pthread_mutex_lock(&f->lock);
	uint64_t n = f->waiting;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Start a writer and wait until the fence holds it. */
static void start_held(struct writer *w, struct replicd_fence *f, int refused)
{
	w->f = f;
	w->refused = refused;
	w->result = 1;
	pthread_create(&w->thread, NULL, writer_main, w);
	for (int i = 0; i < 5000 && waiting(f) == 0; i++)
		pause_ms(1);
	CHECK_EQ_INT(waiting(f), 1);
}

static void expired_primary(struct replicd_fence *f)
{
	CHECK_EQ_INT(replicd_fence_init(f, true), 0);
	hear(f, SKY_ROLE_PRIM, "primary", 1);
	pause_ms(5);
	CHECK(replicd_fence_expired(f));
}

static void test_fresh_primary_word_passes_at_once(void)
{
	struct replicd_fence f;
	CHECK_EQ_INT(replicd_fence_init(&f, true), 0);
	hear(&f, SKY_ROLE_PRIM, "primary", 600000);
	CHECK(!replicd_fence_expired(&f));
	CHECK_EQ_INT(replicd_fence_pass(&f, -EIO), 0);
	/* Not primary: replicd_repl_begin refuses, not the fence. */
	hear(&f, SKY_ROLE_SECOND, "secondary", 600000);
	CHECK_EQ_INT(replicd_fence_pass(&f, -EIO), 0);
	CHECK_EQ_INT(f.held, 0);
	replicd_fence_destroy(&f);
}

static void test_held_writer_goes_on_when_a_fresh_word_keeps_us_primary(void)
{
	struct replicd_fence f;
	struct writer w;
	char reason[256] = "";
	expired_primary(&f);
	start_held(&w, &f, -EIO);
	CHECK(replicd_fence_describe(&f, sky_now_ms(), reason, sizeof(reason)));
	CHECK_STR_CONTAINS(reason, "heartbeatd silent for");
	CHECK_STR_CONTAINS(reason, "holding writes until it speaks again");
	hear(&f, SKY_ROLE_PRIM, "primary", 600000);
	pthread_join(w.thread, NULL);
	CHECK_EQ_INT(w.result, 0);
	CHECK(!replicd_fence_describe(&f, sky_now_ms(), reason,
				      sizeof(reason)));
	replicd_fence_destroy(&f);
}

static void test_held_writer_fails_when_the_word_is_no_longer_primary(void)
{
	struct replicd_fence f;
	struct writer w;
	expired_primary(&f);
	start_held(&w, &f, -EIO);
	/* Waking up demoted: replicd's step is still "primary", the role is
	 * not. That keeps it held... */
	hear(&f, SKY_ROLE_WAIT, "primary", 600000);
	pause_ms(5);
	CHECK_EQ_INT(waiting(&f), 1);
	/* ...until replicd is told secondary: never acknowledged. */
	hear(&f, SKY_ROLE_SECOND, "secondary", 600000);
	pthread_join(w.thread, NULL);
	CHECK_EQ_INT(w.result, -EIO);
	CHECK_EQ_INT(f.held, 1);
	replicd_fence_destroy(&f);
}

static void test_stop_lets_held_writers_go_with_their_error(void)
{
	struct replicd_fence f;
	struct writer w;
	expired_primary(&f);
	start_held(&w, &f, -EROFS);
	replicd_fence_stop(&f);
	pthread_join(w.thread, NULL);
	CHECK_EQ_INT(w.result, -EROFS);
	replicd_fence_destroy(&f);
}

static void test_standalone_replicd_has_no_fence(void)
{
	struct replicd_fence f;
	CHECK_EQ_INT(replicd_fence_init(&f, false), 0);
	hear(&f, SKY_ROLE_PRIM, "primary", 1);
	pause_ms(5);
	CHECK(!replicd_fence_expired(&f));
	CHECK_EQ_INT(replicd_fence_pass(&f, -EIO), 0);
	replicd_fence_destroy(&f);
}

TEST_MAIN(TEST(test_fresh_primary_word_passes_at_once),
	  TEST(test_held_writer_goes_on_when_a_fresh_word_keeps_us_primary),
	  TEST(test_held_writer_fails_when_the_word_is_no_longer_primary),
	  TEST(test_stop_lets_held_writers_go_with_their_error),
	  TEST(test_standalone_replicd_has_no_fence))
