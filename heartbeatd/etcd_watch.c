/*
 * etcd_watch.c - the watch on the leader key (see etcd_watch.h).
 */
#include "etcd_watch.h"
#include "etcd_json.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

struct etcd_watch {
	/* Set before the thread starts, then read-only. */
	char endpoints[SKY_ETCD_ENDPOINTS_MAX][SKY_ETCD_URL_MAX];
	size_t endpoint_count;
	char key[SKY_ETCD_PREFIX_MAX + 16];
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
	bool needs_token;
	int64_t connect_timeout_ms, retry_ms;
	void (*kick)(void *arg);
	void (*say)(void *arg, int priority, const char *text);
	void *arg;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	CURLM *multi;
	/* Guarded by lock. */
	bool stop;
	char token[ETCD_TOKEN_MAX + 1];
	struct etcd_watch_stats stats;

	/* The thread's own. */
	CURL *curl;
	size_t current;
	char buf[ETCD_REPLY_MAX];
	size_t buf_len;
	char why[320]; /* why the stream ended, when we ended it */
	bool ever_up, told_down;
};

static void say(struct etcd_watch *w, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct etcd_watch *w, int priority, const char *fmt, ...)
{
	char text[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	w->say(w->arg, priority, text);
}

static bool stopping(struct etcd_watch *w)
{
	pthread_mutex_lock(&w->lock);
	bool stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* One line of the stream. false: end the stream (w->why says why). */
static bool on_message(struct etcd_watch *w, const char *p, size_t len)
{
	struct etcd_reply rep;
	char err[256];

	if (len == 0)
		return true;
	int r = etcd_reply_parse(ETCD_CALL_WATCH, (const uint8_t *)p, len, &rep,
				 err, sizeof(err));
	if (r == -EREMOTEIO) {
		snprintf(w->why, sizeof(w->why), "etcd ended it: %s (code %d)",
			 rep.message, rep.code);
		return false;
	}
	if (r < 0) {
		snprintf(w->why, sizeof(w->why), "malformed message: %s", err);
		return false;
	}
	if (rep.canceled) {
		snprintf(w->why, sizeof(w->why), "canceled by etcd: %s",
			 rep.message[0] ? rep.message : "no reason given");
		return false;
	}
	bool kick = false;
	pthread_mutex_lock(&w->lock);
	if (rep.created && !w->stats.up) {
		w->stats.up = true;
		kick = true; /* what changed before the watch began */
	}
	if (rep.taken + rep.deleted) {
		w->stats.events += rep.taken + rep.deleted;
		kick = true;
	}
	pthread_mutex_unlock(&w->lock);
	if (rep.created && (!w->ever_up || w->told_down))
		say(w, w->told_down ? LOG_NOTICE : LOG_INFO,
		    "watching %s on %s%s", w->key, w->endpoints[w->current],
		    w->told_down ? " again" : "");
	if (rep.created) {
		w->ever_up = true;
		w->told_down = false;
	}
	if (kick)
		w->kick(w->arg);
	return true;
}

/* The stream's bytes: one JSON object a line, each bounded. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct etcd_watch *w = arg;
	size_t n = size * nmemb;
	if (w->buf_len + n > sizeof(w->buf)) {
		snprintf(w->why, sizeof(w->why),
			 "a message longer than %zu bytes", sizeof(w->buf));
		return 0; /* curl ends it with CURLE_WRITE_ERROR */
	}
	memcpy(w->buf + w->buf_len, ptr, n);
	w->buf_len += n;
	size_t start = 0;
	for (size_t i = 0; i < w->buf_len; i++) {
		if (w->buf[i] != '\n')
			continue;
		if (!on_message(w, w->buf + start, i - start))
			return 0;
		start = i + 1;
	}
	memmove(w->buf, w->buf + start, w->buf_len - start);
	w->buf_len -= start;
	return n;
}

