/*
 * s3.c - a target that is an S3 bucket (AWS, or any S3-compatible store
 * through endpoint): one object per name, under the target's prefix.
 *
 * Every request is signed here with SigV4 (sign.c): the payload's SHA-256
 * in x-amz-content-sha256, x-amz-date, x-amz-security-token with session
 * credentials (shared/cloudcred.c: the environment or IMDSv2). A put of
 * more than one part (BK_PART_SIZE) is a multipart upload, completed only
 * when every part is in, aborted on failure: readers see the whole object
 * or none. Transient failures (5xx, 429, timeouts, resets, short bodies)
 * are retried with backoff, t->attempts times at most; expired session
 * credentials are fetched again once.
 */
#include "cloudcred.h"
#include "httpc.h"
#include "remote.h"
#include "sign.h"
#include "store.h"
#include "util.h"
#include "xml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URL_MAX	   (3 * BK_XML_KEY_MAX + 2048)
#define UPLOAD_MAX 1024 /* an UploadId */

struct s3_store {
	struct bk_remote rm;
	char bucket[BK_FIELD_MAX];
	char region[64];
	char prefix[BK_FIELD_MAX];
	char base[BK_FIELD_MAX + 80]; /* "https://host[:port]" */
	char host[BK_FIELD_MAX + 80]; /* the Host header */
	bool path_style;
	struct sky_aws_credsrc cred;
	int list_page; /* names per list request; 0: 1000 */
};

/* One request, described once, sent (and signed again) per attempt. */
struct s3_call {
	const char *method;
	const char *key; /* the full key (with the prefix); NULL: the bucket */
	struct bk_kv params[6];
	size_t param_count;
	const void *data; /* the body; NULL: none */
	size_t data_len;
	const char *range; /* "bytes=a-b" or NULL */
	uint8_t *out;	   /* a 2xx reply into out, out_size bytes */
	size_t out_size;
	size_t body_max; /* else malloc'ed, at most body_max */
	const char *want[SKY_HTTP_WANT];
	const char *what; /* "put data/ab/cd", for the reason */
};

static struct s3_store *s3_of(struct bk_store *s)
{
	return (struct s3_store *)s;
}

static int refuse_name(struct bk_store *s, const char *name)
{
	snprintf(s->reason, sizeof(s->reason), "bad object name \"%.64s\"",
		 name ? name : "");
	return -EINVAL;
}

