/*
 * etcd_json.c - etcd v3 JSON gateway bodies and replies (see etcd_json.h).
 *
 * Base64 through libsodium (the ORIGINAL variant, as protobuf's JSON
 * mapping writes it). Every string from a reply is length-checked before it
 * is copied; a key or value with a NUL inside is refused, so later string
 * handling cannot be fooled.
 */
#include "etcd_json.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && size)
		vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* An int64 field: a string of digits (the JSON mapping), or a number;
 * absent means 0. */
static int get_i64(const json_t *obj, const char *name, int64_t *out, char *err,
		   size_t err_size)
{
	const json_t *v = json_object_get(obj, name);
	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	size_t len = s ? strlen(s) : 0;
	if (!s || len == 0 || len > 20 || len != json_string_length(v))
		return fail(err, err_size, "%s is not an int64 string", name);
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-')))
			return fail(err, err_size,
				    "%s: '%.24s' is not a number", name, s);
	errno = 0;
	char *end;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return fail(err, err_size, "%s: '%.24s' is out of range", name,
			    s);
	*out = x;
	return 0;
}

/* A base64 bytes field into a NUL-terminated string; absent means "". */
static int get_b64(const json_t *obj, const char *name, char *out, size_t size,
		   char *err, size_t err_size)
{
	const json_t *v = json_object_get(obj, name);
	size_t bin_len = 0;
	out[0] = '\0';
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	if (!s)
		return fail(err, err_size, "%s is not a string", name);
	size_t len = json_string_length(v);
	if (len > 4 * (size / 3) + 4)
		return fail(err, err_size, "%s longer than %zu bytes", name,
			    size - 1);
	if (sodium_base642bin((unsigned char *)out, size - 1, s, len, NULL,
			      &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return fail(err, err_size,
			    "%s is not base64 (or longer than "
			    "%zu bytes)",
			    name, size - 1);
	out[bin_len] = '\0';
	if (memchr(out, '\0', bin_len))
		return fail(err, err_size, "%s holds a NUL byte", name);
	return 0;
}

static int parse_header(const json_t *root, struct etcd_reply *out, char *err,
			size_t err_size)
{
	const json_t *h = json_object_get(root, "header");
	if (!h)
		return 0;
	if (!json_is_object(h))
		return fail(err, err_size, "header is not an object");
	return get_i64(h, "revision", &out->revision, err, err_size);
}

static int parse_kv(const json_t *kv, struct etcd_kv *out, char *err,
		    size_t err_size)
{
	int r;
	if (!json_is_object(kv))
		return fail(err, err_size, "a kvs entry is not an object");
	out->present = true;
	if ((r = get_b64(kv, "key", out->key, sizeof(out->key), err,
			 err_size)) < 0 ||
	    (r = get_b64(kv, "value", out->value, sizeof(out->value), err,
			 err_size)) < 0 ||
	    (r = get_i64(kv, "create_revision", &out->create_revision, err,
			 err_size)) < 0 ||
	    (r = get_i64(kv, "mod_revision", &out->mod_revision, err,
			 err_size)) < 0 ||
	    (r = get_i64(kv, "version", &out->version, err, err_size)) < 0 ||
	    (r = get_i64(kv, "lease", &out->lease, err, err_size)) < 0)
		return r;
	return 0;
}

/* A range response: its first key (we only ask for one key at a time). */
static int parse_range(const json_t *obj, struct etcd_kv *out, char *err,
		       size_t err_size)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return fail(err, err_size, "response_range is not an object");
	const json_t *kvs = json_object_get(obj, "kvs");
	if (!kvs)
		return 0;
	if (!json_is_array(kvs))
		return fail(err, err_size, "kvs is not an array");
	if (json_array_size(kvs) > 1)
		return fail(err, err_size, "kvs holds %zu keys, asked for one",
			    json_array_size(kvs));
	if (json_array_size(kvs) == 0)
		return 0;
	return parse_kv(json_array_get(kvs, 0), out, err, err_size);
}

static int parse_txn(const json_t *root, struct etcd_reply *out, char *err,
		     size_t err_size)
{
	const json_t *ok = json_object_get(root, "succeeded");
	if (ok && !json_is_boolean(ok))
		return fail(err, err_size, "succeeded is not a boolean");
	out->succeeded = ok && json_is_true(ok);
	const json_t *resps = json_object_get(root, "responses");
	if (!resps)
		return 0;
	if (!json_is_array(resps))
		return fail(err, err_size, "responses is not an array");
	size_t i;
	const json_t *item;
	json_array_foreach(resps, i, item)
	{
		if (!json_is_object(item))
			return fail(err, err_size,
				    "responses[%zu] is not an object", i);
		const json_t *range = json_object_get(item, "response_range");
		if (!range)
			continue; /* put, delete: nothing we read */
		if (out->range_count >= ETCD_TXN_RANGES)
			return fail(err, err_size, "more than %d range results",
				    ETCD_TXN_RANGES);
		int r = parse_range(range, &out->ranges[out->range_count], err,
				    err_size);
		if (r < 0)
			return r;
		out->range_count++;
	}
	return 0;
}

static int parse_error(const json_t *root, struct etcd_reply *out, char *err,
		       size_t err_size)
{
	const json_t *e = json_object_get(root, "error");
	const json_t *msg = json_object_get(root, "message");
	const json_t *code = json_object_get(root, "code");
	/* A stream's error: {"error":{"grpc_code":N,"message":"..."}}. */
	if (json_is_object(e)) {
		msg = json_object_get(e, "message");
		code = json_object_get(e, "grpc_code");
		if (!code)
			code = json_object_get(e, "code");
	} else if (!msg) {
		msg = e;
	}
	if (code && !json_is_integer(code))
		return fail(err, err_size, "error code is not an integer");
	if (msg && !json_is_string(msg))
		return fail(err, err_size, "error message is not a string");
	out->is_error = true;
	out->code = code ? (int)json_integer_value(code) : 0;
	const char *m = msg ? json_string_value(msg) : "";
	size_t n = 0;
	/* Printable ASCII only: the message goes into our logs. */
	for (; *m && n < ETCD_MESSAGE_MAX; m++)
		out->message[n++] = (*m >= 0x20 && *m < 0x7f) ? *m : '?';
	out->message[n] = '\0';
	return -EREMOTEIO;
}

static int parse_token(const json_t *root, struct etcd_reply *out, char *err,
		       size_t err_size)
{
	const json_t *t = json_object_get(root, "token");
	const char *s = json_string_value(t);
	if (!s || !*s)
		return fail(err, err_size, "no token in the reply");
	size_t len = json_string_length(t);
	if (len > ETCD_TOKEN_MAX)
		return fail(err, err_size, "token longer than %d bytes",
			    ETCD_TOKEN_MAX);
	/* It goes into an HTTP header: no control characters at all. */
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return fail(err, err_size,
				    "token holds a byte outside printable "
				    "ASCII");
	memcpy(out->token, s, len);
	out->token[len] = '\0';
	return 0;
}

/* A watch message: created, canceled (its reason as the message), and
 * what its events say about the key (etcd_json.h). */
static int parse_watch(const json_t *body, struct etcd_reply *out, char *err,
		       size_t err_size)
{
	static const char *const flags[] = {"created", "canceled"};
	bool *dst[] = {&out->created, &out->canceled};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(flags); i++) {
		const json_t *f = json_object_get(body, flags[i]);
		if (f && !json_is_boolean(f))
			return fail(err, err_size, "%s is not a boolean",
				    flags[i]);
		*dst[i] = json_is_true(f);
	}
	const json_t *reason = json_object_get(body, "cancel_reason");
	if (reason && !json_is_string(reason))
		return fail(err, err_size, "cancel_reason is not a string");
	const char *m = reason ? json_string_value(reason) : "";
	size_t n = 0;
	for (; *m && n < ETCD_MESSAGE_MAX; m++)
		out->message[n++] = (*m >= 0x20 && *m < 0x7f) ? *m : '?';
	out->message[n] = '\0';
	const json_t *events = json_object_get(body, "events");
	if (!events)
		return 0;
	if (!json_is_array(events))
		return fail(err, err_size, "events is not an array");
	size_t i;
	const json_t *ev;
	json_array_foreach(events, i, ev)
	{
		if (!json_is_object(ev))
			return fail(err, err_size,
				    "events[%zu] is not an object", i);
		const json_t *type = json_object_get(ev, "type");
		const char *t = type ? json_string_value(type) : "PUT";
		bool del = t && strcmp(t, "DELETE") == 0;
		if (!t || (!del && strcmp(t, "PUT") != 0))
			return fail(err, err_size,
				    "events[%zu]: type is not PUT or DELETE",
				    i);
		struct etcd_kv kv;
		memset(&kv, 0, sizeof(kv));
		const json_t *k = json_object_get(ev, "kv");
		int r = k ? parse_kv(k, &kv, err, err_size) : 0;
		if (r < 0)
			return r;
		out->events++;
		if (del)
			out->deleted++;
		else if (kv.create_revision &&
			 kv.create_revision == kv.mod_revision)
			out->taken++;
	}
	return 0;
}

