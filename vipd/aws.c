/*
 * aws.c - see aws.h.
 */
#include "aws.h"
#include "cloudcred.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EC2_VERSION "2016-11-15"
#define ELB_VERSION "2015-12-01"
#define QUERY_MAX   8192

/* --- pure parts ----------------------------------------------------------- */

int vipd_xml_text(const char *body, size_t len, const char *tag, char *out,
		  size_t size)
{
	char open[64], close[64];
	int no = snprintf(open, sizeof(open), "<%s>", tag);
	int nc = snprintf(close, sizeof(close), "</%s>", tag);
	if (no < 0 || (size_t)no >= sizeof(open) || nc < 0 ||
	    (size_t)nc >= sizeof(close) || size == 0)
		return -EINVAL;
	const char *start = memmem(body, len, open, (size_t)no);
	if (!start)
		return -ENOENT;
	start += no;
	const char *end =
		memmem(start, len - (size_t)(start - body), close, (size_t)nc);
	if (!end)
		return -ENOENT;
	static const struct {
		const char *entity;
		char ch;
	} entities[] = {{"&amp;", '&'},
			{"&lt;", '<'},
			{"&gt;", '>'},
			{"&quot;", '"'},
			{"&apos;", '\''}};
	size_t o = 0;
	for (const char *p = start; p < end && o + 1 < size;) {
		char ch = *p;
		size_t adv = 1;
		if (ch == '&')
			for (size_t i = 0; i < SKY_ARRAY_SIZE(entities); i++) {
				size_t el = strlen(entities[i].entity);
				if ((size_t)(end - p) >= el &&
				    memcmp(p, entities[i].entity, el) == 0) {
					ch = entities[i].ch;
					adv = el;
					break;
				}
			}
		/* Only printable text reaches logs and the bus. */
		out[o++] = isprint((unsigned char)ch) ? ch : '?';
		p += adv;
	}
	out[o] = '\0';
	return 0;
}

static bool code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

enum vipd_aws_verdict vipd_aws_classify(long status, const char *body,
					size_t len, char *code,
					size_t code_size, char *message,
					size_t message_size)
{
	static const char *const retry[] = {
		"RequestLimitExceeded", "Throttling",
		"ThrottlingException",	"InternalError",
		"InternalFailure",	"ServiceUnavailable",
		"Unavailable",		NULL,
	};
	static const char *const refresh[] = {
		"AuthFailure",
		"ExpiredToken",
		"RequestExpired",
		"InvalidClientTokenId",
		"ExpiredTokenException",
		"SignatureDoesNotMatch",
		NULL,
	};
	code[0] = message[0] = '\0';
	vipd_xml_text(body, len, "Code", code, code_size);
	vipd_xml_text(body, len, "Message", message, message_size);
	if (status >= 200 && status < 300) {
		/* A Query API answer is an XML ...Response element. */
		if (memmem(body, len, "Response", 8) && !code[0])
			return VIPD_AWS_OK;
		snprintf(code, code_size, "MalformedReply");
		snprintf(message, message_size,
			 "HTTP %ld with a body that is not an API response",
			 status);
		return VIPD_AWS_RETRY;
	}
	if (!code[0])
		snprintf(code, code_size, "(no error code)");
	if (status == 429 || status >= 500 || code_in(code, retry))
		return VIPD_AWS_RETRY;
	if (status == 401 || code_in(code, refresh))
		return VIPD_AWS_REFRESH;
	return VIPD_AWS_FATAL;
}

/* --- credentials ------------------------------------------------------------ */

void vipd_aws_init(struct vipd_aws *a, const struct vipd_aws_cfg *cfg,
		   const struct vipd_aws_node *node, const atomic_bool *abort)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->node = node;
	a->abort = abort;
	a->seed = (unsigned)sky_now_ms() ^ (unsigned)getpid();
	a->cred.kind = cfg->creds == VIPD_AWS_CREDS_ENV ? SKY_AWS_CREDS_ENV
							: SKY_AWS_CREDS_IMDS;
	sky_strlcpy(a->cred.imds_endpoint, cfg->imds_endpoint,
		    sizeof(a->cred.imds_endpoint));
	a->cred.timeout_ms = cfg->timeout_ms;
	a->cred.abort = abort;
}

