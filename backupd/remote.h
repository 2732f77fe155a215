/*
 * remote.h - what the S3 and Azure Blob backends share: the target's
 * name, timeout and attempts, the retry decision and the backoff between
 * attempts (full jitter, checked against the abort flag), and the mapping
 * of an HTTP status to the store's errors (store.h).
 */
#ifndef SKYHA_BACKUPD_REMOTE_H
#define SKYHA_BACKUPD_REMOTE_H

#include "httpc.h"
#include "store.h"

#include <stdbool.h>

#define BK_REMOTE_TIMEOUT_MS 60000 /* one request, when the config says 0 */
#define BK_REMOTE_ATTEMPTS   5
#define BK_REMOTE_BACKOFF_MS 200
#define BK_PART_SIZE	     (8u << 20) /* multipart / block size */

struct bk_remote {
	struct bk_store base;
	char target[64];
	long timeout_ms;
	int attempts;
	unsigned seed;
	char ca_file[BK_FIELD_MAX];
	size_t part_size;
	struct sky_http_conn *conn; /* kept open between requests */
};

/* -ENOMEM if no connection handle could be made. */
int bk_remote_init(struct bk_remote *r, const struct bk_target_cfg *t);
void bk_remote_done(struct bk_remote *r);
bool bk_remote_aborted(const struct bk_remote *r);
/* Wait before attempt (2, 3, ...) and count a retry; -ECANCELED if the
 * abort flag rose meanwhile. */
int bk_remote_backoff(struct bk_remote *r, int attempt);
/* A transport failure (sky_http's -errno) worth another attempt. */
bool bk_remote_transport_transient(int r);
/* An HTTP status worth another attempt (5xx, 429, 408). */
bool bk_remote_status_transient(long status);
/* A target prefix: "" or names ending in '/' ("backups/node1/"). */
bool bk_prefix_ok(const char *prefix);
/* What store.h promises out of a failure (-EAGAIN from a busy IMDS, a
 * reset, a refused connection become -EIO; the reason says which). */
int bk_remote_final_errno(int r);
/* The store error of a final HTTP failure status. */
int bk_remote_status_errno(long status);
/* A reply's Content-Range says exactly bytes offset..offset+len-1. */
bool bk_content_range_is(const char *v, uint64_t offset, size_t len);
/* A Content-Length (v, "" when absent) that agrees with the len received. */
bool bk_content_length_is(const char *v, size_t len);

#endif
