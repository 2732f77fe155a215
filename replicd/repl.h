/*
 * repl.h - the queue between the FUSE threads and the network loop.
 *
 * Threads and what they own:
 *   - FUSE threads (libfuse's multi-threaded loop, one per directory):
 *     apply an operation to the underlying directory, then hand its encoded
 *     bytes to this queue and, in sync mode, sleep until the peer acked it
 *     (in commit mode only an fsync sleeps, see below). They own nothing
 *     else of replicd's state. Several operations are in flight at once:
 *     a writer waits for its own ack outside every lock, so concurrent
 *     writers share round trips instead of queueing behind each other's,
 *     and acks are cumulative.
 *   - the main thread (daemon.c, one zmq_poll loop) owns the connection,
 *     the bus sockets, the in-flight list and the role; it takes queued
 *     operations, sends them, and reports acks and disconnections here.
 *
 * Everything in struct replicd_repl below `lock` is shared and only read or
 * written with `lock` held. `order` is held by a FUSE thread from the start
 * of its local apply until its operation is queued, so sequence numbers
 * follow the order in which operations reached the disk: the secondary,
 * applying them in sequence order, ends with the same tree. The main
 * thread takes `order` only to flip `writable` (with no other lock held),
 * so a role change waits for the operation in progress, never the reverse.
 * A FUSE thread wakes the loop by writing to `wake_fd` (an eventfd).
 */
#ifndef REPLICD_REPL_H
#define REPLICD_REPL_H

#include "op.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Async and commit modes: writers wait once this many bytes are
 * unacknowledged (the window of operations in flight). */
#define REPLICD_ASYNC_WINDOW (64u << 20)

struct replicd_item {
	struct replicd_item *next;
	uint64_t seq;
	uint8_t type;
	int64_t queued_ms;
	size_t len;
	uint8_t buf[];
};

struct replicd_track;
struct replicd_alone;

struct replicd_repl {
	/* The change record (track.h): set before the mounts start, then
	 * constant; it has its own lock. */
	struct replicd_track *track;
	/* The backup record (the changes since the last backup, track.h):
	 * same rule as track. */
	struct replicd_track *backup;
	/* Changes made without the peer (alone.h): same rule as track. */
	struct replicd_alone *alone;
	pthread_mutex_t order;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake_fd;
	bool async;
	/*
	 * Commit mode (DRBD's protocol C at the file level): a change returns
	 * once applied here and queued, as in async mode, but an fsync returns
	 * only once the peer has every change made before it (and made the
	 * file durable): its own ack, and no earlier change the peer may lack
	 * (commit_need below), unless heartbeatd holds a newer generation.
	 */
	bool commit;
	int64_t timeout_ms;
	/* --- guarded by lock --- */
	bool writable;	/* role primary: writes allowed */
	bool connected; /* a peer session is up: queue operations */
	bool stopping;
	uint64_t next_seq;  /* last sequence number handed out */
	uint64_t acked_seq; /* the peer received every seq <= this (and
			     * made it durable if an fsync) */
	uint64_t link_gen;  /* +1 at every disconnection */
	uint64_t unacked_bytes;
	struct replicd_item *head, *tail; /* queued, not yet taken */
	bool wait_timed_out; /* a writer gave up waiting: disconnect */
	uint64_t dropped;    /* applied here, never sent: peer out of date */
	uint64_t submitted;
	/*
	 * Sync mode without a session: may a change be acknowledged that the
	 * peer never got? Only once heartbeatd holds a data generation newer
	 * than any the peer can hold and says so (alone_ok: ALONE, or PRIM
	 * with the replication link down and a new generation persisted),
	 * or once a later session brought the peer in sync, change included
	 * (insync_gen > the ticket's link_gen). Until then writers wait, so
	 * no node that heartbeatd could promote ever misses an acked write.
	 * --standalone (no heartbeatd) keeps the old time bound instead:
	 * degraded_ok_at_ms (INT64_MAX otherwise).
	 */
	bool alone_ok;
	int64_t degraded_ok_at_ms;
	uint64_t insync_gen; /* link_gen + 1 of the last in-sync session */
	uint64_t degraded_waiting; /* writers waiting for one of those */
	/*
	 * Commit mode: 0, or an fsync must also wait until insync_gen >=
	 * commit_need (or alone_ok): a change returned without its ack that
	 * the peer may lack (never sent, or sent in a session that ended
	 * before acking it) is on the peer only once a later session is in
	 * sync. last_data_seq: the last change queued in this session.
	 */
	uint64_t commit_need;
	uint64_t last_data_seq;
	/* Pipelining figures (published): writers sleeping for an ack now,
	 * the most at once, and how many slept. */
	uint64_t ack_waiters, ack_waiters_max, ack_waits;
};

