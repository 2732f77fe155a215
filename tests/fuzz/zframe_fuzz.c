/*
 * zframe_fuzz.c - replicd/zframe.c replicd_zstd_unpack(): a compressed
 * resync write (operation 30, write-z) from the primary, once opened and
 * decoded, is decompressed by the secondary before it writes the bytes to
 * its files. The frame is hostile input: its declared size, its zstd
 * header and its blocks.
 *
 * The input is a whole operation (through replicd_op_decode, as the
 * secondary does) or, when that does not decode, a u32 declared size and
 * then a bare zstd frame, so the fuzzer reaches zstd's parser directly.
 * A frame that unpacks must give exactly the declared size, and packing
 * that output again must unpack to the same bytes.
 */
#include "fuzz.h"
#include "op.h"
#include "zframe.h"

#include <errno.h>

static struct replicd_zstd *z;
static uint8_t out[REPLICD_DATA_MAX], again[REPLICD_DATA_MAX];

static void unpack(const struct replicd_op *op)
{
	int n = replicd_zstd_unpack(z, op, out, sizeof(out));
	FUZZ_ASSERT(n == -EBADMSG || (n > 0 && (uint64_t)n == op->length));
	if (n < 0)
		return;
	struct replicd_op w = {.type = ROP_WRITE,
			       .path = "f",
			       .data = out,
			       .data_len = (size_t)n};
	if (replicd_zstd_pack(z, &w) != 1)
		return;
	FUZZ_ASSERT(w.type == ROP_WRITE_Z && w.length == (uint64_t)n);
	int m = replicd_zstd_unpack(z, &w, again, sizeof(again));
	FUZZ_ASSERT(m == n && memcmp(again, out, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replicd_op_store st;
	struct replicd_op op;

	if (!z && replicd_zstd_new(&z, 1) < 0)
		return 0;
	if (replicd_op_decode(data, size, &op, &st) == 0) {
		if (op.type == ROP_WRITE_Z)
			unpack(&op);
		return 0;
	}
	if (size < 4)
		return 0;
	op = (struct replicd_op){
		.type = ROP_WRITE_Z,
		.path = "f",
		.length = (uint64_t)data[0] << 24 | (uint64_t)data[1] << 16 |
			  (uint64_t)data[2] << 8 | data[3],
		.data = data + 4,
		.data_len = size - 4,
	};
	unpack(&op);
	return 0;
}
