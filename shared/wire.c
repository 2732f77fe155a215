/*
 * wire.c - see wire.h.
 */
#include "wire.h"

#include <string.h>

void sky_put_bytes(struct sky_writer *w, const void *p, size_t n)
{
	if (w->overflow || n > w->size - w->len) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void sky_put_u8(struct sky_writer *w, uint8_t v)
{
	sky_put_bytes(w, &v, 1);
}

void sky_put_u16(struct sky_writer *w, uint16_t v)
{
	uint8_t b[2] = {v >> 8, v};
	sky_put_bytes(w, b, 2);
}

void sky_put_u32(struct sky_writer *w, uint32_t v)
{
	uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};
	sky_put_bytes(w, b, 4);
}

void sky_put_u64(struct sky_writer *w, uint64_t v)
{
	sky_put_u32(w, (uint32_t)(v >> 32));
	sky_put_u32(w, (uint32_t)v);
}

const uint8_t *sky_take(struct sky_reader *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	r->left -= n;
	return at;
}

uint8_t sky_get_u8(struct sky_reader *r)
{
	const uint8_t *b = sky_take(r, 1);
	return b ? b[0] : 0;
}

uint16_t sky_get_u16(struct sky_reader *r)
{
	const uint8_t *b = sky_take(r, 2);
	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

uint32_t sky_get_u32(struct sky_reader *r)
{
	const uint8_t *b = sky_take(r, 4);
	if (!b)
		return 0;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

uint64_t sky_get_u64(struct sky_reader *r)
{
	uint64_t hi = sky_get_u32(r);
	return hi << 32 | sky_get_u32(r);
}
