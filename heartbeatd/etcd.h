/*
 * etcd.h - quorum: etcd, leadership as Patroni does it (docs/architecture.md,
 * "Quorum on etcd").
 *
 * One worker thread talks to etcd's v3 JSON gateway with libcurl, so the
 * event loop never waits on the network (a worker rather than curl multi:
 * each round is a short chain of dependent requests, auth -> keepalive ->
 * read -> txn, that reads as straight code; the loop only swaps two small
 * structs under a mutex). Ownership: the worker owns the curl handle, the
 * token, the lease and every etcd request; the loop owns its copy of the
 * view. The mutex guards `want` (loop -> worker), `view` and the log
 * lines (worker -> loop) only; the worker never logs itself.
 *
 * Each round (every heartbeat interval): authenticate if needed, keep this
 * node's lease alive (or grant one), and, while the state machine wants to
 * lead, hold <prefix>/leader: put with our lease by a txn that compares
 * create_revision == 0 (free) or value == our name (ours), together with
 * the data generation record <prefix>/generation (compared by
 * mod_revision), decided by the witness's own rule (witness_decide). The
 * holder's validity counts from when it SENT the last successful keepalive
 * (monotonic), minus 10%, so it stops before etcd can expire the lease.
 * A mirror's client also watches the leader key (etcd_watch.h): its
 * deletion or a new holder runs a round at once, between the intervals.
 */
#ifndef SKYHA_ETCD_H
#define SKYHA_ETCD_H

#include "config.h"
#include "packet.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What the state machine wants (loop -> worker). */
struct etcd_want {
	bool leader;
	bool new_generation;
	bool forced;
	uint64_t generation;
};

/* What the worker knows (worker -> loop). */
struct etcd_view {
	uint64_t answer_seq; /* bumped by every leadership answer */
	enum lease_answer answer;
	char holder[SKY_NAME_MAX + 1];
	uint64_t newest_generation;
	uint64_t grant_seq; /* bumped when a new generation is granted */
	uint64_t granted_generation;
	int64_t valid_until_ms; /* leader until then (monotonic); 0: not */
	/* Our lease alive until then (monotonic), leader or not: a farm
	 * node serves only until then; 0: no lease. */
	int64_t lease_valid_until_ms;
	int64_t leader_revision; /* create_revision of our leader key */
	int64_t lease_id;	 /* 0: none */
	int64_t lease_ttl_ms;
	char endpoint[SKY_ETCD_URL_MAX]; /* the one that answered last */
	bool reachable;			 /* the last round got answers */
	char last_error[256];
	int64_t last_error_ms;
	uint64_t requests, failures, bad_replies, auth_failures;
	/* The watch on the leader key (etcd_watch.h; a mirror's only). */
	bool watching;
	bool watch_up;
	uint64_t watch_events, watch_breaks;
};

/* A line the worker wants logged: the loop logs it (the log's fields
 * belong to the loop's thread). */
#define ETCD_LOG_QUEUE 16
struct etcd_log_line {
	int priority; /* LOG_* */
	char text[320];
};

struct etcd_client;

/* Start the worker; logs and returns -errno on failure. */
int etcd_client_start(struct etcd_client **out, const struct sky_config *cfg,
		      const char *self);
void etcd_client_set_want(struct etcd_client *c, const struct etcd_want *w);
void etcd_client_get_view(struct etcd_client *c, struct etcd_view *v);
/* Take the worker's pending log lines (at most max); how many. */
size_t etcd_client_take_log(struct etcd_client *c, struct etcd_log_line *out,
			    size_t max);
/* Stop the worker: give the leader key and the lease back (bounded),
 * join, free; nulls *c. */
void etcd_client_stop(struct etcd_client **c);

#endif
