/*
 * fence.c - see fence.h.
 */
#include "fence.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int replicd_fence_init(struct replicd_fence *f, bool enabled)
{
	pthread_condattr_t ca;

	memset(f, 0, sizeof(*f));
	f->enabled = enabled;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int r = pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0) {
		pthread_mutex_destroy(&f->lock);
		return -ENOMEM;
	}
	f->ready = true;
	return 0;
}

void replicd_fence_destroy(struct replicd_fence *f)
{
	if (!f->ready)
		return;
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	f->ready = false;
}

void replicd_fence_heard(struct replicd_fence *f, const struct sky_desired *d,
			 int64_t now)
{
	if (!f->enabled)
		return;
	pthread_mutex_lock(&f->lock);
	sky_desired_lease_renew(&f->word, SKY_ACT_REPLICD, d, now);
	f->primary = f->word.serving;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void replicd_fence_stop(struct replicd_fence *f)
{
	if (!f->ready)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

bool replicd_fence_describe(struct replicd_fence *f, int64_t now, char *reason,
			    size_t size)
{
	if (!f->enabled)
		return false;
	pthread_mutex_lock(&f->lock);
	struct sky_desired_lease word = f->word;
	uint64_t waiting = f->waiting;
	pthread_mutex_unlock(&f->lock);

	if (!sky_desired_lease_expired(&word, now)) {
		if (f->reported)
			log_notice("heartbeatd speaks again: writes go on");
		f->reported = false;
		return false;
	}
	if (!f->reported) {
		char why[160];
		sky_desired_lease_why(&word, now, why, sizeof(why));
		/* Said once, unchanged while it lasts: the actual state is
		 * published on change, not at every turn. */
		snprintf(f->reason, sizeof(f->reason),
			 "%s: holding writes until it speaks again", why);
		log_warning("%s (%llu writer%s waiting)", f->reason,
			    (unsigned long long)waiting,
			    waiting == 1 ? "" : "s");
		f->reported = true;
	}
	sky_strlcpy(reason, f->reason, size);
	return true;
}

int replicd_fence_pass(struct replicd_fence *f, int refused)
{
	bool held = false;

	if (!f || !f->enabled)
		return 0;
	pthread_mutex_lock(&f->lock);
	while (!f->stopping &&
	       sky_desired_lease_expired(&f->word, sky_now_ms())) {
		if (!held) {
			held = true;
			f->waiting++;
			f->held++;
		}
		/* Woken by every desired state heard, and by a stop. */
		pthread_cond_wait(&f->cond, &f->lock);
	}
	/* Held: only a fresh word that keeps us primary lets it go on. */
	int r = held && (f->stopping || !f->primary) ? refused : 0;
	if (held)
		f->waiting--;
	pthread_mutex_unlock(&f->lock);
	return r;
}

bool replicd_fence_expired(struct replicd_fence *f)
{
	if (!f || !f->enabled)
		return false;
	pthread_mutex_lock(&f->lock);
	bool expired = !f->stopping &&
		       sky_desired_lease_expired(&f->word, sky_now_ms());
	pthread_mutex_unlock(&f->lock);
	return expired;
}
