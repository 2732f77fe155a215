/*
 * fuzz.h - small helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * A target that finds something wrong without the sanitizers noticing
 * (a round trip that changes a field) calls FUZZ_ASSERT, which aborts:
 * libFuzzer then saves the input as a crash like any other.
 */
#ifndef SKYHA_FUZZ_H
#define SKYHA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(expr)                                                      \
	do {                                                                   \
		if (!(expr)) {                                                 \
			fprintf(stderr, "%s:%d: FUZZ_ASSERT(%s) failed\n",     \
				__FILE__, __LINE__, #expr);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (free it); NULL only on ENOMEM. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		if (size)
			memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/*
 * A cloud reply: the first two bytes pick the HTTP status (0..999), the
 * rest is the body, as a string (free it; its length is size - 2). NULL
 * when the input is too short or on ENOMEM.
 */
static inline char *fuzz_status_body(const uint8_t *data, size_t size,
				     long *status)
{
	if (size < 2)
		return NULL;
	*status = (long)(data[0] << 8 | data[1]) % 1000;
	return fuzz_text(data + 2, size - 2);
}

#endif
