/*
 * track_fuzz.c - shared/changerec.c changerec_parse(): the change record
 * replicd persists while alone and reads back at start. A crash, a full
 * disk or a bad sector leaves any bytes there; a damaged record must be
 * refused (and the resync then made full), never trusted or crashed on.
 *
 * Each entry ends with a SipHash of its bytes under a published key (it
 * catches torn writes, not forgers), so the input is parsed twice: as it
 * is, and with every entry's hash recomputed (walking the entries as
 * track.h lays them out), so the fuzzer reaches the fields behind it.
 *
 * Every entry delivered is the alone marker (TRK_ALONE, no path) or names
 * a valid path with known kinds.
 */
#include "fuzz.h"
#include "op.h"
#include "track.h"

/* Recompute each entry's hash in place, as far as the lengths go. */
static void fix_macs(uint8_t *buf, size_t len)
{
	size_t off = CHANGEREC_HEADER;

	while (len - off >= 20 + 8) {
		size_t n = 20 + ((size_t)buf[off + 18] << 8 | buf[off + 19]);

		if (len - off < n + 8)
			return;
		changerec_entry_hash(buf + off, n, buf + off + n);
		off += n + 8;
	}
}

static int on_entry(void *ctx, const struct changerec_entry *e)
{
	size_t *n = ctx;

	FUZZ_ASSERT(e->path);
	if (e->kinds == TRK_ALONE) {
		FUZZ_ASSERT(e->path[0] == '\0');
	} else {
		FUZZ_ASSERT(replicd_path_valid(e->path, strlen(e->path)));
		FUZZ_ASSERT(e->kinds && (e->kinds & ~ROP_RECORD_KINDS) == 0);
	}
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct changerec_header h;
	size_t n = 0;

	uint8_t *copy;

	(void)changerec_parse(data, size, &h, on_entry, &n);
	if (size < CHANGEREC_HEADER || !(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	fix_macs(copy, size);
	(void)changerec_parse(copy, size, &h, on_entry, &n);
	free(copy);
	return 0;
}
