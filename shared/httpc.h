/*
 * httpc.h - one HTTP request with libcurl, for the cloud clients (vipd's
 * cloud worker, backupd's object stores, the IMDS credential code):
 * a bounded reply (in a caller buffer or a malloc'ed one), a total
 * timeout, a request body of any size (text or binary), the response
 * headers the caller names, HEAD, a CA file, optional SigV4 signing by
 * libcurl itself (CURLOPT_AWS_SIGV4, vipd's Query API calls), and an abort
 * flag checked during the transfer so a shutdown never waits for a slow
 * API. CURLcode stays in httpc.c: callers see 0 (an HTTP answer arrived,
 * whatever its status) or -errno.
 */
#ifndef SKYHA_SHARED_HTTPC_H
#define SKYHA_SHARED_HTTPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY_HTTP_BODY_MAX  (64 * 1024) /* default bound of a reply */
#define SKY_HTTP_HEADERS   16
#define SKY_HTTP_WANT	   6 /* response headers a caller may ask for */
#define SKY_HTTP_VALUE_MAX 256

/* Connections kept open between requests (keep-alive, TLS sessions): one
 * per client that makes many requests to one service, used by one thread
 * at a time. NULL in a request: a connection for that request alone. */
struct sky_http_conn;
struct sky_http_conn *sky_http_conn_new(void);
void sky_http_conn_free(struct sky_http_conn **conn);

struct sky_http_req {
	const char *method; /* "GET", "PUT", "POST", "HEAD", "DELETE" */
	const char *url;
	const char *body; /* text, NUL-terminated; NULL: none */
	/* Binary body of data_len bytes (used when data is not NULL): sent
	 * as is, Content-Length set, no Content-Type added, no Expect. */
	const void *data;
	size_t data_len;
	const char *headers[SKY_HTTP_HEADERS]; /* "Name: value", NULL-ended */
	const char *sigv4;   /* "aws:amz:REGION:SERVICE" or NULL */
	const char *userpwd; /* "KEYID:SECRET" with sigv4 */
	const char *bearer;  /* OAuth2 token: "Authorization: Bearer ..." */
	const char *ca_file; /* CA bundle for https; NULL: the system's */
	long timeout_ms;
	const atomic_bool *abort;   /* may be NULL */
	struct sky_http_conn *conn; /* may be NULL */
	/* The reply of a 2xx: into out (out_size bytes at most) if set, else
	 * malloc'ed, at most body_max bytes (0: SKY_HTTP_BODY_MAX). Any other
	 * status's reply is malloc'ed and cut at SKY_HTTP_BODY_MAX. */
	uint8_t *out;
	size_t out_size;
	size_t body_max;
	/* Response headers to keep (names without ':', any case). */
	const char *want[SKY_HTTP_WANT];
};

struct sky_http_resp {
	long status;
	/* NUL-terminated (NULL when the reply went to req->out); owned, free
	 * with sky_http_resp_free. */
	char *body;
	size_t len;	    /* bytes of the reply, wherever they went */
	long retry_after_s; /* Retry-After in seconds, or -1 */
	/* Azure long-running operations: where to ask (absolute URLs). */
	char async_url[1024]; /* Azure-AsyncOperation */
	char location[1024];  /* Location */
	/* The values of req->want, same order ("" when absent). */
	char value[SKY_HTTP_WANT][SKY_HTTP_VALUE_MAX];
	char error[256]; /* transport failure, for the reason */
};

/* Once, before any thread starts. */
int sky_http_global_init(void);

/*
 * 0 with resp filled when an answer arrived; -ETIMEDOUT, -ECONNREFUSED,
 * -ECONNRESET (connection reset, a send or receive failure), -EMSGSIZE
 * (a 2xx reply larger than its bound), -ECANCELED (abort) or -EIO (a body
 * shorter than announced, anything else) otherwise, with resp->error set.
 */
int sky_http(const struct sky_http_req *req, struct sky_http_resp *resp);
void sky_http_resp_free(struct sky_http_resp *resp);

/* URL-encode s into out (RFC 3986 unreserved kept); -ENOSPC if too long.
 * The _path form keeps '/' as is. */
int sky_url_encode(const char *s, char *out, size_t size);
int sky_url_encode_path(const char *s, char *out, size_t size);

/* Backoff before attempt n (1-based), full jitter, capped at 10 s. */
uint32_t sky_backoff_ms(uint32_t base_ms, uint32_t attempt, unsigned *seed);

#endif
