/*
 * cloudcred.h - cloud credentials the daemons share (vipd's cloud moves,
 * backupd's S3 and Azure Blob targets): AWS keys from the environment or
 * an instance role through IMDSv2, and an Azure managed-identity token
 * from the instance metadata service. Each source caches what it fetched
 * and renews it 5 minutes before it expires. The IMDS endpoint is a field
 * so tests point it at a stand-in. Blocking calls: a worker thread's.
 * The parsers are pure, for unit tests and fuzzers.
 */
#ifndef SKYHA_SHARED_CLOUDCRED_H
#define SKYHA_SHARED_CLOUDCRED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY_AWS_KEY_MAX	  256
#define SKY_AWS_TOKEN_MAX 4096
#define SKY_AZ_TOKEN_MAX  8192
#define SKY_CRED_URL_MAX  512

#define SKY_AWS_IMDS_DEFAULT   "http://169.254.169.254"
#define SKY_AZURE_IMDS_DEFAULT "http://169.254.169.254"

struct sky_aws_creds {
	bool have;
	char key_id[SKY_AWS_KEY_MAX];
	char secret[SKY_AWS_KEY_MAX];
	char token[SKY_AWS_TOKEN_MAX]; /* "" for long-term keys */
	int64_t expires_wall_ms;       /* 0: does not expire */
};

enum sky_aws_creds_kind { SKY_AWS_CREDS_IMDS = 0, SKY_AWS_CREDS_ENV };

struct sky_aws_credsrc {
	/* set by the caller */
	enum sky_aws_creds_kind kind;
	char imds_endpoint[SKY_CRED_URL_MAX]; /* no trailing '/' */
	long timeout_ms;
	const atomic_bool *abort; /* may be NULL */
	/* kept here */
	struct sky_aws_creds creds;
	char imds_token[256];
	int64_t imds_token_until_ms; /* monotonic */
	uint64_t fetches;
};

/*
 * Valid credentials in src->creds (fetched if missing, expiring within 5
 * minutes, or force). -ENOKEY: the environment has none; -EACCES: IMDS
 * refused (no role); -EAGAIN: IMDS busy (5xx); -EBADMSG: a malformed
 * reply; transport errors as sky_http. why says which.
 */
int sky_aws_creds_get(struct sky_aws_credsrc *src, bool force, char *why,
		      size_t size);
/* Forget every secret held. */
void sky_aws_credsrc_wipe(struct sky_aws_credsrc *src);

struct sky_azure_tokensrc {
	/* set by the caller */
	char imds_endpoint[SKY_CRED_URL_MAX];
	char resource[SKY_CRED_URL_MAX]; /* the token's audience */
	char client_id[128];		 /* user-assigned identity, or "" */
	long timeout_ms;
	const atomic_bool *abort;
	/* kept here */
	char token[SKY_AZ_TOKEN_MAX];
	int64_t expires_wall_ms;
	uint64_t fetches;
};

/* A valid token in src->token (as sky_aws_creds_get). */
int sky_azure_token_get(struct sky_azure_tokensrc *src, bool force, char *why,
			size_t size);
void sky_azure_tokensrc_wipe(struct sky_azure_tokensrc *src);

/* IMDS role credentials JSON -> creds; -EBADMSG on anything unexpected. */
int sky_aws_parse_creds(const char *body, size_t len,
			struct sky_aws_creds *out);
/* "2026-12-01T08:00:00Z" -> ms since the epoch. */
int sky_parse_utc(const char *s, int64_t *out_ms);
/* IMDS token reply -> token and expiry (ms since the epoch). */
int sky_azure_parse_token(const char *body, size_t len, char *token,
			  size_t size, int64_t *expires_ms);

#endif
