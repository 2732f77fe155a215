/*
 * remote.h - what the S3 and Azure Blob backends share, so that each of
 * s3.c and azure_blob.c keeps only what differs (URL shapes, credentials,
 * signing, the services' names for things):
 * - the target's name, prefix, timeout and attempts, and one connection;
 * - one request sent until it succeeds or fails for good: the backoff
 *   between attempts (full jitter, checked against the abort flag), fresh
 *   credentials once when the service says they expired, the mapping of an
 *   HTTP status and the service's error code to the store's errors
 *   (store.h), and the one-line reason of a failure;
 * - the bk_store operations on top of it (get, get_range, list with its
 *   pagination, del; put's checks around the backend's upload).
 * A backend describes itself once in a struct bk_remote_api.
 */
#ifndef SKYHA_BACKUPD_REMOTE_H
#define SKYHA_BACKUPD_REMOTE_H

#include "httpc.h"
#include "sign.h"
#include "store.h"
#include "xml.h"

#include <stdbool.h>

#define BK_REMOTE_TIMEOUT_MS 60000 /* one request, when the config says 0 */
#define BK_REMOTE_ATTEMPTS   5
#define BK_REMOTE_BACKOFF_MS 200
#define BK_PART_SIZE	     (8u << 20) /* multipart / block size */
#define BK_REMOTE_CODE_MAX   96		/* a service's error code */

struct bk_remote_api;

struct bk_remote {
	struct bk_store base;
	const struct bk_remote_api *api;
	char target[64];
	char prefix[BK_FIELD_MAX]; /* of every object name: "" or "a/b/" */
	char base_url[2 * BK_FIELD_MAX]; /* "https://host[:port]", set by the
					    backend */
	long timeout_ms;
	int attempts;
	unsigned seed;
	char ca_file[BK_FIELD_MAX];
	size_t part_size;
	int list_page;		    /* names per list request; 0: 1000 */
	struct sky_http_conn *conn; /* kept open between requests */
};

/* One request, described once, sent (and signed again) per attempt. */
struct bk_remote_call {
	const char *method;
	const char *name; /* the full name (with the prefix); NULL: the bucket
			     or container */
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

/* One attempt of a call, as the backend's authorize hook sees it. */
struct bk_remote_attempt {
	const struct bk_remote_call *c;
	const char *path;  /* canonical URI, encoded, as sent */
	const char *query; /* canonical query (bk_query_canonical) */
	bool refresh;	   /* the last credentials were refused: new ones */
	/* set by the hook: the headers ("Name: value", in the order sent;
	 * bk_remote_header) and a bearer token (NULL: none) */
	const char *headers[SKY_HTTP_HEADERS];
	size_t header_count;
	const char *bearer;
	char *buf; /* the headers' text, wiped after the call */
	size_t buf_size, buf_used;
	char *detail; /* why, when the hook fails */
	size_t detail_size;
};

struct bk_remote_api {
	const char *kind; /* "s3", "azure": in every reason */

	/* Sending. Once per call: the canonical path of c (enc: its name
	 * URL-encoded, NULL for the bucket or container) into out, and
	 * whatever the attempts share. -errno: it does not fit. */
	int (*prepare)(struct bk_remote *r, const struct bk_remote_call *c,
		       const char *enc, char *out, size_t size);
	/* Each attempt: credentials, signature, headers. 0: send. -errno
	 * with a->detail set: *again says whether a later attempt may do
	 * better (a credential service busy for a moment). */
	int (*authorize)(struct bk_remote *r, struct bk_remote_attempt *a,
			 bool *again);

