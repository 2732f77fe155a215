/*
 * hold.c - asking replicd to hold this node's copy still (hold.h).
 */
#include "bkhold.h"
#include "bus.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int str_field(const json_t *obj, const char *key, char *out, size_t size,
		     bool nullable, char *why, size_t why_size)
{
	const json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if ((!v || json_is_null(v)) && nullable)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size) {
		snprintf(why, why_size,
			 "replicd's state: '%s' is not a "
			 "string of less than %zu bytes",
			 key, size);
		return -EBADMSG;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int bk_hold_parse(const json_t *obj, struct bk_replicd_view *v, char *why,
		  size_t why_size)
{
	memset(v, 0, sizeof(*v));
	if (!json_is_object(obj)) {
		snprintf(why, why_size, "replicd's state: not an object");
		return -EBADMSG;
	}
	const json_t *b = json_object_get(obj, "backup");
	int r = str_field(obj, "state", v->state, sizeof(v->state), false, why,
			  why_size);
	if (r < 0)
		return r;
	if (!json_is_object(b)) {
		snprintf(why, why_size, "replicd's state: no 'backup' object");
		return -EBADMSG;
	}
	const json_t *held = json_object_get(b, "held");
	const json_t *complete = json_object_get(b, "record_complete");
	if (!json_is_boolean(held) ||
	    (complete && !json_is_boolean(complete))) {
		snprintf(why, why_size,
			 "replicd's state: backup.held or "
			 "backup.record_complete is not a boolean");
		return -EBADMSG;
	}
	v->held = json_is_true(held);
	v->record_complete = json_is_true(complete);
	if ((r = str_field(b, "hold", v->hold, sizeof(v->hold), true, why,
			   why_size)) < 0 ||
	    (r = str_field(b, "released", v->released, sizeof(v->released),
			   true, why, why_size)) < 0 ||
	    (r = str_field(b, "record", v->record, sizeof(v->record), true, why,
			   why_size)) < 0 ||
	    (r = str_field(b, "refused", v->refused, sizeof(v->refused), true,
			   why, why_size)) < 0 ||
	    (r = str_field(b, "failed", v->failed, sizeof(v->failed), true, why,
			   why_size)) < 0)
		return r;
	if (v->held && v->record[0] != '/') {
		snprintf(why, why_size,
			 "replicd's state: held without an absolute record "
			 "path");
		return -EBADMSG;
	}
	return 0;
}

int bk_hold_read(const char *state_file, struct bk_replicd_view *v, char *why,
		 size_t why_size)
{
	struct stat st;
	struct timespec now;
	if (stat(state_file, &st) < 0) {
		snprintf(why, why_size, "replicd is not running here (no %s)",
			 state_file);
		return -ENOENT;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age_ms = (now.tv_sec - st.st_mtim.tv_sec) * 1000 +
			 (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
	if (age_ms > BK_HOLD_STALE_MS) {
		snprintf(why, why_size,
			 "replicd is not running here (%s is %lld s old)",
			 state_file, (long long)(age_ms / 1000));
		return -ENOENT;
	}
	char *text = NULL;
	size_t len = 0;
	int r = sky_read_file(state_file, SKY_BUS_MSG_MAX, &text, &len);
	if (r < 0) {
		snprintf(why, why_size, "%s: %s", state_file, strerror(-r));
		return r == -ENOENT ? r : -EBADMSG;
	}
	json_error_t err;
	json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	free(text);
	if (!obj) {
		snprintf(why, why_size, "%s: %s", state_file, err.text);
		return -EBADMSG;
	}
	r = bk_hold_parse(obj, v, why, why_size);
	json_decref(obj);
	return r;
}

/* --- the publisher ------------------------------------------------------ */

static void publish(struct bk_hold *h, void *pub, const char *hold,
		    const char *completed)
{
	char topic[SKY_TOPIC_MAX];
	json_t *msg = json_pack(
		"{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:o}", "module", h->module,
		"daemon", "backupd", "node", h->node, "epoch", 0, "state",
		hold[0] ? "holding" : "idle", "reason", "", "hold",
		hold[0] ? json_string(hold) : json_null(), "completed",
		completed[0] ? json_string(completed) : json_null());
	if (msg && sky_bus_topic(topic, sizeof(topic), h->module, "backupd",
				 SKY_KIND_ACTUAL) == 0)
		sky_bus_publish(pub, topic, msg);
	json_decref(msg);
}

static void *publisher(void *arg)
{
	struct bk_hold *h = arg;
	void *pub = NULL;
	int r = sky_bus_open(ZMQ_PUB, h->ep_backup, false, &pub);
	if (r == 0 && zmq_connect(pub, h->ep_actual) < 0)
		log_warning("cannot connect to %s: %s", h->ep_actual,
			    zmq_strerror(zmq_errno()));
	if (r < 0) {
		log_error("cannot connect to %s: %s", h->ep_backup,
			  strerror(-r));
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	while (h->running) {
		char hold[BK_HOLD_ID_MAX + 1], completed[BK_HOLD_ID_MAX + 1];
		memcpy(hold, h->pub_hold, sizeof(hold));
		memcpy(completed, h->pub_completed, sizeof(completed));
		h->dirty = false;
		pthread_mutex_unlock(&h->lock);
		publish(h, pub, hold, completed);
		pthread_mutex_lock(&h->lock);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += BK_HOLD_PERIOD_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (h->running && !h->dirty &&
		       pthread_cond_timedwait(&h->cond, &h->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&h->lock);
	sky_bus_close(&pub);
	return NULL;
}

static void set_state(struct bk_hold *h, const char *hold,
		      const char *completed)
{
	pthread_mutex_lock(&h->lock);
	sky_strlcpy(h->pub_hold, hold, sizeof(h->pub_hold));
	sky_strlcpy(h->pub_completed, completed, sizeof(h->pub_completed));
	h->dirty = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void stop(struct bk_hold *h)
{
	if (!h->running)
		return;
	pthread_mutex_lock(&h->lock);
	h->running = false;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

/* --- the hold ----------------------------------------------------------- */

int bk_hold_begin(struct bk_hold *h, const char *run_dir, const char *module,
		  const char *node, char *why, size_t why_size)
{
	struct bk_replicd_view v;
	memset(h, 0, sizeof(*h));
	sky_strlcpy(h->module, module, sizeof(h->module));
	sky_strlcpy(h->node, node, sizeof(h->node));
	snprintf(h->state_file, sizeof(h->state_file), "%s/%s/replicd.json",
		 run_dir, module);
	int r = bk_hold_read(h->state_file, &v, why, why_size);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (strcmp(v.state, "secondary") != 0) {
		snprintf(why, why_size,
			 "this node's replicd is %s: only a secondary holds "
			 "its copy",
			 v.state);
		return 0;
	}
	if ((r = sky_bus_endpoint(h->ep_backup, sizeof(h->ep_backup), run_dir,
				  module, SKY_EP_BACKUP)) < 0 ||
	    (r = sky_bus_endpoint(h->ep_actual, sizeof(h->ep_actual), run_dir,
				  module, SKY_EP_ACTUAL)) < 0) {
		snprintf(why, why_size, "run directory %s: %s", run_dir,
			 strerror(-r));
		return r;
	}
	/* unique, never reused: replicd never holds a released id again */
	snprintf(h->id, sizeof(h->id), "%lld-%d", (long long)sky_wall_ms(),
		 (int)getpid());
	sky_strlcpy(h->pub_hold, h->id, sizeof(h->pub_hold));
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	h->running = true;
	if ((r = pthread_create(&h->thread, NULL, publisher, h)) != 0) {
		h->running = false;
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		snprintf(why, why_size, "cannot start the publisher: %s",
			 strerror(r));
		return -r;
	}
	log_info("backup %s: asking replicd to hold this copy still", h->id);
	int64_t deadline = sky_now_ms() + BK_HOLD_ANSWER_MS;
	for (;;) {
		r = bk_hold_read(h->state_file, &v, why, why_size);
		if (r == 0 && !strcmp(v.hold, h->id) && v.held) {
			h->at_start = v;
			log_notice("backup %s: replicd holds this copy (record "
				   "%s, %s)",
				   h->id, v.record,
				   v.record_complete ? "complete"
						     : "incomplete");
			return 1;
		}
		if (r == 0 && !strcmp(v.hold, h->id) && v.refused[0]) {
			snprintf(why, why_size, "replicd refused the hold: %s",
				 v.refused);
			break;
		}
		if (r == 0 && strcmp(v.state, "secondary") != 0) {
			snprintf(why, why_size, "this node's replicd is now %s",
				 v.state);
			break;
		}
		if (r == -ENOENT)
			break;
		if (sky_now_ms() > deadline) {
			snprintf(why, why_size,
				 "no answer from replicd to hold %s within "
				 "%d s",
				 h->id, BK_HOLD_ANSWER_MS / 1000);
			break;
		}
		usleep(50 * 1000);
	}
	/* not held: nothing to complete; say so and stop */
	set_state(h, "", "");
	usleep(2 * BK_HOLD_PERIOD_MS * 1000);
	stop(h);
	return 0;
}

bool bk_hold_still(struct bk_hold *h, char *why, size_t why_size)
{
	struct bk_replicd_view v;
	int r = bk_hold_read(h->state_file, &v, why, why_size);
	if (r < 0)
		return false;
	if (!strcmp(v.hold, h->id) && v.held)
		return true;
	snprintf(why, why_size,
		 "the hold on this copy ended during the backup: replicd is "
		 "%s%s%s",
		 v.state, v.failed[0] ? ", " : "", v.failed);
	return false;
}

void bk_hold_test_gate(void)
{
	const char *gate = getenv("SKYHA_BACKUP_TEST_GATE");
	if (!gate || !*gate || access(gate, F_OK) < 0)
		return;
	log_warning("test hook: waiting while %s exists", gate);
	for (int i = 0; i < 1200 && access(gate, F_OK) == 0; i++)
		usleep(100 * 1000);
}

void bk_hold_end(struct bk_hold *h, bool completed)
{
	struct bk_replicd_view v;
	char why[256];
	if (!h->running)
		return;
	set_state(h, "", completed ? h->id : "");
	int64_t deadline = sky_now_ms() + BK_HOLD_ANSWER_MS;
	for (;;) {
		int r = bk_hold_read(h->state_file, &v, why, sizeof(why));
		if (r == -ENOENT) {
			log_warning("backup %s: %s", h->id, why);
			break;
		}
		if (r == 0 &&
		    (!strcmp(v.released, h->id) ||
		     strcmp(v.hold, h->id) != 0) &&
		    !v.held) {
			log_info("backup %s: replicd released the hold (%s)",
				 h->id, completed ? "completed" : "failed");
			break;
		}
		if (sky_now_ms() > deadline) {
			log_warning(
				"backup %s: replicd did not say it released "
				"the hold within %d s; it does once it "
				"stops hearing backupd",
				h->id, BK_HOLD_ANSWER_MS / 1000);
			break;
		}
		usleep(50 * 1000);
	}
	stop(h);
}
