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
 * on the first put. Retries as s3.c (remote.c sends, retries and reads the
 * replies; this file has Azure's URLs, authorisation and names).
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

#define MS_VERSION  "2020-04-08"
#define KEY_MAX	    128
#define STORAGE_AUD "https://storage.azure.com/"

struct az_store {
	struct bk_remote rm;
	char account[BK_FIELD_MAX];
	char container[BK_FIELD_MAX];
	char path0[BK_FIELD_MAX]; /* the endpoint's path ("/acct") or "" */
	bool shared_key;
	uint8_t key[KEY_MAX];
	size_t key_len;
	struct sky_azure_tokensrc tok;
};

static struct az_store *az_of(struct bk_remote *r)
{
	return (struct az_store *)r;
}

/* "[/acct]/container[/blob]", encoded. */
static int az_prepare(struct bk_remote *r, const struct bk_remote_call *c,
		      const char *enc, char *path, size_t size)
{
	struct az_store *s = az_of(r);

	(void)c;
	s->tok.abort = r->base.abort;
	int n = snprintf(path, size, "%s/%s%s%s", s->path0, s->container,
			 enc ? "/" : "", enc ? enc : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Put Blob (a blob's PUT without parameters) says the blob's type. */
static const char *blob_type(const struct bk_remote_call *c)
{
	return c->name && !c->param_count && !strcmp(c->method, "PUT")
		       ? "BlockBlob"
		       : NULL;
}

/* The managed identity's token, or the SharedKey signature; the x-ms-*
 * headers. */
static int az_authorize(struct bk_remote *r, struct bk_remote_attempt *a,
			bool *again)
{
	struct az_store *s = az_of(r);
	const struct bk_remote_call *c = a->c;
	const char *type = blob_type(c);
	char date[40], authz[300];
	int rc;

	if (!s->shared_key) {
		rc = sky_azure_token_get(&s->tok, a->refresh, a->detail,
					 a->detail_size);
		if (rc == -EACCES || rc == -E2BIG || rc == -ECANCELED)
			return rc == -E2BIG ? -EINVAL : rc;
		if (rc < 0) {
			*again = true;
			return rc;
		}
		a->bearer = s->tok.token;
	}
	bk_http_date(time(NULL), date, sizeof(date));
	struct bk_kv ms[4] = {
		{"x-ms-date", date},
		{"x-ms-version", MS_VERSION},
	};
	size_t nms = 2;
	if (c->range)
		ms[nms++] = (struct bk_kv){"x-ms-range", c->range};
	if (type)
		ms[nms++] = (struct bk_kv){"x-ms-blob-type", type};
	if (s->shared_key) {
		struct bk_sharedkey sk = {
			.method = c->method,
			.account = s->account,
			.path = a->path,
			.params = c->params,
			.param_count = c->param_count,
			.ms_headers = ms,
			.ms_count = nms,
			.content_length = c->data ? c->data_len : 0,
		};
		rc = bk_sharedkey_authorization(&sk, s->key, s->key_len, authz,
						sizeof(authz));
		if (rc < 0) {
			snprintf(a->detail, a->detail_size, "cannot sign: %s",
				 strerror(-rc));
			return rc;
		}
	}
	bk_remote_header(a, "x-ms-date: %s", date);
	bk_remote_header(a, "x-ms-version: %s", MS_VERSION);
	if (c->range)
		bk_remote_header(a, "x-ms-range: %s", c->range);
	else
		bk_remote_header(a, "Accept: */*");
	if (type)
		bk_remote_header(a, "x-ms-blob-type: %s", type);
	else
		bk_remote_header(a, "Accept: */*");
	if (s->shared_key)
		bk_remote_header(a, "Authorization: %s", authz);
	return 0;
}

/* A token refused at the first attempt: a new one, once. */
static bool az_renew(struct bk_remote *r, long status, const char *code,
		     int attempt)
{
	(void)code;
	return status == 401 && !az_of(r)->shared_key && attempt == 1;
}

/* --- put ------------------------------------------------------------------- */

static int create_container(struct az_store *s)
{
	char code[BK_REMOTE_CODE_MAX];
	struct bk_remote_call c = {
		.method = "PUT",
		.params = {{"restype", "container"}},
		.param_count = 1,
		.what = "create container",
	};
	int r = bk_remote_call_simple(&s->rm, &c, code, sizeof(code));
	return r == -EIO && !strcmp(code, "ContainerAlreadyExists") ? 0 : r;
}

/* Put Block: part i under an id as long as every other of the blob, as
 * Azure wants; the block list names it. ctx: the error code's buffer. */
static int send_block(struct bk_remote *r, void *ctx, size_t i,
		      struct bk_remote_call *c, char *entry, size_t entry_size)
{
	char id[64], raw[32];

	snprintf(raw, sizeof(raw), "skyha-%010zu", i);
	bk_base64_encode((const uint8_t *)raw, strlen(raw), id, sizeof(id));
	c->params[c->param_count++] = (struct bk_kv){"comp", "block"};
	c->params[c->param_count++] = (struct bk_kv){"blockid", id};
	int rc = bk_remote_call_simple(r, c, ctx, BK_REMOTE_CODE_MAX);
	if (rc == 0)
		snprintf(entry, entry_size, "<Latest>%s</Latest>", id);
	return rc;
}

/* The blocks, then Put Block List: the blob appears whole. */
static int put_blocks(struct az_store *s, const char *blob, const char *what,
		      const uint8_t *buf, size_t len,
		      char code[BK_REMOTE_CODE_MAX])
{
	_cleanup_free_ char *doc = NULL;
	size_t o;
	const struct bk_remote_parts p = {
		.max = 50000,
		.noun = "blocks",
		.doc_head = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
			    "<BlockList>",
		.doc_tail = "</BlockList>",
		.entry_max = 64,
		.send = send_block,
		.ctx = code,
	};
	int r = bk_remote_put_parts(&s->rm, blob, what, buf, len, &p, &doc, &o);
	if (r < 0)
		return r;
	struct bk_remote_call list = {
		.method = "PUT",
		.name = blob,
		.params = {{"comp", "blocklist"}},
		.param_count = 1,
		.data = doc,
		.data_len = o,
		.what = what,
	};
	return bk_remote_call_simple(&s->rm, &list, code, BK_REMOTE_CODE_MAX);
}

/* Put Blob or blocks; the container made once if missing. */
static int az_put(struct bk_remote *rm, const char *blob, const char *what,
		  const void *buf, size_t len)
{
	struct az_store *s = az_of(rm);
	char code[BK_REMOTE_CODE_MAX];
	int r = 0;

	for (int round = 0; round < 2; round++) {
		if (len > rm->part_size)
			r = put_blocks(s, blob, what, buf, len, code);
		else
			r = bk_remote_put_one(rm, blob, what, buf, len, code,
					      sizeof(code));
		if (r == 0 || round > 0 || strcmp(code, "ContainerNotFound"))
			break;
		r = create_container(s);
		if (r < 0)
			break;
	}
	return r;
}

static void az_wipe(struct bk_remote *r)
{
	struct az_store *s = az_of(r);
	explicit_bzero(s->key, sizeof(s->key));
	sky_azure_tokensrc_wipe(&s->tok);
}

static const struct bk_remote_api az_api = {
	.kind = "azure",
	.prepare = az_prepare,
	.authorize = az_authorize,
	.not_found = "BlobNotFound",
	/* Nothing written yet: no such blob, an empty list. */
	.no_container = "ContainerNotFound",
	.renew = az_renew,
	.put = az_put,
	/* Pages of maxresults as S3's, below Azure's default of 5000. */
	.list = {{{"restype", "container"}, {"comp", "list"}},
		 "maxresults",
		 "marker",
		 bk_xml_blob_list,
		 "List Blobs"},
	.wipe = az_wipe,
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
	if (bl >= sizeof(s->rm.base_url))
		return -EINVAL;
	memcpy(s->rm.base_url, endpoint, bl);
	s->rm.base_url[bl] = '\0';
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
	if (bk_remote_check_prefix(t, why, why_size) < 0)
		return -EINVAL;
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
	struct az_store *s = bk_remote_new(sizeof(*s), &az_api, t);
	if (!s)
		return -ENOMEM;
	sky_strlcpy(s->account, t->account, sizeof(s->account));
	sky_strlcpy(s->container, t->container, sizeof(s->container));
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
		snprintf(s->rm.base_url, sizeof(s->rm.base_url),
			 "https://%s.blob.core.windows.net", t->account);
	}
	if (r == 0 && shared_key)
		r = load_key(s, t->key_file, why, why_size, t->name);
	if (r < 0) {
		struct bk_store *st = &s->rm.base;
		bk_store_close(&st);
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
