/*
 * aws.c - see aws.h.
 */
#include "aws.h"
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

#define CREDS_REFRESH_MARGIN_MS (5 * 60 * 1000) /* renew before expiry */
#define IMDS_TOKEN_TTL_S	21600
#define BACKOFF_CAP_MS		10000
#define EC2_VERSION		"2016-11-15"
#define ELB_VERSION		"2015-12-01"
#define QUERY_MAX		8192

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

int vipd_parse_utc(const char *s, int64_t *out_ms)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return -EINVAL;
	if (*end == '.') /* fractional seconds */
		for (end++; isdigit((unsigned char)*end); end++)
			;
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -EINVAL;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out_ms = (int64_t)t * 1000;
	return 0;
}

static int copy_field(const json_t *obj, const char *key, char *out,
		      size_t size, bool required)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s)
		return required ? -EBADMSG : 0;
	size_t n = strlen(s);
	if ((required && n == 0) || n >= size)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return -EBADMSG; /* goes into a header */
	memcpy(out, s, n + 1);
	return 0;
}

int vipd_aws_parse_creds(const char *body, size_t len,
			 struct vipd_aws_creds *out)
{
	json_error_t e;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	struct vipd_aws_creds c = {0};
	int r = -EBADMSG;
	if (!json_is_object(o))
		goto out;
	const char *code = json_string_value(json_object_get(o, "Code"));
	if (code && strcmp(code, "Success") != 0)
		goto out;
	if (copy_field(o, "AccessKeyId", c.key_id, sizeof(c.key_id), true) <
		    0 ||
	    copy_field(o, "SecretAccessKey", c.secret, sizeof(c.secret), true) <
		    0 ||
	    copy_field(o, "Token", c.token, sizeof(c.token), false) < 0)
		goto out;
	const char *exp = json_string_value(json_object_get(o, "Expiration"));
	if (exp && vipd_parse_utc(exp, &c.expires_wall_ms) < 0)
		goto out;
	c.have = true;
	*out = c;
	r = 0;
out:
	json_decref(o);
	return r;
}

uint32_t vipd_backoff_ms(uint32_t base_ms, uint32_t attempt, unsigned *seed)
{
	uint64_t cap = base_ms;
	for (uint32_t i = 1; i < attempt && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	/* Full jitter: two nodes (or many vipds) retrying never align. */
	return (uint32_t)(rand_r(seed) % (cap + 1));
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
}

void vipd_aws_done(struct vipd_aws *a)
{
	explicit_bzero(&a->creds, sizeof(a->creds));
	explicit_bzero(a->imds_token, sizeof(a->imds_token));
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

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int imds_get(struct vipd_aws *a, const char *method, const char *path,
		    struct vipd_http_resp *resp, char *why, size_t size)
{
	char url[VIPD_URL_MAX + 128], hdr[320];
	struct vipd_http_req req = {
		.method = method,
		.url = url,
		.timeout_ms = a->cfg->timeout_ms,
		.abort = a->abort,
	};
	snprintf(url, sizeof(url), "%s%s", a->cfg->imds_endpoint, path);
	if (strcmp(method, "PUT") == 0)
		snprintf(hdr, sizeof(hdr),
			 "X-aws-ec2-metadata-token-ttl-seconds: %d",
			 IMDS_TOKEN_TTL_S);
	else
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
			 a->imds_token);
	req.headers[0] = hdr;
	int r = vipd_http(&req, resp);
	if (r < 0) {
		snprintf(why, size, "IMDS %s %s: %s", method, path,
			 resp->error);
		return r;
	}
	if (resp->status != 200) {
		snprintf(why, size, "IMDS %s %s: HTTP %ld", method, path,
			 resp->status);
		r = resp->status == 401	  ? -EKEYEXPIRED
		    : resp->status >= 500 ? -EAGAIN
					  : -EACCES;
		vipd_http_resp_free(resp);
		return r;
	}
	return 0;
}

static int imds_creds(struct vipd_aws *a, char *why, size_t size)
{
	struct vipd_http_resp resp;
	char role[128];
	int r;

	for (int again = 0; again < 2; again++) {
		if (!a->imds_token[0] ||
		    sky_now_ms() > a->imds_token_until_ms) {
			r = imds_get(a, "PUT", "/latest/api/token", &resp, why,
				     size);
			if (r < 0)
				return r;
			bool ok = resp.len > 0 &&
				  resp.len < sizeof(a->imds_token);
			for (size_t i = 0; ok && i < resp.len; i++)
				ok = isgraph((unsigned char)resp.body[i]) ||
				     isspace((unsigned char)resp.body[i]);
			if (ok) {
				memcpy(a->imds_token, resp.body, resp.len + 1);
				trim(a->imds_token);
				ok = a->imds_token[0] != '\0';
			}
			vipd_http_resp_free(&resp);
			if (!ok) {
				a->imds_token[0] = '\0';
				snprintf(why, size,
					 "IMDS token: malformed reply");
				return -EBADMSG;
			}
			a->imds_token_until_ms =
				sky_now_ms() + (IMDS_TOKEN_TTL_S - 60) * 1000LL;
		}
		r = imds_get(a, "GET",
			     "/latest/meta-data/iam/security-credentials/",
			     &resp, why, size);
		if (r == -EKEYEXPIRED) { /* the token expired: a new one */
			a->imds_token[0] = '\0';
			continue;
		}
		if (r < 0)
			return r;
		/* The first line names the role. */
		size_t n = strcspn(resp.body, "\r\n");
		bool ok = n > 0 && n < sizeof(role);
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)resp.body[i]) ||
			     strchr("+=,.@_-", resp.body[i]);
		if (ok) {
			memcpy(role, resp.body, n);
			role[n] = '\0';
		}
		vipd_http_resp_free(&resp);
		if (!ok) {
			snprintf(why, size,
				 "IMDS: no instance role (attach an IAM role "
				 "to the instance)");
			return -EBADMSG;
		}
		char path[256];
		snprintf(path, sizeof(path),
			 "/latest/meta-data/iam/security-credentials/%s", role);
		r = imds_get(a, "GET", path, &resp, why, size);
		if (r == -EKEYEXPIRED) {
			a->imds_token[0] = '\0';
			continue;
		}
		if (r < 0)
			return r;
		r = vipd_aws_parse_creds(resp.body, resp.len, &a->creds);
		vipd_http_resp_free(&resp);
		if (r < 0) {
			snprintf(why, size,
				 "IMDS credentials of role %s: malformed reply",
				 role);
			return r;
		}
		return 0;
	}
	snprintf(why, size, "IMDS keeps rejecting fresh tokens");
	return -EACCES;
}

