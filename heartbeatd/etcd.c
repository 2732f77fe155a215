/*
 * etcd.c - quorum: etcd, the worker thread (see etcd.h).
 *
 * Requests go to one endpoint at a time; a transport failure (refused,
 * timed out, TLS) or an "unavailable" answer moves to the next endpoint in
 * the configured order, each request trying every endpoint at most once.
 * Every request is bounded: at most ETCD_REPLY_MAX bytes, and a total time
 * of a third of the lease, so a round ends well before the lease could.
 * CURLcode stays in this file: the rest sees 0 or -errno.
 */
#include "etcd.h"
#include "etcd_json.h"
#include "etcd_watch.h"
#include "log.h"
#include "util.h"
#include "witness.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct etcd_client {
	/* Set before the thread starts, then read-only. */
	char self[SKY_NAME_MAX + 1];
	char endpoints[SKY_ETCD_ENDPOINTS_MAX][SKY_ETCD_URL_MAX];
	size_t endpoint_count;
	char leader_key[SKY_ETCD_PREFIX_MAX + 16];
	char generation_key[SKY_ETCD_PREFIX_MAX + 16];
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
	char user[SKY_ETCD_USER_MAX + 1];
	char password[256];
	int64_t lease_ms, interval_ms, request_timeout_ms;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Guarded by lock. */
	bool stop;
	bool kick; /* want changed: a round now */
	struct etcd_want want;
	uint64_t want_seq; /* bumped whenever want changes */
	struct etcd_view view;
	struct etcd_log_line log[ETCD_LOG_QUEUE];
	size_t log_count;
	uint64_t log_dropped;

	struct etcd_watch *watch; /* NULL: none (a farm) */

	/* The worker's own. */
	CURL *curl;
	size_t current; /* endpoint index */
	char token[ETCD_TOKEN_MAX + 1];
	int64_t lease_id, lease_ttl_ms, lease_sent_ms;
	bool holding; /* our last leadership txn succeeded */
	/* The want of this round, and the want a new generation was granted
	 * on: until the loop has taken that grant (its want changes), a
	 * round (the watch's, or the timer's with the loop late) must not
	 * grant another: etcd would record a generation the node never
	 * took, and refuse its peer as outdated. */
	uint64_t round_want_seq, grant_want_seq;
	bool granted;
	int64_t leader_revision;
	struct etcd_view mine; /* published under lock after each round */
	char last_logged[256];
	int64_t last_logged_ms;
	unsigned suppressed;
	bool warned_ttl;
};

static int64_t now_ms(void)
{
	return sky_now_ms();
}

