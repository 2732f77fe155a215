/*
 * render_text.c - the status view's text, made safe: a string from the
 * daemon cut to size on a character boundary and stripped of what could
 * steer the operator's terminal (skyctl_safe_text), and durations for
 * humans. Every string of the view is printed through these (directly or
 * through render_part.h's field helpers), so a hostile status cannot get
 * past them.
 */
#include "render_part.h"

/* Bytes in the UTF-8 sequence a lead byte starts; 0 if it cannot lead. */
static size_t utf8_sequence_len(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0;
}

/*
 * Characters that would let the daemon's text move the cursor, recolour or
 * clear the terminal (C0, DEL, C1 controls: U+0080..U+009F include CSI), or
 * reorder what the operator reads (U+2028..U+202E line separators and bidi
 * embeddings/overrides, U+2066..U+2069 bidi isolates).
 */
static bool char_is_unsafe(const unsigned char *c, size_t n)
{
	if (n == 1)
		return c[0] < 0x20 || c[0] == 0x7f;
	if (n == 2)
		return c[0] == 0xc2 && c[1] <= 0x9f;
	if (n == 3 && c[0] == 0xe2)
		return (c[1] == 0x80 && c[2] >= 0xa8 && c[2] <= 0xae) ||
		       (c[1] == 0x81 && c[2] >= 0xa6 && c[2] <= 0xa9);
	return false;
}

/* Copy len bytes of s into buf as skyctl_safe_text() describes. */
const char *skyctl_safe_copy(const char *text, size_t len, char *buf,
			     size_t size)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t in = 0, used = 0;
	bool cut = false;

	while (in < len) {
		size_t n = utf8_sequence_len(s[in]);
		bool replace = n == 0 || n > len - in;

		for (size_t k = 1; !replace && k < n; k++)
			if ((s[in + k] & 0xc0) != 0x80)
				replace = true;
		if (replace)
			n = 1;
		else
			replace = char_is_unsafe(s + in, n);
		if (used + (replace ? 1 : n) > size - 1) {
			cut = true;
			break;
		}
		if (replace) {
			buf[used++] = '?';
		} else {
			memcpy(buf + used, s + in, n);
			used += n;
		}
		in += n;
	}
	if (cut && size >= 4) {
		/* Make room for "..." by dropping whole characters. */
		while (used > size - 4) {
			used--;
			while (used > 0 &&
			       ((unsigned char)buf[used] & 0xc0) == 0x80)
				used--;
		}
		memcpy(buf + used, "...", 3);
		used += 3;
	}
	buf[used] = '\0';
	return buf;
}

const char *skyctl_safe_text(const json_t *value, char *buf, size_t size)
{
	if (size == 0)
		return "";
	if (!json_is_string(value))
		return skyctl_safe_copy("?", 1, buf, size);
	return skyctl_safe_copy(json_string_value(value),
				json_string_length(value), buf, size);
}

void skyctl_format_duration(int64_t ms, char *buf, size_t size)
{
	long long v = ms;

	if (ms < 0)
		snprintf(buf, size, "?");
	else if (v < 1000)
		snprintf(buf, size, "%lld ms", v);
	else if (v < 60 * 1000)
		snprintf(buf, size, "%lld.%lld s", v / 1000, v % 1000 / 100);
	else if (v < 3600 * 1000 && v / 1000 % 60)
		snprintf(buf, size, "%lld min %lld s", v / 60000,
			 v / 1000 % 60);
	else if (v < 3600 * 1000)
		snprintf(buf, size, "%lld min", v / 60000);
	else if (v < 86400 * 1000 && v / 60000 % 60)
		snprintf(buf, size, "%lld h %lld min", v / 3600000,
			 v / 60000 % 60);
	else if (v < 86400 * 1000)
		snprintf(buf, size, "%lld h", v / 3600000);
	else if (v / 3600000 % 24)
		snprintf(buf, size, "%lld d %lld h", v / 86400000,
			 v / 3600000 % 24);
	else
		snprintf(buf, size, "%lld d", v / 86400000);
}
