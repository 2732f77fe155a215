/*
 * cloud.h - the cloud worker: one thread that makes the slow API calls
 * (aws.c) so that the main loop never waits for them, nor misses a watchdog
 * ping or a bus message.
 *
 * Ownership: the main thread owns everything in struct vipd; it hands the
 * worker a job (up or down, for an epoch) through the locked slot below and
 * reads results from it, woken by the eventfd. The worker owns `aws` (the
 * credentials, curl handles while a call runs). A newer job replaces a
 * pending one; the job running finishes first (each call is bounded by
 * aws.timeout_ms x aws.attempts, and cut short by `quit`).
 */
#ifndef SKYHA_VIPD_CLOUD_H
#define SKYHA_VIPD_CLOUD_H

#include "aws.h"
#include "azure.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vipd_cloud_result {
	bool up;
	uint64_t epoch;
	int r;
	char why[320];
};

struct vipd_cloud {
	bool started;
	pthread_t thread;
	int efd; /* worker -> main: a result is ready */
	atomic_bool quit;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* guarded by lock */
	bool job_pending, job_up, busy, result_ready;
	uint64_t job_epoch;
	struct vipd_cloud_result result;
	struct vipd_aws_stats stats;
	char last[320]; /* the last outcome, for the actual state */
	/* the worker's */
	bool use_aws, use_azure;
	struct vipd_aws aws;
	struct vipd_azure azure;
};

/* aws_node / azure_node: this node's entries (NULL: not in that cloud). */
int vipd_cloud_start(struct vipd_cloud *c, const struct vipd_cfg *cfg,
		     const char *node, const char *peer);
void vipd_cloud_submit(struct vipd_cloud *c, bool up, uint64_t epoch);
/* A result, if one is ready (drains the eventfd). */
bool vipd_cloud_take(struct vipd_cloud *c, struct vipd_cloud_result *out);
int vipd_cloud_fd(const struct vipd_cloud *c);
/* Snapshot for publishing. */
void vipd_cloud_describe(struct vipd_cloud *c, struct vipd_aws_stats *stats,
			 bool *busy, char *last, size_t size);
void vipd_cloud_stop(struct vipd_cloud *c);

#endif
