/*
 * op_fuzz.c - replicd/op.c replicd_op_decode(): every replication frame the
 * peer sends, once opened, is one operation decoded here before the
 * secondary applies it to its files (paths included: a bad one would
 * write outside the replicated directory).
 *
 * An operation that decodes must have a path the protocol allows, and
 * encode back to the same bytes (replicd_op_size() is an upper bound).
 */
#include "fuzz.h"
#include "op.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replicd_op_store st;
	static uint8_t again[REPLICD_OP_MAX];
	struct replicd_op op;
	int n;

	if (replicd_op_decode(data, size, &op, &st) < 0)
		return 0;
	FUZZ_ASSERT(!op.path || replicd_path_valid(op.path, strlen(op.path)));
	FUZZ_ASSERT(!op.path2 ||
		    replicd_path_valid(op.path2, strlen(op.path2)));
	(void)replicd_op_name(op.type);
	(void)replicd_op_changes_data(op.type);
	(void)replicd_op_ack_on_receipt(op.type);
	n = replicd_op_encode(&op, again, sizeof(again));
	FUZZ_ASSERT(n == (int)size && replicd_op_size(&op) >= size &&
		    memcmp(again, data, size) == 0);
	return 0;
}
