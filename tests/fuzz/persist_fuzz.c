/*
 * persist_fuzz.c - heartbeatd/persist.c node_state_parse() and
 * witness_state_parse(): the state files heartbeatd and the witness read
 * back at start (epoch, data generation...). Whatever a crash or a disk
 * error leaves there must be refused with a message, never guessed at.
 */
#include "fuzz.h"
#include "persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_state ns;
	struct witness_state ws;
	char err[256];
	char *text = fuzz_text(data, size);

	if (!text)
		return 0;
	if (node_state_parse(text, &ns, err, sizeof(err)) == 0)
		FUZZ_ASSERT(ns.data < SKY_DATA_COUNT);
	if (witness_state_parse(text, &ws, err, sizeof(err)) == 0)
		FUZZ_ASSERT(
			!ws.newest_node[0] ||
			sky_name_valid(ws.newest_node, strlen(ws.newest_node)));
	free(text);
	return 0;
}