static int full_key(const struct s3_store *s, const char *name, char *out,
		    size_t size)
{
	int n = snprintf(out, size, "%s%s", s->prefix, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Path (canonical URI, encoded) and URL of a call. */
static int call_path(const struct s3_store *s, const struct s3_call *c,
		     char *path, size_t size)
{
	char enc[3 * BK_XML_KEY_MAX + 1];
	if (c->key && sky_url_encode_path(c->key, enc, sizeof(enc)) < 0)
		return -ENAMETOOLONG;
	int n;
	if (s->path_style)
		n = snprintf(path, size, "/%s/%s", s->bucket,
			     c->key ? enc : "");
	else
		n = snprintf(path, size, "/%s", c->key ? enc : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void set_reason(struct s3_store *s, const struct s3_call *c,
		       const char *detail)
{
	snprintf(s->rm.base.reason, sizeof(s->rm.base.reason),
		 "target %s: s3 %s: %s", s->rm.target, c->what, detail);
}

/*
 * Send c until it succeeds or fails for good. 0: a 2xx answer in resp
 * (the caller frees it). -errno with the reason set otherwise (-ENOENT
 * for a 404, without a reason).
 */
static int s3_call(struct s3_store *s, const struct s3_call *c,
		   struct sky_http_resp *resp)
{
	char path[3 * BK_XML_KEY_MAX + BK_FIELD_MAX + 8];
	char query[4096], url[URL_MAX], amz_date[20];
	char payload[BK_SHA256_HEX], authz[1024], detail[400] = "";
	char h_auth[1100], h_date[64], h_sha[100], h_range[96];
	char *h_token = NULL;
	bool refreshed = false, refresh = false;
	int last = -EIO;

	s->cred.abort = s->rm.base.abort;
	int r = call_path(s, c, path, sizeof(path));
	if (r == 0)
		r = bk_query_canonical(c->params, c->param_count, query,
				       sizeof(query));
	if (r < 0) {
		set_reason(s, c, "name or query too long");
		return r == -ENOSPC ? -ENAMETOOLONG : r;
	}
	int n = snprintf(url, sizeof(url), "%s%s%s%s", s->base, path,
			 query[0] ? "?" : "", query);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		set_reason(s, c, "URL too long");
		return -ENAMETOOLONG;
	}
	bk_sha256_hex(c->data ? c->data : "", c->data ? c->data_len : 0,
		      payload);
	h_token = malloc(SKY_AWS_TOKEN_MAX + 32);
	if (!h_token)
		return -ENOMEM;
	int attempt;
	for (attempt = 1; attempt <= s->rm.attempts; attempt++) {
		if (attempt > 1 && !refresh &&
		    bk_remote_backoff(&s->rm, attempt) < 0) {
			last = -ECANCELED;
			snprintf(detail, sizeof(detail), "interrupted");
			break;
		}
		if (bk_remote_aborted(&s->rm)) {
			last = -ECANCELED;
			snprintf(detail, sizeof(detail), "interrupted");
			break;
		}
		r = sky_aws_creds_get(&s->cred, refresh, detail,
				      sizeof(detail));
		refresh = false;
		if (r == -ENOKEY || r == -EACCES || r == -ECANCELED) {
			last = r == -ENOKEY ? -EACCES : r;
			break;
		}
		if (r < 0) { /* IMDS busy or garbled for a moment */
			last = r;
			continue;
		}
		const struct sky_aws_creds *k = &s->cred.creds;
		bk_amz_date(time(NULL), amz_date, sizeof(amz_date));
		struct bk_kv sh[5] = {
			{"host", s->host},
			{"x-amz-content-sha256", payload},
			{"x-amz-date", amz_date},
		};
		size_t nh = 3;
		if (k->token[0])
			sh[nh++] = (struct bk_kv){"x-amz-security-token",
						  k->token};
		if (c->range)
			sh[nh++] = (struct bk_kv){"range", c->range};
		struct bk_sigv4 sig = {
			.method = c->method,
			.path = path,
			.query = query,
			.headers = sh,
			.header_count = nh,
			.payload_sha256 = payload,
			.amz_date = amz_date,
			.region = s->region,
			.service = "s3",
			.key_id = k->key_id,
			.secret = k->secret,
		};
		r = bk_sigv4_authorization(&sig, authz, sizeof(authz), NULL, 0);
		if (r < 0) {
			snprintf(detail, sizeof(detail), "cannot sign: %s",
				 strerror(-r));
			last = r;
			break;
		}
		snprintf(h_auth, sizeof(h_auth), "Authorization: %s", authz);
		snprintf(h_date, sizeof(h_date), "x-amz-date: %s", amz_date);
		snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s",
			 payload);
		snprintf(h_token, SKY_AWS_TOKEN_MAX + 32,
			 "x-amz-security-token: %s", k->token);
		if (c->range)
			snprintf(h_range, sizeof(h_range), "Range: %s",
				 c->range);
		struct sky_http_req req = {
			.method = c->method,
			.url = url,
			.data = c->data ? c->data
					: (strcmp(c->method, "GET") &&
							   strcmp(c->method,
								  "HEAD")
						   ? ""
						   : NULL),
			.data_len = c->data ? c->data_len : 0,
			.headers = {h_auth, h_date, h_sha,
				    c->range ? h_range : "Accept: */*",
				    k->token[0] ? h_token : NULL},
			.ca_file = s->rm.ca_file,
			.timeout_ms = s->rm.timeout_ms,
			.abort = s->rm.base.abort,
			.conn = s->rm.conn,
			.out = c->out,
			.out_size = c->out_size,
			.body_max = c->body_max,
		};
		memcpy(req.want, c->want, sizeof(req.want));
		s->rm.base.requests++;
		r = sky_http(&req, resp);
		if (r < 0) {
			snprintf(detail, sizeof(detail), "%s",
				 r == -ECANCELED ? "interrupted" : resp->error);
			last = r;
			if (r == -ECANCELED || r == -EMSGSIZE ||
			    !bk_remote_transport_transient(r))
				break;
			continue;
		}
		if (resp->status >= 200 && resp->status < 300) {
			free(h_token);
			return 0;
		}
		char code[96], message[200];
		long status = resp->status;
		if (resp->body)
			bk_xml_error(resp->body, resp->len, code, sizeof(code),
				     message, sizeof(message));
		else
			code[0] = message[0] = '\0';
		sky_http_resp_free(resp);
		snprintf(detail, sizeof(detail), "HTTP %ld %s%s%s", status,
			 code[0] ? code : "(no error code)",
			 message[0] ? ": " : "", message);
		last = bk_remote_status_errno(status);
		if (bk_remote_status_transient(status) ||
		    !strcmp(code, "RequestTimeout") ||
		    !strcmp(code, "SlowDown")) {
			last = status >= 500 ? -EIO : last;
			continue;
		}
		/* Session credentials that just expired: new ones, once. */
		if ((!strcmp(code, "ExpiredToken") ||
		     !strcmp(code, "InvalidToken") ||
		     !strcmp(code, "RequestExpired")) &&
		    !refreshed) {
			refreshed = refresh = true;
			attempt--; /* not the store's fault */
			continue;
		}
		/* No such object (a HEAD's 404 has no body, so no code). A
		 * missing bucket or upload is the target's fault: -EIO. */
		if (status == 404 && (!code[0] || !strcmp(code, "NoSuchKey"))) {
			free(h_token);
			return -ENOENT;
		}
		if (status == 404)
			last = -EIO;
		break;
	}
	explicit_bzero(h_token, SKY_AWS_TOKEN_MAX + 32);
	free(h_token);
	explicit_bzero(h_auth, sizeof(h_auth));
	if (attempt <= s->rm.attempts) { /* a final answer, not exhaustion */
		set_reason(s, c, detail);
	} else {
		char tmp[sizeof(detail) + 64];
		snprintf(tmp, sizeof(tmp), "failed after %d attempts: %s",
			 s->rm.attempts, detail);
		set_reason(s, c, tmp);
	}
	return bk_remote_final_errno(last);
}

/* --- put ------------------------------------------------------------------- */

static int put_single(struct s3_store *s, const char *key, const char *what,
		      const void *buf, size_t len)
{
	struct s3_call c = {
		.method = "PUT",
		.key = key,
		.data = buf,
		.data_len = len,
		.what = what,
	};
	struct sky_http_resp resp;
	int r = s3_call(s, &c, &resp);
	if (r == 0)
		sky_http_resp_free(&resp);
	return r;
}

static void abort_upload(struct s3_store *s, const char *key,
			 const char *upload_id)
{
	char keep[BK_REASON_MAX];
	struct s3_call c = {
		.method = "DELETE",
		.key = key,
		.params = {{"uploadId", upload_id}},
		.param_count = 1,
		.what = "abort multipart upload",
	};
	struct sky_http_resp resp;
	memcpy(keep, s->rm.base.reason, sizeof(keep)); /* the first failure */
	if (s3_call(s, &c, &resp) == 0)
		sky_http_resp_free(&resp);
	memcpy(s->rm.base.reason, keep, sizeof(keep));
}

static int put_multipart(struct s3_store *s, const char *key, const char *what,
			 const uint8_t *buf, size_t len)
{
	size_t part = s->rm.part_size;
	size_t parts = (len + part - 1) / part;
	char upload_id[UPLOAD_MAX], pn[16];
	struct sky_http_resp resp;
	int r;

	if (parts > 10000) {
		snprintf(s->rm.base.reason, sizeof(s->rm.base.reason),
			 "target %s: s3 %s: %zu bytes need more than 10000 "
			 "parts",
			 s->rm.target, what, len);
		return -EFBIG;
	}
	struct s3_call create = {
		.method = "POST",
		.key = key,
		.params = {{"uploads", ""}},
		.param_count = 1,
		.what = what,
	};
	r = s3_call(s, &create, &resp);
	if (r < 0)
		return r;
	r = bk_xml_find(resp.body, resp.len, "UploadId", upload_id,
			sizeof(upload_id));
	sky_http_resp_free(&resp);
	if (r < 0 || !upload_id[0]) {
		set_reason(s, &create, "CreateMultipartUpload: no UploadId");
		return -EIO;
	}
	/* The completion document: one <Part> per part with its ETag. */
	size_t doc_size = 128 + parts * (64 + SKY_HTTP_VALUE_MAX);
	_cleanup_free_ char *doc = malloc(doc_size);
	if (!doc) {
		abort_upload(s, key, upload_id);
		return -ENOMEM;
	}
	size_t o = (size_t)snprintf(doc, doc_size, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < parts; i++) {
		size_t off = i * part, n = len - off < part ? len - off : part;
		snprintf(pn, sizeof(pn), "%zu", i + 1);
		struct s3_call up = {
			.method = "PUT",
			.key = key,
			.params = {{"partNumber", pn}, {"uploadId", upload_id}},
			.param_count = 2,
			.data = buf + off,
			.data_len = n,
			.want = {"ETag"},
			.what = what,
		};
		r = s3_call(s, &up, &resp);
		if (r < 0) {
			abort_upload(s, key, upload_id);
			return r;
		}
		char etag[SKY_HTTP_VALUE_MAX];
		memcpy(etag, resp.value[0], sizeof(etag));
		sky_http_resp_free(&resp);
		if (!etag[0] || strchr(etag, '<') || strchr(etag, '&')) {
			set_reason(s, &up, "UploadPart: no usable ETag");
			abort_upload(s, key, upload_id);
			return -EIO;
		}
		o += (size_t)snprintf(doc + o, doc_size - o,
				      "<Part><PartNumber>%zu</PartNumber>"
				      "<ETag>%s</ETag></Part>",
				      i + 1, etag);
	}
	o += (size_t)snprintf(doc + o, doc_size - o,
			      "</CompleteMultipartUpload>");
	struct s3_call done = {
		.method = "POST",
		.key = key,
		.params = {{"uploadId", upload_id}},
		.param_count = 1,
		.data = doc,
		.data_len = o,
		.what = what,
	};
	r = s3_call(s, &done, &resp);
	if (r < 0) {
		abort_upload(s, key, upload_id);
		return r;
	}
	/* A 200 may still carry an <Error> (the completion failed late). */
	bool failed =
		!resp.body || memmem(resp.body, resp.len, "<Error>", 7) ||
		!memmem(resp.body, resp.len, "CompleteMultipartUpload", 23);
	if (failed) {
		char code[96] = "", message[200] = "", detail[320];
		if (resp.body)
			bk_xml_error(resp.body, resp.len, code, sizeof(code),
				     message, sizeof(message));
		snprintf(detail, sizeof(detail),
			 "CompleteMultipartUpload: %s %s",
			 code[0] ? code : "unexpected reply", message);
		set_reason(s, &done, detail);
	}
	sky_http_resp_free(&resp);
	if (failed) {
		abort_upload(s, key, upload_id);
		return -EIO;
	}
	return 0;
}

static int s3_put(struct bk_store *st, const char *name, const void *buf,
		  size_t len)
{
	struct s3_store *s = s3_of(st);
	char key[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];

	if (!bk_store_name_ok(name))
		return refuse_name(st, name);
	if (full_key(s, name, key, sizeof(key)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "put %s", name);
	int r = len > s->rm.part_size ? put_multipart(s, key, what, buf, len)
				      : put_single(s, key, what, buf, len);
	if (r == 0)
		st->bytes_up += len;
	return r;
}

/* --- get ------------------------------------------------------------------- */

static int s3_get(struct bk_store *st, const char *name, size_t max,
		  uint8_t **buf, size_t *len)
{
	struct s3_store *s = s3_of(st);
	char key[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];
	struct sky_http_resp resp;

	if (!bk_store_name_ok(name) || full_key(s, name, key, sizeof(key)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "get %s", name);
	struct s3_call c = {
		.method = "GET",
		.key = key,
		.body_max = max ? max : 1,
		.want = {"Content-Length"},
		.what = what,
	};
	int r = s3_call(s, &c, &resp);
	if (r == -EMSGSIZE) {
		snprintf(st->reason, sizeof(st->reason),
			 "target %s: s3 %s: larger than %zu bytes",
			 s->rm.target, what, max);
		return -EFBIG;
	}
	if (r < 0)
		return r;
	if (!bk_content_length_is(resp.value[0], resp.len)) {
		set_reason(s, &c, "reply length differs from Content-Length");
		sky_http_resp_free(&resp);
		return -EIO;
	}
	if (resp.len > max) {
		sky_http_resp_free(&resp);
		return -EFBIG;
	}
	*buf = (uint8_t *)steal_ptr(resp.body);
	*len = resp.len;
	st->bytes_down += resp.len;
	return 0;
}

/* "bytes a-b/total" says exactly [offset, offset + len). */
static int s3_get_range(struct bk_store *st, const char *name, uint64_t offset,
			size_t len, uint8_t *out)
{
	struct s3_store *s = s3_of(st);
	char key[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 64];
	char range[96];
	struct sky_http_resp resp;

	if (!bk_store_name_ok(name) || full_key(s, name, key, sizeof(key)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "get %s (%zu bytes at %" PRIu64 ")", name,
		 len, offset);
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, offset,
		 offset + (len ? len : 1) - 1);
	struct s3_call c = {
		.method = len ? "GET" : "HEAD",
		.key = key,
		.range = len ? range : NULL,
		.out = out,
		.out_size = len,
		.want = {"Content-Range", "Content-Length"},
		.what = what,
	};
	int r = s3_call(s, &c, &resp);
	if (r == -EMSGSIZE) {
		set_reason(s, &c, "reply longer than the range asked");
		return -EIO;
	}
	if (r == -EIO && resp.status == 416)
		set_reason(s, &c, "the object is shorter");
	if (r < 0)
		return r;
	bool ok;
	if (len == 0) {
		int64_t size;
		ok = sky_parse_i64(resp.value[1], 0, INT64_MAX, &size) == 0 &&
		     (uint64_t)size >= offset;
	} else {
		ok = resp.len == len &&
		     ((resp.status == 206 &&
		       bk_content_range_is(resp.value[0], offset, len)) ||
		      (resp.status == 200 && offset == 0));
	}
	sky_http_resp_free(&resp);
	if (!ok) {
		set_reason(s, &c, "short or mismatched reply");
		return -EIO;
	}
	st->bytes_down += len;
	return 0;
}

/* --- list, del ------------------------------------------------------------- */

struct list_ctx {
	const struct s3_store *s;
	int (*fn)(void *ctx, const char *name, uint64_t size);
	void *ctx;
	uint64_t skipped;
};

static int on_entry(void *user, const char *key, uint64_t size)
{
	struct list_ctx *l = user;
	size_t pl = strlen(l->s->prefix);
	if (strncmp(key, l->s->prefix, pl) != 0 ||
	    !bk_store_name_ok(key + pl)) {
		l->skipped++; /* not ours: never handed to the repository */
		return 0;
	}
	return l->fn(l->ctx, key + pl, size);
}

static int s3_list(struct bk_store *st, const char *prefix,
		   int (*fn)(void *ctx, const char *name, uint64_t size),
		   void *ctx)
{
	struct s3_store *s = s3_of(st);
	char full[BK_FIELD_MAX + BK_NAME_MAX + 2], token[2048] = "",
						   prev[2048] = "";
	struct list_ctx l = {.s = s, .fn = fn, .ctx = ctx};

	if (full_key(s, prefix ? prefix : "", full, sizeof(full)) < 0)
		return refuse_name(st, prefix);
	char page[16];
	snprintf(page, sizeof(page), "%d",
		 s->list_page > 0 && s->list_page <= 1000 ? s->list_page
							  : 1000);
	for (;;) {
		struct s3_call c = {
			.method = "GET",
			.params = {{"list-type", "2"},
				   {"max-keys", page},
				   {"prefix", full}},
			.param_count = 3,
			.body_max = 16 << 20,
			.what = "list",
		};
		if (token[0])
			c.params[c.param_count++] =
				(struct bk_kv){"continuation-token", token};
		struct sky_http_resp resp;
		int r = s3_call(s, &c, &resp);
		if (r < 0)
			return r;
		memcpy(prev, token, sizeof(prev));
		r = bk_xml_s3_list(resp.body, resp.len, on_entry, &l, token,
				   sizeof(token));
		sky_http_resp_free(&resp);
		if (r < 0 || (token[0] && strcmp(token, prev) == 0)) {
			set_reason(s, &c, "malformed ListObjectsV2 reply");
			return -EIO;
		}
		if (r > 0 || !token[0])
			return 0;
	}
}

static int s3_del(struct bk_store *st, const char *name)
{
	struct s3_store *s = s3_of(st);
	char key[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];
	struct sky_http_resp resp;

	if (!bk_store_name_ok(name) || full_key(s, name, key, sizeof(key)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "delete %s", name);
	struct s3_call c = {.method = "DELETE", .key = key, .what = what};
	int r = s3_call(s, &c, &resp);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		sky_http_resp_free(&resp);
	return r;
}

static void s3_close(struct bk_store *st)
{
	struct s3_store *s = s3_of(st);
	sky_aws_credsrc_wipe(&s->cred);
	bk_remote_done(&s->rm);
	free(s);
}

static const struct bk_store_ops s3_ops = {
	.put = s3_put,
	.get = s3_get,
	.get_range = s3_get_range,
	.list = s3_list,
	.del = s3_del,
	.close = s3_close,
};

/* endpoint "http[s]://host[:port]" (nothing after) -> scheme and host. */
static int split_endpoint(const char *endpoint, char *scheme, size_t ssize,
			  char *host, size_t hsize)
{
	const char *p = strstr(endpoint, "://");
	if (!p)
		return -EINVAL;
	size_t sl = (size_t)(p - endpoint);
	if (!((sl == 4 && !strncmp(endpoint, "http", 4)) ||
	      (sl == 5 && !strncmp(endpoint, "https", 5))) ||
	    sl >= ssize)
		return -EINVAL;
	memcpy(scheme, endpoint, sl);
	scheme[sl] = '\0';
	p += 3;
	size_t hl = strcspn(p, "/");
	if (hl == 0 || hl >= hsize || (p[hl] && strcmp(p + hl, "/") != 0))
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (!(isalnum((unsigned char)p[i]) || strchr(".-:[]", p[i])))
			return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = '\0';
	return 0;
}

static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) ||
		      isdigit((unsigned char)b[i]) || b[i] == '-' ||
		      b[i] == '.'))
			return false;
	return true;
}

int bk_store_s3_open(const struct bk_target_cfg *t, struct bk_store **out,
		     char *why, size_t why_size)
{
	char scheme[8] = "https", host[BK_FIELD_MAX];

	if (!bucket_ok(t->bucket)) {
		snprintf(why, why_size,
			 "target %s: bucket \"%s\" is not a valid S3 bucket "
			 "name (3-63 of a-z 0-9 . -)",
			 t->name, t->bucket);
		return -EINVAL;
	}
	if (!t->region[0]) {
		snprintf(why, why_size, "target %s: region is required",
			 t->name);
		return -EINVAL;
	}
	if (!bk_prefix_ok(t->prefix)) {
		snprintf(why, why_size, "target %s: bad prefix \"%s\"", t->name,
			 t->prefix);
		return -EINVAL;
	}
	if (t->endpoint[0]) {
		if (split_endpoint(t->endpoint, scheme, sizeof(scheme), host,
				   sizeof(host)) < 0) {
			snprintf(why, why_size,
				 "target %s: endpoint \"%s\" is not "
				 "http(s)://host[:port]",
				 t->name, t->endpoint);
			return -EINVAL;
		}
	} else {
		snprintf(host, sizeof(host), "s3.%s.amazonaws.com", t->region);
	}
	const char *creds = t->credentials[0] ? t->credentials : "env";
	if (strcmp(creds, "env") != 0 && strcmp(creds, "imds") != 0) {
		snprintf(why, why_size,
			 "target %s: credentials \"%s\": env or imds", t->name,
			 t->credentials);
		return -EINVAL;
	}
	struct s3_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->rm.base.ops = &s3_ops;
	if (bk_remote_init(&s->rm, t) < 0) {
		s3_close(&s->rm.base);
		return -ENOMEM;
	}
	sky_strlcpy(s->bucket, t->bucket, sizeof(s->bucket));
	sky_strlcpy(s->region, t->region, sizeof(s->region));
	sky_strlcpy(s->prefix, t->prefix, sizeof(s->prefix));
	s->path_style = t->path_style;
	s->list_page = t->list_page;
	if (s->path_style)
		snprintf(s->host, sizeof(s->host), "%s", host);
	else
		snprintf(s->host, sizeof(s->host), "%s.%s", t->bucket, host);
	snprintf(s->base, sizeof(s->base), "%s://%s", scheme, s->host);
	s->cred.kind = strcmp(creds, "imds") == 0 ? SKY_AWS_CREDS_IMDS
						  : SKY_AWS_CREDS_ENV;
	/* The IMDS stand-in of the tests, as vipd's (imds_endpoint). */
	const char *imds = getenv("SKYHA_AWS_IMDS_ENDPOINT");
	sky_strlcpy(s->cred.imds_endpoint, imds ? imds : SKY_AWS_IMDS_DEFAULT,
		    sizeof(s->cred.imds_endpoint));
	s->cred.timeout_ms = s->rm.timeout_ms < 5000 ? s->rm.timeout_ms : 5000;
	*out = &s->rm.base;
	return 0;
}
