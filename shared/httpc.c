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
#include <strings.h>

#define BACKOFF_CAP_MS 10000

int sky_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

struct sink {
	CURL *curl;
	const struct sky_http_req *req;
	struct sky_http_resp *resp;
	char *buf; /* malloc'ed reply */
	size_t len;
	size_t out_len; /* bytes written to req->out */
	bool to_out;	/* decided at the first byte: a 2xx with req->out */
	bool decided;
	bool error_reply; /* not a 2xx: bounded, cut rather than refused */
	bool too_big;
	size_t bound;
};

struct source {
	const uint8_t *data;
	size_t len, at;
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

/* The value of header "name:" if data is that header and it is printable. */
static void header_value(const char *data, size_t len, const char *name,
			 char *out, size_t size)
{
	size_t n = strlen(name);
	if (len <= n + 1 || strncasecmp(data, name, n) != 0 || data[n] != ':')
		return;
	data += n + 1;
	len -= n + 1;
	while (len && isspace((unsigned char)*data))
		data++, len--;
	while (len && isspace((unsigned char)data[len - 1]))
		len--;
	if (len >= size)
		return;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)data[i]))
			return;
	memcpy(out, data, len);
	out[len] = '\0';
}

static void decide(struct sink *s)
{
	long status = 0;
	if (s->decided)
		return;
	s->decided = true;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	s->to_out = s->req->out && status >= 200 && status < 300;
	s->error_reply = status < 200 || status >= 300;
	s->bound = status >= 200 && status < 300 && s->req->body_max
			   ? s->req->body_max
			   : SKY_HTTP_BODY_MAX;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	size_t add = size * n;
	decide(s);
	if (s->to_out) {
		if (add > s->req->out_size - s->out_len) {
			s->too_big = true;
			return 0; /* stops the transfer: CURLE_WRITE_ERROR */
		}
		memcpy(s->req->out + s->out_len, data, add);
		s->out_len += add;
		return add;
	}
	if (add > s->bound - s->len) {
		if (!s->error_reply) {
			s->too_big = true;
			return 0;
		}
		/* An error's reply: its status is the answer; keep the
		 * first bound bytes of the explanation. */
		add = s->bound - s->len;
		if (add == 0)
			return size * n;
	}
	char *b = realloc(s->buf, s->len + add + 1);
	if (!b)
		return 0;
	memcpy(b + s->len, data, add);
	s->buf = b;
	s->len += add;
	s->buf[s->len] = '\0';
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	struct sky_http_resp *resp = s->resp;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	/* A new status line (100 Continue, then the answer): start again. */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
		for (size_t i = 0; i < SKY_HTTP_WANT; i++)
			resp->value[i][0] = '\0';
	header_url(data, len, "azure-asyncoperation:", resp->async_url,
		   sizeof(resp->async_url));
	header_url(data, len, "location:", resp->location,
		   sizeof(resp->location));
	for (size_t i = 0; i < SKY_HTTP_WANT && s->req->want[i]; i++)
		header_value(data, len, s->req->want[i], resp->value[i],
			     sizeof(resp->value[i]));
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
			resp->retry_after_s = v;
	}
	return len;
}

static size_t on_read(char *out, size_t size, size_t n, void *user)
{
	struct source *src = user;
	size_t want = size * n, left = src->len - src->at;
	if (want > left)
		want = left;
	memcpy(out, src->data + src->at, want);
	src->at += want;
	return want;
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	const atomic_bool *abort_flag = user;
	return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

static int add_header(struct curl_slist **list, const char *h)
{
	struct curl_slist *l = curl_slist_append(*list, h);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

static int errno_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	default:
		return -EIO; /* CURLE_PARTIAL_FILE: a short body among them */
	}
}

int sky_http(const struct sky_http_req *req, struct sky_http_resp *resp)
{
	struct sink sink = {.req = req, .resp = resp};
	struct source src = {.data = req->data, .len = req->data_len};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *auth = NULL;
	int r = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	CURL *c = req->conn ? (CURL *)req->conn : curl_easy_init();
	if (req->conn)
		curl_easy_reset(c); /* the options go, the connections stay */
	if (!c) {
		snprintf(resp->error, sizeof(resp->error), "curl_easy_init");
		return -ENOMEM;
	}
	sink.curl = c;
	for (size_t i = 0; r == 0 && i < SKY_HTTP_HEADERS && req->headers[i];
	     i++)
		r = add_header(&headers, req->headers[i]);
	if (r == 0 && req->bearer) {
		size_t n = strlen(req->bearer) + 32;
		auth = malloc(n);
		if (auth) {
			snprintf(auth, n, "Authorization: Bearer %s",
				 req->bearer);
			r = add_header(&headers, auth);
		} else {
			r = -ENOMEM;
		}
	}
	/* A binary body goes as is: no 100-continue round trip, no type. */
	if (r == 0 && req->data)
		r = add_header(&headers, "Expect:");
	if (r < 0) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		goto out;
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
	if (req->ca_file && req->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (req->data) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &src);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)req->data_len);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (req->body) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(req->body));
	} else if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (req->sigv4) {
		/* libcurl signs vipd's Query API calls (form bodies). */
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, req->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		decide(&sink);
		if (sink.to_out) {
			resp->len = sink.out_len;
		} else {
			resp->body = sink.buf ? sink.buf : calloc(1, 1);
			sink.buf = NULL;
			resp->len = sink.len;
			if (!resp->body)
				r = -ENOMEM;
		}
		goto out;
	}
	if (sink.too_big) {
		r = -EMSGSIZE;
		snprintf(resp->error, sizeof(resp->error),
			 "reply larger than %zu bytes",
			 sink.to_out ? req->out_size : sink.bound);
		goto out;
	}
	r = errno_of(cc);
	snprintf(resp->error, sizeof(resp->error), "%s",
		 errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(sink.buf);
	curl_slist_free_all(headers);
	if (!req->conn)
		curl_easy_cleanup(c);
	return r;
}

struct sky_http_conn *sky_http_conn_new(void)
{
	return (struct sky_http_conn *)curl_easy_init();
}

void sky_http_conn_free(struct sky_http_conn **conn)
{
	if (*conn) {
		curl_easy_cleanup((CURL *)*conn);
		*conn = NULL;
	}
}

void sky_http_resp_free(struct sky_http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

static int encode(const char *s, char *out, size_t size, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool keep = isalnum(ch) || ch == '-' || ch == '_' ||
			    ch == '.' || ch == '~' || (keep_slash && ch == '/');
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
	if (size == 0)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int sky_url_encode(const char *s, char *out, size_t size)
{
	return encode(s, out, size, false);
}

int sky_url_encode_path(const char *s, char *out, size_t size)
{
	return encode(s, out, size, true);
}

uint32_t sky_backoff_ms(uint32_t base_ms, uint32_t attempt, unsigned *seed)
{
	uint64_t cap = base_ms;
	for (uint32_t i = 1; i < attempt && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	/* Full jitter: two nodes (or many daemons) retrying never align. */
	return (uint32_t)(rand_r(seed) % (cap + 1));
}
