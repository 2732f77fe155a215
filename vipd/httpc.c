/*
 * httpc.c - see httpc.h.
 */
#include "httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vipd_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

struct sink {
	char *buf;
	size_t len;
	bool too_big;
	long retry_after_s;
	char async_url[1024];
	char location[1024];
};

/* Copy a header's value (after "name:") if it is a plain http(s) URL. */
static void header_url(const char *data, size_t len, const char *name,
		       char *out, size_t size)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(data, name, n) != 0)
		return;
	data += n;
	len -= n;
	while (len && isspace((unsigned char)*data))
		data++, len--;
	while (len && isspace((unsigned char)data[len - 1]))
		len--;
	if (len == 0 || len >= size)
		return;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)data[i]))
			return;
	if (strncmp(data, "http://", 7) != 0 &&
	    strncmp(data, "https://", 8) != 0)
		return;
	memcpy(out, data, len);
	out[len] = '\0';
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	size_t add = size * n;
	if (s->len + add > VIPD_HTTP_BODY_MAX) {
		s->too_big = true;
		return 0; /* stops the transfer: CURLE_WRITE_ERROR */
	}
	char *b = realloc(s->buf, s->len + add + 1);
	if (!b)
		return 0;
	memcpy(b + s->len, data, add);
	s->buf = b;
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	header_url(data, len, "azure-asyncoperation:", s->async_url,
		   sizeof(s->async_url));
	header_url(data, len, "location:", s->location, sizeof(s->location));
	if (len > sizeof(name) && len < 64 &&
	    strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char value[64];
		memcpy(value, data + sizeof(name) - 1,
		       len - (sizeof(name) - 1));
		value[len - (sizeof(name) - 1)] = '\0';
		char *end;
		long v = strtol(value, &end, 10);
		while (*end && isspace((unsigned char)*end))
			end++;
		if (*end == '\0' && v >= 0 && v <= 3600)
			s->retry_after_s = v;
	}
	return len;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	const atomic_bool *abort_flag = user;
	return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

int vipd_http(const struct vipd_http_req *req, struct vipd_http_resp *resp)
{
	struct sink sink = {.retry_after_s = -1};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *auth = NULL;
	int r = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(resp->error, sizeof(resp->error), "curl_easy_init");
		return -ENOMEM;
	}
	for (size_t i = 0; i < VIPD_HTTP_HEADERS && req->headers[i]; i++) {
		struct curl_slist *h =
			curl_slist_append(headers, req->headers[i]);
		if (!h) {
			r = -ENOMEM;
			goto out;
		}
		headers = h;
	}
	if (req->bearer) {
		size_t n = strlen(req->bearer) + 32;
		auth = malloc(n);
		struct curl_slist *h = NULL;
		if (auth) {
			snprintf(auth, n, "Authorization: Bearer %s",
				 req->bearer);
			h = curl_slist_append(headers, auth);
		}
		if (!h) {
			r = -ENOMEM;
			goto out;
		}
		headers = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* IMDS must be direct */
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req->abort);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(req->body));
	} else if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (req->sigv4) {
		/* libcurl signs: never a hand-written signer. */
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, req->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->body = sink.buf ? sink.buf : calloc(1, 1);
		sink.buf = NULL;
		resp->len = sink.len;
		resp->retry_after_s = sink.retry_after_s;
		memcpy(resp->async_url, sink.async_url, sizeof(sink.async_url));
		memcpy(resp->location, sink.location, sizeof(sink.location));
		if (!resp->body)
			r = -ENOMEM;
		goto out;
	}
	if (sink.too_big) {
		r = -EMSGSIZE;
		snprintf(resp->error, sizeof(resp->error),
			 "reply larger than %d bytes", VIPD_HTTP_BODY_MAX);
		goto out;
	}
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		r = -ETIMEDOUT;
		break;
	case CURLE_COULDNT_CONNECT:
		r = -ECONNREFUSED;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		r = -ECANCELED;
		break;
	default:
		r = -EIO;
	}
	snprintf(resp->error, sizeof(resp->error), "%s",
		 errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(sink.buf);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return r;
}

void vipd_http_resp_free(struct vipd_http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int vipd_url_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool keep = isalnum(ch) || ch == '-' || ch == '_' ||
			    ch == '.' || ch == '~';
		if (o + (keep ? 1 : 3) >= size)
			return -ENOSPC;
		if (keep) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}
