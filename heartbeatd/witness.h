/*
 * witness.h - the lease service that gives two nodes a quorum of three.
 *
 * `heartbeatd --witness` runs on a third host. A node may serve without its
 * peer only while it holds the lease; the primary holds it even with the
 * peer up, so after a partition the other side is refused. The witness also
 * remembers the newest data generation (persisted): it refuses the lease to
 * a node whose data is older, so a stale node can never come back alone.
 *
 * witness_decide() is the whole policy, pure, with the clock as a parameter.
 */
#ifndef SKYHA_WITNESS_H
#define SKYHA_WITNESS_H

#include "packet.h"

struct witness {
	int64_t lease_ms;
	/* After a restart we do not know who held a lease: grant nothing
	 * until any lease given before the restart has run out. */
	int64_t quiet_until_ms;
	char holder[SKY_NAME_MAX + 1];
	int64_t lease_expires_ms;
	uint64_t newest_generation;
	char newest_node[SKY_NAME_MAX + 1];
	bool dirty; /* newest_* changed: persist before replying */
};

void witness_init(struct witness *w, int64_t lease_ms, int64_t now,
		  uint64_t newest_generation, const char *newest_node);

/* Decide on one authenticated, non-replayed request from `node`. */
void witness_decide(struct witness *w, int64_t now, const char *node,
		    const struct pkt_lease_request *req,
		    struct pkt_lease_reply *reply);

#endif
