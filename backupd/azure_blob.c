/*
 * azure_blob.c - a target that is an Azure Blob Storage container (or
 * Azurite through endpoint): one block blob per name, under the prefix.
 *
 * Requests carry x-ms-version 2020-04-08 and are authorised with SharedKey
 * (sign.c, the account key from key_file) or a managed identity's bearer
 * token (shared/cloudcred.c). A put of one block or less is Put Blob; a
 * larger one is Put Block per BK_PART_SIZE, then Put Block List, which
 * makes the blob appear whole at once (uncommitted blocks of a failed put
 * are dropped by the service after a week). A missing container is created
 * on the first put. Retries as s3.c.
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

#define MS_VERSION  "2020-04-08"
#define URL_MAX	    (3 * BK_XML_KEY_MAX + 2048)
#define KEY_MAX	    128
#define STORAGE_AUD "https://storage.azure.com/"

struct az_store {
	struct bk_remote rm;
	char account[BK_FIELD_MAX];
	char container[BK_FIELD_MAX];
	char prefix[BK_FIELD_MAX];
	char base[2 * BK_FIELD_MAX]; /* "https://host[:port]" */
	char path0[BK_FIELD_MAX];    /* the endpoint's path ("/acct") or "" */
	bool shared_key;
	int list_page; /* names per list request; 0: 1000 */
	uint8_t key[KEY_MAX];
	size_t key_len;
	struct sky_azure_tokensrc tok;
};

struct az_call {
	const char *method;
	const char *blob; /* full blob name; NULL: the container */
	struct bk_kv params[6];
	size_t param_count;
	const void *data;
	size_t data_len;
	const char *range;     /* x-ms-range value or NULL */
	const char *blob_type; /* x-ms-blob-type or NULL */
	uint8_t *out;
	size_t out_size;
	size_t body_max;
	const char *want[SKY_HTTP_WANT];
	const char *what;
};

static struct az_store *az_of(struct bk_store *s)
{
	return (struct az_store *)s;
}

static int refuse_name(struct bk_store *s, const char *name)
{
	snprintf(s->reason, sizeof(s->reason), "bad object name \"%.64s\"",
		 name ? name : "");
	return -EINVAL;
}

