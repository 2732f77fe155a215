/*
 * line.h - one direction of the emulated link: the decision for each frame
 * and the time-ordered queue of frames waiting for their departure time.
 *
 * A frame arriving at time t is, in this order: dropped at random (loss);
 * dropped if the queue is full; sent at once, overtaking the frames queued
 * (reorder, as netem's "reorder": it skips the delay); otherwise serialised
 * on the link at rate_bps after the frames ahead of it, then held for the
 * delay plus a uniform jitter in [-jitter, +jitter] (never below 0). Without
 * reordering no frame leaves before the one ahead of it: its departure is
 * at least the previous one's. So the queue is FIFO in departure time, a
 * ring of fixed slots: O(1) per frame, no allocation after start.
 *
 * No I/O and no clock here: the caller passes the time (ns, CLOCK_MONOTONIC),
 * so unit tests drive it with a fake clock. Random draws come from a seeded
 * splitmix64 per direction: a seed replays the same losses.
 */
#ifndef WANEM_LINE_H
#define WANEM_LINE_H

#include "params.h"

#include <stddef.h>
#include <stdint.h>

/* Largest frame carried (Ethernet header, a VLAN tag and a 1500-byte MTU
 * fit; GSO super-frames do not: turn segmentation offloads off). */
#define WANEM_FRAME_MAX	 2032
#define WANEM_LIMIT_MAX	 1000000
#define WANEM_LIMIT_DFLT 10000

struct wanem_frame {
	int64_t due_ns;
	uint32_t len;
	uint8_t data[WANEM_FRAME_MAX];
};

struct wanem_counters {
	uint64_t rx_frames, rx_bytes; /* offered to the line */
	uint64_t tx_frames, tx_bytes; /* handed to the other interface */
	uint64_t lost;		      /* random loss */
	uint64_t queue_full;	      /* tail drops: the queue held limit */
	uint64_t oversize;	      /* larger than WANEM_FRAME_MAX */
	uint64_t reordered;	      /* sent ahead of queued frames */
	uint64_t send_errors;	      /* the kernel refused the frame */
	uint64_t csum_pending;	      /* arrived with checksum offload */
	uint32_t queued_max;	      /* deepest the queue has been */
};

struct wanem_line {
	struct wanem_frame *slots;
	uint32_t limit, head, count;
	int64_t link_free_ns; /* rate: when the link has sent what it has */
	int64_t last_due_ns;  /* FIFO: the departure of the last frame queued */
	uint64_t rng;
	struct wanem_counters c;
};

enum wanem_verdict {
	WANEM_QUEUED,	/* in the queue until its due time */
	WANEM_SEND_NOW, /* reordered: the caller sends it at once */
	WANEM_DROPPED,	/* lost, queue full or oversize (counted) */
};

/* limit frames at most in the queue (1..WANEM_LIMIT_MAX). */
int wanem_line_init(struct wanem_line *l, uint32_t limit, uint64_t seed);
void wanem_line_free(struct wanem_line *l);
void wanem_line_reseed(struct wanem_line *l, uint64_t seed);

/* Decide a frame's fate at now_ns; a queued frame is copied into the line. */
enum wanem_verdict wanem_line_admit(struct wanem_line *l,
				    const struct wanem_params *p,
				    int64_t now_ns, const uint8_t *frame,
				    size_t len);

/* The frame at the head of the queue, or NULL if empty. */
static inline struct wanem_frame *wanem_line_head(struct wanem_line *l)
{
	return l->count ? &l->slots[l->head] : NULL;
}

/* The i-th frame from the head (i < count). */
static inline struct wanem_frame *wanem_line_at(struct wanem_line *l,
						uint32_t i)
{
	uint32_t k = l->head + i;

	return &l->slots[k >= l->limit ? k - l->limit : k];
}

/* Remove n frames from the head (sent or dropped by the caller). */
void wanem_line_pop(struct wanem_line *l, uint32_t n);

/* Next random 64 bits of the line's generator (splitmix64). */
uint64_t wanem_rand(uint64_t *state);

#endif
