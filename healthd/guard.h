/*
 * guard.h - which HTTP connections healthd keeps, so that no client can
 * starve the load balancers' probes. Pure logic over a table of
 * connections and a clock given by the caller (http.c does the sockets);
 * the unit tests drive it with a fake clock.
 *
 * Each connection is
 *   WAITING for a complete request head, since accept or, on a kept-alive
 *   connection, since the first byte of its next request arrived;
 *   IDLE: kept alive after an answer, no byte of a next request yet (only
 *   libmicrohttpd's idle timeout applies);
 *   BUSY: its request head is in, the answer is being made or sent;
 *   CLOSING: healthd shut it down and libmicrohttpd has not freed it yet
 *   (it no longer counts against any limit).
 *
 * The policy, applied to every new connection:
 *   1. at most max_per_addr live connections from one source (an IPv4
 *      address, or an IPv6 /64 prefix): beyond, the new one is refused;
 *   2. at most max_total live connections: when full, the oldest WAITING
 *      or IDLE connection (the one that has sent no complete request for
 *      the longest) of the source that holds the most live connections is
 *      closed to make room (evicted); a new connection is refused only
 *      when every live one is BUSY.
 * And to every WAITING connection: it must complete its request head
 * within header_ms of the start of its wait, or it is closed (slowloris).
 *
 * Why this keeps probes answered: a probe is one connection from a source
 * that holds few, which sends its request at once. An attacker's sources
 * hold the most connections (at most max_per_addr each), so they are the
 * ones evicted, oldest first; the probe is BUSY within a round trip.
 */
#ifndef HEALTHD_GUARD_H
#define HEALTHD_GUARD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HEALTHD_GUARD_MAX_TOTAL	   256
#define HEALTHD_GUARD_MAX_PER_ADDR 32
#define HEALTHD_GUARD_HEADER_MS	   5000
#define HEALTHD_GUARD_LIMIT	   16384 /* the most --max-connections */

enum healthd_conn_state {
	HEALTHD_CONN_FREE = 0,
	HEALTHD_CONN_WAITING,
	HEALTHD_CONN_IDLE,
	HEALTHD_CONN_BUSY,
	HEALTHD_CONN_CLOSING,
};

/* A connection's source: IPv4 (as ::ffff:a.b.c.d) or an IPv6 /64. */
struct healthd_source {
	uint8_t b[16];
};

struct healthd_conn {
	enum healthd_conn_state state;
	int fd;
	struct healthd_source src;
	size_t src_index; /* into guard.sources */
	int64_t since_ms; /* WAITING: the deadline runs from; IDLE: answered */
	uint64_t serial;  /* accept order: ties broken oldest first */
};

struct healthd_source_count {
	struct healthd_source src;
	unsigned live; /* 0: the entry is free */
};

struct healthd_guard_conf {
	unsigned max_total;
	unsigned max_per_addr;
	int64_t header_ms;
};

struct healthd_guard_counters {
	uint64_t accepted;
	uint64_t refused_per_addr; /* rule 1 */
	uint64_t refused_full;	   /* rule 2, every live connection busy */
	uint64_t evicted;	   /* rule 2 */
	uint64_t header_timeouts;  /* request head not in within header_ms */
};

struct healthd_guard {
	struct healthd_guard_conf conf;
	struct healthd_conn *conns;	      /* capacity entries */
	struct healthd_source_count *sources; /* capacity entries */
	size_t capacity; /* live + closing: 2 x max_total */
	unsigned live;	 /* WAITING + BUSY */
	uint64_t next_serial;
	struct healthd_guard_counters counters;
};

/* Defaults an operator would choose (see docs/health.md). */
void healthd_guard_conf_default(struct healthd_guard_conf *c);

/* -EINVAL for limits out of range, -ENOMEM. */
int healthd_guard_init(struct healthd_guard *g,
		       const struct healthd_guard_conf *c);
void healthd_guard_free(struct healthd_guard *g);

/* The source of a peer address (IPv4-mapped IPv6 counts as IPv4). */
int healthd_source_of(const struct sockaddr *sa, socklen_t len,
		      struct healthd_source *out);

/*
 * A new connection fd from src at now. Returns the index of its entry
 * (>= 0) and in *evict_fd the fd of a connection to close to make room
 * (now CLOSING), or -1. Returns -EUSERS when src already holds
 * max_per_addr connections, -EMFILE when the table is full of BUSY ones:
 * the caller closes fd. Counted either way.
 */
int healthd_guard_admit(struct healthd_guard *g, int fd,
			const struct healthd_source *src, int64_t now_ms,
			int *evict_fd);

/* Index of the entry of fd, or -ENOENT. */
int healthd_guard_find(const struct healthd_guard *g, int fd);

/* Its request head is complete: BUSY (no header deadline any more). */
void healthd_guard_request(struct healthd_guard *g, int index);
/* Its answer is done and it may stay open: IDLE, from now. */
void healthd_guard_answered(struct healthd_guard *g, int index, int64_t now_ms);
/* An IDLE connection's next request began: WAITING, deadline from now. */
void healthd_guard_first_byte(struct healthd_guard *g, int index,
			      int64_t now_ms);
/* libmicrohttpd closed it: the entry is free. */
void healthd_guard_closed(struct healthd_guard *g, int index);

/*
 * WAITING connections past their header deadline at now: each becomes
 * CLOSING, is counted, and its fd goes into fds (at most max). Returns how
 * many.
 */
size_t healthd_guard_expire(struct healthd_guard *g, int64_t now_ms, int *fds,
			    size_t max);

/* The earliest header deadline (monotonic ms), or INT64_MAX if none. */
int64_t healthd_guard_next_deadline(const struct healthd_guard *g);

/* Live connections of one source (for tests and logs). */
unsigned healthd_guard_source_live(const struct healthd_guard *g,
				   const struct healthd_source *src);

#endif
