/*
 * bytes.h - a growing output buffer and a bounded input cursor, the two
 * halves of every binary object of the repository (tree, pack header,
 * index). Integers are little-endian. A reader never reads past its end:
 * each get returns -EBADMSG when the input is short, so a parser of a
 * tampered object stops at the first bad byte.
 */
#ifndef BACKUPD_BYTES_H
#define BACKUPD_BYTES_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bk_out {
	uint8_t *buf;
	size_t len, cap;
	int err; /* sticky: -ENOMEM once an append failed */
};

static inline void bk_out_bytes(struct bk_out *o, const void *p, size_t n)
{
	if (o->err)
		return;
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n)
			cap *= 2;
		uint8_t *b = realloc(o->buf, cap);
		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	if (n)
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static inline void bk_out_u64(struct bk_out *o, uint64_t v, int width)
{
	uint8_t b[8];
	for (int i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	bk_out_bytes(o, b, (size_t)width);
}

#define bk_out_u8(o, v)	 bk_out_u64((o), (v), 1)
#define bk_out_u16(o, v) bk_out_u64((o), (v), 2)
#define bk_out_u32(o, v) bk_out_u64((o), (v), 4)

static inline void bk_out_free(struct bk_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

struct bk_in {
	const uint8_t *p;
	size_t left;
};

static inline int bk_in_bytes(struct bk_in *in, void *out, size_t n)
{
	if (in->left < n)
		return -EBADMSG;
	if (n)
		memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return 0;
}

/* A pointer into the input (no copy). */
static inline int bk_in_ref(struct bk_in *in, const uint8_t **out, size_t n)
{
	if (in->left < n)
		return -EBADMSG;
	*out = in->p;
	in->p += n;
	in->left -= n;
	return 0;
}

static inline int bk_in_u64w(struct bk_in *in, uint64_t *v, int width)
{
	if (in->left < (size_t)width)
		return -EBADMSG;
	uint64_t x = 0;
	for (int i = 0; i < width; i++)
		x |= (uint64_t)in->p[i] << (8 * i);
	in->p += width;
	in->left -= (size_t)width;
	*v = x;
	return 0;
}

#endif
