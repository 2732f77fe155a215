/*
 * applier.h - the secondary's write thread.
 *
 * The secondary's main thread reads a frame, opens it, acks it on receipt
 * and hands a write here; this thread writes it to the disk while the main
 * thread reads, opens and acks the next frames. With one thread doing all
 * of it, the primary's writer waited for every earlier write to reach the
 * secondary's disk before its own frame was even opened.
 *
 * Only writes come here. Everything else (other operations, and whatever
 * looks at the files, the handles or the data state: a role change, a
 * disconnection, a resync step) first waits until this thread is idle
 * (replicd_applier_drain), so operations still reach the disk in sequence
 * order. The main thread resolves a job's descriptor (the secondary's
 * handle table is its own); a handle is closed only by such an
 * operation, after a drain.
 *
 * A failed write stops the thread from applying later jobs (they would
 * build on a missing write); the main thread sees the failure at its next
 * check and reconnects for a resync, as for a failure of its own. During
 * a resync a failure is expected (a live change to a path the resync has
 * not reached yet) and only counted, unless it says this disk cannot hold
 * the data (replicd_apply_err_is_local): a full disk must never let the
 * resync end with a copy called in sync that lacks what it could not write.
 */
#ifndef REPLICD_APPLIER_H
#define REPLICD_APPLIER_H

#include "op.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The main thread stops reading the peer while this much waits here. */
#define REPLICD_APPLY_WINDOW (8u << 20)

struct replicd_write_job {
	struct replicd_write_job *next;
	int root, fd;	      /* fd: the handle's, or -1 to open op.path */
	bool resyncing;	      /* a failure is expected (see above) */
	struct replicd_op op; /* points into store and buf */
	struct replicd_op_store store;
	size_t cap;
	uint8_t buf[]; /* the opened frame */
};

/* The first write that failed outside a resync. */
struct replicd_apply_failure {
	uint64_t seq;
	int err; /* negative errno */
	char path[REPLICD_PATH_MAX + 1];
};

struct replicd_applier {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	/* --- guarded by lock --- */
	struct replicd_write_job *head, *tail;
	size_t queued_bytes;
	bool busy, stopping;
	bool failed;
	struct replicd_apply_failure failure;
	uint64_t applied, errors_resync;
};

/*
 * err (negative) says this node's storage failed, not that the path is not
 * there yet: ENOSPC, EDQUOT, EIO (also a short write), EROFS, EFBIG, ENOMEM,
 * EMFILE, ENFILE. Such a failure counts even during a resync.
 */
bool replicd_apply_err_is_local(int err);

/* A job with room for a frame of len bytes (plaintext fits in it). */
struct replicd_write_job *replicd_write_job_new(size_t len);

int replicd_applier_start(struct replicd_applier *a);
/* Apply what is queued, then end the thread. */
void replicd_applier_stop(struct replicd_applier *a);
/* Queue a job (the applier frees it); waits while the window is full.
 * Without a thread (not started), applies it at once. */
void replicd_applier_push(struct replicd_applier *a,
			  struct replicd_write_job *job);
/* Wait until every queued job is applied (or skipped after a failure). */
void replicd_applier_drain(struct replicd_applier *a);
/*
 * A failure not reported yet: waits until the jobs queued after it are
 * skipped, fills *f, clears it (later jobs are applied again) and returns
 * true. After a drain, it knows of every job queued before.
 */
bool replicd_applier_take_failure(struct replicd_applier *a,
				  struct replicd_apply_failure *f);
/* Counters since start. */
void replicd_applier_counts(struct replicd_applier *a, uint64_t *applied,
			    uint64_t *errors_resync);

#endif