static int env_creds(struct vipd_aws *a, char *why, size_t size)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	struct vipd_aws_creds c = {.have = true};
	if (!id || !secret || !*id || !*secret ||
	    sky_strlcpy(c.key_id, id, sizeof(c.key_id)) < 0 ||
	    sky_strlcpy(c.secret, secret, sizeof(c.secret)) < 0 ||
	    (token && sky_strlcpy(c.token, token, sizeof(c.token)) < 0)) {
		snprintf(why, size,
			 "credentials: env, but AWS_ACCESS_KEY_ID and "
			 "AWS_SECRET_ACCESS_KEY are not usable");
		return -ENOKEY;
	}
	a->creds = c;
	return 0;
}

static int ensure_creds(struct vipd_aws *a, bool force, char *why, size_t size)
{
	const struct vipd_aws_creds *c = &a->creds;
	if (!force && c->have &&
	    (!c->expires_wall_ms ||
	     c->expires_wall_ms - sky_wall_ms() > CREDS_REFRESH_MARGIN_MS))
		return 0;
	a->stats.credential_fetches++;
	int r = a->cfg->creds == VIPD_AWS_CREDS_ENV ? env_creds(a, why, size)
						    : imds_creds(a, why, size);
	if (r < 0)
		return r;
	if (a->creds.expires_wall_ms &&
	    a->creds.expires_wall_ms <= sky_wall_ms()) {
		snprintf(why, size,
			 "the credentials just fetched have expired");
		a->creds.have = false;
		return -EKEYEXPIRED;
	}
	log_debug("aws: credentials %.8s... fetched", a->creds.key_id);
	return 0;
}

/* --- calls ------------------------------------------------------------------ */

/* One Query API call with retries; why names the action and the answer. */
static int query(struct vipd_aws *a, bool elb, const char *action,
		 const char *params, char *why, size_t size)
{
	const struct vipd_aws_cfg *cfg = a->cfg;
	char body[QUERY_MAX], sigv4[VIPD_AWS_ID_MAX + 64];
	char userpwd[2 * VIPD_AWS_KEY_MAX + 2];
	char token_hdr[VIPD_AWS_TOKEN_MAX + 32], detail[300] = "";
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
			pause_ms(a, vipd_backoff_ms(cfg->backoff_ms,
						    attempt - 1, &a->seed));
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
		snprintf(userpwd, sizeof(userpwd), "%s:%s", a->creds.key_id,
			 a->creds.secret);
		snprintf(token_hdr, sizeof(token_hdr),
			 "X-Amz-Security-Token: %s", a->creds.token);
		struct vipd_http_req req = {
			.method = "POST",
			.url = elb ? cfg->elb_endpoint : cfg->ec2_endpoint,
			.body = body,
			.headers = {"Content-Type: application/"
				    "x-www-form-urlencoded; charset=utf-8",
				    a->creds.token[0] ? token_hdr : NULL},
			.sigv4 = sigv4,
			.userpwd = userpwd,
			.timeout_ms = cfg->timeout_ms,
			.abort = a->abort,
		};
		struct vipd_http_resp resp;
		a->stats.calls++;
		r = vipd_http(&req, &resp);
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
		vipd_http_resp_free(&resp);
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
	if (vipd_url_encode(value, enc, sizeof(enc)) < 0)
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