struct replicd_ticket {
	uint64_t seq;
	uint64_t gen;
	bool wait;     /* the caller must wait for the ack */
	bool degraded; /* not sent: wait until it may be acked without it */
	bool commit;   /* commit mode: the peer must have everything before */
	uint64_t need; /* commit_need when it was queued */
};

int replicd_repl_init(struct replicd_repl *r, bool async, bool commit,
		      int64_t timeout_ms);
void replicd_repl_destroy(struct replicd_repl *r);

/* --- FUSE threads ------------------------------------------------------ */
/* Take the order lock; -EROFS (lock not held) unless writable. */
int replicd_repl_begin(struct replicd_repl *r);
/*
 * With the order lock held, after the local apply succeeded: number op,
 * and queue it if a peer is connected (else count it as dropped).
 * force_wait: wait for the ack even in async and commit modes (fsync; in
 * commit mode also for every earlier change, see commit_need).
 */
int replicd_repl_submit(struct replicd_repl *r, struct replicd_op *op,
			bool force_wait, struct replicd_ticket *t);
void replicd_repl_end(struct replicd_repl *r);
/*
 * Sleep until the ack (0). Without one within timeout_ms (then the loop is
 * asked to disconnect) or after a disconnection, the peer may lack the
 * change: wait until it may be acknowledged without it (alone_ok above),
 * 0; -EIO if this node stops being primary first (the change is on this
 * disk only and must not be reported as done).
 */
int replicd_repl_wait(struct replicd_repl *r, const struct replicd_ticket *t);
/* Queue an operation that needs neither the writable role nor a wait
 * (release of a handle); dropped silently when no peer is connected. */
void replicd_repl_notify(struct replicd_repl *r, struct replicd_op *op);

/* heartbeatd's role is ALONE: acknowledge without the peer at once. */
void replicd_repl_set_alone(struct replicd_repl *r, bool alone);
/* --standalone only: without a session, acknowledge without the peer
 * from then on. */
void replicd_repl_set_degraded_ok_at(struct replicd_repl *r, int64_t ms);
/* The current session brought the peer in sync: every change made
 * before it, acked or waiting, is on the peer. */
void replicd_repl_set_insync(struct replicd_repl *r);
/* Writers waiting because the peer lacks their change (for the bus). */
uint64_t replicd_repl_degraded_waiting(struct replicd_repl *r);

/* Nothing queued that the loop has not taken yet. */
bool replicd_repl_queue_empty(struct replicd_repl *r);
/* Is a peer session up (operations are being sent)? */
bool replicd_repl_connected(struct replicd_repl *r);

/* --- main thread ------------------------------------------------------- */
/* Everything queued, oldest first (caller frees each item). */
struct replicd_item *replicd_repl_take(struct replicd_repl *r);
void replicd_repl_set_connected(struct replicd_repl *r, bool connected);
void replicd_repl_acked(struct replicd_repl *r, uint64_t seq, uint64_t bytes);
void replicd_repl_set_writable(struct replicd_repl *r, bool writable);
void replicd_repl_stop(struct replicd_repl *r);
/* Did a writer time out since the last call? */
bool replicd_repl_timed_out(struct replicd_repl *r);
/* Drain the eventfd. */
void replicd_repl_drain_wake(struct replicd_repl *r);

#endif