void vipd_aws_done(struct vipd_aws *a)
{
	sky_aws_credsrc_wipe(&a->cred);
}

static bool aborted(const struct vipd_aws *a)
{
	return a->abort && atomic_load(a->abort);
}

/* Sleep in slices so that a shutdown is not held up. */
static void pause_ms(const struct vipd_aws *a, uint32_t ms)
{
	int64_t until = sky_now_ms() + ms;
	while (!aborted(a) && sky_now_ms() < until) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int ensure_creds(struct vipd_aws *a, bool force, char *why, size_t size)
{
	uint64_t before = a->cred.fetches;
	int r = sky_aws_creds_get(&a->cred, force, why, size);
	a->stats.credential_fetches += a->cred.fetches - before;
	return r;
}

/* --- calls ------------------------------------------------------------------ */

/* One Query API call with retries; why names the action and the answer. */
static int query(struct vipd_aws *a, bool elb, const char *action,
		 const char *params, char *why, size_t size)
{
	const struct vipd_aws_cfg *cfg = a->cfg;
	char body[QUERY_MAX], sigv4[VIPD_AWS_ID_MAX + 64];
	char userpwd[2 * SKY_AWS_KEY_MAX + 2];
	char token_hdr[SKY_AWS_TOKEN_MAX + 32], detail[300] = "";
	const char *svc = elb ? "elasticloadbalancing" : "ec2";
	bool refresh = false;

	int n = snprintf(body, sizeof(body), "Action=%s&Version=%s%s", action,
			 elb ? ELB_VERSION : EC2_VERSION, params);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		snprintf(why, size, "%s: request too long", action);
		return -E2BIG;
	}
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", cfg->region, svc);
	for (uint32_t attempt = 1; attempt <= cfg->attempts; attempt++) {
		if (aborted(a)) {
			snprintf(why, size, "%s: interrupted", action);
			return -ECANCELED;
		}
		if (attempt > 1) {
			a->stats.retries++;
			pause_ms(a, sky_backoff_ms(cfg->backoff_ms, attempt - 1,
						   &a->seed));
		}
		int r = ensure_creds(a, refresh, detail, sizeof(detail));
		refresh = false;
		/* IMDS may be slow, busy or answer garbage for a moment; a
		 * missing role or environment is for the operator to fix. */
		if (r < 0 && r != -ENOKEY && r != -EACCES && r != -ECANCELED) {
			log_warning("aws: %s (attempt %u of %u)", detail,
				    attempt, cfg->attempts);
			continue;
		}
		if (r < 0) {
			snprintf(why, size, "%s: %s", action, detail);
			return r;
		}
		snprintf(userpwd, sizeof(userpwd), "%s:%s",
			 a->cred.creds.key_id, a->cred.creds.secret);
		snprintf(token_hdr, sizeof(token_hdr),
			 "X-Amz-Security-Token: %s", a->cred.creds.token);
		struct sky_http_req req = {
			.method = "POST",
			.url = elb ? cfg->elb_endpoint : cfg->ec2_endpoint,
			.body = body,
			.headers = {"Content-Type: application/"
				    "x-www-form-urlencoded; charset=utf-8",
				    a->cred.creds.token[0] ? token_hdr : NULL},
			.sigv4 = sigv4,
			.userpwd = userpwd,
			.timeout_ms = cfg->timeout_ms,
			.abort = a->abort,
		};
		struct sky_http_resp resp;
		a->stats.calls++;
		r = sky_http(&req, &resp);
		explicit_bzero(userpwd, sizeof(userpwd));
		if (r < 0) {
			snprintf(detail, sizeof(detail), "%s", resp.error);
			log_warning("aws: %s %s: %s (attempt %u of %u)", svc,
				    action, detail, attempt, cfg->attempts);
			if (r == -ECANCELED)
				break;
			continue;
		}
		char code[96], message[200];
		enum vipd_aws_verdict v = vipd_aws_classify(
			resp.status, resp.body, resp.len, code, sizeof(code),
			message, sizeof(message));
		long status = resp.status, retry_after = resp.retry_after_s;
		sky_http_resp_free(&resp);
		snprintf(detail, sizeof(detail), "HTTP %ld %s%s%s", status,
			 code, message[0] ? ": " : "", message);
		switch (v) {
		case VIPD_AWS_OK:
			log_info("aws: %s %s done", svc, action);
			return 0;
		case VIPD_AWS_REFRESH:
			log_warning("aws: %s %s: %s: fetching new credentials",
				    svc, action, detail);
			refresh = true;
			continue;
		case VIPD_AWS_RETRY:
			log_warning("aws: %s %s: %s (attempt %u of %u)", svc,
				    action, detail, attempt, cfg->attempts);
			if (retry_after > 0 && attempt < cfg->attempts)
				pause_ms(a, (uint32_t)(retry_after > 10
							       ? 10000
							       : retry_after *
									 1000));
			continue;
		case VIPD_AWS_FATAL:
			a->stats.failures++;
			snprintf(why, size, "%s %s: %s", svc, action, detail);
			return status == 403 ? -EACCES : -EPROTO;
		}
	}
	a->stats.failures++;
	snprintf(why, size, "%s %s: gave up after %u attempts: %s", svc, action,
		 cfg->attempts, detail);
	return -ETIMEDOUT;
}

