/*
 * witnesses.c - several witnesses, a majority needed (see witnesses.h).
 */
#include "witnesses.h"

#include <errno.h>
#include <string.h>

void witness_set_init(struct witness_set *s, size_t count, int64_t resend_ms)
{
	memset(s, 0, sizeof(*s));
	if (count < 1)
		count = 1;
	if (count > SKY_MAX_WITNESS_HOSTS)
		count = SKY_MAX_WITNESS_HOSTS;
	s->count = count;
	for (size_t i = 0; i < count; i++)
		lease_client_init(&s->lease[i], resend_ms);
}

int64_t witness_set_valid_until(const struct witness_set *s, int64_t now)
{
	int64_t ends[SKY_MAX_WITNESS_HOSTS];
	size_t n = 0, need = witness_set_majority(s);

	for (size_t i = 0; i < s->count; i++)
		if (lease_client_valid(&s->lease[i], now))
			ends[n++] = s->lease[i].valid_until_ms;
	if (n < need)
		return 0;
	/* The need-th latest end: until then, `need` leases all hold. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (ends[j] > ends[i]) {
				int64_t t = ends[i];
				ends[i] = ends[j];
				ends[j] = t;
			}
	return ends[need - 1];
}

int64_t witness_set_next_send_ms(const struct witness_set *s)
{
	int64_t next = 0;

	for (size_t i = 0; i < s->count; i++) {
		int64_t t = s->lease[i].next_send_ms;
		if (t && (!next || t < next))
			next = t;
	}
	return next;
}

static bool in_flight(const struct lease_client *lc, uint64_t id)
{
	for (int i = 0; i < LEASE_OUTSTANDING; i++)
		if (lc->outstanding[i].id == id && lc->outstanding[i].sent_ms)
			return true;
	return false;
}

int witness_set_on_reply(struct witness_set *s, int64_t now,
			 const struct pkt_lease_reply *reply, size_t *host)
{
	for (size_t i = 0; i < s->count; i++) {
		if (!in_flight(&s->lease[i], reply->request_id))
			continue;
		*host = i;
		return lease_client_on_reply(&s->lease[i], now, reply,
					     &s->view[i]);
	}
	s->lease[0].unknown_replies++;
	return -ENOENT;
}

uint64_t witness_set_unknown_replies(const struct witness_set *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->count; i++)
		n += s->lease[i].unknown_replies;
	return n;
}

void witness_set_view(const struct witness_set *s, int64_t now,
		      struct sm_witness *out)
{
	size_t need = witness_set_majority(s), granted = 0, new_gen = 0;
	const struct sm_witness *outdated = NULL, *held = NULL, *any = NULL;
	uint64_t newest = 0, newest_granted = 0, granted_generation = 0;

	if (s->count == 1) {
		*out = s->view[0];
		out->lease_valid = lease_client_valid(&s->lease[0], now);
		return;
	}
	memset(out, 0, sizeof(*out));
	out->lease_valid = witness_set_valid(s, now);
	for (size_t i = 0; i < s->count; i++) {
		const struct sm_witness *w = &s->view[i];
		if (!w->answered)
			continue;
		any = w;
		if (w->newest_generation > newest)
			newest = w->newest_generation;
		if (w->last_answer == LEASE_GRANTED) {
			granted++;
			if (w->newest_generation > newest_granted)
				newest_granted = w->newest_generation;
		} else if (w->last_answer == LEASE_OUTDATED) {
			if (!outdated ||
			    w->newest_generation > outdated->newest_generation)
				outdated = w;
		} else if (w->last_answer == LEASE_HELD_BY_OTHER) {
			held = w;
		}
		if (w->generation_granted) {
			new_gen++;
			if (w->granted_generation > granted_generation)
				granted_generation = w->granted_generation;
		}
	}
	if (granted >= need) {
		out->answered = true;
		out->last_answer = LEASE_GRANTED;
		out->newest_generation = newest_granted;
	} else if (outdated || held) {
		const struct sm_witness *w = outdated ? outdated : held;
		out->answered = true;
		out->last_answer = w->last_answer;
		sky_strlcpy(out->holder, w->holder, sizeof(out->holder));
		out->newest_generation = newest;
	} else {
		/* A minority granted and the rest are silent: as if no
		 * witness answered (the witnesses have no majority). */
		out->answered = false;
		out->last_answer = any ? any->last_answer : LEASE_GRANTED;
		out->newest_generation = newest;
	}
	if (granted >= need) {
		/* The holder the witnesses name: this node, by construction. */
		for (size_t i = 0; i < s->count; i++)
			if (s->view[i].answered &&
			    s->view[i].last_answer == LEASE_GRANTED) {
				sky_strlcpy(out->holder, s->view[i].holder,
					    sizeof(out->holder));
				break;
			}
	}
	if (new_gen >= need) {
		out->generation_granted = true;
		out->granted_generation = granted_generation;
	}
}

void witness_set_feedback(struct witness_set *s,
			  const struct sm_witness *before,
			  const struct sm_witness *after)
{
	if (s->count == 1) {
		/* One witness: its view is the state machine's, as before. */
		s->view[0].answered = after->answered;
		s->view[0].generation_granted = after->generation_granted;
		s->view[0].answers_cleared = after->answers_cleared;
		s->view[0].grants_cleared = after->grants_cleared;
		return;
	}
	for (size_t i = 0; i < s->count; i++) {
		if (after->answers_cleared != before->answers_cleared)
			s->view[i].answered = false;
		if (after->grants_cleared != before->grants_cleared)
			s->view[i].generation_granted = false;
	}
}
