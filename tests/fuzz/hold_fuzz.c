/*
 * hold_fuzz.c - replicd/hold.c replicd_hold_parse(): the hold journal a
 * held secondary appends the operations it acknowledged to, and replays
 * at the end of a backup or at its next start. A power cut, a full disk or
 * a bad sector leaves any bytes there; the parser must stop at the first
 * bad entry (a torn tail), never crash or deliver a bad operation.
 *
 * Each entry ends with a SipHash under a published key (it catches torn
 * writes, not forgers), so the input is parsed twice: as it is, and with
 * every entry's hash recomputed (walking the entries as hold.h lays them
 * out), so the fuzzer reaches the operation decoder behind it.
 *
 * Every entry delivered changes data (or releases a handle), names a
 * directory index in range, and lies inside the input.
 */
#include "fuzz.h"
#include "hold.h"
#include "op.h"

#include <sodium.h>

static const uint8_t mac_key[crypto_shorthash_KEYBYTES] = "skyha hold v1!!";

static void fix_macs(uint8_t *buf, size_t len)
{
	size_t off = REPLICD_HOLD_HEADER;

	while (len - off >= 4 + 8) {
		size_t n = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
			   (size_t)buf[off + 2] << 8 | buf[off + 3];
		if (n > len - off - 4 - 8)
			return;
		crypto_shorthash(buf + off + 4 + n, buf + off, 4 + n, mac_key);
		off += 4 + n + 8;
	}
}

struct walk {
	size_t len;
	uint64_t last;
};

static int on_entry(void *ctx, uint64_t off, const struct replicd_op *op)
{
	struct walk *w = ctx;
	FUZZ_ASSERT(off >= REPLICD_HOLD_HEADER && off < w->len);
	FUZZ_ASSERT(!w->last || off > w->last);
	FUZZ_ASSERT(replicd_op_changes_data(op->type) ||
		    op->type == ROP_RELEASE);
	FUZZ_ASSERT(op->dir < REPLICD_MAX_DIRS);
	w->last = off;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replicd_hold_header h;
	struct walk w = {.len = size};
	size_t good;
	uint8_t *copy;

	if (replicd_hold_parse(data, size, &h, &good, on_entry, &w) == 0)
		FUZZ_ASSERT(good <= size);
	if (size < REPLICD_HOLD_HEADER || !(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	fix_macs(copy, size);
	w.last = 0;
	if (replicd_hold_parse(copy, size, &h, &good, on_entry, &w) == 0)
		FUZZ_ASSERT(good <= size);
	free(copy);
	return 0;
}
