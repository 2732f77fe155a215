/*
 * ackbatch.h - when the secondary acknowledges (docs/protocol.md, "Acks").
 *
 * Acks are cumulative: one ack of seq covers every operation up to seq.
 * An operation becomes ackable on receipt (a write: it is in this replicd's
 * memory, queued for the disk in order) or once applied (an fsync, a
 * flush, and everything that waits for the disk first). The ack then goes
 * out at the first of:
 *   - the end of what one read of the connection brought (no further
 *     complete frame is buffered): the primary waits for nothing we hold;
 *   - REPLICD_ACK_FRAMES ackable frames since the last ack;
 *   - REPLICD_ACK_MS since the oldest of them became ackable,
 * so a long burst of small frames costs one ack per batch, not one per
 * frame, and never delays the primary's writers by more than a millisecond.
 * Pure logic over a struct (no I/O), so the unit tests drive it directly.
 */
#ifndef REPLICD_ACKBATCH_H
#define REPLICD_ACKBATCH_H

#include <stdbool.h>
#include <stdint.h>

#define REPLICD_ACK_FRAMES 32
#define REPLICD_ACK_MS	   1

struct replicd_ackbatch {
	uint64_t due;	 /* highest ackable seq not acked yet; 0: none */
	uint32_t frames; /* ackable frames since the last ack */
	int64_t first_ms;
	/* Figures: acks sent, frames they covered. */
	uint64_t acks, acked_frames;
};

/*
 * Frame seq became ackable at now_ms; more: another complete frame is
 * already buffered. True if the ack must go now (then take it).
 */
bool replicd_ackbatch_add(struct replicd_ackbatch *b, uint64_t seq, bool more,
			  int64_t now_ms);
/* Nothing to add, but is an ack overdue at now_ms (the REPLICD_ACK_MS
 * rule, for a batch that is still being read)? */
bool replicd_ackbatch_overdue(const struct replicd_ackbatch *b, int64_t now_ms);
/* The seq to ack now, 0 if none; the batch starts over. */
uint64_t replicd_ackbatch_take(struct replicd_ackbatch *b);
/* Forget what is due (the session ended). */
void replicd_ackbatch_reset(struct replicd_ackbatch *b);

#endif
