/*
 * repl.c - the queue between FUSE threads and the network loop (repl.h).
 */
#include "repl.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int replicd_repl_init(struct replicd_repl *r, bool async, bool commit,
		      int64_t timeout_ms)
{
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	r->async = async;
	r->commit = commit;
	r->timeout_ms = timeout_ms;
	r->degraded_ok_at_ms = INT64_MAX; /* never, but --standalone */
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0)
		return -errno;
	pthread_mutex_init(&r->order, NULL);
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static void free_items(struct replicd_item *it)
{
	while (it) {
		struct replicd_item *next = it->next;
		free(it);
		it = next;
	}
}

void replicd_repl_destroy(struct replicd_repl *r)
{
	if (r->wake_fd < 0)
		return;
	free_items(r->head);
	r->head = r->tail = NULL;
	close(r->wake_fd);
	r->wake_fd = -1;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->order);
}

static void wake(struct replicd_repl *r)
{
	uint64_t one = 1;
	/* A full counter already means "wake up". */
	if (write(r->wake_fd, &one, sizeof(one)) < 0) {
	}
}

void replicd_repl_drain_wake(struct replicd_repl *r)
{
	uint64_t v;
	while (read(r->wake_fd, &v, sizeof(v)) > 0) {
	}
}

int replicd_repl_begin(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->order);
	pthread_mutex_lock(&r->lock);
	bool ok = r->writable && !r->stopping;
	pthread_mutex_unlock(&r->lock);
	if (!ok) {
		pthread_mutex_unlock(&r->order);
		return -EROFS;
	}
	return 0;
}

void replicd_repl_end(struct replicd_repl *r)
{
	pthread_mutex_unlock(&r->order);
}

static struct replicd_item *encode_item(struct replicd_op *op)
{
	size_t cap = replicd_op_size(op);
	struct replicd_item *it = malloc(sizeof(*it) + cap);
	if (!it)
		return NULL;
	int n = replicd_op_encode(op, it->buf, cap);
	if (n < 0) {
		free(it);
		return NULL;
	}
	it->next = NULL;
	it->seq = op->seq;
	it->type = op->type;
	it->len = (size_t)n;
	it->queued_ms = sky_now_ms();
	return it;
}

/* Commit mode, lock held: the peer may lack a change that returned; an
 * fsync after it needs a session in sync after link generation gen. */
static void need_insync_after(struct replicd_repl *r, uint64_t gen)
{
	if (r->commit && r->commit_need < gen + 1)
		r->commit_need = gen + 1;
}

static void enqueue(struct replicd_repl *r, struct replicd_item *it)
{
	if (r->tail)
		r->tail->next = it;
	else
		r->head = it;
	r->tail = it;
	r->unacked_bytes += it->len;
}

int replicd_repl_submit(struct replicd_repl *r, struct replicd_op *op,
			bool force_wait, struct replicd_ticket *t)
{
	struct replicd_item *it = NULL;
	bool connected;
	uint64_t gen;

	pthread_mutex_lock(&r->lock);
	op->seq = ++r->next_seq;
	r->submitted++;
	connected = r->connected;
	gen = r->link_gen;
	pthread_mutex_unlock(&r->lock);

	memset(t, 0, sizeof(*t));
	t->seq = op->seq;
	/* Encode outside the lock: a 1 MiB copy must not stall the loop. */
	if (connected)
		it = encode_item(op);

	pthread_mutex_lock(&r->lock);
	t->gen = gen;
	t->commit = r->commit && force_wait;
	t->need = r->commit_need;
	/* A session that ended (and maybe restarted) while we encoded
	 * never gets this operation: the new one starts after it. */
	if (!connected || !r->connected || r->link_gen != gen || !it) {
		/* Nobody to send it to (or it could not be encoded): the
		 * peer misses this change. A session that ended meanwhile
		 * may have been in sync (insync_gen == gen + 1) without it:
		 * only one after the current link generation brings it. */
		if (replicd_op_changes_data(op->type)) {
			r->dropped++;
			t->gen = r->link_gen;
			if (op->type != ROP_FSYNC)
				need_insync_after(r, t->gen);
			t->degraded =
				((!r->async && !r->commit) || t->commit) &&
				!r->alone_ok && r->insync_gen <= t->gen &&
				sky_now_ms() < r->degraded_ok_at_ms;
		}
		pthread_mutex_unlock(&r->lock);
		free(it);
		if (connected && !it)
			return -ENOMEM;
		return 0;
	}
	enqueue(r, it);
	if (replicd_op_changes_data(op->type))
		r->last_data_seq = op->seq;
	t->wait = (!r->async && !r->commit) || force_wait ||
		  r->unacked_bytes > REPLICD_ASYNC_WINDOW;
	pthread_mutex_unlock(&r->lock);
	wake(r);
	return 0;
}

void replicd_repl_notify(struct replicd_repl *r, struct replicd_op *op)
{
	struct replicd_ticket t;

	/* The order lock keeps sequence numbers in queue order. */
	pthread_mutex_lock(&r->order);
	pthread_mutex_lock(&r->lock);
	bool connected = r->connected;
	pthread_mutex_unlock(&r->lock);
	if (connected)
		replicd_repl_submit(r, op, false, &t);
	pthread_mutex_unlock(&r->order);
}

static struct timespec mono_at(int64_t ms)
{
	return (struct timespec){.tv_sec = ms / 1000,
				 .tv_nsec = (ms % 1000) * 1000000L};
}

/*
 * Not sent to the peer: wait until acknowledging it cannot lose it (see
 * alone_ok in repl.h). A session that merely came back is not enough: the
 * change reaches the peer with the resync, and is safe once that ends.
 */
