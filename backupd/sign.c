/*
 * sign.c - see sign.h.
 */
#include "sign.h"
#include "httpc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGN_PARAMS_MAX 32

static void hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void bk_sha256_hex(const void *buf, size_t len, char *out)
{
	uint8_t md[32];
	unsigned int n = 0;
	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	hex(md, 32, out);
}

int bk_hmac_sha256(const void *key, size_t key_len, const void *msg,
		   size_t msg_len, uint8_t out[32])
{
	unsigned int n = 0;
	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) ||
	    n != 32)
		return -EIO;
	return 0;
}

int bk_base64_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
	if (size < 4 * ((len + 2) / 3) + 1)
		return -ENOSPC;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}

int bk_base64_decode(const char *in, uint8_t *out, size_t size, size_t *out_len)
{
	size_t n = strlen(in);
	while (n &&
	       (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' '))
		n--;
	if (n == 0 || n % 4 != 0 || size < n / 4 * 3)
		return -EINVAL;
	int w = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (w < 0)
		return -EINVAL;
	size_t got = (size_t)w;
	if (in[n - 1] == '=')
		got--;
	if (in[n - 2] == '=')
		got--;
	*out_len = got;
	return 0;
}

void bk_amz_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y%m%dT%H%M%SZ", &tm);
}

void bk_http_date(time_t t, char *out, size_t size)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	gmtime_r(&t, &tm);
	/* Not strftime: %a and %b follow the locale. */
	snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct enc_kv {
	char *name, *value;
};

static int cmp_enc(const void *a, const void *b)
{
	const struct enc_kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

int bk_query_canonical(const struct bk_kv *params, size_t n, char *out,
		       size_t size)
{
	struct enc_kv e[SIGN_PARAMS_MAX];
	int r = 0;
	size_t o = 0;

	if (n > SIGN_PARAMS_MAX || size == 0)
		return -EINVAL;
	memset(e, 0, sizeof(e));
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *v = params[i].value ? params[i].value : "";
		size_t nl = strlen(params[i].name) * 3 + 1;
		size_t vl = strlen(v) * 3 + 1;
		e[i].name = malloc(nl);
		e[i].value = malloc(vl);
		if (!e[i].name || !e[i].value)
			r = -ENOMEM;
		else if (sky_url_encode(params[i].name, e[i].name, nl) < 0 ||
			 sky_url_encode(v, e[i].value, vl) < 0)
			r = -ENOSPC;
	}
	if (r == 0)
		qsort(e, n, sizeof(e[0]), cmp_enc);
	out[0] = '\0';
	for (size_t i = 0; i < n && r == 0; i++) {
		int w = snprintf(out + o, size - o, "%s%s=%s", i ? "&" : "",
				 e[i].name, e[i].value);
		if (w < 0 || (size_t)w >= size - o)
			r = -ENOSPC;
		else
			o += (size_t)w;
	}
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	return r;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct bk_kv *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* Append with snprintf semantics; false once out is full. */
static bool put(char *out, size_t size, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool put(char *out, size_t size, size_t *o, const char *fmt, ...)
{
	va_list ap;
	if (*o >= size)
		return false;
	va_start(ap, fmt);
	int w = vsnprintf(out + *o, size - *o, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= size - *o) {
		*o = size;
		return false;
	}
	*o += (size_t)w;
	return true;
}

int bk_sigv4_authorization(const struct bk_sigv4 *in, char *out, size_t size,
			   char *canonical, size_t canonical_size)
{
	struct bk_kv h[SIGN_PARAMS_MAX] = {{0}};
	char signed_names[1024], date[9], scope[256], hash[BK_SHA256_HEX];
	size_t o = 0, so = 0;
	int r = -ENOSPC;

	if (in->header_count > SIGN_PARAMS_MAX || strlen(in->amz_date) != 16)
		return -EINVAL;
	if (in->header_count)
		memcpy(h, in->headers, in->header_count * sizeof(h[0]));
	qsort(h, in->header_count, sizeof(h[0]), cmp_kv);
	size_t creq_size = 16384 + strlen(in->path) + strlen(in->query);
	for (size_t i = 0; i < in->header_count; i++)
		creq_size += strlen(h[i].name) + strlen(h[i].value) + 2;
	char *creq = malloc(creq_size);
	if (!creq)
		return -ENOMEM;
	signed_names[0] = '\0';
	bool ok = put(creq, creq_size, &o, "%s\n%s\n%s\n", in->method, in->path,
		      in->query);
	for (size_t i = 0; ok && i < in->header_count; i++)
		ok = put(creq, creq_size, &o, "%s:%s\n", h[i].name,
			 h[i].value) &&
		     put(signed_names, sizeof(signed_names), &so, "%s%s",
			 i ? ";" : "", h[i].name);
	ok = ok && put(creq, creq_size, &o, "\n%s\n%s", signed_names,
		       in->payload_sha256);
	if (!ok)
		goto out;
	if (canonical)
		snprintf(canonical, canonical_size, "%s", creq);
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date,
		 in->region, in->service);
	bk_sha256_hex(creq, o, hash);
	char sts[512];
	int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s",
			 in->amz_date, scope, hash);
	if (n < 0 || (size_t)n >= sizeof(sts))
		goto out;
	/* The signing key: HMAC chain from "AWS4" + secret. */
	uint8_t k[32];
	char kinit[300];
	int kn = snprintf(kinit, sizeof(kinit), "AWS4%s", in->secret);
	if (kn < 0 || (size_t)kn >= sizeof(kinit))
		goto out;
	r = bk_hmac_sha256(kinit, (size_t)kn, date, 8, k);
	explicit_bzero(kinit, sizeof(kinit));
	if (r == 0)
		r = bk_hmac_sha256(k, 32, in->region, strlen(in->region), k);
	if (r == 0)
		r = bk_hmac_sha256(k, 32, in->service, strlen(in->service), k);
	if (r == 0)
		r = bk_hmac_sha256(k, 32, "aws4_request", 12, k);
	if (r == 0)
		r = bk_hmac_sha256(k, 32, sts, (size_t)n, k);
	if (r < 0)
		goto out;
	char sig[65];
	hex(k, 32, sig);
	explicit_bzero(k, sizeof(k));
	n = snprintf(out, size,
		     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
		     "Signature=%s",
		     in->key_id, scope, signed_names, sig);
	r = n < 0 || (size_t)n >= size ? -ENOSPC : 0;
out:
	free(creq);
	return r;
}

