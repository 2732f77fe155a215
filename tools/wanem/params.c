/*
 * params.c - see params.h.
 */
#include "params.h"

#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void wanem_params_default(struct wanem_params *p)
{
	memset(p, 0, sizeof(*p));
	p->seed = 1;
}

/*
 * A non-negative decimal with at most `digits` fraction digits, scaled by
 * 10^digits ("7.5" with 6 digits: 7500000), at most max (scaled). Strict: no
 * sign, no exponent, no spaces, at least one digit before any '.'.
 */
static int parse_fixed(const char *s, unsigned digits, uint64_t max,
		       uint64_t *out)
{
	uint64_t v = 0;
	unsigned frac = 0;
	bool dot = false, any = false;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s == '.') {
			if (dot || !any)
				return -EINVAL;
			dot = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (dot && ++frac > digits)
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
		any = true;
	}
	if (dot && frac == 0)
		return -EINVAL;
	for (; frac < digits; frac++) {
		if (v > UINT64_MAX / 10)
			return -ERANGE;
		v *= 10;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int wanem_params_set(struct wanem_params *p, const char *key, const char *value,
		     char *err, size_t err_size)
{
	uint64_t v;
	int r;

	if (strcmp(key, "delay_ms") == 0 || strcmp(key, "jitter_ms") == 0) {
		/* ms with up to 6 fraction digits: ns */
		r = parse_fixed(value, 6,
				(uint64_t)WANEM_DELAY_MAX_MS * 1000000, &v);
		if (r < 0)
			return sky_refuse(err, err_size,
					  "%s: '%.32s' is not a number of "
					  "milliseconds in 0..%d (e.g. 7.5)",
					  key, value, WANEM_DELAY_MAX_MS);
		if (key[0] == 'd')
			p->delay_ns = (int64_t)v;
		else
			p->jitter_ns = (int64_t)v;
		return 0;
	}
	if (strcmp(key, "loss_pct") == 0 || strcmp(key, "reorder_pct") == 0) {
		/* percent with up to 4 fraction digits: parts per million */
		r = parse_fixed(value, 4, WANEM_PPM, &v);
		if (r < 0)
			return sky_refuse(err, err_size,
					  "%s: '%.32s' is not a percentage in "
					  "0..100 (at most 4 decimals)",
					  key, value);
		if (key[0] == 'l')
			p->loss_ppm = (uint32_t)v;
		else
			p->reorder_ppm = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "rate_mbit") == 0) {
		r = parse_fixed(value, 6,
				(uint64_t)WANEM_RATE_MAX_MBIT * 1000000, &v);
		if (r < 0)
			return sky_refuse(err, err_size,
					  "rate_mbit: '%.32s' is not a rate in "
					  "0..%d Mbit/s (0: unlimited)",
					  value, WANEM_RATE_MAX_MBIT);
		p->rate_bps = v; /* Mbit/s scaled by 10^6 is bit/s */
		return 0;
	}
	if (strcmp(key, "seed") == 0) {
		r = parse_fixed(value, 0, UINT64_MAX, &v);
		if (r < 0 || strchr(value, '.'))
			return sky_refuse(err, err_size,
					  "seed: '%.32s' is not a whole number "
					  "in 0..%" PRIu64,
					  value, UINT64_MAX);
		p->seed = v;
		p->seed_given = true;
		return 0;
	}
	return sky_refuse(err, err_size,
			  "unknown parameter '%.32s' (delay_ms, jitter_ms, "
			  "loss_pct, reorder_pct, rate_mbit, seed)",
			  key);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_value_char(char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

#define KEY_MAX	  16
#define VALUE_MAX 32
#define KEYS_MAX  6

int wanem_params_parse(const char *buf, size_t len, struct wanem_params *p,
		       unsigned *line, unsigned *column, char *err,
		       size_t err_size)
{
	struct wanem_params next = *p;
	char seen[KEYS_MAX][KEY_MAX + 1];
	unsigned nseen = 0;
	size_t i = 0;

	*line = 1;
	*column = 1;
	next.seed_given = false;
	if (len > WANEM_CONTROL_MAX)
		return sky_refuse(err, err_size,
				  "the file is larger than %d bytes",
				  WANEM_CONTROL_MAX);
	while (i < len) {
		size_t bol = i, k0, k1, v0, v1;
		char key[KEY_MAX + 1], value[VALUE_MAX + 1];
		int r;

#define AT(pos) (*column = (unsigned)((pos)-bol + 1))
		while (i < len && is_blank(buf[i]))
			i++;
		if (i == len || buf[i] == '\n' || buf[i] == '#')
			goto eol;
		k0 = i;
		while (i < len && is_key_char(buf[i]))
			i++;
		k1 = i;
		AT(k0);
		if (k1 == k0)
			return sky_refuse(err, err_size,
					  "expected a parameter name "
					  "(lowercase letters, digits, _)");
		if (k1 - k0 > KEY_MAX)
			return sky_refuse(err, err_size,
					  "parameter name longer than %d bytes",
					  KEY_MAX);
		memcpy(key, buf + k0, k1 - k0);
		key[k1 - k0] = '\0';
		while (i < len && is_blank(buf[i]))
			i++;
		AT(i);
		if (i == len || buf[i] != '=')
			return sky_refuse(err, err_size, "%s: expected '='",
					  key);
		i++;
		while (i < len && is_blank(buf[i]))
			i++;
		v0 = i;
		while (i < len && is_value_char(buf[i]))
			i++;
		v1 = i;
		AT(v0);
		if (v1 == v0 || v1 - v0 > VALUE_MAX)
			return sky_refuse(err, err_size,
					  "%s: expected a number of at most "
					  "%d characters",
					  key, VALUE_MAX);
		memcpy(value, buf + v0, v1 - v0);
		value[v1 - v0] = '\0';
		while (i < len && is_blank(buf[i]))
			i++;
		AT(i);
		if (i < len && buf[i] != '\n' && buf[i] != '#')
			return sky_refuse(err, err_size,
					  "%s: unexpected text after the value",
					  key);
		AT(k0);
		for (unsigned s = 0; s < nseen; s++)
			if (strcmp(seen[s], key) == 0)
				return sky_refuse(err, err_size,
						  "%s: given twice", key);
		r = wanem_params_set(&next, key, value, err, err_size);
		if (r < 0)
			return r;
		if (nseen < KEYS_MAX)
			memcpy(seen[nseen++], key, sizeof(key));
	eol:
		while (i < len && buf[i] != '\n')
			i++;
		if (i < len) {
			i++;
			(*line)++;
		}
#undef AT
	}
	*line = 0;
	*column = 0;
	*p = next;
	return 0;
}

void wanem_params_format(const struct wanem_params *p, char *buf, size_t size)
{
	char rate[48] = "unlimited";

	if (p->rate_bps)
		snprintf(rate, sizeof(rate), "%" PRIu64 ".%06" PRIu64 " Mbit/s",
			 p->rate_bps / 1000000, p->rate_bps % 1000000);
	snprintf(buf, size,
		 "delay %" PRId64 ".%03" PRId64 " ms, jitter %" PRId64
		 ".%03" PRId64 " ms, loss %u.%04u %%, reorder %u.%04u %%, "
		 "rate %s, seed %" PRIu64,
		 p->delay_ns / 1000000, p->delay_ns / 1000 % 1000,
		 p->jitter_ns / 1000000, p->jitter_ns / 1000 % 1000,
		 p->loss_ppm / 10000, p->loss_ppm % 10000,
		 p->reorder_ppm / 10000, p->reorder_ppm % 10000, rate, p->seed);
}
