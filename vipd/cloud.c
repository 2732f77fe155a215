/*
 * cloud.c - see cloud.h.
 */
#include "cloud.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void *worker(void *arg)
{
	struct vipd_cloud *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->job_pending && !atomic_load(&c->quit))
			pthread_cond_wait(&c->cond, &c->lock);
		if (atomic_load(&c->quit)) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		bool up = c->job_up;
		uint64_t epoch = c->job_epoch;
		c->job_pending = false;
		c->busy = true;
		pthread_mutex_unlock(&c->lock);

		struct vipd_cloud_result res = {.up = up, .epoch = epoch};
		if (c->use_aws)
			res.r = vipd_aws_apply(&c->aws, up, res.why,
					       sizeof(res.why));
		if (res.r >= 0 && c->use_azure)
			res.r = vipd_azure_apply(&c->azure, up, res.why,
						 sizeof(res.why));

		pthread_mutex_lock(&c->lock);
		c->result = res;
		c->result_ready = true;
		c->busy = false;
		c->stats = c->aws.stats;
		c->stats.calls += c->azure.stats.calls;
		c->stats.retries += c->azure.stats.retries;
		c->stats.credential_fetches +=
			c->azure.stats.credential_fetches;
		c->stats.failures += c->azure.stats.failures;
		snprintf(c->last, sizeof(c->last), "%s for epoch %llu: %s",
			 up ? "up" : "down", (unsigned long long)epoch,
			 res.r < 0 ? res.why : "done");
		pthread_mutex_unlock(&c->lock);
		uint64_t one = 1;
		if (write(c->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice */
		}
	}
}

int vipd_cloud_start(struct vipd_cloud *c, const struct vipd_cfg *cfg,
		     const char *node, const char *peer)
{
	memset(c, 0, sizeof(*c));
	atomic_init(&c->quit, false);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0)
		return -errno;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	const struct vipd_aws_node *aws_node = vipd_aws_node(&cfg->aws, node);
	const struct vipd_azure_node *az_node =
		vipd_azure_node(&cfg->azure, node);
	c->use_aws = aws_node != NULL;
	c->use_azure = az_node != NULL;
	if (aws_node)
		vipd_aws_init(&c->aws, &cfg->aws, aws_node, &c->quit);
	if (az_node)
		vipd_azure_init(&c->azure, &cfg->azure, az_node,
				vipd_azure_node(&cfg->azure, peer), &c->quit);
	/* Signals are the main loop's: the worker blocks them all. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&c->thread, NULL, worker, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(c->efd);
		c->efd = -1;
		return -r;
	}
	c->started = true;
	return 0;
}

void vipd_cloud_submit(struct vipd_cloud *c, bool up, uint64_t epoch)
{
	pthread_mutex_lock(&c->lock);
	c->job_pending = true;
	c->job_up = up;
	c->job_epoch = epoch;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

bool vipd_cloud_take(struct vipd_cloud *c, struct vipd_cloud_result *out)
{
	uint64_t n;
	while (read(c->efd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&c->lock);
	bool ready = c->result_ready;
	if (ready)
		*out = c->result;
	c->result_ready = false;
	pthread_mutex_unlock(&c->lock);
	return ready;
}

int vipd_cloud_fd(const struct vipd_cloud *c)
{
	return c->efd;
}

void vipd_cloud_describe(struct vipd_cloud *c, struct vipd_aws_stats *stats,
			 bool *busy, char *last, size_t size)
{
	pthread_mutex_lock(&c->lock);
	*stats = c->stats;
	*busy = c->busy || c->job_pending;
	sky_strlcpy(last, c->last, size);
	pthread_mutex_unlock(&c->lock);
}

void vipd_cloud_stop(struct vipd_cloud *c)
{
	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->quit, true);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	vipd_aws_done(&c->aws);
	vipd_azure_done(&c->azure);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	close(c->efd);
	c->efd = -1;
	c->started = false;
}
