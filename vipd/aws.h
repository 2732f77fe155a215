/*
 * aws.h - the AWS side of vipd: credentials (IMDSv2 or the environment),
 * signed EC2 and ELBv2 Query API calls (libcurl's CURLOPT_AWS_SIGV4), and
 * the moves made when this node starts or stops serving:
 *
 *   up:   AssignPrivateIpAddresses (AllowReassignment=true) of each
 *         private_ips to this node's ENI; ReplaceRoute of each routes entry
 *         to this node's ENI; RegisterTargets of this instance in each
 *         target group.
 *   down: DeregisterTargets of this instance (the peer's "up" moves the IPs
 *         and routes: nothing to undo for them).
 *
 * Every call is idempotent (re-running a move that already happened
 * succeeds). Runs only on the cloud worker thread (cloud.c): it blocks.
 * The parsers at the bottom are pure, for unit tests.
 */
#ifndef SKYHA_VIPD_AWS_H
#define SKYHA_VIPD_AWS_H

#include "vipcfg.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIPD_AWS_KEY_MAX   256
#define VIPD_AWS_TOKEN_MAX 4096

struct vipd_aws_creds {
	bool have;
	char key_id[VIPD_AWS_KEY_MAX];
	char secret[VIPD_AWS_KEY_MAX];
	char token[VIPD_AWS_TOKEN_MAX]; /* "" for long-term keys */
	int64_t expires_wall_ms;	/* 0: does not expire */
};

struct vipd_aws_stats {
	uint64_t calls, retries, credential_fetches, failures;
};

struct vipd_aws {
	const struct vipd_aws_cfg *cfg;
	const struct vipd_aws_node *node;
	struct vipd_aws_creds creds;
	char imds_token[256];
	int64_t imds_token_until_ms; /* monotonic */
	unsigned seed;
	const atomic_bool *abort;
	struct vipd_aws_stats stats;
};

void vipd_aws_init(struct vipd_aws *a, const struct vipd_aws_cfg *cfg,
		   const struct vipd_aws_node *node, const atomic_bool *abort);
void vipd_aws_done(struct vipd_aws *a);
/* Make the moves for up or down; -errno with why ("EC2 AssignPrivate...:
 * 403 UnauthorizedOperation: ...") filled. */
int vipd_aws_apply(struct vipd_aws *a, bool up, char *why, size_t size);

/* What to do with an API answer. */
enum vipd_aws_verdict {
	VIPD_AWS_OK = 0,
	VIPD_AWS_RETRY,	  /* 5xx, 429, throttling, InternalError */
	VIPD_AWS_REFRESH, /* credentials expired or rejected: fetch new ones */
	VIPD_AWS_FATAL,	  /* 403 and every other error: give up, say why */
};
/* Classify status + body; code and message from <Code>/<Message>. */
enum vipd_aws_verdict vipd_aws_classify(long status, const char *body,
					size_t len, char *code,
					size_t code_size, char *message,
					size_t message_size);
/* The text of the first <tag>...</tag> in body (bounded, no entities
 * beyond &amp; &lt; &gt; &quot; &apos;); -ENOENT if absent. */
int vipd_xml_text(const char *body, size_t len, const char *tag, char *out,
		  size_t size);
/* IMDS role credentials JSON -> creds; -EBADMSG on anything unexpected. */
int vipd_aws_parse_creds(const char *body, size_t len,
			 struct vipd_aws_creds *out);
/* "2026-12-01T08:00:00Z" -> ms since the epoch. */
int vipd_parse_utc(const char *s, int64_t *out_ms);
/* Backoff before attempt n (1-based), full jitter, capped at 10 s. */
uint32_t vipd_backoff_ms(uint32_t base_ms, uint32_t attempt, unsigned *seed);

#endif