int etcd_reply_parse(enum etcd_call call, const uint8_t *buf, size_t len,
		     struct etcd_reply *out, char *err, size_t err_size)
{
	json_error_t jerr;
	int r;

	memset(out, 0, sizeof(*out));
	if (err && err_size)
		err[0] = '\0';
	if (len > ETCD_REPLY_MAX)
		return fail(err, err_size, "reply of %zu bytes (at most %d)",
			    len, ETCD_REPLY_MAX);
	if (!buf)
		buf = (const uint8_t *)"", len = 0; /* an empty body */
	json_t *root = json_loadb((const char *)buf, len,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, err_size, "not JSON: %s (line %d)", jerr.text,
			    jerr.line);
	if (!json_is_object(root)) {
		r = fail(err, err_size, "not a JSON object");
		goto out;
	}
	if (json_object_get(root, "error")) {
		r = parse_error(root, out, err, err_size);
		goto out;
	}
	const json_t *body = root;
	if (call == ETCD_CALL_KEEPALIVE || call == ETCD_CALL_WATCH) {
		/* A streaming call: each message is {"result": {...}}. */
		body = json_object_get(root, "result");
		if (!json_is_object(body)) {
			r = fail(err, err_size, "no result object");
			goto out;
		}
	}
	r = parse_header(body, out, err, err_size);
	if (r < 0)
		goto out;
	switch (call) {
	case ETCD_CALL_AUTH:
		r = parse_token(body, out, err, err_size);
		break;
	case ETCD_CALL_GRANT:
	case ETCD_CALL_KEEPALIVE:
		if ((r = get_i64(body, "ID", &out->lease_id, err, err_size)) <
			    0 ||
		    (r = get_i64(body, "TTL", &out->ttl_s, err, err_size)) < 0)
			break;
		if (out->ttl_s < 0 || out->ttl_s > 1000000)
			r = fail(err, err_size, "TTL %" PRId64 " out of range",
				 out->ttl_s);
		else if (call == ETCD_CALL_GRANT &&
			 (out->lease_id == 0 || out->ttl_s == 0))
			r = fail(err, err_size, "granted lease without ID/TTL");
		break;
	case ETCD_CALL_TXN:
		r = parse_txn(body, out, err, err_size);
		break;
	case ETCD_CALL_RANGE:
		r = parse_range(body, &out->ranges[0], err, err_size);
		if (r == 0)
			out->range_count = 1;
		break;
	case ETCD_CALL_WATCH:
		r = parse_watch(body, out, err, err_size);
		break;
	case ETCD_CALL_OTHER:
	case ETCD_CALL_COUNT:
		break;
	}
out:
	json_decref(root);
	return r;
}

