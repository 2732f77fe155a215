/*
 * etcd_fuzz.c - etcd's replies as heartbeatd reads them (heartbeatd/etcd.c
 * -> etcd_json.c etcd_reply_parse, and the generation record it holds).
 * With quorum: etcd they come over HTTP from whatever answers at the
 * configured endpoints, so they are hostile input.
 *
 * The first byte picks the call (auth, grant, keepalive, txn, range,
 * other); the rest is the reply body. Every string the parser keeps must be
 * NUL-terminated within its bound, and a token must be safe in a header.
 */
#include "etcd_json.h"
#include "fuzz.h"
#include "util.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_reply r;
	char err[256];

	if (size < 1)
		return 0;
	enum etcd_call call = (enum etcd_call)(data[0] % ETCD_CALL_COUNT);
	int rc = etcd_reply_parse(call, data + 1, size - 1, &r, err,
				  sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -EBADMSG || rc == -EREMOTEIO);
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc == -EREMOTEIO)
		FUZZ_ASSERT(strlen(r.message) <= ETCD_MESSAGE_MAX);
	if (rc != 0)
		return 0;
	FUZZ_ASSERT(r.range_count <= ETCD_TXN_RANGES);
	for (size_t i = 0; i < r.range_count; i++) {
		uint64_t g;
		char node[SKY_NAME_MAX + 1];
		FUZZ_ASSERT(strlen(r.ranges[i].key) <= ETCD_KEY_MAX);
		FUZZ_ASSERT(strlen(r.ranges[i].value) <= ETCD_VALUE_MAX);
		if (etcd_generation_parse(r.ranges[i].value, &g, node,
					  sizeof(node)) == 0)
			FUZZ_ASSERT(strlen(node) <= SKY_NAME_MAX);
	}
	FUZZ_ASSERT(r.taken + r.deleted <= r.events);
	for (const char *t = r.token; *t; t++)
		FUZZ_ASSERT(*t > 0x20 && *t < 0x7f);
	return 0;
}
