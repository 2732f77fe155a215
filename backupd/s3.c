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
 * credentials are fetched again once (remote.c sends, retries and reads
 * the replies; this file has S3's URLs, signature and names).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPLOAD_MAX 1024 /* an UploadId */

struct s3_store {
	struct bk_remote rm;
	char bucket[BK_FIELD_MAX];
	char region[64];
	char host[BK_FIELD_MAX + 80]; /* the Host header */
	bool path_style;
	struct sky_aws_credsrc cred;
	char payload[BK_SHA256_HEX]; /* of the call being sent */
};

static struct s3_store *s3_of(struct bk_remote *r)
{
	return (struct s3_store *)r;
}

/* Path (canonical URI, encoded) of a call, and its payload's hash. */
static int s3_prepare(struct bk_remote *r, const struct bk_remote_call *c,
		      const char *enc, char *path, size_t size)
{
	struct s3_store *s = s3_of(r);
	int n;

	s->cred.abort = r->base.abort;
	if (s->path_style)
		n = snprintf(path, size, "/%s/%s", s->bucket, enc ? enc : "");
	else
		n = snprintf(path, size, "/%s", enc ? enc : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	bk_sha256_hex(c->data ? c->data : "", c->data ? c->data_len : 0,
		      s->payload);
	return 0;
}

/* Credentials (from the environment or IMDS), the SigV4 signature and
 * the x-amz-* headers. */
static int s3_authorize(struct bk_remote *r, struct bk_remote_attempt *a,
			bool *again)
{
	struct s3_store *s = s3_of(r);
	const struct bk_remote_call *c = a->c;
	char amz_date[20], authz[1024];

	int rc = sky_aws_creds_get(&s->cred, a->refresh, a->detail,
				   a->detail_size);
	if (rc == -ENOKEY || rc == -EACCES || rc == -ECANCELED)
		return rc == -ENOKEY ? -EACCES : rc;
	if (rc < 0) { /* IMDS busy or garbled for a moment */
		*again = true;
		return rc;
	}
	const struct sky_aws_creds *k = &s->cred.creds;
	bk_amz_date(time(NULL), amz_date, sizeof(amz_date));
	struct bk_kv sh[5] = {
		{"host", s->host},
		{"x-amz-content-sha256", s->payload},
		{"x-amz-date", amz_date},
	};
	size_t nh = 3;
	if (k->token[0])
		sh[nh++] = (struct bk_kv){"x-amz-security-token", k->token};
	if (c->range)
		sh[nh++] = (struct bk_kv){"range", c->range};
	struct bk_sigv4 sig = {
		.method = c->method,
		.path = a->path,
		.query = a->query,
		.headers = sh,
		.header_count = nh,
		.payload_sha256 = s->payload,
		.amz_date = amz_date,
		.region = s->region,
		.service = "s3",
		.key_id = k->key_id,
		.secret = k->secret,
	};
	rc = bk_sigv4_authorization(&sig, authz, sizeof(authz), NULL, 0);
	if (rc == 0)
		rc = bk_remote_header(a, "Authorization: %s", authz);
	explicit_bzero(authz, sizeof(authz));
	if (rc < 0) {
		snprintf(a->detail, a->detail_size, "cannot sign: %s",
			 strerror(-rc));
		return rc;
	}
	bk_remote_header(a, "x-amz-date: %s", amz_date);
	bk_remote_header(a, "x-amz-content-sha256: %s", s->payload);
	if (c->range)
		bk_remote_header(a, "Range: %s", c->range);
	else
		bk_remote_header(a, "Accept: */*");
	if (k->token[0])
		bk_remote_header(a, "x-amz-security-token: %s", k->token);
	return 0;
}

/* Session credentials that just expired. */
static bool s3_renew(struct bk_remote *r, long status, const char *code,
		     int attempt)
{
	(void)r;
	(void)status;
	(void)attempt;
	return !strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
	       !strcmp(code, "RequestExpired");
}

/* --- put ------------------------------------------------------------------- */

static void set_reason(struct s3_store *s, const struct bk_remote_call *c,
		       const char *detail)
{
	bk_remote_set_reason(&s->rm, c->what, detail);
}

static int s3_call(struct s3_store *s, const struct bk_remote_call *c,
		   struct sky_http_resp *resp)
{
	char code[BK_REMOTE_CODE_MAX];
	return bk_remote_call(&s->rm, c, resp, code, sizeof(code));
}

static void abort_upload(struct s3_store *s, const char *key,
			 const char *upload_id)
{
	char keep[BK_REASON_MAX], code[BK_REMOTE_CODE_MAX];
	struct bk_remote_call c = {
		.method = "DELETE",
		.name = key,
		.params = {{"uploadId", upload_id}},
		.param_count = 1,
		.what = "abort multipart upload",
	};
	memcpy(keep, s->rm.base.reason, sizeof(keep)); /* the first failure */
	bk_remote_call_simple(&s->rm, &c, code, sizeof(code));
	memcpy(s->rm.base.reason, keep, sizeof(keep));
}

/* UploadPart: part i+1 of the upload (ctx: its UploadId); the completion
 * document lists it with its ETag. */
static int send_part(struct bk_remote *r, void *ctx, size_t i,
		     struct bk_remote_call *c, char *entry, size_t entry_size)
{
	char pn[16], code[BK_REMOTE_CODE_MAX], etag[SKY_HTTP_VALUE_MAX];
	struct sky_http_resp resp;

	snprintf(pn, sizeof(pn), "%zu", i + 1);
	c->params[c->param_count++] = (struct bk_kv){"partNumber", pn};
	c->params[c->param_count++] = (struct bk_kv){"uploadId", ctx};
	c->want[0] = "ETag";
	int rc = bk_remote_call(r, c, &resp, code, sizeof(code));
	if (rc < 0)
		return rc;
	memcpy(etag, resp.value[0], sizeof(etag));
	sky_http_resp_free(&resp);
	if (!etag[0] || strchr(etag, '<') || strchr(etag, '&')) {
		bk_remote_set_reason(r, c->what, "UploadPart: no usable ETag");
		return -EIO;
	}
	snprintf(entry, entry_size,
		 "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
		 i + 1, etag);
	return 0;
}

static int put_multipart(struct s3_store *s, const char *key, const char *what,
			 const uint8_t *buf, size_t len)
{
	char upload_id[UPLOAD_MAX];
	_cleanup_free_ char *doc = NULL;
	size_t parts, o;
	struct sky_http_resp resp;
	const struct bk_remote_parts p = {
		.max = 10000,
		.noun = "parts",
		.doc_head = "<CompleteMultipartUpload>",
		.doc_tail = "</CompleteMultipartUpload>",
		.entry_max = 64 + SKY_HTTP_VALUE_MAX,
		.send = send_part,
		.ctx = upload_id,
	};
	int r = bk_remote_parts(&s->rm, what, len, &p, &parts);

	if (r < 0)
		return r;
	struct bk_remote_call create = {
		.method = "POST",
		.name = key,
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
	r = bk_remote_put_parts(&s->rm, key, what, buf, len, &p, &doc, &o);
	if (r < 0) {
		abort_upload(s, key, upload_id);
		return r;
	}
	struct bk_remote_call done = {
		.method = "POST",
		.name = key,
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

/* One PUT, or a multipart upload when larger than a part. */
static int s3_put(struct bk_remote *r, const char *key, const char *what,
		  const void *buf, size_t len)
{
	char code[BK_REMOTE_CODE_MAX];

	if (len > r->part_size)
		return put_multipart(s3_of(r), key, what, buf, len);
	return bk_remote_put_one(r, key, what, buf, len, code, sizeof(code));
}

static void s3_wipe(struct bk_remote *r)
{
	sky_aws_credsrc_wipe(&s3_of(r)->cred);
}

static const char *const s3_retry_codes[] = {"RequestTimeout", "SlowDown",
					     NULL};

static const struct bk_remote_api s3_api = {
	.kind = "s3",
	.prepare = s3_prepare,
	.authorize = s3_authorize,
	.not_found = "NoSuchKey", /* a missing bucket or upload: -EIO */
	.retry_codes = s3_retry_codes,
	.renew = s3_renew,
	.renew_is_free = true, /* expired credentials: not the store's fault */
	.range_416_is_short = true,
	.put = s3_put,
	.list = {{{"list-type", "2"}},
		 "max-keys",
		 "continuation-token",
		 bk_xml_s3_list,
		 "ListObjectsV2"},
	.wipe = s3_wipe,
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
	if (bk_remote_check_prefix(t, why, why_size) < 0)
		return -EINVAL;
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
	struct s3_store *s = bk_remote_new(sizeof(*s), &s3_api, t);
	if (!s)
		return -ENOMEM;
	sky_strlcpy(s->bucket, t->bucket, sizeof(s->bucket));
	sky_strlcpy(s->region, t->region, sizeof(s->region));
	s->path_style = t->path_style;
	if (s->path_style)
		snprintf(s->host, sizeof(s->host), "%s", host);
	else
		snprintf(s->host, sizeof(s->host), "%s.%s", t->bucket, host);
	snprintf(s->rm.base_url, sizeof(s->rm.base_url), "%s://%s", scheme,
		 s->host);
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
