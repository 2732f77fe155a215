/*
 * line.c - see line.h.
 */
#include "line.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t wanem_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0), without modulo bias worth mentioning. */
static uint64_t rand_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)wanem_rand(state) * n) >> 64);
}

int wanem_line_init(struct wanem_line *l, uint32_t limit, uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	if (limit < 1 || limit > WANEM_LIMIT_MAX)
		return -EINVAL;
	l->slots = calloc(limit, sizeof(*l->slots));
	if (!l->slots)
		return -ENOMEM;
	l->limit = limit;
	l->rng = seed;
	return 0;
}

void wanem_line_free(struct wanem_line *l)
{
	free(l->slots);
	l->slots = NULL;
	l->count = 0;
}

void wanem_line_reseed(struct wanem_line *l, uint64_t seed)
{
	l->rng = seed;
}

enum wanem_verdict wanem_line_admit(struct wanem_line *l,
				    const struct wanem_params *p,
				    int64_t now_ns, const uint8_t *frame,
				    size_t len)
{
	struct wanem_frame *f;
	int64_t due;

	l->c.rx_frames++;
	l->c.rx_bytes += len;
	if (len > WANEM_FRAME_MAX) {
		l->c.oversize++;
		return WANEM_DROPPED;
	}
	if (p->loss_ppm && rand_below(&l->rng, WANEM_PPM) < p->loss_ppm) {
		l->c.lost++;
		return WANEM_DROPPED;
	}
	if (p->reorder_ppm && l->count &&
	    rand_below(&l->rng, WANEM_PPM) < p->reorder_ppm) {
		l->c.reordered++;
		return WANEM_SEND_NOW;
	}
	if (l->count == l->limit) {
		l->c.queue_full++;
		return WANEM_DROPPED;
	}
	due = now_ns;
	if (p->rate_bps) {
		/* the frame's bits leave after those queued ahead of it */
		int64_t start =
			l->link_free_ns > now_ns ? l->link_free_ns : now_ns;
		l->link_free_ns =
			start + (int64_t)((uint64_t)len * 8 * 1000000000ULL /
					  p->rate_bps);
		due = l->link_free_ns;
	}
	due += p->delay_ns;
	if (p->jitter_ns) {
		int64_t j = (int64_t)rand_below(
				    &l->rng, 2 * (uint64_t)p->jitter_ns + 1) -
			    p->jitter_ns;
		due += j;
		if (due < now_ns)
			due = now_ns;
	}
	if (due < l->last_due_ns)
		due = l->last_due_ns; /* FIFO: no overtaking */
	l->last_due_ns = due;
	f = wanem_line_at(l, l->count);
	f->due_ns = due;
	f->len = (uint32_t)len;
	memcpy(f->data, frame, len);
	l->count++;
	if (l->count > l->c.queued_max)
		l->c.queued_max = l->count;
	return WANEM_QUEUED;
}

void wanem_line_pop(struct wanem_line *l, uint32_t n)
{
	if (n > l->count)
		n = l->count;
	l->head += n;
	if (l->head >= l->limit)
		l->head -= l->limit;
	l->count -= n;
}
