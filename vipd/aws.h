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

#include "cloudcred.h"
#include "vipcfg.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vipd_aws_stats {
	uint64_t calls, retries, credential_fetches, failures;
};

struct vipd_aws {
	const struct vipd_aws_cfg *cfg;
	const struct vipd_aws_node *node;
	struct sky_aws_credsrc cred;
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

#endif
