/*
 * route.c - request routing (see route.h).
 */
#include "route.h"

#include <string.h>

static const struct {
	const char *path;
	enum healthd_page page;
} fixed[] = {
	{"/", HEALTHD_PAGE_CONSOLE},
	{"/index.html", HEALTHD_PAGE_CONSOLE},
	{"/console.js", HEALTHD_PAGE_CONSOLE_JS},
	{"/console.css", HEALTHD_PAGE_CONSOLE_CSS},
	{"/status", HEALTHD_PAGE_STATUS},
	{"/metrics", HEALTHD_PAGE_METRICS},
};

/*
 * If path is prefix + NAME + suffix with a valid module name, copy the name
 * and return true.
 */
static bool match_module(const char *path, size_t len, const char *prefix,
			 const char *suffix, char *module, size_t size)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);

	if (len <= plen + slen || strncmp(path, prefix, plen) != 0 ||
	    strcmp(path + len - slen, suffix) != 0)
		return false;
	size_t nlen = len - plen - slen;
	if (nlen >= size || !sky_name_valid(path + plen, nlen))
		return false;
	memcpy(module, path + plen, nlen);
	module[nlen] = '\0';
	return true;
}

void healthd_route(const char *method, const char *url,
		   struct healthd_route *out)
{
	memset(out, 0, sizeof(*out));
	if (method) {
		out->head = strcmp(method, "HEAD") == 0;
		out->method_allowed = out->head || strcmp(method, "GET") == 0;
	}
	if (!url)
		return;
	size_t len = strnlen(url, HEALTHD_URL_MAX + 1);
	if (len == 0 || len > HEALTHD_URL_MAX)
		return;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(fixed); i++)
		if (strcmp(url, fixed[i].path) == 0) {
			out->page = fixed[i].page;
			return;
		}
	if (match_module(url, len, "/health/", "", out->module,
			 sizeof(out->module)) ||
	    match_module(url, len, "/var/modules/", "/ready.txt", out->module,
			 sizeof(out->module)))
		out->page = HEALTHD_PAGE_HEALTH;
}

bool healthd_route_has_body(const char *content_length,
			    const char *transfer_encoding)
{
	return (content_length && strcmp(content_length, "0") != 0) ||
	       transfer_encoding;
}
