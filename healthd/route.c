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
	{"/api/v1/modules", HEALTHD_PAGE_API_MODULES},
	{"/api/v1/session", HEALTHD_PAGE_API_SESSION},
	{"/api/v1/login", HEALTHD_PAGE_API_LOGIN},
	{"/api/v1/logout", HEALTHD_PAGE_API_LOGOUT},
};

static bool is_post_page(enum healthd_page p)
{
	return p == HEALTHD_PAGE_API_LOGIN || p == HEALTHD_PAGE_API_LOGOUT ||
	       p == HEALTHD_PAGE_API_ACTION;
}

/* /api/v1/modules/MODULE/ACTION */
static bool match_action(const char *path, size_t len,
			 struct healthd_route *out)
{
	static const char prefix[] = "/api/v1/modules/";
	size_t plen = sizeof(prefix) - 1;

	if (len <= plen || strncmp(path, prefix, plen) != 0)
		return false;
	const char *name = path + plen;
	const char *slash = memchr(name, '/', len - plen);
	if (!slash)
		return false;
	size_t nlen = (size_t)(slash - name);
	const char *act = slash + 1;
	size_t alen = len - plen - nlen - 1;
	if (nlen > SKY_NAME_MAX || !sky_name_valid(name, nlen) ||
	    healthd_action_parse(act, alen, &out->action) < 0)
		return false;
	memcpy(out->module, name, nlen);
	out->module[nlen] = '\0';
	return true;
}

const char *healthd_route_allow(const struct healthd_route *r)
{
	return r->post ? "POST" : "GET, HEAD";
}

static void set_method(const char *method, struct healthd_route *out)
{
	out->post = is_post_page(out->page);
	out->api = out->page >= HEALTHD_PAGE_API_MODULES;
	if (!method)
		return;
	out->head = !out->post && strcmp(method, "HEAD") == 0;
	out->method_allowed = out->post
				      ? strcmp(method, "POST") == 0
				      : out->head || strcmp(method, "GET") == 0;
}

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
	if (!url) {
		set_method(method, out);
		return;
	}
	size_t len = strnlen(url, HEALTHD_URL_MAX + 1);
	if (len == 0 || len > HEALTHD_URL_MAX) {
		set_method(method, out);
		return;
	}
	for (size_t i = 0; i < SKY_ARRAY_SIZE(fixed); i++)
		if (strcmp(url, fixed[i].path) == 0) {
			out->page = fixed[i].page;
			set_method(method, out);
			return;
		}
	if (match_action(url, len, out))
		out->page = HEALTHD_PAGE_API_ACTION;
	else if (match_module(url, len, "/health/", "", out->module,
			      sizeof(out->module)) ||
		 match_module(url, len, "/var/modules/", "/ready.txt",
			      out->module, sizeof(out->module)))
		out->page = HEALTHD_PAGE_HEALTH;
	set_method(method, out);
}

bool healthd_route_has_body(const char *content_length,
			    const char *transfer_encoding)
{
	return (content_length && strcmp(content_length, "0") != 0) ||
	       transfer_encoding;
}
