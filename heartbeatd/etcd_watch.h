/*
 * etcd_watch.h - a watch on the leader key, so its loss or a new holder is
 * acted on at once rather than at the next round (docs/architecture.md,
 * "Quorum on etcd").
 *
 * One thread of its own holds a streaming POST /v3/watch (etcd's JSON
 * gateway: one JSON object a line, etcd_json.c parses each) on one
 * endpoint, and calls kick() when the key is deleted (its holder's lease
 * ended, or it was given back) or created (someone took it): the etcd
 * worker (etcd.c) then runs a round at once. A renewal (the holder's put
 * of an existing key, every round) kicks nothing. The worker's rounds go on
 * every interval whatever the watch does: a stream that broke is opened
 * again (the next endpoint, after retry_ms), and one that went silent (a
 * member cut off from its cluster answers nothing) only loses its speed.
 *
 * curl multi with curl_multi_poll, so a stop wakes the thread at once
 * (curl_multi_wakeup). The thread owns its curl handles and its buffer;
 * `lock` guards the token (set by the worker), the counters and the stop
 * flag. It never logs: say() hands lines to whoever logs (the worker's
 * queue).
 */
#ifndef SKYHA_ETCD_WATCH_H
#define SKYHA_ETCD_WATCH_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>

struct etcd_watch_conf {
	const char (*endpoints)[SKY_ETCD_URL_MAX];
	size_t endpoint_count;
	const char *key;
	const char *ca_file, *cert_file, *key_file; /* "" for none */
	bool needs_token;			    /* etcd.user is set */
	int64_t connect_timeout_ms;
	int64_t retry_ms; /* between a broken stream and the next */
	void (*kick)(void *arg);
	void (*say)(void *arg, int priority, const char *text);
	void *arg;
};

struct etcd_watch_stats {
	bool up;	 /* a stream is open and etcd said "created" */
	uint64_t events; /* deletions and creations of the key seen */
	uint64_t breaks; /* streams that ended */
};

struct etcd_watch;

/* Start the thread (the strings of conf are copied). 0 or -errno. */
int etcd_watch_start(struct etcd_watch **out,
		     const struct etcd_watch_conf *conf);
/* The worker's current auth token ("" for none). */
void etcd_watch_set_token(struct etcd_watch *w, const char *token);
void etcd_watch_get_stats(struct etcd_watch *w, struct etcd_watch_stats *out);
/* Stop and join the thread, free; nulls *w. */
void etcd_watch_stop(struct etcd_watch **w);

#endif
