/*
 * xml.c - see xml.h.
 */
#include "xml.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TAG_MAX 64

/* An opening tag of name at p (p points at '<'): its length through '>',
 * *empty if it ends "/>"; 0 if p is not that tag. */
static size_t open_tag(const char *p, size_t left, const char *tag, bool *empty)
{
	size_t t = strlen(tag);
	if (left < t + 2 || p[0] != '<' || memcmp(p + 1, tag, t) != 0)
		return 0;
	char after = p[1 + t];
	if (after != '>' && after != '/' && after != ' ' && after != '\t' &&
	    after != '\r' && after != '\n')
		return 0;
	const char *gt = memchr(p + 1 + t, '>', left - 1 - t);
	if (!gt)
		return 0;
	*empty = gt[-1] == '/';
	return (size_t)(gt - p) + 1;
}

int bk_xml_next(const char *buf, size_t len, size_t *pos, const char *tag,
		const char **start, size_t *n)
{
	char close[TAG_MAX + 4];
	size_t t = strlen(tag);
	if (t == 0 || t > TAG_MAX || *pos > len)
		return -EINVAL;
	int cn = snprintf(close, sizeof(close), "</%s>", tag);
	for (size_t i = *pos; i < len;) {
		const char *lt = memchr(buf + i, '<', len - i);
		if (!lt)
			break;
		i = (size_t)(lt - buf);
		bool empty = false;
		size_t ol = open_tag(lt, len - i, tag, &empty);
		if (!ol) {
			i++;
			continue;
		}
		if (empty) {
			*start = lt + ol;
			*n = 0;
			*pos = i + ol;
			return 0;
		}
		const char *body = lt + ol;
		size_t left = len - i - ol;
		const char *end = memmem(body, left, close, (size_t)cn);
		if (!end)
			return -EBADMSG;
		*start = body;
		*n = (size_t)(end - body);
		*pos = (size_t)(end - buf) + (size_t)cn;
		return 0;
	}
	*pos = len;
	return -ENOENT;
}