/* Open one stream on the current endpoint and follow it to its end. */
static void follow(struct etcd_watch *w, const char *body)
{
	char url[SKY_ETCD_URL_MAX + 16], auth[ETCD_TOKEN_MAX + 32];
	char curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	CURL *h = w->curl;

	snprintf(url, sizeof(url), "%s/v3/watch", w->endpoints[w->current]);
	w->buf_len = 0;
	w->why[0] = '\0';
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)w->connect_timeout_ms);
	/* A dead peer of a silent stream: TCP keepalives find it. */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (w->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, w->ca_file);
	if (w->cert_file[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, w->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, w->key_file);
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	pthread_mutex_lock(&w->lock);
	if (w->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", w->token);
		headers = curl_slist_append(headers, auth);
	}
	pthread_mutex_unlock(&w->lock);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

	CURLcode rc = CURLE_OK;
	curl_multi_add_handle(w->multi, h);
	for (;;) {
		int running = 0;
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			break;
		if (!running || stopping(w))
			break;
		curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	}
	int left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			rc = m->data.result;
	curl_multi_remove_handle(w->multi, h);
	curl_slist_free_all(headers);
	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "%s",
			 rc != CURLE_OK ? (curl_err[0] ? curl_err
						       : curl_easy_strerror(rc))
					: "the stream ended");
}

static void *run(void *arg)
{
	struct etcd_watch *w = arg;
	char *body = etcd_body_watch(w->key);

	while (body && !stopping(w)) {
		pthread_mutex_lock(&w->lock);
		bool no_token = w->needs_token && !w->token[0];
		pthread_mutex_unlock(&w->lock);
		if (!no_token) {
			follow(w, body);
			pthread_mutex_lock(&w->lock);
			bool was_up = w->stats.up;
			w->stats.up = false;
			w->stats.breaks++;
			bool stop = w->stop;
			pthread_mutex_unlock(&w->lock);
			/* Said once until it is back: the rounds go on. */
			if (!stop && (was_up || !w->told_down)) {
				say(w, LOG_WARNING,
				    "watch on %s at %s: %s; polling every "
				    "interval until it is back",
				    w->key, w->endpoints[w->current], w->why);
				w->told_down = true;
			}
			w->current = (w->current + 1) % w->endpoint_count;
		}
		/* Wait retry_ms, or less if stopped. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += w->retry_ms / 1000;
		ts.tv_nsec += (w->retry_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&w->lock);
		if (!w->stop)
			pthread_cond_timedwait(&w->wake, &w->lock, &ts);
		pthread_mutex_unlock(&w->lock);
	}
	free(body);
	return NULL;
}

int etcd_watch_start(struct etcd_watch **out, const struct etcd_watch_conf *c)
{
	struct etcd_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < c->endpoint_count; i++)
		sky_strlcpy(w->endpoints[i], c->endpoints[i],
			    sizeof(w->endpoints[i]));
	w->endpoint_count = c->endpoint_count;
	sky_strlcpy(w->key, c->key, sizeof(w->key));
	sky_strlcpy(w->ca_file, c->ca_file, sizeof(w->ca_file));
	sky_strlcpy(w->cert_file, c->cert_file, sizeof(w->cert_file));
	sky_strlcpy(w->key_file, c->key_file, sizeof(w->key_file));
	w->needs_token = c->needs_token;
	w->connect_timeout_ms = c->connect_timeout_ms;
	w->retry_ms = c->retry_ms;
	w->kick = c->kick;
	w->say = c->say;
	w->arg = c->arg;
	w->multi = curl_multi_init();
	w->curl = curl_easy_init();
	if (!w->multi || !w->curl || w->endpoint_count == 0) {
		if (w->curl)
			curl_easy_cleanup(w->curl);
		if (w->multi)
			curl_multi_cleanup(w->multi);
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	int r = -pthread_create(&w->thread, NULL, run, w);
	if (r < 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		curl_easy_cleanup(w->curl);
		curl_multi_cleanup(w->multi);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void etcd_watch_set_token(struct etcd_watch *w, const char *token)
{
	pthread_mutex_lock(&w->lock);
	if (strcmp(w->token, token) != 0)
		sky_strlcpy(w->token, token, sizeof(w->token));
	pthread_mutex_unlock(&w->lock);
}

void etcd_watch_get_stats(struct etcd_watch *w, struct etcd_watch_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void etcd_watch_stop(struct etcd_watch **wp)
{
	struct etcd_watch *w = *wp;
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	curl_easy_cleanup(w->curl);
	curl_multi_cleanup(w->multi);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
	*wp = NULL;
}