bool etcd_error_wants_token(const struct etcd_reply *r)
{
	return r->is_error &&
	       (r->code == ETCD_CODE_UNAUTHENTICATED ||
		strstr(r->message, "invalid auth token") ||
		strstr(r->message, "user name is empty") ||
		strstr(r->message, "revision of auth store is old"));
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static json_t *b64(const char *s)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	size_t cap =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	sodium_bin2base64(buf, cap, (const unsigned char *)s, len,
			  sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_string(buf);
	free(buf);
	return j;
}

static json_t *i64(int64_t x)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, x);
	return json_string(buf);
}

char *etcd_body_auth(const char *user, const char *password)
{
	return dump(json_pack("{s:s,s:s}", "name", user, "password", password));
}

char *etcd_body_grant(int64_t ttl_s)
{
	return dump(json_pack("{s:o}", "TTL", i64(ttl_s)));
}

char *etcd_body_lease(int64_t lease_id)
{
	return dump(json_pack("{s:o}", "ID", i64(lease_id)));
}

char *etcd_body_watch(const char *key)
{
	return dump(json_pack("{s:{s:o}}", "create_request", "key", b64(key)));
}

static int append(json_t *arr, json_t *item)
{
	if (!arr || !item) {
		json_decref(item);
		return -ENOMEM;
	}
	return json_array_append_new(arr, item) == 0 ? 0 : -ENOMEM;
}

