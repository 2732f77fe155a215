/*
 * bloblist_fuzz.c - backupd/xml.c on what an Azure Blob endpoint (or
 * Azurite, or whoever answers in its place) sends back:
 * bk_xml_blob_list() on a List Blobs page and bk_xml_error() on an error
 * body. Every name handed out is a NUL-terminated string of at most 1024
 * bytes; a marker fits its buffer.
 */
#include "fuzz.h"
#include "xml.h"

#include <errno.h>

static int on_blob(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	size_t n = strnlen(name, BK_XML_KEY_MAX + 1);
	FUZZ_ASSERT(n > 0 && n <= BK_XML_KEY_MAX);
	return ++*(int *)ctx >= 5000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char next[256], code[96], message[200];
	int count = 0;
	char *body = fuzz_text(data, size);

	if (!body)
		return 0;
	int r = bk_xml_blob_list(body, size, on_blob, &count, next,
				 sizeof(next));
	FUZZ_ASSERT(memchr(next, '\0', sizeof(next)));
	FUZZ_ASSERT(r == 0 || r == 1 || r == -EBADMSG);
	if (r < 0)
		FUZZ_ASSERT(next[0] == '\0');
	bk_xml_error(body, size, code, sizeof(code), message, sizeof(message));
	FUZZ_ASSERT(memchr(code, '\0', sizeof(code)));
	FUZZ_ASSERT(memchr(message, '\0', sizeof(message)));
	free(body);
	return 0;
}
