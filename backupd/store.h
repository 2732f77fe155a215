/*
 * store.h - where a backup repository's objects live: a directory, an S3
 * bucket, an Azure Blob container. The repository code (repo.c and the
 * rest) sees only this interface, so every target behaves the same and a
 * test can run the same campaign against each.
 *
 * Object names are relative, '/'-separated, from [A-Za-z0-9._-/], at most
 * BK_NAME_MAX bytes ("config", "keys/<id>", "data/ab/<id>", "index/<id>",
 * "snapshots/<id>", "locks/<id>"). The store adds the target's prefix.
 *
 * Guarantees a backend gives:
 * - put is atomic: a reader sees the whole object or none of it, never a
 *   truncated one (dir: temporary file, fsync, rename, fsync the folder;
 *   S3: one PUT or a completed multipart upload; Azure: Put Blob or Put
 *   Block List). A put of an existing name replaces it.
 * - get/get_range return exactly the bytes stored or an error; a reply
 *   shorter or longer than announced is -EIO (never a short buffer).
 * - list delivers every name under a prefix once (pagination inside).
 * - Errors: -ENOENT (no such object), -EACCES (credentials refused),
 *   -ETIMEDOUT, -EIO (server error, truncated body), -ENOSPC, -EFBIG (over
 *   max), -ENOMEM, -EINVAL. Retries of transient errors (5xx, timeouts,
 *   connection resets) happen inside, bounded; what comes out is final.
 *   The backend keeps a one-line reason of the last failure for logs.
 */
#ifndef SKYHA_BACKUPD_STORE_H
#define SKYHA_BACKUPD_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_NAME_MAX   256
#define BK_FIELD_MAX  256
#define BK_REASON_MAX 320

enum bk_target_kind { BK_TARGET_DIR, BK_TARGET_S3, BK_TARGET_AZURE };

/* A target as the config describes it (strings empty when unset). */
struct bk_target_cfg {
	char name[64];
	enum bk_target_kind kind;
	char prefix[BK_FIELD_MAX]; /* s3, azure: object name prefix */
	/* dir */
	char path[BK_FIELD_MAX];
	/* s3 */
	char bucket[BK_FIELD_MAX];
	char region[64];
	char endpoint
		[BK_FIELD_MAX]; /* s3, azure: override (S3-compatible, Azurite) */
	bool path_style;	/* s3: http://endpoint/bucket/key */
	char credentials
		[32]; /* s3: "env" | "imds"; azure: "shared_key" | "managed_identity" */
	/* azure */
	char account[BK_FIELD_MAX];
	char container[BK_FIELD_MAX];
	char key_file
		[BK_FIELD_MAX]; /* azure shared_key: the base64 account key */
	char ca_file
		[BK_FIELD_MAX]; /* s3, azure: CA bundle for https (optional) */
	long timeout_ms;	/* one request; 0: the backend's default */
	int attempts;		/* transient failures retried; 0: default */
	/* s3, azure: names per list request (max-keys, maxresults); 0: 1000.
	 * Not a config field: tests page through a few objects with it. */
	int list_page;
};

struct bk_store;

struct bk_store_ops {
	int (*put)(struct bk_store *s, const char *name, const void *buf,
		   size_t len);
	/* Whole object, at most max bytes (-EFBIG if larger); *buf malloc'ed. */
	int (*get)(struct bk_store *s, const char *name, size_t max,
		   uint8_t **buf, size_t *len);
	/* Exactly len bytes from offset (-EIO if the object is shorter). */
	int (*get_range)(struct bk_store *s, const char *name, uint64_t offset,
			 size_t len, uint8_t *out);
	/* fn(ctx, name without the target's prefix, size); nonzero stops. */
	int (*list)(struct bk_store *s, const char *prefix,
		    int (*fn)(void *ctx, const char *name, uint64_t size),
		    void *ctx);
	/* Deleting a missing object is 0. */
	int (*del)(struct bk_store *s, const char *name);
	void (*close)(struct bk_store *s);
};

struct bk_store {
	const struct bk_store_ops *ops;
	const atomic_bool *abort;   /* may be NULL: checked during transfers */
	char reason[BK_REASON_MAX]; /* the last failure, one line */
	/* counters for status and bench */
	uint64_t bytes_up, bytes_down, requests, retries;
};

/* Each returns 0 with *out set (free with bk_store_close), or -errno with
 * why filled (a line naming the target and what is wrong). */
int bk_store_dir_open(const struct bk_target_cfg *t, struct bk_store **out,
		      char *why, size_t why_size);
int bk_store_s3_open(const struct bk_target_cfg *t, struct bk_store **out,
		     char *why, size_t why_size);
int bk_store_azure_open(const struct bk_target_cfg *t, struct bk_store **out,
			char *why, size_t why_size);
/* By t->kind. */
int bk_store_open(const struct bk_target_cfg *t, struct bk_store **out,
		  char *why, size_t why_size);
void bk_store_close(struct bk_store **s);

/* A name the interface accepts (charset, length, no "..", no leading '/'). */
bool bk_store_name_ok(const char *name);
/* -EINVAL with the reason "bad object name ..." (name may be NULL). */
int bk_store_refuse_name(struct bk_store *s, const char *name);

#endif
