/*
 * alone_fuzz.c - replicd/alone.c replicd_alone_parse(): the persisted count
 * and times of the changes a primary acknowledged alone, read back at
 * start (any bytes after a crash or a disk error). A count that parses is
 * then described and published (replicd_alone_describe, _json) as replicd
 * does.
 */
#include "alone.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replicd_alone_stats st;
	char text[160];
	json_t *j;

	if (replicd_alone_parse((const char *)data, size, &st) < 0)
		return 0;
	replicd_alone_describe(&st, text, sizeof(text));
	j = replicd_alone_json(&st);
	json_decref(j);
	(void)replicd_alone_unpack(st.count, replicd_alone_pack_times(&st));
	return 0;
}
