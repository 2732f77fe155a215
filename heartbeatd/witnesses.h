/*
 * witnesses.h - a node's leases from several witnesses (witness.hosts):
 * serving without the peer needs the leases of a majority of them, so one
 * witness host down or cut off no longer stops a failover, and two nodes
 * never both hold a majority (any two majorities share a witness, and a
 * witness grants its lease to one node at a time).
 *
 * One lease_client per witness (its own request ids: a reply is matched
 * to the witness it answers by its id). The state machine sees one
 * struct sm_witness, aggregated here:
 * - the lease is valid while a majority's leases are (until the
 *   majority-th latest of their ends);
 * - granted when a majority granted; otherwise "outdated" if any witness
 *   says this node's data is older (it knows a newer generation: any
 *   majority that granted it includes a witness this node would hear from),
 *   else "held by another" if any says so, else no answer yet;
 * - a new generation is granted when a majority granted it: the highest
 *   number they gave (each witness numbers from what it knew).
 * With one witness the aggregate is that witness's answer, unchanged.
 */
#ifndef SKYHA_WITNESSES_H
#define SKYHA_WITNESSES_H

#include "config.h"
#include "lease.h"
#include "state.h"

struct witness_set {
	size_t count; /* witnesses (hosts) */
	struct lease_client lease[SKY_MAX_WITNESS_HOSTS];
	struct sm_witness view[SKY_MAX_WITNESS_HOSTS]; /* each one's answers */
};

void witness_set_init(struct witness_set *s, size_t count, int64_t resend_ms);
static inline size_t witness_set_majority(const struct witness_set *s)
{
	return s->count / 2 + 1;
}

/* When a majority's leases all still hold (0: not now). */
int64_t witness_set_valid_until(const struct witness_set *s, int64_t now);
static inline bool witness_set_valid(const struct witness_set *s, int64_t now)
{
	return now < witness_set_valid_until(s, now);
}
/* The earliest request due (0: none pending). */
int64_t witness_set_next_send_ms(const struct witness_set *s);

/*
 * Account for a reply: the witness whose request it answers, in *host.
 * -ENOENT when it answers no request in flight (counted once, on the set).
 */
int witness_set_on_reply(struct witness_set *s, int64_t now,
			 const struct pkt_lease_reply *reply, size_t *host);
uint64_t witness_set_unknown_replies(const struct witness_set *s);

/* The state machine's view, from every witness's answers (pure). */
void witness_set_view(const struct witness_set *s, int64_t now,
		      struct sm_witness *out);
/* After sm_step (before: the view it was given, after: as it left it):
 * what the state machine cleared (the answers at a new round of requests,
 * a granted generation taken) is cleared on every witness's view too. */
void witness_set_feedback(struct witness_set *s,
			  const struct sm_witness *before,
			  const struct sm_witness *after);

#endif
