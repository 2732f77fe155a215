/*
 * route_fuzz.c - healthd's request handling: healthd/route.c
 * healthd_route() decides from the method and the URL (any bytes a client
 * sends, as libmicrohttpd hands them over) which page answers; then, as
 * healthd/http.c does, the health page looks the module up by that name.
 *
 * The input is the method, a NUL byte, the URL. A routed module name must
 * be one healthd could know ([A-Za-z0-9_.-], not "." or "..").
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
	const char *url;

	if (!text)
		return 0;
	if (!m)
		FUZZ_ASSERT(healthd_table_add(&table, "app", &m) == 0);
	url = memchr(data, '\0', size) ? text + strlen(text) + 1 : NULL;
	healthd_route(text, url, &r);
	if (r.page == HEALTHD_PAGE_HEALTH) {
		size_t n = strlen(r.module);
		FUZZ_ASSERT(sky_name_valid(r.module, n));
		FUZZ_ASSERT(strcmp(r.module, ".") && strcmp(r.module, ".."));
		(void)healthd_table_find(&table, r.module);
	}
	healthd_route(NULL, url, &r);
	free(text);
	return 0;
}
