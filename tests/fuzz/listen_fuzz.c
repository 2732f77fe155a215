/*
 * listen_fuzz.c - healthd/listen.c healthd_listen_parse(): healthd's
 * --listen value ("*:9010", "[::1]:80", "198.18.0.1"), from the command
 * line or the unit file.
 */
#include "fuzz.h"
#include "listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct healthd_listen l;
	char err[256];
	char *spec = fuzz_text(data, size);

	if (spec && healthd_listen_parse(spec, &l, err, sizeof(err)) == 0)
		FUZZ_ASSERT(memchr(l.text, '\0', sizeof(l.text)) != NULL);
	free(spec);
	return 0;
}
