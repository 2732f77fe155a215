/*
 * ackbatch.c - when the secondary acknowledges (ackbatch.h).
 */
#include "ackbatch.h"

bool replicd_ackbatch_overdue(const struct replicd_ackbatch *b, int64_t now_ms)
{
	return b->due && now_ms - b->first_ms >= REPLICD_ACK_MS;
}

bool replicd_ackbatch_add(struct replicd_ackbatch *b, uint64_t seq, bool more,
			  int64_t now_ms)
{
	if (!b->frames)
		b->first_ms = now_ms;
	if (seq > b->due)
		b->due = seq;
	b->frames++;
	return !more || b->frames >= REPLICD_ACK_FRAMES ||
	       replicd_ackbatch_overdue(b, now_ms);
}

uint64_t replicd_ackbatch_take(struct replicd_ackbatch *b)
{
	uint64_t seq = b->due;
	if (seq) {
		b->acks++;
		b->acked_frames += b->frames;
	}
	b->due = 0;
	b->frames = 0;
	return seq;
}

void replicd_ackbatch_reset(struct replicd_ackbatch *b)
{
	b->due = 0;
	b->frames = 0;
}
