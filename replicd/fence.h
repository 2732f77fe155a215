/*
 * fence.h - no write acknowledged as primary on a word heartbeatd no
 * longer stands behind.
 *
 * heartbeatd's desired state is valid for valid_ms from its receipt
 * (shared/desired.h); it expires before the peer can be promoted. Once it
 * has, this replicd must neither acknowledge a change nor make one that
 * only this node would hold: the peer may be serving by now. So every
 * write-type operation passes the fence twice, before it is applied and
 * before the application hears it succeeded, and waits there while the
 * word is expired:
 *   - a fresh desired state that keeps us primary lets it go on;
 *   - any other target ends it: EROFS before a write is applied (as on
 *     any secondary), EIO after it (applied here, never acknowledged; the
 *     record keeps it for the next resync) and for an fsync;
 *   - replicd stopping ends it with the same errors.
 * A writer that was not held is not failed: a change the peer acked before
 * an ordinary demotion is acknowledged as before.
 * Writers block rather than fail during a short silence: a database that
 * sees fsync fail must stop, one that waits just waits.
 *
 * Threads: the main thread renews the word (replicd_fence_heard) and
 * reports it (replicd_fence_describe); FUSE threads pass the fence
 * (replicd_fence_pass). Everything below `lock` is guarded by it. The fence
 * is never waited on with replicd_repl's order lock held.
 */
#ifndef REPLICD_FENCE_H
#define REPLICD_FENCE_H

#include "desired.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replicd_fence {
	bool enabled; /* false: --standalone, no heartbeatd to hear */
	bool ready;   /* lock and cond initialised */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* --- guarded by lock --- */
	struct sky_desired_lease word;
	bool primary; /* the word asks for primary */
	bool stopping;
	uint64_t waiting; /* writers held at the fence now */
	uint64_t held;	  /* writers ever held (a counter) */
	/* --- main thread only --- */
	bool reported;	  /* the expiry was logged */
	char reason[200]; /* what the actual state says meanwhile */
};

int replicd_fence_init(struct replicd_fence *f, bool enabled);
void replicd_fence_destroy(struct replicd_fence *f);

/* Main thread: a valid desired state d for replicd was received at now. */
void replicd_fence_heard(struct replicd_fence *f, const struct sky_desired *d,
			 int64_t now);
/* Main thread: let every held writer go with an error (replicd stops). */
void replicd_fence_stop(struct replicd_fence *f);
/*
 * Main thread, every turn: while the word is expired, log it once and
 * put it in reason (the actual state's); returns true while expired.
 */
bool replicd_fence_describe(struct replicd_fence *f, int64_t now, char *reason,
			    size_t size);

/*
 * FUSE threads: 0 at once while the word is not expired (a word that does
 * not ask for primary is replicd_repl_begin's business: EROFS there). While
 * it is, wait; then 0 if a fresh word keeps us primary, else `refused`
 * (-EROFS before the apply, -EIO after it), also when replicd stops. Never
 * call with the order lock held.
 */
int replicd_fence_pass(struct replicd_fence *f, int refused);
/* Is the word expired right now (no wait)? */
bool replicd_fence_expired(struct replicd_fence *f);

#endif
