/*
 * redact_fuzz.c - ctl/support.c skyctl_redact_config(): the module file
 * skyctl snapshot puts in the archive it hands over.
 *
 * Whatever the bytes, the output is as long as it says, and a line
 * "password: <value>" with a value never reaches it with that value.
 */
#include "../../ctl/support.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;
	unsigned removed = 0;

	if (skyctl_redact_config((const char *)data, size, &out, &len,
				 &removed) < 0)
		return 0;
	FUZZ_ASSERT(out[len] == '\0');
	/* Appending a known secret line: it must go, whatever came before. */
	char *in = malloc(size + 40);
	FUZZ_ASSERT(in != NULL);
	memcpy(in, data, size);
	static const char secret[] = "\npassword: Zq8secretZq8\n";
	memcpy(in + size, secret, sizeof(secret) - 1);
	free(out);
	out = NULL;
	if (skyctl_redact_config(in, size + sizeof(secret) - 1, &out, &len,
				 &removed) == 0) {
		FUZZ_ASSERT(memmem(out, len, "Zq8secretZq8", 12) == NULL ||
			    memmem(data, size, "Zq8secretZq8", 12) != NULL);
		free(out);
	}
	free(in);
	return 0;
}
