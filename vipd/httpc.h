/*
 * httpc.h - one HTTP request with libcurl, for the cloud worker: bounded
 * reply size, a total timeout, optional SigV4 signing by libcurl itself
 * (CURLOPT_AWS_SIGV4), and an abort flag checked during the transfer so a
 * shutdown never waits for a slow API. CURLcode stays in httpc.c: callers
 * see 0 (an HTTP answer arrived, whatever its status) or -errno.
 */
#ifndef SKYHA_VIPD_HTTPC_H
#define SKYHA_VIPD_HTTPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define VIPD_HTTP_BODY_MAX (64 * 1024)
#define VIPD_HTTP_HEADERS  8

struct vipd_http_req {
	const char *method; /* "GET", "PUT", "POST" */
	const char *url;
	const char *body;			/* NULL: none */
	const char *headers[VIPD_HTTP_HEADERS]; /* "Name: value", NULL-ended */
	const char *sigv4;   /* "aws:amz:REGION:SERVICE" or NULL */
	const char *userpwd; /* "KEYID:SECRET" with sigv4 */
	const char *bearer;  /* OAuth2 token: "Authorization: Bearer ..." */
	long timeout_ms;
	const atomic_bool *abort; /* may be NULL */
};

struct vipd_http_resp {
	long status;
	char *body; /* NUL-terminated; owned, free with vipd_http_resp_free */
	size_t len;
	long retry_after_s; /* Retry-After in seconds, or -1 */
	/* Azure long-running operations: where to ask (absolute URLs). */
	char async_url[1024]; /* Azure-AsyncOperation */
	char location[1024];  /* Location */
	char error[256];      /* transport failure, for the reason */
};

/* Once, before any thread starts. */
int vipd_http_global_init(void);

/*
 * 0 with resp filled when an answer arrived; -ETIMEDOUT, -ECONNREFUSED,
 * -EMSGSIZE (reply larger than VIPD_HTTP_BODY_MAX), -ECANCELED (abort) or
 * -EIO otherwise, with resp->error set.
 */
int vipd_http(const struct vipd_http_req *req, struct vipd_http_resp *resp);
void vipd_http_resp_free(struct vipd_http_resp *resp);

/* URL-encode s into out (RFC 3986 unreserved kept); -ENOSPC if too long. */
int vipd_url_encode(const char *s, char *out, size_t size);

#endif