/* Queue a line for the loop to log ("etcd: " in front). */
static void wlog(struct etcd_client *c, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void wlog(struct etcd_client *c, int priority, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&c->lock);
	if (c->log_count < ETCD_LOG_QUEUE) {
		struct etcd_log_line *l = &c->log[c->log_count++];
		l->priority = priority;
		va_start(ap, fmt);
		vsnprintf(l->text, sizeof(l->text), fmt, ap);
		va_end(ap);
	} else {
		c->log_dropped++;
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * Note an error for the status; log it when it changes (at most one line a
 * second) and, unchanged, every 30 s, with how many were not logged.
 */
static void note_error(struct etcd_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_error(struct etcd_client *c, const char *fmt, ...)
{
	va_list ap;
	int64_t now = now_ms();
	va_start(ap, fmt);
	vsnprintf(c->mine.last_error, sizeof(c->mine.last_error), fmt, ap);
	va_end(ap);
	c->mine.last_error_ms = now;
	bool same = strcmp(c->last_logged, c->mine.last_error) == 0;
	if ((!same && now - c->last_logged_ms >= 1000) ||
	    now - c->last_logged_ms >= 30000) {
		if (c->suppressed)
			wlog(c, LOG_WARNING,
			     "%s (%u more errors since the last "
			     "line)",
			     c->mine.last_error, c->suppressed);
		else
			wlog(c, LOG_WARNING, "%s", c->mine.last_error);
		sky_strlcpy(c->last_logged, c->mine.last_error,
			    sizeof(c->last_logged));
		c->last_logged_ms = now;
		c->suppressed = 0;
	} else {
		c->suppressed++;
	}
}

struct body {
	char *data;
	size_t len;
	bool too_long;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct body *b = user;
	size_t n = size * nmemb;
	if (b->len + n > ETCD_REPLY_MAX) {
		b->too_long = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	char *p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->len += n;
	p[b->len] = '\0';
	b->data = p;
	return n;
}

/*
 * POST one body to one endpoint. 0: an HTTP answer (status in *status,
 * body in *b); -errno: no answer from this endpoint (why in err).
 */
static int post_one(struct etcd_client *c, size_t ep, const char *path,
		    const char *json, bool with_token, long *status,
		    struct body *b, char *err, size_t err_size)
{
	char url[SKY_ETCD_URL_MAX + 64], auth[ETCD_TOKEN_MAX + 32];
	char curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	CURL *h = c->curl;

	snprintf(url, sizeof(url), "%s%s", c->endpoints[ep], path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)c->request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (c->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	if (with_token && c->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", c->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	if (b->too_long) {
		snprintf(err, err_size, "%s: reply longer than %d bytes", url,
			 ETCD_REPLY_MAX);
		return -EMSGSIZE;
	}
	if (rc != CURLE_OK) {
		snprintf(err, err_size, "%s: %s", url,
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
		       : rc == CURLE_COULDNT_CONNECT  ? -ECONNREFUSED
						      : -EIO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/*
 * One call, trying the endpoints in turn from the current one. 0: a valid
 * reply in *out. -EREMOTEIO: etcd answered with an error (out->message).
 * -EBADMSG: a malformed reply. Other -errno: no endpoint answered.
 */
static int call(struct etcd_client *c, enum etcd_call kind, const char *path,
		const char *json, struct etcd_reply *out)
{
	char err[512] = "", perr[256];
	int r = -EIO;

	if (!json)
		return -ENOMEM;
	for (size_t tries = 0; tries < c->endpoint_count; tries++) {
		size_t ep = (c->current + tries) % c->endpoint_count;
		struct body b = {0};
		long status = 0;
		c->mine.requests++;
		r = post_one(c, ep, path, json, kind != ETCD_CALL_AUTH, &status,
			     &b, err, sizeof(err));
		if (r == 0) {
			r = etcd_reply_parse(kind, (const uint8_t *)b.data,
					     b.len, out, perr, sizeof(perr));
			if (r == -EBADMSG) {
				c->mine.bad_replies++;
				snprintf(err, sizeof(err),
					 "%s%s: malformed reply (HTTP %ld): %s",
					 c->endpoints[ep], path, status, perr);
			} else if (r == 0 && status != 200) {
				c->mine.bad_replies++;
				snprintf(err, sizeof(err),
					 "%s%s: HTTP %ld without an error "
					 "object",
					 c->endpoints[ep], path, status);
				r = -EBADMSG;
			}
		}
		free(b.data);
		/* An answer that etcd itself cannot serve (no leader, this
		 * member cut off): another member may. */
		bool unavailable = r == -EREMOTEIO &&
				   (out->code == ETCD_CODE_UNAVAILABLE ||
				    strstr(out->message, "no leader") ||
				    strstr(out->message, "timed out"));
		if (r == 0 || (r == -EREMOTEIO && !unavailable)) {
			c->current = ep;
			sky_strlcpy(c->mine.endpoint, c->endpoints[ep],
				    sizeof(c->mine.endpoint));
			return r;
		}
		if (unavailable)
			snprintf(err, sizeof(err), "%s%s: %s", c->endpoints[ep],
				 path, out->message);
		c->mine.failures++;
		if (r == -EBADMSG) {
			/* A member answering garbage: note it, try another. */
			note_error(c, "%s", err);
		}
	}
	c->current = (c->current + 1) % c->endpoint_count;
	if (r != -EBADMSG)
		note_error(c, "no endpoint answered %s; last: %s", path, err);
	return r == -EREMOTEIO ? -EHOSTUNREACH : r;
}

static int authenticate(struct etcd_client *c)
{
	struct etcd_reply rep;
	char *body = etcd_body_auth(c->user, c->password);
	int r = call(c, ETCD_CALL_AUTH, "/v3/auth/authenticate", body, &rep);
	free(body);
	if (r == -EREMOTEIO) {
		c->mine.auth_failures++;
		note_error(c, "authentication as user '%s' refused: %s",
			   c->user, rep.message);
		return r;
	}
	if (r < 0)
		return r;
	sky_strlcpy(c->token, rep.token, sizeof(c->token));
	if (c->watch)
		etcd_watch_set_token(c->watch, c->token);
	return 0;
}

/* An etcd error on an authenticated call: drop the token if it is stale. */
static void on_remote_error(struct etcd_client *c, const char *what,
			    const struct etcd_reply *rep)
{
	if (etcd_error_wants_token(rep))
		c->token[0] = '\0';
	note_error(c, "%s refused: %s (code %d)", what, rep->message,
		   rep->code);
}

static void lose_lease(struct etcd_client *c)
{
	c->lease_id = 0;
	c->holding = false;
}

/* Keep our lease alive, or get one. 0 when we hold a live lease. */
static int keep_lease(struct etcd_client *c)
{
	struct etcd_reply rep;
	int64_t sent = now_ms();
	char *body;
	int r;

	if (c->lease_id) {
		body = etcd_body_lease(c->lease_id);
		r = call(c, ETCD_CALL_KEEPALIVE, "/v3/lease/keepalive", body,
			 &rep);
		free(body);
		if (r == -EREMOTEIO)
			on_remote_error(c, "lease keepalive", &rep);
		if (r < 0)
			return r;
		if (rep.ttl_s <= 0 || rep.lease_id != c->lease_id) {
			note_error(c,
				   "lease %" PRIx64 " expired in etcd: "
				   "asking for a new one",
				   (uint64_t)c->lease_id);
			lose_lease(c);
		} else {
			c->lease_sent_ms = sent;
			c->lease_ttl_ms = rep.ttl_s * 1000;
			return 0;
		}
	}
	sent = now_ms();
	body = etcd_body_grant((c->lease_ms + 999) / 1000);
	r = call(c, ETCD_CALL_GRANT, "/v3/lease/grant", body, &rep);
	free(body);
	if (r == -EREMOTEIO)
		on_remote_error(c, "lease grant", &rep);
	if (r < 0)
		return r;
	c->lease_id = rep.lease_id;
	c->lease_sent_ms = sent;
	c->lease_ttl_ms = rep.ttl_s * 1000;
	wlog(c, LOG_INFO, "lease %" PRIx64 " granted, TTL %" PRId64 " s",
	     (uint64_t)rep.lease_id, rep.ttl_s);
	/* etcd raised our TTL to its minimum: a dead holder's key then lasts
	 * longer than the state machine's timings assume. Say so once. */
	if (c->lease_ttl_ms > (c->lease_ms + 999) / 1000 * 1000 &&
	    !c->warned_ttl) {
		c->warned_ttl = true;
		wlog(c, LOG_WARNING,
		     "etcd granted a %" PRId64 " s TTL, longer than "
		     "etcd.lease_ms (%lld ms): its minimum is 1.5 x its "
		     "election timeout; set etcd.lease_ms to at least "
		     "%" PRId64 "000",
		     rep.ttl_s, (long long)c->lease_ms, rep.ttl_s);
	}
	return 0;
}

static void answer(struct etcd_client *c, enum lease_answer a,
		   const char *holder, uint64_t newest)
{
	c->mine.answer_seq++;
	c->mine.answer = a;
	sky_strlcpy(c->mine.holder, holder, sizeof(c->mine.holder));
	c->mine.newest_generation = newest;
}

/* Read the leader key and the generation record in one txn. */
static int read_keys(struct etcd_client *c, struct etcd_kv *leader,
		     struct etcd_kv *gen)
{
	struct etcd_reply rep;
	json_t *ops = json_array();
	etcd_txn_range(ops, c->leader_key);
	etcd_txn_range(ops, c->generation_key);
	char *body = etcd_body_txn(NULL, ops, NULL);
	int r = call(c, ETCD_CALL_TXN, "/v3/kv/txn", body, &rep);
	free(body);
	if (r == -EREMOTEIO)
		on_remote_error(c, "reading the leader key", &rep);
	if (r < 0)
		return r;
	if (rep.range_count != 2) {
		c->mine.bad_replies++;
		note_error(c,
			   "reading the leader key: %zu range results, "
			   "expected 2",
			   rep.range_count);
		return -EBADMSG;
	}
	*leader = rep.ranges[0];
	*gen = rep.ranges[1];
	return 0;
}

/* Compare a key as we read it: absent, or at that mod_revision/value. */
static void compare_as_read(json_t *cmp, const char *key,
			    const struct etcd_kv *kv, const char *value)
{
	if (!kv->present)
		etcd_txn_compare(cmp, key, ETCD_TARGET_CREATE, 0, NULL);
	else if (value)
		etcd_txn_compare(cmp, key, ETCD_TARGET_VALUE, 0, value);
	else
		etcd_txn_compare(cmp, key, ETCD_TARGET_MOD, kv->mod_revision,
				 NULL);
}

/* Hold the leader key (and write the generation record) for one round. */
static void lead(struct etcd_client *c, const struct etcd_want *want)
{
	struct etcd_kv leader, gen;
	struct witness w;
	struct pkt_lease_request req = {0};
	struct pkt_lease_reply rep;
	uint64_t newest = 0;
	char newest_node[SKY_NAME_MAX + 1] = "";

	/* Errors that prove nothing leave `holding` as it was: the key is
	 * attached to our lease and lives with it. */
	if (read_keys(c, &leader, &gen) < 0)
		return;
	if (gen.present &&
	    etcd_generation_parse(gen.value, &newest, newest_node,
				  sizeof(newest_node)) < 0) {
		c->mine.bad_replies++;
		note_error(c,
			   "%s holds '%.40s', not '<generation> <node>': "
			   "fix or delete it",
			   c->generation_key, gen.value);
		c->holding = false;
		return;
	}
	if (leader.present && strcmp(leader.value, c->self) != 0) {
		c->holding = false;
		answer(c, LEASE_HELD_BY_OTHER, leader.value, newest);
		return;
	}
	/* The witness's rule, with etcd's record: no holder to check (the
	 * leader key is free or ours), so only the data rule speaks. */
	witness_init(&w, c->lease_ms, 0, newest, newest_node);
	req.generation = want->generation;
	req.flags = (want->new_generation ? LEASE_FLAG_NEW_GENERATION : 0) |
		    (want->forced ? LEASE_FLAG_FORCE : 0);
	witness_decide(&w, w.quiet_until_ms, c->self, &req, &rep);
	if (rep.answer != LEASE_GRANTED) {
		c->holding = false;
		answer(c, (enum lease_answer)rep.answer, rep.holder, newest);
		return;
	}

	json_t *cmp = json_array(), *ops = json_array();
	char record[64];
	compare_as_read(cmp, c->leader_key, &leader,
			leader.present ? c->self : NULL);
	compare_as_read(cmp, c->generation_key, &gen, NULL);
	etcd_txn_put(ops, c->leader_key, c->self, c->lease_id);
	if (w.dirty &&
	    etcd_generation_format(w.newest_generation, w.newest_node, record,
				   sizeof(record)) == 0)
		etcd_txn_put(ops, c->generation_key, record, 0);
	char *body = etcd_body_txn(cmp, ops, NULL);
	struct etcd_reply txn;
	int r = call(c, ETCD_CALL_TXN, "/v3/kv/txn", body, &txn);
	free(body);
	if (r == -EREMOTEIO)
		on_remote_error(c, "taking the leader key", &txn);
	if (r < 0)
		return;
	if (!txn.succeeded) {
		/* The key changed between our read and our txn: it is not
		 * (or no longer) ours; the next round reads who holds it. */
		c->holding = false;
		return;
	}
	int64_t revision =
		leader.present ? leader.create_revision : txn.revision;
	if (!c->holding || revision != c->leader_revision)
		wlog(c, LOG_NOTICE,
		     "leader key %s held (revision %" PRId64 ", lease %" PRIx64
		     ")",
		     c->leader_key, revision, (uint64_t)c->lease_id);
	c->holding = true;
	c->leader_revision = revision;
	if (want->new_generation) {
		c->granted = true;
		c->grant_want_seq = c->round_want_seq;
		c->mine.grant_seq++;
		c->mine.granted_generation = rep.generation;
	}
	answer(c, LEASE_GRANTED, c->self, rep.generation);
}

/* Give the leader key back (only if it is still ours). */
static void release(struct etcd_client *c)
{
	struct etcd_reply rep;
	json_t *cmp = json_array(), *ops = json_array();
	etcd_txn_compare(cmp, c->leader_key, ETCD_TARGET_VALUE, 0, c->self);
	etcd_txn_delete(ops, c->leader_key);
	char *body = etcd_body_txn(cmp, ops, NULL);
	int r = call(c, ETCD_CALL_TXN, "/v3/kv/txn", body, &rep);
	free(body);
	if (r == -EREMOTEIO)
		on_remote_error(c, "releasing the leader key", &rep);
	if (r == 0) {
		c->holding = false;
		wlog(c, LOG_INFO, "leader key %s released", c->leader_key);
	}
}

static void round_once(struct etcd_client *c, const struct etcd_want *want)
{
	int r = 0;

	if (c->user[0] && !c->token[0])
		r = authenticate(c);
	if (r == 0)
		r = keep_lease(c); /* an expired lease also ends holding */
	c->mine.reachable = r == 0;
	bool grant_pending = want->new_generation && c->granted &&
			     c->grant_want_seq == c->round_want_seq;
	if (r == 0 && want->leader) {
		if (!grant_pending)
			lead(c, want);
	} else if (r == 0 && c->holding)
		release(c);

	/*
	 * The key is attached to our lease: while we hold it, it lives as
	 * long as the lease, so we lead until the lease can end, counted
	 * from the send time of the last successful keepalive, less 10%.
	 * A failed round changes nothing but lets that moment come closer.
	 */
	if (c->lease_id && c->holding)
		c->mine.valid_until_ms = c->lease_sent_ms + c->lease_ttl_ms -
					 c->lease_ttl_ms / 10;
	else
		c->mine.valid_until_ms = 0;
	c->mine.lease_valid_until_ms =
		c->lease_id ? c->lease_sent_ms + c->lease_ttl_ms -
				      c->lease_ttl_ms / 10
			    : 0;
	c->mine.leader_revision = c->holding ? c->leader_revision : 0;
	c->mine.lease_id = c->lease_id;
	c->mine.lease_ttl_ms = c->lease_ttl_ms;
}

static void *worker(void *arg)
{
	struct etcd_client *c = arg;
	struct etcd_want want;
	int64_t next = now_ms();

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->stop && !c->kick && now_ms() < next) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = next - now_ms();
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&c->wake, &c->lock, &ts);
		}
		c->kick = false;
		want = c->want;
		c->round_want_seq = c->want_seq;
		bool stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		next = now_ms() + c->interval_ms;
		round_once(c, &want);
		pthread_mutex_lock(&c->lock);
		c->view = c->mine;
		pthread_mutex_unlock(&c->lock);
	}
	/* Leaving: the peer need not wait for our lease to expire. Briefly:
	 * an unreachable etcd must not hold up a stop. */
	if (c->request_timeout_ms > 500)
		c->request_timeout_ms = 500;
	if (c->holding)
		release(c);
	if (c->lease_id) {
		struct etcd_reply rep;
		char *body = etcd_body_lease(c->lease_id);
		(void)call(c, ETCD_CALL_OTHER, "/v3/lease/revoke", body, &rep);
		free(body);
	}
	return NULL;
}

/* The watch saw the leader key deleted or taken: a round now. */
static void watch_kick(void *arg)
{
	struct etcd_client *c = arg;
	pthread_mutex_lock(&c->lock);
	c->kick = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

static void watch_say(void *arg, int priority, const char *text)
{
	wlog(arg, priority, "%s", text);
}

static int start_watch(struct etcd_client *c)
{
	struct etcd_watch_conf wc = {
		.endpoints = (const char(*)[SKY_ETCD_URL_MAX])c->endpoints,
		.endpoint_count = c->endpoint_count,
		.key = c->leader_key,
		.ca_file = c->ca_file,
		.cert_file = c->cert_file,
		.key_file = c->key_file,
		.needs_token = c->user[0] != '\0',
		.connect_timeout_ms = c->request_timeout_ms,
		.retry_ms = c->interval_ms < 1000 ? 1000 : c->interval_ms,
		.kick = watch_kick,
		.say = watch_say,
		.arg = c,
	};
	return etcd_watch_start(&c->watch, &wc);
}

static int read_password(struct etcd_client *c, const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = sky_read_file(path, sizeof(c->password) - 1, &text, &len);
	if (r < 0) {
		log_error("etcd.password_file %s: %s", path, strerror(-r));
		return r;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	memcpy(c->password, text, len);
	c->password[len] = '\0';
	sodium_memzero(text, len);
	return 0;
}

int etcd_client_start(struct etcd_client **out, const struct sky_config *cfg,
		      const char *self)
{
	const struct sky_etcd_config *e = &cfg->etcd;
	struct etcd_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	sky_strlcpy(c->self, self, sizeof(c->self));
	for (size_t i = 0; i < e->endpoint_count; i++)
		sky_strlcpy(c->endpoints[i], e->endpoints[i],
			    sizeof(c->endpoints[i]));
	c->endpoint_count = e->endpoint_count;
	snprintf(c->leader_key, sizeof(c->leader_key), "%s/leader", e->prefix);
	snprintf(c->generation_key, sizeof(c->generation_key), "%s/generation",
		 e->prefix);
	sky_strlcpy(c->ca_file, e->ca_file, sizeof(c->ca_file));
	sky_strlcpy(c->cert_file, e->cert_file, sizeof(c->cert_file));
	sky_strlcpy(c->key_file, e->key_file, sizeof(c->key_file));
	sky_strlcpy(c->user, e->user, sizeof(c->user));
	c->lease_ms = cfg->lease_ms;
	c->interval_ms = cfg->interval_ms;
	c->request_timeout_ms =
		cfg->lease_ms / 3 < 100 ? 100 : cfg->lease_ms / 3;
	if (e->password_file[0] && (r = read_password(c, e->password_file)) < 0)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("etcd: curl_global_init failed");
		r = -EIO;
		goto fail;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		r = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* A mirror's nodes lead: they watch the leader key. */
	if (cfg->type == SKY_MODULE_MIRROR && (r = start_watch(c)) < 0) {
		log_error("etcd: cannot start the watch: %s", strerror(-r));
		curl_easy_cleanup(c->curl);
		goto fail;
	}
	r = -pthread_create(&c->thread, NULL, worker, c);
	if (r < 0) {
		log_error("etcd: cannot start the worker: %s", strerror(-r));
		etcd_watch_stop(&c->watch);
		curl_easy_cleanup(c->curl);
		goto fail;
	}
	log_info("etcd: %zu endpoints, keys %s and %s, lease %lld ms%s%s",
		 c->endpoint_count, c->leader_key, c->generation_key,
		 (long long)c->lease_ms, c->user[0] ? ", user " : "", c->user);
	*out = c;
	return 0;
fail:
	sodium_memzero(c->password, sizeof(c->password));
	free(c);
	return r;
}

void etcd_client_set_want(struct etcd_client *c, const struct etcd_want *w)
{
	pthread_mutex_lock(&c->lock);
	bool wake = w->leader != c->want.leader ||
		    w->new_generation != c->want.new_generation;
	if (w->leader != c->want.leader ||
	    w->new_generation != c->want.new_generation ||
	    w->forced != c->want.forced || w->generation != c->want.generation)
		c->want_seq++;
	c->want = *w;
	if (wake) {
		c->kick = true;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
}

size_t etcd_client_take_log(struct etcd_client *c, struct etcd_log_line *out,
			    size_t max)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->log_count < max ? c->log_count : max;
	memcpy(out, c->log, n * sizeof(*out));
	memmove(c->log, c->log + n, (c->log_count - n) * sizeof(*out));
	c->log_count -= n;
	uint64_t dropped = n < max ? c->log_dropped : 0;
	c->log_dropped -= dropped;
	pthread_mutex_unlock(&c->lock);
	if (dropped) {
		out[n].priority = LOG_WARNING;
		snprintf(out[n].text, sizeof(out[n].text),
			 "%llu log lines dropped (queue full)",
			 (unsigned long long)dropped);
		n++;
	}
	return n;
}

static void flush_log(struct etcd_client *c)
{
	struct etcd_log_line lines[ETCD_LOG_QUEUE + 1];
	size_t n = etcd_client_take_log(c, lines, SKY_ARRAY_SIZE(lines));
	for (size_t i = 0; i < n; i++)
		sky_log(lines[i].priority, "etcd: %s", lines[i].text);
}

void etcd_client_get_view(struct etcd_client *c, struct etcd_view *v)
{
	pthread_mutex_lock(&c->lock);
	*v = c->view;
	pthread_mutex_unlock(&c->lock);
	v->watching = c->watch != NULL;
	if (c->watch) {
		struct etcd_watch_stats ws;
		etcd_watch_get_stats(c->watch, &ws);
		v->watch_up = ws.up;
		v->watch_events = ws.events;
		v->watch_breaks = ws.breaks;
	}
}

void etcd_client_stop(struct etcd_client **cp)
{
	struct etcd_client *c = *cp;
	if (!c)
		return;
	etcd_watch_stop(&c->watch);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	flush_log(c); /* the worker's last words (the key given back) */
	curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	sodium_memzero(c->password, sizeof(c->password));
	free(c);
	*cp = NULL;
}