	/* Reading the error replies. */
	const char *not_found; /* the error code of a missing object */
	/* The error code of a missing bucket or container that get, list and
	 * del read as "no such object" / "nothing there" (NULL: -EIO). */
	const char *no_container;
	/* Error codes worth another attempt whatever the status (NULL-ended;
	 * NULL: none). */
	const char *const *retry_codes;
	/* A refusal (status, the service's code) that new credentials may
	 * cure, at this attempt (asked once a call at most). */
	bool (*renew)(struct bk_remote *r, long status, const char *code,
		      int attempt);
	bool renew_is_free;	 /* and it does not use up an attempt */
	bool range_416_is_short; /* a 416 says "the object is shorter" */

	/* The upload of a put: name is the full name, what for the reason. */
	int (*put)(struct bk_remote *r, const char *name, const char *what,
		   const void *buf, size_t len);

	/* Listing: the fixed parameters, the names of the page size's and
	 * the continuation's, the reply's parser and name. */
	struct {
		struct bk_kv params[2]; /* name NULL: none */
		const char *page, *next;
		int (*parse)(const char *buf, size_t len, bk_xml_entry_fn fn,
			     void *ctx, char *next, size_t next_size);
		const char *reply;
	} list;

	/* At close: forget the secrets the backend holds. */
	void (*wipe)(struct bk_remote *r);
};

/* A zeroed remote store of size bytes (a backend's struct starting with a
 * struct bk_remote) set up for t, its operations those of remote.c (put,
 * get, get_range, list, del; close calls api->wipe), or NULL (out of
 * memory). */
void *bk_remote_new(size_t size, const struct bk_remote_api *api,
		    const struct bk_target_cfg *t);
/* t's prefix is valid, or -EINVAL with why filled. */
int bk_remote_check_prefix(const struct bk_target_cfg *t, char *why,
			   size_t why_size);

/*
 * Send c until it succeeds or fails for good. 0: a 2xx answer in resp (the
 * caller frees it). -errno with the reason set otherwise (-ENOENT for a
 * missing object, without a reason); code receives the service's error
 * code of the last reply ("" if none).
 */
int bk_remote_call(struct bk_remote *r, const struct bk_remote_call *c,
		   struct sky_http_resp *resp, char *code, size_t code_size);
/* As bk_remote_call, the reply dropped. */
int bk_remote_call_simple(struct bk_remote *r, const struct bk_remote_call *c,
			  char *code, size_t code_size);
/* "target T: KIND WHAT: DETAIL" as the store's reason. */
void bk_remote_set_reason(struct bk_remote *r, const char *what,
			  const char *detail);
/* Append "Name: value" (printf) to the attempt's headers; -ENOSPC. */
int bk_remote_header(struct bk_remote_attempt *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One PUT of a whole object (S3's PutObject, Azure's Put Blob). */
int bk_remote_put_one(struct bk_remote *r, const char *name, const char *what,
		      const void *buf, size_t len, char *code,
		      size_t code_size);

/* A put in parts of part_size (S3's multipart upload, Azure's blocks),
 * completed by a document that lists them. */
struct bk_remote_parts {
	size_t max;	  /* parts at most */
	const char *noun; /* "parts", "blocks": in the reason beyond max */
	const char *doc_head, *doc_tail; /* of the completion document */
	size_t entry_max;		 /* one part's entry in it, at most */
	/* Send part i (c: a PUT of its bytes, without parameters yet) and
	 * write its entry (NUL-terminated) into entry. 0 or -errno. */
	int (*send)(struct bk_remote *r, void *ctx, size_t i,
		    struct bk_remote_call *c, char *entry, size_t entry_size);
	void *ctx;
};
/* The number of parts of a put of len bytes in *parts; -EFBIG with the
 * reason set if more than p->max. */
int bk_remote_parts(struct bk_remote *r, const char *what, size_t len,
		    const struct bk_remote_parts *p, size_t *parts);
/* Every part of buf sent in order; the completion document in *doc
 * (malloc'ed, *doc_len bytes). -errno at the first failure. */
int bk_remote_put_parts(struct bk_remote *r, const char *name, const char *what,
			const uint8_t *buf, size_t len,
			const struct bk_remote_parts *p, char **doc,
			size_t *doc_len);

#endif
