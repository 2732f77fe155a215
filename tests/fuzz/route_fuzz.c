/*
 * route_fuzz.c - healthd's request handling: healthd/route.c
 * healthd_route() decides from the method and the URL (any bytes a client
 * sends, as libmicrohttpd hands them over) which page answers, and
 * healthd_route_has_body() from the Content-Length and Transfer-Encoding
 * headers whether it is answered at once; then, as healthd/http.c does,
 * the health page looks the module up by that name.
 *
 * The input is the method, the URL, Content-Length, Transfer-Encoding,
 * separated by NUL bytes (a missing one is NULL, as an absent header). A
 * routed module name must be one healthd could know ([A-Za-z0-9_.-], not
 * "." or "..").
 */
#include "fuzz.h"
#include "modules.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct healthd_table table;
	static struct healthd_module *m;
	struct healthd_route r;
	char *text = fuzz_text(data, size);
	const char *f[4] = {NULL};
	const char *url;
	size_t at = 0;

	if (!text)
		return 0;
	if (!m)
		FUZZ_ASSERT(healthd_table_add(&table, "app", &m) == 0);
	/* text has a NUL after the last byte: at most 4 fields. */
	for (int i = 0; i < 4 && at <= size; i++) {
		f[i] = text + at;
		at += strlen(text + at) + 1;
	}
	url = f[1];
	healthd_route(text, url, &r);
	if (r.page == HEALTHD_PAGE_HEALTH) {
		size_t n = strlen(r.module);
		FUZZ_ASSERT(sky_name_valid(r.module, n));
		FUZZ_ASSERT(strcmp(r.module, ".") && strcmp(r.module, ".."));
		(void)healthd_table_find(&table, r.module);
	}
	(void)healthd_route_has_body(f[2], f[3]);
	healthd_route(NULL, url, &r);
	free(text);
	return 0;
}
