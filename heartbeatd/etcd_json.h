/*
 * etcd_json.h - etcd v3 JSON gateway bodies and replies, pure (no I/O).
 *
 * etcd's gRPC gateway (etcd 3.4: /v3/...) speaks protobuf mapped to JSON:
 * keys and values are base64, int64 fields are strings, and a field at its
 * default value (0, false, empty) is absent. Replies come from the network
 * and are hostile: etcd_reply_parse() takes a buffer (a fuzzer calls it,
 * tests/fuzz/etcd_fuzz.c), bounds every length, and fills a fixed struct.
 * The builders return a JSON text the caller frees.
 */
#ifndef SKYHA_ETCD_JSON_H
#define SKYHA_ETCD_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_REPLY_MAX	 (64 * 1024) /* larger replies are refused */
#define ETCD_KEY_MAX	 256
#define ETCD_VALUE_MAX	 256
#define ETCD_TOKEN_MAX	 512
#define ETCD_TXN_RANGES	 4 /* range results kept from one txn */
#define ETCD_MESSAGE_MAX 200

enum etcd_call {
	ETCD_CALL_AUTH,	     /* /v3/auth/authenticate */
	ETCD_CALL_GRANT,     /* /v3/lease/grant */
	ETCD_CALL_KEEPALIVE, /* /v3/lease/keepalive (a stream: {"result":..}) */
	ETCD_CALL_TXN,	     /* /v3/kv/txn */
	ETCD_CALL_RANGE,     /* /v3/kv/range */
	ETCD_CALL_OTHER,     /* any reply: header and errors only */
	ETCD_CALL_WATCH,     /* one message of a /v3/watch stream */
	ETCD_CALL_COUNT,
};

/* The first key of one range result; present is false for none. */
struct etcd_kv {
	bool present;
	char key[ETCD_KEY_MAX + 1];
	char value[ETCD_VALUE_MAX + 1]; /* NUL-terminated; no NUL inside */
	int64_t create_revision, mod_revision, version, lease;
};

struct etcd_reply {
	int64_t revision; /* header.revision */
	int64_t lease_id; /* grant, keepalive: ID */
	int64_t ttl_s;	  /* grant, keepalive: TTL (0: the lease is gone) */
	bool succeeded;	  /* txn */
	struct etcd_kv ranges[ETCD_TXN_RANGES]; /* txn: each response_range */
	size_t range_count;
	char token[ETCD_TOKEN_MAX + 1]; /* authenticate */
	/* watch: {"result":{"created"|"canceled"|"events":[...]}}. `taken`
	 * counts the PUT events that created the key (create_revision ==
	 * mod_revision: a new holder), `deleted` the DELETE events; a PUT
	 * that renews an existing key counts in `events` only. */
	bool created, canceled;
	size_t events, taken, deleted;
	/* An error object ({"error","code","message"}). */
	bool is_error;
	int code; /* gRPC status code */
	char message[ETCD_MESSAGE_MAX + 1];
};

/* gRPC codes etcd answers with. */
#define ETCD_CODE_INVALID_ARGUMENT 3
#define ETCD_CODE_NOT_FOUND	   5
#define ETCD_CODE_PERMISSION	   7
#define ETCD_CODE_UNAVAILABLE	   14
#define ETCD_CODE_UNAUTHENTICATED  16

/*
 * Parse one reply body. 0: a valid reply of that call. -EREMOTEIO: a valid
 * error object (out->is_error, code, message). -EBADMSG: anything else,
 * with err saying what was wrong.
 */
int etcd_reply_parse(enum etcd_call call, const uint8_t *buf, size_t len,
		     struct etcd_reply *out, char *err, size_t err_size);

/* Does this error mean the auth token must be fetched again? */
bool etcd_error_wants_token(const struct etcd_reply *r);

/* Request bodies (JSON text, free() it; NULL on no memory or bad input). */
char *etcd_body_auth(const char *user, const char *password);
char *etcd_body_grant(int64_t ttl_s);
char *etcd_body_lease(int64_t lease_id); /* keepalive, revoke */
char *etcd_body_watch(const char *key);	 /* create_request for one key */

/* A txn in pieces: compares and operations are appended to arrays. */
enum etcd_target { ETCD_TARGET_CREATE, ETCD_TARGET_MOD, ETCD_TARGET_VALUE };
int etcd_txn_compare(json_t *compares, const char *key, enum etcd_target target,
		     int64_t revision, const char *value);
int etcd_txn_put(json_t *ops, const char *key, const char *value,
		 int64_t lease);
int etcd_txn_range(json_t *ops, const char *key);
int etcd_txn_delete(json_t *ops, const char *key);
/* The body; takes the three arrays (any may be NULL for none). */
char *etcd_body_txn(json_t *compares, json_t *success, json_t *failure);

/*
 * The data generation record, stored as the value of <prefix>/generation:
 * "<generation> <node>". -EBADMSG if not exactly that.
 */
int etcd_generation_parse(const char *value, uint64_t *generation, char *node,
			  size_t node_size);
int etcd_generation_format(uint64_t generation, const char *node, char *out,
			   size_t size);

#endif
