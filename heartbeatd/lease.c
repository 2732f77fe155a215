/*
 * lease.c - a node's side of the witness lease (see lease.h).
 */
#include "lease.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

void lease_client_init(struct lease_client *lc, int64_t resend_ms)
{
	memset(lc, 0, sizeof(*lc));
	lc->resend_ms = resend_ms;
	lc->released = true;
}

static void remember(struct lease_client *lc, int64_t now,
		     struct pkt_lease_request *req)
{
	randombytes_buf(&req->request_id, sizeof(req->request_id));
	lc->outstanding[lc->next_slot].id = req->request_id;
	lc->outstanding[lc->next_slot].sent_ms = now;
	lc->outstanding[lc->next_slot].flags = req->flags;
	lc->next_slot = (lc->next_slot + 1) % LEASE_OUTSTANDING;
	lc->last_sent_ms = now;
	lc->next_send_ms = now + lc->resend_ms;
}

bool lease_client_poll(struct lease_client *lc, int64_t now,
		       const struct sm *sm, struct pkt_lease_request *req)
{
	memset(req, 0, sizeof(*req));
	req->generation = sm->generation;
	if (!sm->want_lease) {
		/* Let it go at once so the peer need not wait for expiry. */
		if (!lc->released) {
			req->flags = LEASE_FLAG_RELEASE;
			lc->valid_until_ms = 0;
			lc->released = true;
			remember(lc, now, req);
			return true;
		}
		return false;
	}
	if (lc->last_sent_ms && now < lc->next_send_ms)
		return false;
	if (sm->want_new_generation)
		req->flags |= LEASE_FLAG_NEW_GENERATION;
	if (sm->forced)
		req->flags |= LEASE_FLAG_FORCE;
	lc->released = false;
	remember(lc, now, req);
	return true;
}

int lease_client_on_reply(struct lease_client *lc, int64_t now,
			  const struct pkt_lease_reply *reply,
			  struct sm_witness *w)
{
	int slot = -1;
	for (int i = 0; i < LEASE_OUTSTANDING; i++)
		if (lc->outstanding[i].id == reply->request_id &&
		    lc->outstanding[i].sent_ms) {
			slot = i;
			break;
		}
	if (slot < 0) {
		lc->unknown_replies++;
		return -ENOENT;
	}
	int64_t sent = lc->outstanding[slot].sent_ms;
	uint8_t flags = lc->outstanding[slot].flags;
	lc->outstanding[slot].sent_ms = 0; /* one reply per request */
	if (flags & LEASE_FLAG_RELEASE)
		return 0; /* says nothing about who may serve */

	lc->last_answer = (enum lease_answer)reply->answer;
	lc->answered_ever = true;
	lc->last_answer_ms = now;
	sky_strlcpy(lc->holder, reply->holder, sizeof(lc->holder));

	w->answered = true;
	w->last_answer = (enum lease_answer)reply->answer;
	sky_strlcpy(w->holder, reply->holder, sizeof(w->holder));
	w->newest_generation = reply->generation;
	if (reply->answer == LEASE_GRANTED) {
		/* 10% margin for clock-rate differences between hosts. */
		int64_t until = sent + reply->lease_ms - reply->lease_ms / 10;
		if (until > lc->valid_until_ms && !lc->released)
			lc->valid_until_ms = until;
		if (flags & LEASE_FLAG_NEW_GENERATION) {
			w->generation_granted = true;
			w->granted_generation = reply->generation;
		}
	} else {
		lc->valid_until_ms = 0;
		/* Another node's lease ends sooner than our next try: ask
		 * again right then, so a takeover does not lose an interval. */
		if (reply->answer == LEASE_HELD_BY_OTHER &&
		    now + reply->lease_ms + 1 < lc->next_send_ms)
			lc->next_send_ms = now + reply->lease_ms + 1;
	}
	return 0;
}
