/*
 * wanem_params_fuzz.c - tools/wanem's control file: wanem_params_parse()
 * reads whatever bytes the file holds (written by a test, or by anyone who
 * can write it). A refused file leaves the parameters as they were and says
 * where (line and column within the input); an accepted one yields values
 * within the documented bounds.
 */
#include "fuzz.h"
#include "params.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wanem_params base, p;
	unsigned line, column;
	char err[200];
	int r;

	wanem_params_default(&base);
	base.delay_ns = 1234;
	p = base;
	r = wanem_params_parse((const char *)data, size, &p, &line, &column,
			       err, sizeof(err));
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL);
		FUZZ_ASSERT(memcmp(&p, &base, sizeof(p)) == 0);
		FUZZ_ASSERT(line >= 1 && line <= size + 1);
		FUZZ_ASSERT(column >= 1 && column <= size + 1);
		FUZZ_ASSERT(strlen(err) > 0);
		return 0;
	}
	FUZZ_ASSERT(size <= WANEM_CONTROL_MAX);
	FUZZ_ASSERT(p.delay_ns >= 0 &&
		    p.delay_ns <= (int64_t)WANEM_DELAY_MAX_MS * 1000000);
	FUZZ_ASSERT(p.jitter_ns >= 0 &&
		    p.jitter_ns <= (int64_t)WANEM_DELAY_MAX_MS * 1000000);
	FUZZ_ASSERT(p.loss_ppm <= WANEM_PPM && p.reorder_ppm <= WANEM_PPM);
	FUZZ_ASSERT(p.rate_bps <= (uint64_t)WANEM_RATE_MAX_MBIT * 1000000);
	return 0;
}
