/*
 * ratecap.c - a token bucket (see ratecap.h).
 */
#include "ratecap.h"

#define RATECAP_MIN_BURST (64 << 10)
/* A refill after a long pause adds at most this much time's worth (and
 * burst caps it anyway): keeps rate * ms far from overflowing. */
#define RATECAP_MAX_GAP_MS 60000
#define RATECAP_MAX_DEBT   (1ull << 40)

void sky_ratecap_init(struct sky_ratecap *c, uint64_t rate, uint64_t burst,
		      int64_t now_ms)
{
	if (rate > RATECAP_MAX_DEBT)
		rate = RATECAP_MAX_DEBT;
	if (!burst)
		burst = rate / 10 > RATECAP_MIN_BURST ? rate / 10
						      : RATECAP_MIN_BURST;
	if (burst > RATECAP_MAX_DEBT)
		burst = RATECAP_MAX_DEBT;
	*c = (struct sky_ratecap){.rate = rate,
				  .burst = (int64_t)burst,
				  .tokens = (int64_t)burst,
				  .last_ms = now_ms};
}

static void refill(struct sky_ratecap *c, int64_t now_ms)
{
	if (now_ms <= c->last_ms)
		return;
	int64_t gap = now_ms - c->last_ms;
	c->last_ms = now_ms;
	if (gap > RATECAP_MAX_GAP_MS) {
		gap = RATECAP_MAX_GAP_MS;
		c->rem = 0;
	}
	uint64_t acc = c->rate * (uint64_t)gap + c->rem;
	uint64_t add = acc / 1000;
	c->rem = acc % 1000;
	c->tokens += (int64_t)add;
	if (c->tokens >= c->burst) {
		c->tokens = c->burst;
		c->rem = 0;
	}
}

bool sky_ratecap_ready(struct sky_ratecap *c, int64_t now_ms)
{
	if (!c->rate)
		return true;
	refill(c, now_ms);
	return c->tokens > 0;
}

void sky_ratecap_charge(struct sky_ratecap *c, uint64_t n)
{
	c->charged += n;
	if (!c->rate)
		return;
	if (n > RATECAP_MAX_DEBT)
		n = RATECAP_MAX_DEBT;
	c->tokens -= (int64_t)n;
	/* A bounded debt keeps the arithmetic far from overflowing. */
	if (c->tokens < -(int64_t)RATECAP_MAX_DEBT)
		c->tokens = -(int64_t)RATECAP_MAX_DEBT;
}

int64_t sky_ratecap_wait_ms(const struct sky_ratecap *c, int64_t now_ms)
{
	if (!c->rate || c->tokens > 0)
		return 0;
	/* Bytes still owed, plus one, at rate bytes per 1000 ms. */
	uint64_t owed = (uint64_t)(-c->tokens) + 1;
	uint64_t have = c->rem;
	uint64_t need = owed * 1000 > have ? owed * 1000 - have : 0;
	int64_t ms = (int64_t)((need + c->rate - 1) / c->rate);
	int64_t since = now_ms > c->last_ms ? now_ms - c->last_ms : 0;
	return ms > since ? ms - since : 0;
}