int etcd_txn_compare(json_t *compares, const char *key, enum etcd_target target,
		     int64_t revision, const char *value)
{
	static const char *const names[] = {"CREATE", "MOD", "VALUE"};
	static const char *const fields[] = {"create_revision", "mod_revision",
					     "value"};
	json_t *c = json_pack("{s:s,s:s,s:o}", "result", "EQUAL", "target",
			      names[target], "key", b64(key));
	if (c)
		json_object_set_new(c, fields[target],
				    target == ETCD_TARGET_VALUE
					    ? b64(value)
					    : i64(revision));
	return append(compares, c);
}

int etcd_txn_put(json_t *ops, const char *key, const char *value, int64_t lease)
{
	json_t *put =
		json_pack("{s:o,s:o}", "key", b64(key), "value", b64(value));
	if (put && lease)
		json_object_set_new(put, "lease", i64(lease));
	return append(ops, put ? json_pack("{s:o}", "request_put", put) : NULL);
}

int etcd_txn_range(json_t *ops, const char *key)
{
	return append(ops,
		      json_pack("{s:{s:o}}", "request_range", "key", b64(key)));
}

int etcd_txn_delete(json_t *ops, const char *key)
{
	return append(ops, json_pack("{s:{s:o}}", "request_delete_range", "key",
				     b64(key)));
}

char *etcd_body_txn(json_t *compares, json_t *success, json_t *failure)
{
	json_t *o = json_object();
	if (o && compares)
		json_object_set_new(o, "compare", compares);
	else
		json_decref(compares);
	if (o && success)
		json_object_set_new(o, "success", success);
	else
		json_decref(success);
	if (o && failure)
		json_object_set_new(o, "failure", failure);
	else
		json_decref(failure);
	return dump(o);
}

int etcd_generation_parse(const char *value, uint64_t *generation, char *node,
			  size_t node_size)
{
	const char *sp = strchr(value, ' ');
	if (!sp || sp == value || sp - value > 20 || !sp[1])
		return -EBADMSG;
	uint64_t g = 0;
	for (const char *p = value; p < sp; p++) {
		if (*p < '0' || *p > '9' || g > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		g = g * 10 + (uint64_t)(*p - '0');
	}
	const char *name = sp + 1;
	size_t len = strlen(name);
	if (len > SKY_NAME_MAX || len >= node_size)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return -EBADMSG;
	*generation = g;
	memcpy(node, name, len + 1);
	return 0;
}

int etcd_generation_format(uint64_t generation, const char *node, char *out,
			   size_t size)
{
	int r = snprintf(out, size, "%" PRIu64 " %s", generation, node);
	return r < 0 || (size_t)r >= size ? -ENOSPC : 0;
}