int bk_sharedkey_string(const struct bk_sharedkey *in, char *out, size_t size)
{
	struct bk_kv h[SIGN_PARAMS_MAX] = {{0}}, p[SIGN_PARAMS_MAX] = {{0}};
	char len[32] = "";
	size_t o = 0;

	if (in->ms_count > SIGN_PARAMS_MAX || in->param_count > SIGN_PARAMS_MAX)
		return -EINVAL;
	if (in->ms_count)
		memcpy(h, in->ms_headers, in->ms_count * sizeof(h[0]));
	qsort(h, in->ms_count, sizeof(h[0]), cmp_kv);
	if (in->param_count)
		memcpy(p, in->params, in->param_count * sizeof(p[0]));
	qsort(p, in->param_count, sizeof(p[0]), cmp_kv);
	if (in->content_length)
		snprintf(len, sizeof(len), "%llu",
			 (unsigned long long)in->content_length);
	/* VERB, Content-Encoding, -Language, -Length, -MD5, -Type, Date,
	 * If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since,
	 * Range; then the x-ms-* headers and the resource. */
	bool ok = put(out, size, &o, "%s\n\n\n%s\n\n%s\n\n\n%s\n\n\n%s\n",
		      in->method, len, in->content_type ? in->content_type : "",
		      in->if_match ? in->if_match : "",
		      in->range ? in->range : "");
	for (size_t i = 0; ok && i < in->ms_count; i++)
		ok = put(out, size, &o, "%s:%s\n", h[i].name, h[i].value);
	ok = ok && put(out, size, &o, "/%s%s", in->account, in->path);
	for (size_t i = 0; ok && i < in->param_count; i++)
		ok = put(out, size, &o, "\n%s:%s", p[i].name,
			 p[i].value ? p[i].value : "");
	return ok ? 0 : -ENOSPC;
}

int bk_sharedkey_authorization(const struct bk_sharedkey *in,
			       const uint8_t *key, size_t key_len, char *out,
			       size_t size)
{
	size_t sts_size = 8192 + strlen(in->path);
	char *sts = malloc(sts_size);
	uint8_t mac[32];
	char b64[64];
	int r;

	if (!sts)
		return -ENOMEM;
	r = bk_sharedkey_string(in, sts, sts_size);
	if (r == 0)
		r = bk_hmac_sha256(key, key_len, sts, strlen(sts), mac);
	free(sts);
	if (r == 0)
		r = bk_base64_encode(mac, sizeof(mac), b64, sizeof(b64));
	if (r == 0) {
		int n = snprintf(out, size, "SharedKey %s:%s", in->account,
				 b64);
		r = n < 0 || (size_t)n >= size ? -ENOSPC : 0;
	}
	return r;
}
