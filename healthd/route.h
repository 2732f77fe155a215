/*
 * route.h - which answer an HTTP request gets, from its method and path
 * alone (pure: no state, no filesystem, so a fuzzer can call it).
 *
 *   /                          the console page      /console.js, /console.css
 *   /health/MODULE             200 OK / 503 NOK      (load balancers)
 *   /var/modules/MODULE/ready.txt  the same          (operators from SafeKit)
 *   /status                    JSON of every module
 *   /metrics                   Prometheus text format
 *
 * A path that is not exactly one of these is not found, and so is a module
 * name outside [A-Za-z0-9_.-]{1,32} or "." / "..": nothing is ever looked up
 * on disk, so there is no path to traverse. Methods other than GET and HEAD
 * on a known path are refused (405).
 *
 * The API (docs/health.md, "API"; docs/api/openapi.yaml):
 *   GET  /api/v1/modules                 what /status has
 *   GET  /api/v1/session                 who the session is, its CSRF token
 *   POST /api/v1/login, /api/v1/logout
 *   POST /api/v1/modules/MODULE/ACTION   swap, prim, second, stop, start,
 *                                        resync, restart, checkers, backup
 * Only POST is allowed on the POST paths, GET and HEAD on the others.
 */
#ifndef HEALTHD_ROUTE_H
#define HEALTHD_ROUTE_H

#include "auth.h"
#include "util.h"

#define HEALTHD_URL_MAX 256

enum healthd_page {
	HEALTHD_PAGE_NOT_FOUND = 0,
	HEALTHD_PAGE_HEALTH, /* /health/MODULE and ready.txt */
	HEALTHD_PAGE_STATUS,
	HEALTHD_PAGE_METRICS,
	HEALTHD_PAGE_CONSOLE, /* / and /index.html */
	HEALTHD_PAGE_CONSOLE_JS,
	HEALTHD_PAGE_CONSOLE_CSS,
	HEALTHD_PAGE_API_MODULES,
	HEALTHD_PAGE_API_SESSION,
	HEALTHD_PAGE_API_LOGIN,
	HEALTHD_PAGE_API_LOGOUT,
	HEALTHD_PAGE_API_ACTION, /* module and action set */
};

struct healthd_route {
	enum healthd_page page;
	bool method_allowed; /* GET or HEAD; POST on the API's POST paths */
	bool head;	     /* HEAD: headers only */
	bool post;	     /* a POST path: its body is read */
	bool api;	     /* under /api/: served on the API's sockets */
	enum healthd_action action;
	char module[SKY_NAME_MAX + 1];
};

/* The Allow header of a page's 405. */
const char *healthd_route_allow(const struct healthd_route *r);

/* Fill *out for a request; method and url may be anything, NULL included. */
void healthd_route(const char *method, const char *url,
		   struct healthd_route *out);

/*
 * Does a request with these headers (NULL: absent) announce a body?
 * healthd never reads one: such a request is answered at once and the
 * connection closed.
 */
bool healthd_route_has_body(const char *content_length,
			    const char *transfer_encoding);

#endif
