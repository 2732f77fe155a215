/*
 * exclude_fuzz.c - replicd/exclude.c: replicd.exclude's patterns (any
 * bytes from a config file) and the paths they are matched against (any
 * name an application makes). The input is a pattern, a NUL, then a path:
 * a pattern that compiles is matched against the path and its parents,
 * and an operation across it is classified, as the FUSE layer does.
 */
#include "exclude.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replicd_exclude ex;
	char path[REPLICD_PATH_MAX + 1];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const char *why;
	size_t at;

	memset(&ex, 0, sizeof(ex));
	if (replicd_exclude_compile((const char *)data, plen, &ex.pat[0], &why,
				    &at) < 0)
		return 0;
	ex.count = 1;
	size_t rest = nul ? size - plen - 1 : 0;
	if (rest > REPLICD_PATH_MAX)
		rest = REPLICD_PATH_MAX;
	if (nul)
		memcpy(path, nul + 1, rest);
	path[rest] = '\0';
	if (!replicd_path_valid(path, strlen(path)))
		return 0;
	(void)replicd_exclude_match(&ex, path);
	struct replicd_op op = {
		.type = ROP_RENAME, .path = path, .path2 = ex.pat[0].shown};
	(void)replicd_exclude_op(&ex, &op);
	return 0;
}
