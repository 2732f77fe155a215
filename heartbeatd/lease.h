/*
 * lease.h - a node's side of the witness lease.
 *
 * Bookkeeping only (no sockets): when to send a request, which replies
 * answer a request we really sent (random request ids, so a replayed reply
 * is ignored), and until when the lease is valid. Validity is counted from
 * the moment the request was *sent*, minus a margin, so this node always
 * believes its lease ends before the witness does.
 */
#ifndef SKYHA_LEASE_H
#define SKYHA_LEASE_H

#include "packet.h"
#include "state.h"

#define LEASE_OUTSTANDING 16

struct lease_client {
	int64_t resend_ms; /* heartbeat interval */
	int64_t last_sent_ms;
	int64_t next_send_ms; /* the next renewal or retry is due then */
	int64_t valid_until_ms;
	struct {
		uint64_t id;
		int64_t sent_ms;
		uint8_t flags;
	} outstanding[LEASE_OUTSTANDING];
	unsigned next_slot;
	bool released; /* a release was sent since we last held it */
	/* For status. */
	enum lease_answer last_answer;
	bool answered_ever;
	int64_t last_answer_ms;
	char holder[SKY_NAME_MAX + 1];
	uint64_t unknown_replies;
};

void lease_client_init(struct lease_client *lc, int64_t resend_ms);

/*
 * Should a request go out now? Fills *req (with a fresh random id) and
 * returns true when the caller must send it to every witness address.
 */
bool lease_client_poll(struct lease_client *lc, int64_t now,
		       const struct sm *sm, struct pkt_lease_request *req);

/*
 * Account for a reply. Returns -ENOENT for a reply to no outstanding
 * request (replayed or late); updates *w for the state machine.
 */
int lease_client_on_reply(struct lease_client *lc, int64_t now,
			  const struct pkt_lease_reply *reply,
			  struct sm_witness *w);

static inline bool lease_client_valid(const struct lease_client *lc,
				      int64_t now)
{
	return now < lc->valid_until_ms;
}

#endif
