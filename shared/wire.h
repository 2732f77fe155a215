/*
 * wire.h - bounded big-endian encoding for skyha's binary formats (the
 * heartbeat and lease packets, replication frames).
 *
 * A writer never writes past its buffer and a reader never reads past its
 * input: the first step that would sets a sticky flag (overflow, bad) and
 * every later step does nothing, so an encoder or decoder checks the flag
 * once at the end instead of after every field.
 */
#ifndef SKYHA_WIRE_H
#define SKYHA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sky_writer {
	uint8_t *buf;
	size_t size, len;
	bool overflow; /* something did not fit: the output is unusable */
	bool invalid;  /* an encoder refused a value: unusable too */
};

void sky_put_bytes(struct sky_writer *w, const void *p, size_t n);
void sky_put_u8(struct sky_writer *w, uint8_t v);
void sky_put_u16(struct sky_writer *w, uint16_t v);
void sky_put_u32(struct sky_writer *w, uint32_t v);
void sky_put_u64(struct sky_writer *w, uint64_t v);

struct sky_reader {
	const uint8_t *p;
	size_t left;
	bool bad; /* input ended early, or a decoder said it is malformed */
};

/* n bytes of input, or NULL (and bad set) when fewer are left. */
const uint8_t *sky_take(struct sky_reader *r, size_t n);
/* 0 once bad. */
uint8_t sky_get_u8(struct sky_reader *r);
uint16_t sky_get_u16(struct sky_reader *r);
uint32_t sky_get_u32(struct sky_reader *r);
uint64_t sky_get_u64(struct sky_reader *r);

#endif
