/*
 * op_fuzz.c - replicd/op.c replicd_op_decode(): every replication frame the
 * peer sends, once opened, is one operation decoded here before the
 * secondary applies it to its files (paths included: a bad one would
 * write outside the replicated directory).
 *
 * An operation that decodes must have a path the protocol allows, and
 * encode back to the same bytes (replicd_op_size() is an upper bound).
 * Then it goes through the secondary's epoch gate (epoch.h), as frames.c
 * does, which may never let a session of an older epoch through.
 */
#include "epoch.h"
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
	/* Once after a fenced session said epoch 7, while we know 8 and 6. */
	struct replicd_epoch_gate g;
	replicd_epoch_gate_start(&g, true);
	FUZZ_ASSERT(replicd_epoch_check(&g, 6, ROP_EPOCH, 7) == 0);
	int r = replicd_epoch_check(&g, 8, op.type, op.offset);
	FUZZ_ASSERT(r < 0 || (op.type == ROP_EPOCH && op.offset >= 8));
	(void)replicd_epoch_check(&g, 6, op.type, op.offset);
	return 0;
}
