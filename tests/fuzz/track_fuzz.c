/*
 * track_fuzz.c - replicd/track.c replicd_track_parse(): the change record
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

#include <sodium.h>

static const uint8_t mac_key[crypto_shorthash_KEYBYTES] = "skyha track v1!";

/* Recompute each entry's hash in place, as far as the lengths go. */
static void fix_macs(uint8_t *buf, size_t len)
{
	size_t off = REPLICD_TRACK_HEADER;

	while (len - off >= 20 + crypto_shorthash_BYTES) {
		size_t n = 20 + ((size_t)buf[off + 18] << 8 | buf[off + 19]);
		uint8_t mac[crypto_shorthash_BYTES];

		if (len - off < n + crypto_shorthash_BYTES)
			return;
		crypto_shorthash(mac, buf + off, n, mac_key);
		memcpy(buf + off + n, mac, sizeof(mac));
		off += n + sizeof(mac);
	}
}

static int on_entry(void *ctx, const struct replicd_track_entry *e)
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
	bool complete;
	size_t n = 0;

	uint8_t *copy;

	(void)replicd_track_parse(data, size, &complete, on_entry, &n);
	if (size < REPLICD_TRACK_HEADER || !(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	fix_macs(copy, size);
	(void)replicd_track_parse(copy, size, &complete, on_entry, &n);
	free(copy);
	return 0;
}
