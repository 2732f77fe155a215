/*
 * ratecap.h - a token bucket: at most `rate` bytes per second, on average.
 *
 * Pure (the caller passes the monotonic time), so unit tests drive it with
 * a fake clock. The sender asks whether it may send (tokens above 0), sends
 * what it has (one bounded step), then charges what it sent: the balance may
 * go below 0 by one step, which the refill pays back before the next send.
 * Tokens never pile up beyond `burst`, so an idle sender cannot send a long
 * backlog at once. Over any interval of t seconds the sender sends at most
 * burst + rate * t + one step. rate 0: no cap.
 */
#ifndef SKYHA_RATECAP_H
#define SKYHA_RATECAP_H

#include <stdbool.h>
#include <stdint.h>

struct sky_ratecap {
	uint64_t rate;	  /* bytes per second; 0: no cap */
	int64_t burst;	  /* the most tokens held */
	int64_t tokens;	  /* may be negative: sent ahead of the refill */
	int64_t last_ms;  /* time of the last refill */
	uint64_t rem;	  /* refill remainder (byte-milliseconds) */
	uint64_t charged; /* bytes charged in all */
};

/* Full bucket at now_ms. burst 0: a tenth of a second of rate (at least
 * 64 KiB). */
void sky_ratecap_init(struct sky_ratecap *c, uint64_t rate, uint64_t burst,
		      int64_t now_ms);
/* May the sender send now? (Refills first.) Always true without a cap. */
bool sky_ratecap_ready(struct sky_ratecap *c, int64_t now_ms);
/* The sender sent n bytes. */
void sky_ratecap_charge(struct sky_ratecap *c, uint64_t n);
/* Milliseconds until sky_ratecap_ready turns true (0: now). */
int64_t sky_ratecap_wait_ms(const struct sky_ratecap *c, int64_t now_ms);

#endif
