/*
 * sign.h - request signing for the object stores, pure functions (no I/O,
 * the clock passed in) so unit tests check them against published
 * examples: AWS Signature Version 4 as S3 wants it (we sign, not libcurl:
 * libcurl 7.88 neither adds x-amz-content-sha256 nor sorts the query) and
 * Azure Storage SharedKey. Hashes and HMACs from OpenSSL's libcrypto.
 */
#ifndef SKYHA_BACKUPD_SIGN_H
#define SKYHA_BACKUPD_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BK_SHA256_HEX 65 /* 64 hex digits and the NUL */

struct bk_kv {
	const char *name;
	const char *value;
};

/* Hex SHA-256 of buf (sizeof out >= BK_SHA256_HEX). */
void bk_sha256_hex(const void *buf, size_t len, char *out);
/* HMAC-SHA256 into out[32]; 0 or -EIO. */
int bk_hmac_sha256(const void *key, size_t key_len, const void *msg,
		   size_t msg_len, uint8_t out[32]);
/* Standard base64 with padding; -ENOSPC if out is too small. */
int bk_base64_encode(const uint8_t *in, size_t len, char *out, size_t size);
/* -EINVAL if not base64; *out_len bytes written. */
int bk_base64_decode(const char *in, uint8_t *out, size_t size,
		     size_t *out_len);

/* "20150830T123600Z" (size >= 17). */
void bk_amz_date(time_t t, char *out, size_t size);
/* "Sun, 11 Oct 2009 21:49:13 GMT" (size >= 30). */
void bk_http_date(time_t t, char *out, size_t size);

/*
 * The query string of params, canonical: each name and value URI-encoded
 * (RFC 3986 unreserved kept), sorted by name then value, "n=v&n=v" ("" for
 * none; a NULL value is an empty one). Used in the URL and the signature.
 */
int bk_query_canonical(const struct bk_kv *params, size_t n, char *out,
		       size_t size);

struct bk_sigv4 {
	const char *method;
	const char *path;  /* canonical URI: already encoded ("/b/a%20b") */
	const char *query; /* canonical query (bk_query_canonical) */
	/* Headers to sign: names lowercase, values trimmed (any order). */
	const struct bk_kv *headers;
	size_t header_count;
	const char *payload_sha256; /* hex, or "UNSIGNED-PAYLOAD" */
	const char *amz_date;	    /* "20150830T123600Z" */
	const char *region;
	const char *service;
	const char *key_id;
	const char *secret;
};

/*
 * The Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..."); canonical (may be NULL) receives the
 * canonical request, for tests and debugging. -ENOSPC, -EINVAL.
 */
int bk_sigv4_authorization(const struct bk_sigv4 *in, char *out, size_t size,
			   char *canonical, size_t canonical_size);

struct bk_sharedkey {
	const char *method;
	const char *account;
	const char *path; /* the URI path as sent, encoded ("/acct/c/b") */
	/* Query parameters, raw (not encoded), any order. */
	const struct bk_kv *params;
	size_t param_count;
	/* Every x-ms-* header sent (names lowercase), any order. */
	const struct bk_kv *ms_headers;
	size_t ms_count;
	/* The standard headers the string to sign names ("" if not sent). */
	uint64_t content_length; /* 0: empty, as the 2015+ versions want */
	const char *content_type;
	const char *range;
	const char *if_match;
};

/* The string to sign of a SharedKey request (for tests). */
int bk_sharedkey_string(const struct bk_sharedkey *in, char *out, size_t size);
/* The Authorization header value "SharedKey account:signature". */
int bk_sharedkey_authorization(const struct bk_sharedkey *in,
			       const uint8_t *key, size_t key_len, char *out,
			       size_t size);

#endif
