/*
 * applier.c - the secondary's write thread (applier.h).
 */
#include "applier.h"
#include "fs.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct replicd_write_job *replicd_write_job_new(size_t len)
{
	struct replicd_write_job *job = malloc(sizeof(*job) + len);
	if (!job)
		return NULL;
	job->next = NULL;
	job->root = job->fd = -1;
	job->resyncing = false;
	job->cap = len;
	return job;
}

bool replicd_apply_err_is_local(int err)
{
	switch (-err) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EROFS:
	case EFBIG:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return true;
	default:
		return false;
	}
}

/* Lock held by the caller for the counters, not for the write. */
static void account(struct replicd_applier *a, struct replicd_write_job *job,
		    int r)
{
	if (r >= 0 && (size_t)r == job->op.data_len) {
		a->applied++;
		return;
	}
	if (r >= 0)
		r = -EIO; /* short: the disk is full or failing */
	if (job->resyncing && !replicd_apply_err_is_local(r)) {
		a->errors_resync++;
		return;
	}
	if (a->failed)
		return;
	a->failed = true;
	a->failure.seq = job->op.seq;
	a->failure.err = r;
	sky_strlcpy(a->failure.path, job->op.path ? job->op.path : "",
		    sizeof(a->failure.path));
}

static int write_job(const struct replicd_write_job *job)
{
	return replicd_fs_apply(job->root, &job->op, job->fd, 0, NULL);
}

static void *run(void *arg)
{
	struct replicd_applier *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->head && !a->stopping)
			pthread_cond_wait(&a->work, &a->lock);
		struct replicd_write_job *job = a->head;
		if (!job)
			break; /* stopping, and nothing left */
		a->head = job->next;
		if (!a->head)
			a->tail = NULL;
		a->busy = true;
		bool skip = a->failed && !job->resyncing;
		pthread_mutex_unlock(&a->lock);
		int r = skip ? 0 : write_job(job);
		pthread_mutex_lock(&a->lock);
		if (!skip)
			account(a, job, r);
		a->queued_bytes -= job->op.data_len;
		a->busy = false;
		free(job);
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int replicd_applier_start(struct replicd_applier *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	int r = pthread_create(&a->thread, NULL, run, a);
	if (r != 0)
		return -r;
	a->started = true;
	return 0;
}

void replicd_applier_stop(struct replicd_applier *a)
{
	if (!a->started)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->work);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	a->started = false;
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
}

void replicd_applier_push(struct replicd_applier *a,
			  struct replicd_write_job *job)
{
	job->next = NULL;
	if (!a->started) {
		account(a, job, a->failed ? 0 : write_job(job));
		free(job);
		return;
	}
	pthread_mutex_lock(&a->lock);
	while (a->queued_bytes > REPLICD_APPLY_WINDOW)
		pthread_cond_wait(&a->idle, &a->lock);
	if (a->tail)
		a->tail->next = job;
	else
		a->head = job;
	a->tail = job;
	a->queued_bytes += job->op.data_len;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

void replicd_applier_drain(struct replicd_applier *a)
{
	if (!a->started)
		return;
	pthread_mutex_lock(&a->lock);
	while (a->head || a->busy)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

bool replicd_applier_take_failure(struct replicd_applier *a,
				  struct replicd_apply_failure *f)
{
	if (!a->started) {
		bool failed = a->failed;
		if (failed)
			*f = a->failure;
		a->failed = false;
		return failed;
	}
	pthread_mutex_lock(&a->lock);
	bool failed = a->failed;
	if (failed) {
		/* Let the thread skip what was queued after it first. */
		while (a->head || a->busy)
			pthread_cond_wait(&a->idle, &a->lock);
		*f = a->failure;
		a->failed = false;
	}
	pthread_mutex_unlock(&a->lock);
	return failed;
}

void replicd_applier_counts(struct replicd_applier *a, uint64_t *applied,
			    uint64_t *errors_resync)
{
	if (a->started)
		pthread_mutex_lock(&a->lock);
	*applied = a->applied;
	*errors_resync = a->errors_resync;
	if (a->started)
		pthread_mutex_unlock(&a->lock);
}