int bk_xml_text(const char *s, size_t n, char *out, size_t size)
{
	static const struct {
		const char *name;
		char ch;
	} named[] = {{"amp;", '&'},
		     {"lt;", '<'},
		     {"gt;", '>'},
		     {"quot;", '"'},
		     {"apos;", '\''}};
	size_t o = 0;
	if (size == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '<')
			return -EBADMSG; /* markup inside text */
		if (ch == '&') {
			size_t rest = n - i - 1;
			const char *e = s + i + 1;
			bool found = false;
			for (size_t k = 0; k < sizeof(named) / sizeof(named[0]);
			     k++) {
				size_t el = strlen(named[k].name);
				if (rest >= el &&
				    memcmp(e, named[k].name, el) == 0) {
					ch = (unsigned char)named[k].ch;
					i += 1 + el;
					found = true;
					break;
				}
			}
			if (!found) {
				/* &#NN; or &#xHH; below 128: names are ASCII */
				const char *semi = memchr(e, ';', rest);
				if (!semi || rest < 3 || e[0] != '#' ||
				    semi - e > 8)
					return -EBADMSG;
				unsigned long v = 0;
				bool hx = e[1] == 'x' || e[1] == 'X';
				const char *d = e + (hx ? 2 : 1);
				if (d == semi)
					return -EBADMSG;
				for (; d < semi; d++) {
					int c = (unsigned char)*d;
					if (hx && isxdigit(c))
						v = v * 16 +
						    (unsigned long)(isdigit(c)
									    ? c - '0'
									    : (tolower(c) -
									       'a' +
									       10));
					else if (!hx && isdigit(c))
						v = v * 10 +
						    (unsigned long)(c - '0');
					else
						return -EBADMSG;
				}
				if (v == 0 || v > 127)
					return -EBADMSG;
				ch = (unsigned char)v;
				i = (size_t)(semi - s) + 1;
			}
		} else {
			i++;
		}
		if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
			return -EBADMSG;
		if (ch == 0x7f)
			return -EBADMSG;
		if (o + 1 >= size) {
			out[o] = '\0'; /* what fit, for a log line */
			return -ENOSPC;
		}
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

int bk_xml_find(const char *buf, size_t len, const char *tag, char *out,
		size_t size)
{
	size_t pos = 0, n;
	const char *s;
	int r = bk_xml_next(buf, len, &pos, tag, &s, &n);
	if (r < 0)
		return r;
	return bk_xml_text(s, n, out, size);
}

static int parse_size(const char *s, size_t n, uint64_t *out)
{
	char tmp[24];
	if (bk_xml_text(s, n, tmp, sizeof(tmp)) < 0 || !tmp[0])
		return -EBADMSG;
	uint64_t v = 0;
	for (const char *p = tmp; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* The entries: each <item> holds <name_tag> and <size_tag>. */
static int walk_entries(const char *buf, size_t len, const char *item,
			const char *name_tag, const char *size_tag,
			bk_xml_entry_fn fn, void *ctx)
{
	char key[BK_XML_KEY_MAX + 1];
	size_t pos = 0, n;
	const char *s;
	int r;
	while ((r = bk_xml_next(buf, len, &pos, item, &s, &n)) == 0) {
		size_t ip = 0, kn, sn;
		const char *ks, *ss;
		uint64_t size;
		if (bk_xml_next(s, n, &ip, name_tag, &ks, &kn) < 0)
			return -EBADMSG;
		ip = 0;
		if (bk_xml_next(s, n, &ip, size_tag, &ss, &sn) < 0 ||
		    parse_size(ss, sn, &size) < 0)
			return -EBADMSG;
		if (bk_xml_text(ks, kn, key, sizeof(key)) < 0 || !key[0])
			return -EBADMSG;
		if (fn(ctx, key, size))
			return 1;
	}
	return r == -ENOENT ? 0 : -EBADMSG;
}

int bk_xml_s3_list(const char *buf, size_t len, bk_xml_entry_fn fn, void *ctx,
		   char *next, size_t next_size)
{
	char trunc[8] = "";
	if (next_size == 0)
		return -EINVAL;
	next[0] = '\0';
	/* Anything else (an <Error>, HTML from a proxy) is not a listing. */
	if (!memmem(buf, len, "<ListBucketResult", 17))
		return -EBADMSG;
	int r = bk_xml_find(buf, len, "IsTruncated", trunc, sizeof(trunc));
	if (r < 0 && r != -ENOENT)
		return -EBADMSG;
	bool truncated = strcmp(trunc, "true") == 0;
	if (truncated && (bk_xml_find(buf, len, "NextContinuationToken", next,
				      next_size) < 0 ||
			  !next[0])) {
		next[0] = '\0';
		return -EBADMSG; /* more, but no way to ask for it */
	}
	r = walk_entries(buf, len, "Contents", "Key", "Size", fn, ctx);
	if (r < 0)
		next[0] = '\0';
	return r;
}

int bk_xml_blob_list(const char *buf, size_t len, bk_xml_entry_fn fn, void *ctx,
		     char *next, size_t next_size)
{
	if (next_size == 0)
		return -EINVAL;
	next[0] = '\0';
	if (!memmem(buf, len, "<EnumerationResults", 19))
		return -EBADMSG;
	int r = bk_xml_find(buf, len, "NextMarker", next, next_size);
	if (r < 0 && r != -ENOENT) {
		next[0] = '\0';
		return -EBADMSG;
	}
	r = walk_entries(buf, len, "Blob", "Name", "Content-Length", fn, ctx);
	if (r < 0)
		next[0] = '\0';
	return r;
}

static void printable_copy(const char *buf, size_t len, const char *tag,
			   char *out, size_t size)
{
	if (size == 0)
		return;
	out[0] = '\0';
	if (bk_xml_find(buf, len, tag, out, size) == -EBADMSG)
		out[0] = '\0';
	out[strcspn(out, "\r\n")] = '\0'; /* Azure adds RequestId, Time */
	for (char *p = out; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
}

void bk_xml_error(const char *buf, size_t len, char *code, size_t code_size,
		  char *message, size_t message_size)
{
	printable_copy(buf, len, "Code", code, code_size);
	printable_copy(buf, len, "Message", message, message_size);
}
