/*
 * guard.c - the connection limits and the eviction policy (see guard.h).
 *
 * Tables are small (2 x max_total entries, 512 by default) and scanned
 * linearly: one admission costs two scans, which is nothing next to the
 * accept() and close() it decides about, and keeps the code obvious.
 */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void healthd_guard_conf_default(struct healthd_guard_conf *c)
{
	c->max_total = HEALTHD_GUARD_MAX_TOTAL;
	c->max_per_addr = HEALTHD_GUARD_MAX_PER_ADDR;
	c->header_ms = HEALTHD_GUARD_HEADER_MS;
}

int healthd_guard_init(struct healthd_guard *g,
		       const struct healthd_guard_conf *c)
{
	memset(g, 0, sizeof(*g));
	if (c->max_total < 1 || c->max_total > HEALTHD_GUARD_LIMIT ||
	    c->max_per_addr < 1 || c->max_per_addr > c->max_total ||
	    c->header_ms < 1)
		return -EINVAL;
	g->conf = *c;
	g->capacity = 2 * (size_t)c->max_total;
	g->conns = calloc(g->capacity, sizeof(g->conns[0]));
	g->sources = calloc(g->capacity, sizeof(g->sources[0]));
	if (!g->conns || !g->sources) {
		healthd_guard_free(g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->capacity; i++)
		g->conns[i].fd = -1;
	return 0;
}

void healthd_guard_free(struct healthd_guard *g)
{
	free(g->conns);
	free(g->sources);
	g->conns = NULL;
	g->sources = NULL;
	g->capacity = 0;
	g->live = 0;
}

int healthd_source_of(const struct sockaddr *sa, socklen_t len,
		      struct healthd_source *out)
{
	memset(out, 0, sizeof(*out));
	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		out->b[10] = 0xff;
		out->b[11] = 0xff;
		memcpy(&out->b[12], &a->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			memcpy(out->b, &a->sin6_addr, 16);
			return 0;
		}
		/* One host or one site holds a /64: count it as one. */
		memcpy(out->b, &a->sin6_addr, 8);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static bool same_source(const struct healthd_source *a,
			const struct healthd_source *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* The entry counting src, or -ENOENT. */
static int source_find(const struct healthd_guard *g,
		       const struct healthd_source *src)
{
	for (size_t i = 0; i < g->capacity; i++)
		if (g->sources[i].live && same_source(&g->sources[i].src, src))
			return (int)i;
	return -ENOENT;
}

unsigned healthd_guard_source_live(const struct healthd_guard *g,
				   const struct healthd_source *src)
{
	int i = source_find(g, src);
	return i < 0 ? 0 : g->sources[i].live;
}

/* A connection stops counting: its source's count goes down. */
static void unlive(struct healthd_guard *g, struct healthd_conn *c)
{
	if (c->state != HEALTHD_CONN_WAITING && c->state != HEALTHD_CONN_IDLE &&
	    c->state != HEALTHD_CONN_BUSY)
		return;
	struct healthd_source_count *s = &g->sources[c->src_index];
	if (s->live)
		s->live--;
	if (g->live)
		g->live--;
}

/*
 * The connection to evict, among those without a complete request
 * (WAITING or IDLE): from the source with the most live connections, the
 * one waiting longest (accept order breaks ties).
 */
static int pick_victim(const struct healthd_guard *g)
{
	int best = -1;
	unsigned best_live = 0;

	for (size_t i = 0; i < g->capacity; i++) {
		const struct healthd_conn *c = &g->conns[i];
		if (c->state != HEALTHD_CONN_WAITING &&
		    c->state != HEALTHD_CONN_IDLE)
			continue;
		unsigned live = g->sources[c->src_index].live;
		if (best >= 0) {
			const struct healthd_conn *b = &g->conns[best];
			if (live < best_live)
				continue;
			if (live == best_live && (c->since_ms > b->since_ms ||
						  (c->since_ms == b->since_ms &&
						   c->serial > b->serial)))
				continue;
		}
		best = (int)i;
		best_live = live;
	}
	return best;
}

static int free_entry(const struct healthd_guard *g)
{
	for (size_t i = 0; i < g->capacity; i++)
		if (g->conns[i].state == HEALTHD_CONN_FREE)
			return (int)i;
	return -ENOENT;
}

int healthd_guard_admit(struct healthd_guard *g, int fd,
			const struct healthd_source *src, int64_t now_ms,
			int *evict_fd)
{
	int si = source_find(g, src), ci;

	*evict_fd = -1;
	if (si >= 0 && g->sources[si].live >= g->conf.max_per_addr) {
		g->counters.refused_per_addr++;
		return -EUSERS;
	}
	ci = free_entry(g);
	if (ci < 0) {
		/* Every entry is live or still closing: nothing to reuse. */
		g->counters.refused_full++;
		return -EMFILE;
	}
	if (g->live >= g->conf.max_total) {
		int v = pick_victim(g);
		if (v < 0) {
			g->counters.refused_full++;
			return -EMFILE;
		}
		unlive(g, &g->conns[v]);
		g->conns[v].state = HEALTHD_CONN_CLOSING;
		*evict_fd = g->conns[v].fd;
		g->counters.evicted++;
		/* The victim may have been src's last: look again. */
		si = source_find(g, src);
	}
	if (si < 0) {
		for (size_t i = 0; i < g->capacity; i++)
			if (!g->sources[i].live) {
				si = (int)i;
				break;
			}
		if (si < 0) { /* cannot happen: live <= capacity */
			g->counters.refused_full++;
			return -EMFILE;
		}
		g->sources[si].src = *src;
	}
	g->sources[si].live++;
	g->live++;
	g->conns[ci] = (struct healthd_conn){
		.state = HEALTHD_CONN_WAITING,
		.fd = fd,
		.src = *src,
		.src_index = (size_t)si,
		.since_ms = now_ms,
		.serial = g->next_serial++,
	};
	g->counters.accepted++;
	return ci;
}

int healthd_guard_find(const struct healthd_guard *g, int fd)
{
	for (size_t i = 0; i < g->capacity; i++)
		if (g->conns[i].state != HEALTHD_CONN_FREE &&
		    g->conns[i].fd == fd)
			return (int)i;
	return -ENOENT;
}

static struct healthd_conn *entry(struct healthd_guard *g, int index)
{
	if (index < 0 || (size_t)index >= g->capacity)
		return NULL;
	return &g->conns[index];
}

void healthd_guard_request(struct healthd_guard *g, int index)
{
	struct healthd_conn *c = entry(g, index);
	/* IDLE too: a pipelined request needs no new byte. */
	if (c &&
	    (c->state == HEALTHD_CONN_WAITING || c->state == HEALTHD_CONN_IDLE))
		c->state = HEALTHD_CONN_BUSY;
}

void healthd_guard_answered(struct healthd_guard *g, int index, int64_t now_ms)
{
	struct healthd_conn *c = entry(g, index);
	if (c && c->state == HEALTHD_CONN_BUSY) {
		c->state = HEALTHD_CONN_IDLE;
		c->since_ms = now_ms;
	}
}

void healthd_guard_first_byte(struct healthd_guard *g, int index,
			      int64_t now_ms)
{
	struct healthd_conn *c = entry(g, index);
	if (c && c->state == HEALTHD_CONN_IDLE) {
		c->state = HEALTHD_CONN_WAITING;
		c->since_ms = now_ms;
	}
}

void healthd_guard_closed(struct healthd_guard *g, int index)
{
	struct healthd_conn *c = entry(g, index);
	if (!c || c->state == HEALTHD_CONN_FREE)
		return;
	unlive(g, c);
	*c = (struct healthd_conn){.state = HEALTHD_CONN_FREE, .fd = -1};
}

size_t healthd_guard_expire(struct healthd_guard *g, int64_t now_ms, int *fds,
			    size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < g->capacity && n < max; i++) {
		struct healthd_conn *c = &g->conns[i];
		if (c->state != HEALTHD_CONN_WAITING ||
		    now_ms - c->since_ms < g->conf.header_ms)
			continue;
		unlive(g, c);
		c->state = HEALTHD_CONN_CLOSING;
		g->counters.header_timeouts++;
		fds[n++] = c->fd;
	}
	return n;
}

int64_t healthd_guard_next_deadline(const struct healthd_guard *g)
{
	int64_t t = INT64_MAX;
	for (size_t i = 0; i < g->capacity; i++) {
		const struct healthd_conn *c = &g->conns[i];
		if (c->state == HEALTHD_CONN_WAITING &&
		    c->since_ms + g->conf.header_ms < t)
			t = c->since_ms + g->conf.header_ms;
	}
	return t;
}
