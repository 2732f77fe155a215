/*
 * track_fuzz.c - replicd/track.c replicd_track_parse(): the change record
 * replicd persists while alone and reads back at start. A crash, a full
 * disk or a bad sector leaves any bytes there; a damaged record must be
 * refused (and the resync then made full), never trusted or crashed on.
 *
 * Every entry delivered must name a valid path and known kinds.
 */
#include "fuzz.h"
#include "op.h"
#include "track.h"

static int on_entry(void *ctx, const struct replicd_track_entry *e)
{
	size_t *n = ctx;

	FUZZ_ASSERT(e->path && replicd_path_valid(e->path, strlen(e->path)));
	FUZZ_ASSERT((e->kinds & ~ROP_RECORD_KINDS) == 0);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool complete;
	size_t n = 0;

	(void)replicd_track_parse(data, size, &complete, on_entry, &n);
	return 0;
}
