/*
 * witness.c - the witness's lease policy (see witness.h).
 */
#include "witness.h"

#include <string.h>

void witness_init(struct witness *w, int64_t lease_ms, int64_t now,
		  uint64_t newest_generation, const char *newest_node)
{
	memset(w, 0, sizeof(*w));
	w->lease_ms = lease_ms;
	w->quiet_until_ms = now + lease_ms;
	w->newest_generation = newest_generation;
	sky_strlcpy(w->newest_node, newest_node, sizeof(w->newest_node));
}

static bool lease_active(const struct witness *w, int64_t now)
{
	return w->holder[0] && now < w->lease_expires_ms;
}

void witness_decide(struct witness *w, int64_t now, const char *node,
		    const struct pkt_lease_request *req,
		    struct pkt_lease_reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	reply->request_id = req->request_id;
	reply->generation = w->newest_generation;

	if (req->flags & LEASE_FLAG_RELEASE) {
		if (strcmp(w->holder, node) == 0)
			w->lease_expires_ms = 0;
		reply->answer = LEASE_RELEASED;
		return;
	}
	if (now < w->quiet_until_ms) {
		reply->answer = LEASE_HELD_BY_OTHER;
		reply->lease_ms = (uint32_t)(w->quiet_until_ms - now);
		return; /* holder "": the witness is restarting */
	}
	if (lease_active(w, now) && strcmp(w->holder, node) != 0) {
		reply->answer = LEASE_HELD_BY_OTHER;
		reply->lease_ms = (uint32_t)(w->lease_expires_ms - now);
		sky_strlcpy(reply->holder, w->holder, sizeof(reply->holder));
		return;
	}
	/* Only the node that started the newest generation may hold it
	 * with an older local number (it crashed before persisting it). */
	if (!(req->flags & LEASE_FLAG_FORCE) && w->newest_node[0] &&
	    strcmp(w->newest_node, node) != 0 &&
	    req->generation < w->newest_generation) {
		reply->answer = LEASE_OUTDATED;
		sky_strlcpy(reply->holder, w->newest_node,
			    sizeof(reply->holder));
		return;
	}

	sky_strlcpy(w->holder, node, sizeof(w->holder));
	w->lease_expires_ms = now + w->lease_ms;
	if (req->flags & LEASE_FLAG_NEW_GENERATION) {
		uint64_t base = req->generation > w->newest_generation
					? req->generation
					: w->newest_generation;
		w->newest_generation = base + 1;
		sky_strlcpy(w->newest_node, node, sizeof(w->newest_node));
		w->dirty = true;
	} else if (req->generation > w->newest_generation ||
		   !w->newest_node[0]) {
		w->newest_generation = req->generation;
		sky_strlcpy(w->newest_node, node, sizeof(w->newest_node));
		w->dirty = true;
	}
	reply->answer = LEASE_GRANTED;
	reply->lease_ms = (uint32_t)w->lease_ms;
	reply->generation = w->newest_generation;
	sky_strlcpy(reply->holder, w->holder, sizeof(reply->holder));
}
