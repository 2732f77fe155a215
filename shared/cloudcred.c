/*
 * cloudcred.c - see cloudcred.h.
 */
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

#define REFRESH_MARGIN_MS (5 * 60 * 1000) /* renew before expiry */
#define IMDS_TOKEN_TTL_S  21600

/* --- pure parts ----------------------------------------------------------- */

int sky_parse_utc(const char *s, int64_t *out_ms)
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

int sky_aws_parse_creds(const char *body, size_t len, struct sky_aws_creds *out)
{
	json_error_t e;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	struct sky_aws_creds c = {0};
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
	if (exp && sky_parse_utc(exp, &c.expires_wall_ms) < 0)
		goto out;
	c.have = true;
	*out = c;
	r = 0;
out:
	explicit_bzero(&c, sizeof(c));
	json_decref(o);
	return r;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

int sky_azure_parse_token(const char *body, size_t len, char *token,
			  size_t size, int64_t *expires_ms)
{
	json_error_t e;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	int r = -EBADMSG;
	const char *t = json_string_value(json_object_get(o, "access_token"));
	json_t *exp = json_object_get(o, "expires_on");
	int64_t secs = 0;
	if (json_is_string(exp)) {
		if (sky_parse_i64(json_string_value(exp), 1, INT64_MAX / 1000,
				  &secs) < 0)
			goto out;
	} else if (json_is_integer(exp) && json_integer_value(exp) > 0 &&
		   json_integer_value(exp) < INT64_MAX / 1000) {
		secs = json_integer_value(exp);
	} else {
		goto out;
	}
	if (!t || !printable(t, size))
		goto out;
	memcpy(token, t, strlen(t) + 1);
	*expires_ms = secs * 1000;
	r = 0;
out:
	json_decref(o);
	return r;
}

/* --- AWS -------------------------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int imds_get(struct sky_aws_credsrc *a, const char *method,
		    const char *path, struct sky_http_resp *resp, char *why,
		    size_t size)
{
	char url[SKY_CRED_URL_MAX + 128], hdr[320];
	struct sky_http_req req = {
		.method = method,
		.url = url,
		.timeout_ms = a->timeout_ms,
		.abort = a->abort,
	};
	snprintf(url, sizeof(url), "%s%s",
		 a->imds_endpoint[0] ? a->imds_endpoint : SKY_AWS_IMDS_DEFAULT,
		 path);
	if (strcmp(method, "PUT") == 0)
		snprintf(hdr, sizeof(hdr),
			 "X-aws-ec2-metadata-token-ttl-seconds: %d",
			 IMDS_TOKEN_TTL_S);
	else
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
			 a->imds_token);
	req.headers[0] = hdr;
	int r = sky_http(&req, resp);
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
		sky_http_resp_free(resp);
		return r;
	}
	return 0;
}

static int imds_creds(struct sky_aws_credsrc *a, char *why, size_t size)
{
	struct sky_http_resp resp;
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
			sky_http_resp_free(&resp);
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
		sky_http_resp_free(&resp);
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
		r = sky_aws_parse_creds(resp.body, resp.len, &a->creds);
		explicit_bzero(resp.body, resp.len);
		sky_http_resp_free(&resp);
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

static int env_creds(struct sky_aws_credsrc *a, char *why, size_t size)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	struct sky_aws_creds c = {.have = true};
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
	explicit_bzero(&c, sizeof(c));
	return 0;
}

int sky_aws_creds_get(struct sky_aws_credsrc *a, bool force, char *why,
		      size_t size)
{
	const struct sky_aws_creds *c = &a->creds;
	if (!force && c->have &&
	    (!c->expires_wall_ms ||
	     c->expires_wall_ms - sky_wall_ms() > REFRESH_MARGIN_MS))
		return 0;
	a->fetches++;
	int r = a->kind == SKY_AWS_CREDS_ENV ? env_creds(a, why, size)
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

void sky_aws_credsrc_wipe(struct sky_aws_credsrc *a)
{
	explicit_bzero(&a->creds, sizeof(a->creds));
	explicit_bzero(a->imds_token, sizeof(a->imds_token));
}

/* --- Azure ------------------------------------------------------------------ */

int sky_azure_token_get(struct sky_azure_tokensrc *a, bool force, char *why,
			size_t size)
{
	char res[SKY_CRED_URL_MAX * 3], url[SKY_CRED_URL_MAX * 5],
		cid[sizeof(a->client_id) * 3];

	if (!force && a->token[0] &&
	    a->expires_wall_ms - sky_wall_ms() > REFRESH_MARGIN_MS)
		return 0;
	if (sky_url_encode(a->resource, res, sizeof(res)) < 0 ||
	    sky_url_encode(a->client_id, cid, sizeof(cid)) < 0) {
		snprintf(why, size, "IMDS token: resource too long");
		return -E2BIG;
	}
	snprintf(url, sizeof(url),
		 "%s/metadata/identity/oauth2/token?api-version=2018-02-01"
		 "&resource=%s%s%s",
		 a->imds_endpoint[0] ? a->imds_endpoint
				     : SKY_AZURE_IMDS_DEFAULT,
		 res, cid[0] ? "&client_id=" : "", cid);
	struct sky_http_req req = {
		.method = "GET",
		.url = url,
		.headers = {"Metadata: true"},
		.timeout_ms = a->timeout_ms,
		.abort = a->abort,
	};
	struct sky_http_resp resp;
	a->fetches++;
	int r = sky_http(&req, &resp);
	if (r < 0) {
		snprintf(why, size, "IMDS token: %s", resp.error);
		return r;
	}
	if (resp.status != 200) {
		snprintf(why, size, "IMDS token: HTTP %ld", resp.status);
		r = resp.status >= 500 || resp.status == 429 ? -EAGAIN
							     : -EACCES;
	} else {
		r = sky_azure_parse_token(resp.body, resp.len, a->token,
					  sizeof(a->token),
					  &a->expires_wall_ms);
		if (r < 0)
			snprintf(why, size, "IMDS token: malformed reply");
	}
	explicit_bzero(resp.body, resp.len);
	sky_http_resp_free(&resp);
	return r;
}

void sky_azure_tokensrc_wipe(struct sky_azure_tokensrc *a)
{
	explicit_bzero(a->token, sizeof(a->token));
}