static int full_name(const struct az_store *s, const char *name, char *out,
		     size_t size)
{
	int n = snprintf(out, size, "%s%s", s->prefix, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void set_reason(struct az_store *s, const struct az_call *c,
		       const char *detail)
{
	snprintf(s->rm.base.reason, sizeof(s->rm.base.reason),
		 "target %s: azure %s: %s", s->rm.target, c->what, detail);
}

/* As s3_call: 0 with a 2xx in resp, or -errno with the reason set;
 * *code receives the service's error code of a final failure. */
static int az_call(struct az_store *s, const struct az_call *c,
		   struct sky_http_resp *resp, char *code, size_t code_size)
{
	char path[3 * BK_XML_KEY_MAX + 2 * BK_FIELD_MAX + 8];
	char enc[3 * BK_XML_KEY_MAX + 1], query[4096], url[URL_MAX];
	char date[40], detail[400] = "", authz[300];
	char h_auth[320], h_date[64], h_ver[40], h_range[96], h_type[64];
	bool refresh = false;
	int last = -EIO, r, n;

	code[0] = '\0';
	s->tok.abort = s->rm.base.abort;
	if (c->blob && sky_url_encode_path(c->blob, enc, sizeof(enc)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(path, sizeof(path), "%s/%s%s%s", s->path0, s->container,
		     c->blob ? "/" : "", c->blob ? enc : "");
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    bk_query_canonical(c->params, c->param_count, query,
			       sizeof(query)) < 0) {
		set_reason(s, c, "name or query too long");
		return -ENAMETOOLONG;
	}
	n = snprintf(url, sizeof(url), "%s%s%s%s", s->base, path,
		     query[0] ? "?" : "", query);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		set_reason(s, c, "URL too long");
		return -ENAMETOOLONG;
	}
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
		if (!s->shared_key) {
			r = sky_azure_token_get(&s->tok, refresh, detail,
						sizeof(detail));
			if (r == -EACCES || r == -E2BIG || r == -ECANCELED) {
				last = r == -E2BIG ? -EINVAL : r;
				break;
			}
			if (r < 0) {
				last = r;
				refresh = false;
				continue;
			}
		}
		refresh = false;
		bk_http_date(time(NULL), date, sizeof(date));
		struct bk_kv ms[4] = {
			{"x-ms-date", date},
			{"x-ms-version", MS_VERSION},
		};
		size_t nms = 2;
		if (c->range)
			ms[nms++] = (struct bk_kv){"x-ms-range", c->range};
		if (c->blob_type)
			ms[nms++] =
				(struct bk_kv){"x-ms-blob-type", c->blob_type};
		if (s->shared_key) {
			struct bk_sharedkey sk = {
				.method = c->method,
				.account = s->account,
				.path = path,
				.params = c->params,
				.param_count = c->param_count,
				.ms_headers = ms,
				.ms_count = nms,
				.content_length = c->data ? c->data_len : 0,
			};
			r = bk_sharedkey_authorization(&sk, s->key, s->key_len,
						       authz, sizeof(authz));
			if (r < 0) {
				snprintf(detail, sizeof(detail),
					 "cannot sign: %s", strerror(-r));
				last = r;
				break;
			}
			snprintf(h_auth, sizeof(h_auth), "Authorization: %s",
				 authz);
		}
		snprintf(h_date, sizeof(h_date), "x-ms-date: %s", date);
		snprintf(h_ver, sizeof(h_ver), "x-ms-version: %s", MS_VERSION);
		snprintf(h_range, sizeof(h_range), "x-ms-range: %s",
			 c->range ? c->range : "");
		snprintf(h_type, sizeof(h_type), "x-ms-blob-type: %s",
			 c->blob_type ? c->blob_type : "");
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
			.headers = {h_date, h_ver,
				    c->range ? h_range : "Accept: */*",
				    c->blob_type ? h_type : "Accept: */*",
				    s->shared_key ? h_auth : NULL},
			.bearer = s->shared_key ? NULL : s->tok.token,
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
		explicit_bzero(h_auth, sizeof(h_auth));
		if (r < 0) {
			snprintf(detail, sizeof(detail), "%s",
				 r == -ECANCELED ? "interrupted" : resp->error);
			last = r;
			if (r == -ECANCELED || r == -EMSGSIZE ||
			    !bk_remote_transport_transient(r))
				break;
			continue;
		}
		if (resp->status >= 200 && resp->status < 300)
			return 0;
		char message[200] = "";
		long status = resp->status;
		if (resp->body)
			bk_xml_error(resp->body, resp->len, code, code_size,
				     message, sizeof(message));
		/* A HEAD's error has no body: x-ms-error-code is its code. */
		sky_http_resp_free(resp);
		snprintf(detail, sizeof(detail), "HTTP %ld %s%s%s", status,
			 code[0] ? code : "(no error code)",
			 message[0] ? ": " : "", message);
		last = bk_remote_status_errno(status);
		if (bk_remote_status_transient(status)) {
			last = -EIO;
			continue;
		}
		if (status == 401 && !s->shared_key && attempt == 1) {
			refresh = true; /* the token: a new one, once */
			continue;
		}
		/* No such blob (a HEAD's 404 has no body, so no code); a
		 * missing container is for the caller to judge (-EIO, code). */
		if (status == 404 &&
		    (!code[0] || !strcmp(code, "BlobNotFound")))
			return -ENOENT;
		if (status == 404)
			last = -EIO;
		break;
	}
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

static int az_simple(struct az_store *s, const struct az_call *c, char *code,
		     size_t code_size)
{
	struct sky_http_resp resp;
	int r = az_call(s, c, &resp, code, code_size);
	if (r == 0)
		sky_http_resp_free(&resp);
	return r;
}

static int create_container(struct az_store *s)
{
	char code[96];
	struct az_call c = {
		.method = "PUT",
		.params = {{"restype", "container"}},
		.param_count = 1,
		.what = "create container",
	};
	int r = az_simple(s, &c, code, sizeof(code));
	return r == -EIO && !strcmp(code, "ContainerAlreadyExists") ? 0 : r;
}

static int put_blocks(struct az_store *s, const char *blob, const char *what,
		      const uint8_t *buf, size_t len, char *code,
		      size_t code_size)
{
	size_t part = s->rm.part_size, blocks = (len + part - 1) / part;
	char id[64], raw[32];

	if (blocks > 50000) {
		snprintf(s->rm.base.reason, sizeof(s->rm.base.reason),
			 "target %s: azure %s: %zu bytes need more than "
			 "50000 blocks",
			 s->rm.target, what, len);
		return -EFBIG;
	}
	size_t doc_size = 128 + blocks * 64;
	_cleanup_free_ char *doc = malloc(doc_size);
	if (!doc)
		return -ENOMEM;
	size_t o = (size_t)snprintf(doc, doc_size,
				    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
				    "<BlockList>");
	for (size_t i = 0; i < blocks; i++) {
		size_t off = i * part, n = len - off < part ? len - off : part;
		/* Every id of a blob has the same length, as Azure wants. */
		snprintf(raw, sizeof(raw), "skyha-%010zu", i);
		bk_base64_encode((const uint8_t *)raw, strlen(raw), id,
				 sizeof(id));
		struct az_call c = {
			.method = "PUT",
			.blob = blob,
			.params = {{"comp", "block"}, {"blockid", id}},
			.param_count = 2,
			.data = buf + off,
			.data_len = n,
			.what = what,
		};
		int r = az_simple(s, &c, code, code_size);
		if (r < 0)
			return r;
		o += (size_t)snprintf(doc + o, doc_size - o,
				      "<Latest>%s</Latest>", id);
	}
	o += (size_t)snprintf(doc + o, doc_size - o, "</BlockList>");
	struct az_call list = {
		.method = "PUT",
		.blob = blob,
		.params = {{"comp", "blocklist"}},
		.param_count = 1,
		.data = doc,
		.data_len = o,
		.what = what,
	};
	return az_simple(s, &list, code, code_size);
}

static int az_put(struct bk_store *st, const char *name, const void *buf,
		  size_t len)
{
	struct az_store *s = az_of(st);
	char blob[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];
	char code[96];
	int r = 0;

	if (!bk_store_name_ok(name) ||
	    full_name(s, name, blob, sizeof(blob)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "put %s", name);
	for (int round = 0; round < 2; round++) {
		if (len > s->rm.part_size) {
			r = put_blocks(s, blob, what, buf, len, code,
				       sizeof(code));
		} else {
			struct az_call c = {
				.method = "PUT",
				.blob = blob,
				.data = buf,
				.data_len = len,
				.blob_type = "BlockBlob",
				.what = what,
			};
			r = az_simple(s, &c, code, sizeof(code));
		}
		if (r == 0 || round > 0 || strcmp(code, "ContainerNotFound"))
			break;
		r = create_container(s);
		if (r < 0)
			break;
	}
	if (r == 0)
		st->bytes_up += len;
	return r;
}

static int az_get(struct bk_store *st, const char *name, size_t max,
		  uint8_t **buf, size_t *len)
{
	struct az_store *s = az_of(st);
	char blob[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];
	char code[96];
	struct sky_http_resp resp;

	if (!bk_store_name_ok(name) ||
	    full_name(s, name, blob, sizeof(blob)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "get %s", name);
	struct az_call c = {
		.method = "GET",
		.blob = blob,
		.body_max = max ? max : 1,
		.want = {"Content-Length"},
		.what = what,
	};
	int r = az_call(s, &c, &resp, code, sizeof(code));
	if (r == -EMSGSIZE) {
		snprintf(st->reason, sizeof(st->reason),
			 "target %s: azure %s: larger than %zu bytes",
			 s->rm.target, what, max);
		return -EFBIG;
	}
	if (r == -EIO && !strcmp(code, "ContainerNotFound"))
		return -ENOENT;
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

static int az_get_range(struct bk_store *st, const char *name, uint64_t offset,
			size_t len, uint8_t *out)
{
	struct az_store *s = az_of(st);
	char blob[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 64];
	char range[96], code[96];
	struct sky_http_resp resp;

	if (!bk_store_name_ok(name) ||
	    full_name(s, name, blob, sizeof(blob)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "get %s (%zu bytes at %" PRIu64 ")", name,
		 len, offset);
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, offset,
		 offset + (len ? len : 1) - 1);
	struct az_call c = {
		.method = len ? "GET" : "HEAD",
		.blob = blob,
		.range = len ? range : NULL,
		.out = out,
		.out_size = len,
		.want = {"Content-Range", "Content-Length"},
		.what = what,
	};
	int r = az_call(s, &c, &resp, code, sizeof(code));
	if (r == -EMSGSIZE) {
		set_reason(s, &c, "reply longer than the range asked");
		return -EIO;
	}
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

struct list_ctx {
	const struct az_store *s;
	int (*fn)(void *ctx, const char *name, uint64_t size);
	void *ctx;
};

static int on_entry(void *user, const char *key, uint64_t size)
{
	struct list_ctx *l = user;
	size_t pl = strlen(l->s->prefix);
	if (strncmp(key, l->s->prefix, pl) != 0 || !bk_store_name_ok(key + pl))
		return 0; /* not ours */
	return l->fn(l->ctx, key + pl, size);
}

static int az_list(struct bk_store *st, const char *prefix,
		   int (*fn)(void *ctx, const char *name, uint64_t size),
		   void *ctx)
{
	struct az_store *s = az_of(st);
	char full[BK_FIELD_MAX + BK_NAME_MAX + 2], marker[2048] = "",
						   prev[2048] = "", code[96];
	struct list_ctx l = {.s = s, .fn = fn, .ctx = ctx};

	if (full_name(s, prefix ? prefix : "", full, sizeof(full)) < 0)
		return refuse_name(st, prefix);
	char page[16];
	snprintf(page, sizeof(page), "%d",
		 s->list_page > 0 && s->list_page <= 1000 ? s->list_page
							  : 1000);
	for (;;) {
		struct az_call c = {
			.method = "GET",
			/* Pages of 1000 as S3's (Azure's default is 5000):
			 * bounded replies, and the same paging everywhere. */
			.params = {{"restype", "container"},
				   {"comp", "list"},
				   {"prefix", full},
				   {"maxresults", page}},
			.param_count = 4,
			.body_max = 16 << 20,
			.what = "list",
		};
		if (marker[0])
			c.params[c.param_count++] =
				(struct bk_kv){"marker", marker};
		struct sky_http_resp resp;
		int r = az_call(s, &c, &resp, code, sizeof(code));
		if (r == -EIO && !strcmp(code, "ContainerNotFound"))
			return 0; /* nothing written yet */
		if (r < 0)
			return r;
		memcpy(prev, marker, sizeof(prev));
		r = bk_xml_blob_list(resp.body, resp.len, on_entry, &l, marker,
				     sizeof(marker));
		sky_http_resp_free(&resp);
		if (r < 0 || (marker[0] && strcmp(marker, prev) == 0)) {
			set_reason(s, &c, "malformed List Blobs reply");
			return -EIO;
		}
		if (r > 0 || !marker[0])
			return 0;
	}
}

static int az_del(struct bk_store *st, const char *name)
{
	struct az_store *s = az_of(st);
	char blob[BK_FIELD_MAX + BK_NAME_MAX + 2], what[BK_NAME_MAX + 16];
	char code[96];

	if (!bk_store_name_ok(name) ||
	    full_name(s, name, blob, sizeof(blob)) < 0)
		return refuse_name(st, name);
	snprintf(what, sizeof(what), "delete %s", name);
	struct az_call c = {.method = "DELETE", .blob = blob, .what = what};
	int r = az_simple(s, &c, code, sizeof(code));
	if (r == -ENOENT || (r == -EIO && !strcmp(code, "ContainerNotFound")))
		return 0;
	return r;
}

static void az_close(struct bk_store *st)
{
	struct az_store *s = az_of(st);
	explicit_bzero(s->key, sizeof(s->key));
	sky_azure_tokensrc_wipe(&s->tok);
	bk_remote_done(&s->rm);
	free(s);
}

static const struct bk_store_ops az_ops = {
	.put = az_put,
	.get = az_get,
	.get_range = az_get_range,
	.list = az_list,
	.del = az_del,
	.close = az_close,
};

static bool container_ok(const char *c)
{
	size_t n = strlen(c);
	if (n < 3 || n > 63 || c[0] == '-' || c[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)c[i]) ||
		      isdigit((unsigned char)c[i]) ||
		      (c[i] == '-' && c[i + 1] != '-')))
			return false;
	return true;
}

static bool account_ok(const char *a)
{
	size_t n = strlen(a);
	if (n < 3 || n > 24)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)a[i]) &&
		    !isdigit((unsigned char)a[i]))
			return false;
	return true;
}

/* endpoint "http[s]://host[:port][/path]" -> base and path0. */
static int split_endpoint(struct az_store *s, const char *endpoint)
{
	const char *p = strstr(endpoint, "://");
	if (!p || (strncmp(endpoint, "http://", 7) != 0 &&
		   strncmp(endpoint, "https://", 8) != 0))
		return -EINVAL;
	p += 3;
	size_t hl = strcspn(p, "/");
	if (hl == 0)
		return -EINVAL;
	for (const char *q = endpoint; *q; q++)
		if (!isgraph((unsigned char)*q) || strchr("?#%", *q))
			return -EINVAL;
	size_t bl = (size_t)(p + hl - endpoint);
	if (bl >= sizeof(s->base))
		return -EINVAL;
	memcpy(s->base, endpoint, bl);
	s->base[bl] = '\0';
	sky_strlcpy(s->path0, p + hl, sizeof(s->path0));
	size_t n = strlen(s->path0);
	while (n && s->path0[n - 1] == '/')
		s->path0[--n] = '\0';
	return 0;
}

static int load_key(struct az_store *s, const char *path, char *why,
		    size_t why_size, const char *target)
{
	_cleanup_free_ char *text = NULL;
	size_t n;
	int r = sky_read_file(path, 4096, &text, &n);
	if (r < 0) {
		snprintf(why, why_size, "target %s: key_file %s: %s", target,
			 path, strerror(-r));
		return r;
	}
	r = bk_base64_decode(text, s->key, sizeof(s->key), &s->key_len);
	explicit_bzero(text, n);
	if (r < 0 || s->key_len < 16) {
		snprintf(why, why_size,
			 "target %s: key_file %s: not a base64 account key",
			 target, path);
		return -EINVAL;
	}
	return 0;
}

int bk_store_azure_open(const struct bk_target_cfg *t, struct bk_store **out,
			char *why, size_t why_size)
{
	if (!account_ok(t->account)) {
		snprintf(why, why_size,
			 "target %s: account \"%s\" is not a storage account "
			 "name (3-24 of a-z 0-9)",
			 t->name, t->account);
		return -EINVAL;
	}
	if (!container_ok(t->container)) {
		snprintf(why, why_size,
			 "target %s: container \"%s\" is not a container name "
			 "(3-63 of a-z 0-9 -)",
			 t->name, t->container);
		return -EINVAL;
	}
	if (!bk_prefix_ok(t->prefix)) {
		snprintf(why, why_size, "target %s: bad prefix \"%s\"", t->name,
			 t->prefix);
		return -EINVAL;
	}
	const char *creds = t->credentials[0] ? t->credentials : "shared_key";
	bool shared_key = strcmp(creds, "shared_key") == 0;
	if (!shared_key && strcmp(creds, "managed_identity") != 0) {
		snprintf(why, why_size,
			 "target %s: credentials \"%s\": shared_key or "
			 "managed_identity",
			 t->name, t->credentials);
		return -EINVAL;
	}
	if (shared_key && !t->key_file[0]) {
		snprintf(why, why_size,
			 "target %s: credentials shared_key needs key_file",
			 t->name);
		return -EINVAL;
	}
	struct az_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->rm.base.ops = &az_ops;
	if (bk_remote_init(&s->rm, t) < 0) {
		az_close(&s->rm.base);
		return -ENOMEM;
	}
	sky_strlcpy(s->account, t->account, sizeof(s->account));
	sky_strlcpy(s->container, t->container, sizeof(s->container));
	s->list_page = t->list_page;
	sky_strlcpy(s->prefix, t->prefix, sizeof(s->prefix));
	s->shared_key = shared_key;
	int r = 0;
	if (t->endpoint[0]) {
		r = split_endpoint(s, t->endpoint);
		if (r < 0)
			snprintf(why, why_size,
				 "target %s: endpoint \"%s\" is not "
				 "http(s)://host[:port][/path]",
				 t->name, t->endpoint);
	} else {
		snprintf(s->base, sizeof(s->base),
			 "https://%s.blob.core.windows.net", t->account);
	}
	if (r == 0 && shared_key)
		r = load_key(s, t->key_file, why, why_size, t->name);
	if (r < 0) {
		az_close(&s->rm.base);
		return r;
	}
	const char *imds = getenv("SKYHA_AZURE_IMDS_ENDPOINT");
	sky_strlcpy(s->tok.imds_endpoint, imds ? imds : SKY_AZURE_IMDS_DEFAULT,
		    sizeof(s->tok.imds_endpoint));
	sky_strlcpy(s->tok.resource, STORAGE_AUD, sizeof(s->tok.resource));
	s->tok.timeout_ms = s->rm.timeout_ms < 5000 ? s->rm.timeout_ms : 5000;
	*out = &s->rm.base;
	return 0;
}