static int wait_degraded(struct replicd_repl *r, uint64_t link_gen)
{
	bool counted = false;
	int res = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->alone_ok && r->insync_gen <= link_gen) {
		int64_t at = r->degraded_ok_at_ms;
		if (sky_now_ms() >= at)
			break;
		/* No longer primary (or stopping): it will never be
		 * acknowledged here; the peer that serves may lack it. */
		if (r->stopping || !r->writable) {
			res = -EIO;
			break;
		}
		if (!counted) {
			/* The loop publishes it: heartbeatd starts a new
			 * generation for writers that wait. */
			counted = true;
			r->degraded_waiting++;
			wake(r);
		}
		struct timespec ts = mono_at(
			at < sky_now_ms() + 1000 ? at : sky_now_ms() + 1000);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	if (counted) {
		r->degraded_waiting--;
		wake(r);
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

void replicd_repl_set_insync(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	r->insync_gen = r->link_gen + 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

uint64_t replicd_repl_degraded_waiting(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t n = r->degraded_waiting;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void replicd_repl_set_alone(struct replicd_repl *r, bool alone)
{
	pthread_mutex_lock(&r->lock);
	r->alone_ok = alone;
	/* heartbeatd holds a generation newer than the peer's: it cannot
	 * be promoted without what it lacks so far. */
	if (alone)
		r->commit_need = 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void replicd_repl_set_degraded_ok_at(struct replicd_repl *r, int64_t ms)
{
	pthread_mutex_lock(&r->lock);
	r->degraded_ok_at_ms = ms;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Commit mode: an fsync whose own ack came waits for every change
 * before it that the peer may lack (commit_need when it was queued). */
static int wait_commit(struct replicd_repl *r, const struct replicd_ticket *t,
		       int res)
{
	if (res < 0 || !t->commit || !t->need)
		return res;
	return wait_degraded(r, t->need - 1);
}

int replicd_repl_wait(struct replicd_repl *r, const struct replicd_ticket *t)
{
	struct timespec deadline;
	bool acked;

	if (t->degraded)
		return wait_commit(r, t, wait_degraded(r, t->gen));
	if (!t->wait)
		return wait_commit(r, t, 0);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += r->timeout_ms / 1000;
	deadline.tv_nsec += (r->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	if (r->acked_seq < t->seq) {
		r->ack_waits++;
		if (++r->ack_waiters > r->ack_waiters_max)
			r->ack_waiters_max = r->ack_waiters;
	}
	bool counted = r->acked_seq < t->seq;
	while (!r->stopping && r->connected && r->link_gen == t->gen &&
	       r->acked_seq < t->seq) {
		if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) ==
		    ETIMEDOUT) {
			if (r->connected && r->link_gen == t->gen &&
			    r->acked_seq < t->seq) {
				r->wait_timed_out = true;
				wake(r);
			}
			break;
		}
	}
	acked = r->link_gen == t->gen && r->connected && r->acked_seq >= t->seq;
	if (counted)
		r->ack_waiters--;
	pthread_mutex_unlock(&r->lock);
	/* Sent, never acked (the session ended or timed out): the peer may
	 * lack it, as if it had never been sent. Only a later session in sync
	 * brings it to the peer: the session it was sent in (t->gen) may have
	 * been in sync (insync_gen == t->gen + 1) without delivering it.
	 * In commit mode a change that waited only for room in the window
	 * returns: the next fsync waits for it (commit_need). */
	if (!acked && r->commit && !t->commit)
		return 0;
	if (!acked)
		return wait_commit(r, t, wait_degraded(r, t->gen + 1));
	return wait_commit(r, t, 0);
}

bool replicd_repl_queue_empty(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	bool empty = !r->head;
	pthread_mutex_unlock(&r->lock);
	return empty;
}

bool replicd_repl_connected(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	bool c = r->connected;
	pthread_mutex_unlock(&r->lock);
	return c;
}

struct replicd_item *replicd_repl_take(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	struct replicd_item *it = r->head;
	r->head = r->tail = NULL;
	pthread_mutex_unlock(&r->lock);
	return it;
}

void replicd_repl_set_connected(struct replicd_repl *r, bool connected)
{
	struct replicd_item *lost = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->connected && !connected) {
		/* Changes that returned unacked: see commit_need. */
		if (r->last_data_seq > r->acked_seq)
			need_insync_after(r, r->link_gen + 1);
		r->link_gen++;
		lost = r->head;
		for (struct replicd_item *it = lost; it; it = it->next)
			if (replicd_op_changes_data(it->type))
				r->dropped++;
		r->head = r->tail = NULL;
		r->unacked_bytes = 0;
	}
	if (connected && !r->connected)
		r->acked_seq = r->next_seq;
	r->connected = connected;
	r->wait_timed_out = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	free_items(lost);
}

void replicd_repl_acked(struct replicd_repl *r, uint64_t seq, uint64_t bytes)
{
	pthread_mutex_lock(&r->lock);
	if (seq > r->acked_seq)
		r->acked_seq = seq;
	r->unacked_bytes -= bytes < r->unacked_bytes ? bytes : r->unacked_bytes;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void replicd_repl_set_writable(struct replicd_repl *r, bool writable)
{
	pthread_mutex_lock(&r->order);
	pthread_mutex_lock(&r->lock);
	r->writable = writable;
	pthread_cond_broadcast(&r->cond); /* waiting writers give up */
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->order);
}

void replicd_repl_stop(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	r->writable = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

bool replicd_repl_timed_out(struct replicd_repl *r)
{
	pthread_mutex_lock(&r->lock);
	bool t = r->wait_timed_out;
	r->wait_timed_out = false;
	pthread_mutex_unlock(&r->lock);
	return t;
}
