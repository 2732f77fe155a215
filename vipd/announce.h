/*
 * announce.h - when to send gratuitous ARPs / unsolicited NAs, as a pure
 * schedule over a fake-able clock (keepalived's behaviour for a new master):
 *
 *   t0                 burst 1: `repeat` rounds, `interval_ms` apart
 *   t0 + delay_ms      burst 2: the same again (delay_ms 0: none)
 *   then every refresh_ms from the previous burst's start: `refresh_repeat`
 *                      rounds (refresh_ms 0: never)
 *
 * One round sends one packet for every address held. The second burst
 * reaches switches and hosts that missed the first (a port still in
 * spanning-tree learning, a client busy at the time); the refresh keeps
 * entries fresh on networks that age them out.
 */
#ifndef SKYHA_VIPD_ANNOUNCE_H
#define SKYHA_VIPD_ANNOUNCE_H

#include "vipcfg.h"

#include <stdbool.h>
#include <stdint.h>

enum vipd_burst {
	VIPD_BURST_NONE = 0, /* not announcing */
	VIPD_BURST_FIRST,
	VIPD_BURST_SECOND,
	VIPD_BURST_REFRESH,
};

struct vipd_announcer {
	struct vipd_announce_cfg cfg;
	enum vipd_burst burst;
	int64_t burst_start_ms;
	int64_t next_ms;
	uint32_t left;	 /* rounds left in this burst */
	uint64_t rounds; /* sent since start */
};

void vipd_announcer_start(struct vipd_announcer *a,
			  const struct vipd_announce_cfg *cfg, int64_t now);
void vipd_announcer_stop(struct vipd_announcer *a);
/* Is a round due now? */
bool vipd_announcer_due(const struct vipd_announcer *a, int64_t now);
/* A round was sent at now: schedule the next one. */
void vipd_announcer_sent(struct vipd_announcer *a, int64_t now);
/* When the next round is due, or INT64_MAX. */
int64_t vipd_announcer_next(const struct vipd_announcer *a);

#endif
