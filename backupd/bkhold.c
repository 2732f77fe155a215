/*
 * bkhold.c - the hold on the secondary's copy (bkhold.h).
 */
#include "bkhold.h"
#include "bus.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PUBLISH_MS 200
#define POLL_MS	   100

struct bk_hold {
	pthread_t thread;
	pthread_mutex_t lock; /* guards the fields below */
	bool stop;
	char hold[BK_HOLD_ID_MAX + 1]; /* "" : null */
	char completed[BK_HOLD_ID_MAX + 1];
	/* fixed from the start */
	char id[BK_HOLD_ID_MAX + 1];
	char module[SKY_NAME_MAX + 1], node[SKY_NAME_MAX + 1];
	char state_file[PATH_MAX];
	void *pub; /* the thread's */
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *publisher(void *arg)
{
	struct bk_hold *h = arg;
	char topic[SKY_TOPIC_MAX];
	sky_bus_topic(topic, sizeof(topic), h->module, "backupd", "actual");
	for (;;) {
		pthread_mutex_lock(&h->lock);
		bool stop = h->stop;
		json_t *msg = json_pack(
			"{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:o}", "module",
			h->module, "daemon", "backupd", "node", h->node,
			"epoch", 0, "state", h->hold[0] ? "holding" : "idle",
			"reason", "", "hold",
			h->hold[0] ? json_string(h->hold) : json_null(),
			"completed",
			h->completed[0] ? json_string(h->completed)
					: json_null());
		pthread_mutex_unlock(&h->lock);
		if (msg)
			sky_bus_publish(h->pub, topic, msg);
		json_decref(msg);
		if (stop)
			break; /* the last state went out */
		sleep_ms(PUBLISH_MS);
	}
	return NULL;
}

/* replicd's "backup" object, or NULL (no file, not JSON yet). */
static json_t *replicd_backup(const struct bk_hold *h)
{
	json_error_t jerr;
	json_t *st = json_load_file(h->state_file, 0, &jerr);
	json_t *b = json_incref(json_object_get(st, "backup"));
	json_decref(st);
	if (b && !json_is_object(b)) {
		json_decref(b);
		b = NULL;
	}
	return b;
}

static bool same_id(const json_t *v, const char *id)
{
	return json_is_string(v) && !strcmp(json_string_value(v), id);
}

int bk_hold_begin(const char *run_dir, const char *module, const char *node,
		  int64_t wait_ms, struct bk_hold **out,
		  struct bk_hold_result *res)
{
	memset(res, 0, sizeof(*res));
	*out = NULL;
	struct bk_hold *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	sky_strlcpy(h->module, module, sizeof(h->module));
	sky_strlcpy(h->node, node, sizeof(h->node));
	snprintf(h->id, sizeof(h->id), "bk-%lld-%d", (long long)sky_wall_ms(),
		 (int)getpid());
	snprintf(h->state_file, sizeof(h->state_file), "%s/%s/replicd.json",
		 run_dir, module);
	if (access(h->state_file, F_OK) < 0) {
		snprintf(res->why, sizeof(res->why),
			 "no replicd on this node (%s)", h->state_file);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return 0;
	}
	char ep[PATH_MAX + 16];
	int r = sky_bus_endpoint(ep, sizeof(ep), run_dir, module,
				 SKY_EP_BACKUP);
	if (r == 0)
		r = sky_bus_open(ZMQ_PUB, ep, false, &h->pub);
	if (r < 0) {
		pthread_mutex_destroy(&h->lock);
		free(h);
		return r;
	}
	sky_strlcpy(h->hold, h->id, sizeof(h->hold));
	if ((r = pthread_create(&h->thread, NULL, publisher, h)) != 0) {
		sky_bus_close(&h->pub);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return -r;
	}
	*out = h;
	int64_t deadline = sky_now_ms() + wait_ms;
	while (sky_now_ms() < deadline && !sky_stop_requested()) {
		json_t *b = replicd_backup(h);
		bool mine = b && same_id(json_object_get(b, "hold"), h->id);
		const char *record =
			json_string_value(json_object_get(b, "record"));
		const char *refused =
			json_string_value(json_object_get(b, "refused"));
		if (mine && json_is_true(json_object_get(b, "held")) &&
		    record) {
			res->held = true;
			sky_strlcpy(res->record, record, sizeof(res->record));
			json_decref(b);
			log_info("hold %s: replicd holds the copy still",
				 h->id);
			return 0;
		}
		if (mine && refused) {
			snprintf(res->why, sizeof(res->why),
				 "replicd refused the hold: %s", refused);
			json_decref(b);
			return 0;
		}
		json_decref(b);
		sleep_ms(POLL_MS);
	}
	snprintf(res->why, sizeof(res->why),
		 "replicd did not hold the copy within %lld ms",
		 (long long)wait_ms);
	return 0;
}

void bk_hold_end(struct bk_hold **hp, bool ok, int64_t wait_ms)
{
	struct bk_hold *h = *hp;
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->hold[0] = 0;
	if (ok)
		sky_strlcpy(h->completed, h->id, sizeof(h->completed));
	pthread_mutex_unlock(&h->lock);
	int64_t deadline = sky_now_ms() + wait_ms;
	bool over = false;
	while (!over && sky_now_ms() < deadline) {
		json_t *b = replicd_backup(h);
		/* over once replicd no longer names our hold */
		over = !b || !same_id(json_object_get(b, "hold"), h->id);
		json_decref(b);
		if (!over)
			sleep_ms(POLL_MS);
	}
	if (!over)
		log_warning("hold %s: replicd still holds after %lld ms "
			    "(it releases a silent backupd's hold as failed)",
			    h->id, (long long)wait_ms);
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	sky_bus_close(&h->pub);
	pthread_mutex_destroy(&h->lock);
	free(h);
	*hp = NULL;
}