static int add_param(char *buf, size_t size, const char *name,
		     const char *value)
{
	char enc[VIPD_AWS_ARN_MAX * 3 + 1];
	size_t n = strlen(buf);
	if (sky_url_encode(value, enc, sizeof(enc)) < 0)
		return -E2BIG;
	int w = snprintf(buf + n, size - n, "&%s=%s", name, enc);
	return w < 0 || (size_t)w >= size - n ? -E2BIG : 0;
}

int vipd_aws_apply(struct vipd_aws *a, bool up, char *why, size_t size)
{
	const struct vipd_aws_cfg *cfg = a->cfg;
	char p[QUERY_MAX - 64], name[64];
	int r;

	if (up && cfg->private_ip_count) {
		p[0] = '\0';
		r = add_param(p, sizeof(p), "NetworkInterfaceId", a->node->eni);
		for (size_t i = 0; r >= 0 && i < cfg->private_ip_count; i++) {
			snprintf(name, sizeof(name), "PrivateIpAddress.%zu",
				 i + 1);
			r = add_param(p, sizeof(p), name, cfg->private_ips[i]);
		}
		if (r >= 0)
			r = add_param(p, sizeof(p), "AllowReassignment",
				      "true");
		if (r >= 0)
			r = query(a, false, "AssignPrivateIpAddresses", p, why,
				  size);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; up && i < cfg->route_count; i++) {
		const struct vipd_aws_route *rt = &cfg->routes[i];
		p[0] = '\0';
		r = add_param(p, sizeof(p), "RouteTableId", rt->table);
		if (r >= 0)
			r = add_param(p, sizeof(p),
				      strchr(rt->destination, ':')
					      ? "DestinationIpv6CidrBlock"
					      : "DestinationCidrBlock",
				      rt->destination);
		if (r >= 0)
			r = add_param(p, sizeof(p), "NetworkInterfaceId",
				      a->node->eni);
		if (r >= 0)
			r = query(a, false, "ReplaceRoute", p, why, size);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->target_group_count; i++) {
		const struct vipd_aws_target_group *tg = &cfg->target_groups[i];
		char port[16];
		p[0] = '\0';
		r = add_param(p, sizeof(p), "TargetGroupArn", tg->arn);
		if (r >= 0)
			r = add_param(p, sizeof(p), "Targets.member.1.Id",
				      a->node->instance);
		if (r >= 0 && tg->port) {
			snprintf(port, sizeof(port), "%u", tg->port);
			r = add_param(p, sizeof(p), "Targets.member.1.Port",
				      port);
		}
		if (r >= 0)
			r = query(a, true,
				  up ? "RegisterTargets" : "DeregisterTargets",
				  p, why, size);
		if (r < 0)
			return r;
	}
	return 0;
}
