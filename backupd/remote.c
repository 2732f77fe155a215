/*
 * remote.c - see remote.h.
 */
#include "remote.h"
#include "httpc.h"
#include "sign.h"
#include "util.h"
#include "xml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define URL_MAX (3 * BK_XML_KEY_MAX + 2048)
/* One attempt's header text (an AWS session token alone: up to 4 KiB). */
#define HEADERS_MAX 8192

/* --- retries and errors ---------------------------------------------------- */

static bool aborted(const struct bk_remote *r)
{
	return r->base.abort && atomic_load(r->base.abort);
}

/* Wait before attempt (2, 3, ...) and count a retry; -ECANCELED if the
 * abort flag rose meanwhile. Full jitter. */
static int backoff(struct bk_remote *r, int attempt)
{
	r->base.retries++;
	int64_t until =
		sky_now_ms() + sky_backoff_ms(BK_REMOTE_BACKOFF_MS,
					      (uint32_t)attempt - 1, &r->seed);
	while (sky_now_ms() < until) {
		if (aborted(r))
			return -ECANCELED;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return aborted(r) ? -ECANCELED : 0;
}

/* A transport failure (sky_http's -errno) worth another attempt. */
static bool transport_transient(int r)
{
	return r == -ETIMEDOUT || r == -ECONNRESET || r == -ECONNREFUSED ||
	       r == -EIO;
}

/* An HTTP status worth another attempt (5xx, 429, 408). */
static bool status_transient(long status)
{
	return status >= 500 || status == 429 || status == 408;
}

/* The store error of a final HTTP failure status. */
static int status_errno(long status)
{
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 413:
		return -EFBIG;
	case 507:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

/* A target prefix: "" or names ending in '/' ("backups/node1/"). */
static bool prefix_ok(const char *prefix)
{
	char tmp[BK_NAME_MAX + 2];
	size_t n = strlen(prefix);
	if (n == 0)
		return true;
	if (n > BK_NAME_MAX || prefix[n - 1] != '/')
		return false;
	memcpy(tmp, prefix, n - 1);
	tmp[n - 1] = '\0';
	return bk_store_name_ok(tmp);
}

/* What store.h promises out of a failure (-EAGAIN from a busy IMDS, a
 * reset, a refused connection become -EIO; the reason says which). */
static int final_errno(int r)
{
	switch (r) {
	case 0:
	case -ENOENT:
	case -EACCES:
	case -ETIMEDOUT:
	case -EIO:
	case -ENOSPC:
	case -EFBIG:
	case -ENOMEM:
	case -EINVAL:
	case -ECANCELED:
	case -EMSGSIZE: /* the caller's bound: get says -EFBIG */
	case -ENAMETOOLONG:
		return r;
	default:
		return -EIO;
	}
}

/* A reply's Content-Range says exactly bytes offset..offset+len-1. */
static bool content_range_is(const char *v, uint64_t offset, size_t len)
{
	unsigned long long a, b;
	char slash;
	if (sscanf(v, "bytes %llu-%llu%c", &a, &b, &slash) != 3 || slash != '/')
		return false;
	return a == offset && b + 1 == offset + len;
}

/* A Content-Length (v, "" when absent) that agrees with the len received. */
static bool content_length_is(const char *v, size_t len)
{
	int64_t announced;

	if (!v[0])
		return true;
	return sky_parse_i64(v, 0, INT64_MAX, &announced) == 0 &&
	       (uint64_t)announced == len;
}

/* --- one request, attempted until final ------------------------------------ */

void bk_remote_set_reason(struct bk_remote *r, const char *what,
			  const char *detail)
{
	snprintf(r->base.reason, sizeof(r->base.reason), "target %s: %s %s: %s",
		 r->target, r->api->kind, what, detail);
}

int bk_remote_header(struct bk_remote_attempt *a, const char *fmt, ...)
{
	va_list ap;
	size_t room = a->buf_size - a->buf_used;

	if (a->header_count + 1 >= SKY_HTTP_HEADERS)
		return -ENOSPC;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->buf_used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -ENOSPC;
	a->headers[a->header_count++] = a->buf + a->buf_used;
	a->buf_used += (size_t)n + 1;
	return 0;
}

static bool code_in(const char *const *codes, const char *code)
{
	for (; codes && *codes; codes++)
		if (!strcmp(*codes, code))
			return true;
	return false;
}

#define PATH_LEN  (3 * BK_XML_KEY_MAX + 2 * BK_FIELD_MAX + 8)
#define QUERY_MAX 4096

/* The canonical path (the backend's shape) and query of c, and its URL;
 * -errno with the reason set. */
static int call_url(struct bk_remote *r, const struct bk_remote_call *c,
		    char path[PATH_LEN], char query[QUERY_MAX],
		    char url[URL_MAX])
{
	char enc[3 * BK_XML_KEY_MAX + 1];
	int rc = 0;

	if (c->name && sky_url_encode_path(c->name, enc, sizeof(enc)) < 0)
		rc = -ENAMETOOLONG;
	if (rc == 0)
		rc = r->api->prepare(r, c, c->name ? enc : NULL, path,
				     PATH_LEN);
	if (rc == 0)
		rc = bk_query_canonical(c->params, c->param_count, query,
					QUERY_MAX);
	if (rc < 0) {
		bk_remote_set_reason(r, c->what, "name or query too long");
		return rc == -ENOSPC ? -ENAMETOOLONG : rc;
	}
	int n = snprintf(url, URL_MAX, "%s%s%s%s", r->base_url, path,
			 query[0] ? "?" : "", query);
	if (n < 0 || n >= URL_MAX) {
		bk_remote_set_reason(r, c->what, "URL too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* An error reply read and freed: the service's code, the detail for the
 * reason ("HTTP 403 AccessDenied: ..."); its status. */
static long error_reply(struct sky_http_resp *resp, char *code,
			size_t code_size, char *detail, size_t detail_size)
{
	char message[200] = "";
	long status = resp->status;

	code[0] = '\0';
	if (resp->body) /* a HEAD's error has none */
		bk_xml_error(resp->body, resp->len, code, code_size, message,
			     sizeof(message));
	sky_http_resp_free(resp);
	snprintf(detail, detail_size, "HTTP %ld %s%s%s", status,
		 code[0] ? code : "(no error code)", message[0] ? ": " : "",
		 message);
	return status;
}

int bk_remote_call(struct bk_remote *r, const struct bk_remote_call *c,
		   struct sky_http_resp *resp, char *code, size_t code_size)
{
	const struct bk_remote_api *api = r->api;
	char path[PATH_LEN], query[QUERY_MAX], url[URL_MAX], detail[400] = "";
	bool refreshed = false, refresh = false;
	int last = -EIO, attempt;

	code[0] = '\0';
	int rc = call_url(r, c, path, query, url);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *hbuf = malloc(HEADERS_MAX);
	if (!hbuf)
		return -ENOMEM;
	for (attempt = 1; attempt <= r->attempts; attempt++) {
		if ((attempt > 1 && !refresh && backoff(r, attempt) < 0) ||
		    aborted(r)) {
			last = -ECANCELED;
			snprintf(detail, sizeof(detail), "interrupted");
			break;
		}
		struct bk_remote_attempt a = {
			.c = c,
			.path = path,
			.query = query,
			.refresh = refresh,
			.buf = hbuf,
			.buf_size = HEADERS_MAX,
			.detail = detail,
			.detail_size = sizeof(detail),
		};
		bool again = false;
		refresh = false;
		rc = api->authorize(r, &a, &again);
		if (rc < 0) {
			explicit_bzero(hbuf, a.buf_used);
			last = rc;
			if (again) /* a credential service busy for a moment */
				continue;
			break;
		}
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
			.bearer = a.bearer,
			.ca_file = r->ca_file,
			.timeout_ms = r->timeout_ms,
			.abort = r->base.abort,
			.conn = r->conn,
			.out = c->out,
			.out_size = c->out_size,
			.body_max = c->body_max,
		};
		memcpy(req.headers, a.headers, sizeof(req.headers));
		memcpy(req.want, c->want, sizeof(req.want));
		r->base.requests++;
		rc = sky_http(&req, resp);
		explicit_bzero(hbuf, a.buf_used);
		if (rc < 0) {
			snprintf(detail, sizeof(detail), "%s",
				 rc == -ECANCELED ? "interrupted"
						  : resp->error);
			last = rc;
			if (rc == -ECANCELED || rc == -EMSGSIZE ||
			    !transport_transient(rc))
				break;
			continue;
		}
		if (resp->status >= 200 && resp->status < 300)
			return 0;
		long status = error_reply(resp, code, code_size, detail,
					  sizeof(detail));
		last = status_errno(status);
		if (status_transient(status) ||
		    code_in(api->retry_codes, code)) {
			last = status >= 500 ? -EIO : last;
			continue;
		}
		/* Credentials that just expired: new ones, once. */
		if (!refreshed && api->renew(r, status, code, attempt)) {
			refreshed = refresh = true;
			if (api->renew_is_free)
				attempt--; /* not the store's fault */
			continue;
		}
		/* No such object (a HEAD's 404 has no body, so no code). A
		 * missing bucket or container is for the caller to judge. */
		if (status == 404 &&
		    (!code[0] || !strcmp(code, api->not_found)))
			return -ENOENT;
		if (status == 404)
			last = -EIO;
		break;
	}
	if (attempt <= r->attempts) { /* a final answer, not exhaustion */
		bk_remote_set_reason(r, c->what, detail);
	} else {
		char tmp[sizeof(detail) + 64];
		snprintf(tmp, sizeof(tmp), "failed after %d attempts: %s",
			 r->attempts, detail);
		bk_remote_set_reason(r, c->what, tmp);
	}
	return final_errno(last);
}

int bk_remote_call_simple(struct bk_remote *r, const struct bk_remote_call *c,
			  char *code, size_t code_size)
{
	struct sky_http_resp resp;
	int rc = bk_remote_call(r, c, &resp, code, code_size);
	if (rc == 0)
		sky_http_resp_free(&resp);
	return rc;
}

int bk_remote_put_one(struct bk_remote *r, const char *name, const char *what,
		      const void *buf, size_t len, char *code, size_t code_size)
{
	struct bk_remote_call c = {
		.method = "PUT",
		.name = name,
		.data = buf,
		.data_len = len,
		.what = what,
	};
	return bk_remote_call_simple(r, &c, code, code_size);
}

int bk_remote_parts(struct bk_remote *r, const char *what, size_t len,
		    const struct bk_remote_parts *p, size_t *parts)
{
	*parts = (len + r->part_size - 1) / r->part_size;
	if (*parts <= p->max)
		return 0;
	char detail[160];
	snprintf(detail, sizeof(detail), "%zu bytes need more than %zu %s", len,
		 p->max, p->noun);
	bk_remote_set_reason(r, what, detail);
	return -EFBIG;
}

int bk_remote_put_parts(struct bk_remote *r, const char *name, const char *what,
			const uint8_t *buf, size_t len,
			const struct bk_remote_parts *p, char **doc,
			size_t *doc_len)
{
	size_t part = r->part_size, parts;
	int rc = bk_remote_parts(r, what, len, p, &parts);

	if (rc < 0)
		return rc;
	size_t size = 128 + parts * p->entry_max;
	_cleanup_free_ char *d = malloc(size);
	if (!d)
		return -ENOMEM;
	size_t o = (size_t)snprintf(d, size, "%s", p->doc_head);
	for (size_t i = 0; i < parts; i++) {
		size_t off = i * part;
		struct bk_remote_call c = {
			.method = "PUT",
			.name = name,
			.data = buf + off,
			.data_len = len - off < part ? len - off : part,
			.what = what,
		};
		rc = p->send(r, p->ctx, i, &c, d + o, size - o);
		if (rc < 0)
			return rc;
		o += strlen(d + o);
	}
	o += (size_t)snprintf(d + o, size - o, "%s", p->doc_tail);
	*doc = steal_ptr(d);
	*doc_len = o;
	return 0;
}

/* --- the store operations -------------------------------------------------- */

static struct bk_remote *remote_of(struct bk_store *s)
{
	return (struct bk_remote *)s;
}

#define FULL_MAX (BK_FIELD_MAX + BK_NAME_MAX + 2)
#define WHAT_MAX (BK_NAME_MAX + 64)

/* The full name of name (the target's prefix before it). */
static int full_name(const struct bk_remote *r, const char *name, char *out,
		     size_t size)
{
	int n = snprintf(out, size, "%s%s", r->prefix, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* An object's name checked, its full name, and "VERB name" for reasons. */
static int object_name(struct bk_remote *r, const char *verb, const char *name,
		       char full[FULL_MAX], char what[WHAT_MAX])
{
	if (!bk_store_name_ok(name) || full_name(r, name, full, FULL_MAX) < 0)
		return bk_store_refuse_name(&r->base, name);
	snprintf(what, WHAT_MAX, "%s %s", verb, name);
	return 0;
}

/* A failure that says the bucket or container is missing, which get,
 * list and del read as "nothing there" where the backend says so. */
static bool no_container(const struct bk_remote *r, int rc, const char *code)
{
	return rc == -EIO && r->api->no_container &&
	       !strcmp(code, r->api->no_container);
}

static int remote_put(struct bk_store *st, const char *name, const void *buf,
		      size_t len)
{
	struct bk_remote *r = remote_of(st);
	char full[FULL_MAX], what[WHAT_MAX];

	int rc = object_name(r, "put", name, full, what);
	if (rc == 0)
		rc = r->api->put(r, full, what, buf, len);
	if (rc == 0)
		st->bytes_up += len;
	return rc;
}

static int remote_get(struct bk_store *st, const char *name, size_t max,
		      uint8_t **buf, size_t *len)
{
	struct bk_remote *r = remote_of(st);
	char full[FULL_MAX], what[WHAT_MAX], code[BK_REMOTE_CODE_MAX];
	char detail[64];
	struct sky_http_resp resp;

	if (object_name(r, "get", name, full, what) < 0)
		return -EINVAL;
	struct bk_remote_call c = {
		.method = "GET",
		.name = full,
		.body_max = max ? max : 1,
		.want = {"Content-Length"},
		.what = what,
	};
	int rc = bk_remote_call(r, &c, &resp, code, sizeof(code));
	if (rc == -EMSGSIZE) { /* the caller's bound */
		snprintf(detail, sizeof(detail), "larger than %zu bytes", max);
		bk_remote_set_reason(r, what, detail);
		return -EFBIG;
	}
	if (no_container(r, rc, code))
		return -ENOENT;
	if (rc < 0)
		return rc;
	if (!content_length_is(resp.value[0], resp.len)) {
		bk_remote_set_reason(
			r, what, "reply length differs from Content-Length");
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
static int remote_get_range(struct bk_store *st, const char *name,
			    uint64_t offset, size_t len, uint8_t *out)
{
	struct bk_remote *r = remote_of(st);
	char full[FULL_MAX], what[WHAT_MAX], range[96],
		code[BK_REMOTE_CODE_MAX];
	struct sky_http_resp resp;

	if (object_name(r, "get", name, full, what) < 0)
		return -EINVAL;
	snprintf(what, sizeof(what), "get %s (%zu bytes at %" PRIu64 ")", name,
		 len, offset);
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, offset,
		 offset + (len ? len : 1) - 1);
	struct bk_remote_call c = {
		.method = len ? "GET" : "HEAD",
		.name = full,
		.range = len ? range : NULL,
		.out = out,
		.out_size = len,
		.want = {"Content-Range", "Content-Length"},
		.what = what,
	};
	resp.status = 0;
	int rc = bk_remote_call(r, &c, &resp, code, sizeof(code));
	if (rc == -EMSGSIZE) {
		bk_remote_set_reason(r, what,
				     "reply longer than the range asked");
		return -EIO;
	}
	if (rc == -EIO && r->api->range_416_is_short && resp.status == 416)
		bk_remote_set_reason(r, what, "the object is shorter");
	if (rc < 0)
		return rc;
	bool ok;
	if (len == 0) {
		int64_t size;
		ok = sky_parse_i64(resp.value[1], 0, INT64_MAX, &size) == 0 &&
		     (uint64_t)size >= offset;
	} else {
		ok = resp.len == len &&
		     ((resp.status == 206 &&
		       content_range_is(resp.value[0], offset, len)) ||
		      (resp.status == 200 && offset == 0));
	}
	sky_http_resp_free(&resp);
	if (!ok) {
		bk_remote_set_reason(r, what, "short or mismatched reply");
		return -EIO;
	}
	st->bytes_down += len;
	return 0;
}

struct list_ctx {
	const struct bk_remote *r;
	int (*fn)(void *ctx, const char *name, uint64_t size);
	void *ctx;
};

static int on_entry(void *user, const char *key, uint64_t size)
{
	struct list_ctx *l = user;
	size_t pl = strlen(l->r->prefix);
	if (strncmp(key, l->r->prefix, pl) != 0 || !bk_store_name_ok(key + pl))
		return 0; /* not ours: never handed to the repository */
	return l->fn(l->ctx, key + pl, size);
}

static int remote_list(struct bk_store *st, const char *prefix,
		       int (*fn)(void *ctx, const char *name, uint64_t size),
		       void *ctx)
{
	struct bk_remote *r = remote_of(st);
	const struct bk_remote_api *api = r->api;
	char full[FULL_MAX], next[2048] = "", prev[2048] = "";
	char page[16], code[BK_REMOTE_CODE_MAX], detail[64];
	struct list_ctx l = {.r = r, .fn = fn, .ctx = ctx};

	if (full_name(r, prefix ? prefix : "", full, sizeof(full)) < 0)
		return bk_store_refuse_name(st, prefix);
	/* Pages of 1000 at most (Azure's default is 5000): bounded replies,
	 * and the same paging everywhere. */
	snprintf(page, sizeof(page), "%d",
		 r->list_page > 0 && r->list_page <= 1000 ? r->list_page
							  : 1000);
	for (;;) {
		struct bk_remote_call c = {
			.method = "GET",
			.body_max = 16 << 20,
			.what = "list",
		};
		for (size_t i = 0; i < SKY_ARRAY_SIZE(api->list.params) &&
				   api->list.params[i].name;
		     i++)
			c.params[c.param_count++] = api->list.params[i];
		c.params[c.param_count++] = (struct bk_kv){"prefix", full};
		c.params[c.param_count++] =
			(struct bk_kv){api->list.page, page};
		if (next[0])
			c.params[c.param_count++] =
				(struct bk_kv){api->list.next, next};
		struct sky_http_resp resp;
		int rc = bk_remote_call(r, &c, &resp, code, sizeof(code));
		if (no_container(r, rc, code))
			return 0; /* nothing written yet */
		if (rc < 0)
			return rc;
		memcpy(prev, next, sizeof(prev));
		rc = api->list.parse(resp.body, resp.len, on_entry, &l, next,
				     sizeof(next));
		sky_http_resp_free(&resp);
		if (rc < 0 || (next[0] && strcmp(next, prev) == 0)) {
			snprintf(detail, sizeof(detail), "malformed %s reply",
				 api->list.reply);
			bk_remote_set_reason(r, c.what, detail);
			return -EIO;
		}
		if (rc > 0 || !next[0])
			return 0;
	}
}

static int remote_del(struct bk_store *st, const char *name)
{
	struct bk_remote *r = remote_of(st);
	char full[FULL_MAX], what[WHAT_MAX], code[BK_REMOTE_CODE_MAX];

	if (object_name(r, "delete", name, full, what) < 0)
		return -EINVAL;
	struct bk_remote_call c = {
		.method = "DELETE", .name = full, .what = what};
	int rc = bk_remote_call_simple(r, &c, code, sizeof(code));
	if (rc == -ENOENT || no_container(r, rc, code))
		return 0;
	return rc;
}

/* The backend's secrets wiped, the connection closed, the store freed. */
static void remote_close(struct bk_store *st)
{
	struct bk_remote *r = remote_of(st);
	r->api->wipe(r);
	sky_http_conn_free(&r->conn);
	free(r);
}

/* In the order of struct bk_store_ops (store.h): each member has its own
 * type, so a slip does not compile. */
static const struct bk_store_ops remote_ops = {
	remote_put,  remote_get, remote_get_range,
	remote_list, remote_del, remote_close,
};

/* --- setting up ------------------------------------------------------------ */

void *bk_remote_new(size_t size, const struct bk_remote_api *api,
		    const struct bk_target_cfg *t)
{
	struct bk_remote *r = calloc(1, size);
	if (!r)
		return NULL;
	r->base.ops = &remote_ops;
	r->api = api;
	sky_strlcpy(r->target, t->name, sizeof(r->target));
	sky_strlcpy(r->prefix, t->prefix, sizeof(r->prefix));
	r->timeout_ms =
		t->timeout_ms > 0 ? t->timeout_ms : BK_REMOTE_TIMEOUT_MS;
	r->attempts = t->attempts > 0 ? t->attempts : BK_REMOTE_ATTEMPTS;
	r->seed = (unsigned)sky_now_ms() ^ ((unsigned)getpid() << 12);
	sky_strlcpy(r->ca_file, t->ca_file, sizeof(r->ca_file));
	r->part_size = BK_PART_SIZE;
	r->list_page = t->list_page;
	r->conn = sky_http_conn_new();
	if (!r->conn) {
		remote_close(&r->base);
		return NULL;
	}
	return r;
}

int bk_remote_check_prefix(const struct bk_target_cfg *t, char *why,
			   size_t why_size)
{
	if (prefix_ok(t->prefix))
		return 0;
	snprintf(why, why_size, "target %s: bad prefix \"%s\"", t->name,
		 t->prefix);
	return -EINVAL;
}
