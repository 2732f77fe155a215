/*
 * announce.c - see announce.h.
 */
#include "announce.h"

#include <string.h>

static void begin(struct vipd_announcer *a, enum vipd_burst b, int64_t at,
		  uint32_t rounds)
{
	a->burst = b;
	a->burst_start_ms = at;
	a->next_ms = at;
	a->left = rounds;
}

void vipd_announcer_start(struct vipd_announcer *a,
			  const struct vipd_announce_cfg *cfg, int64_t now)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	begin(a, VIPD_BURST_FIRST, now, cfg->repeat ? cfg->repeat : 1);
}

void vipd_announcer_stop(struct vipd_announcer *a)
{
	a->burst = VIPD_BURST_NONE;
	a->left = 0;
}

bool vipd_announcer_due(const struct vipd_announcer *a, int64_t now)
{
	return a->burst != VIPD_BURST_NONE && a->left > 0 && now >= a->next_ms;
}

int64_t vipd_announcer_next(const struct vipd_announcer *a)
{
	return a->burst != VIPD_BURST_NONE && a->left > 0 ? a->next_ms
							  : INT64_MAX;
}

static void after_burst(struct vipd_announcer *a)
{
	const struct vipd_announce_cfg *c = &a->cfg;
	if (a->burst == VIPD_BURST_FIRST && c->delay_ms) {
		begin(a, VIPD_BURST_SECOND, a->burst_start_ms + c->delay_ms,
		      c->repeat ? c->repeat : 1);
		return;
	}
	if (c->refresh_ms) {
		begin(a, VIPD_BURST_REFRESH, a->burst_start_ms + c->refresh_ms,
		      c->refresh_repeat ? c->refresh_repeat : 1);
		return;
	}
	vipd_announcer_stop(a);
}

void vipd_announcer_sent(struct vipd_announcer *a, int64_t now)
{
	if (a->burst == VIPD_BURST_NONE || a->left == 0)
		return;
	a->rounds++;
	a->left--;
	if (a->left > 0) {
		a->next_ms = now + a->cfg.interval_ms;
		return;
	}
	after_burst(a);
	/* Late (a busy loop): never schedule a burst in the past twice. */
	if (a->burst != VIPD_BURST_NONE && a->next_ms < now)
		a->next_ms = now;
}
