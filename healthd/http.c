/*
 * http.c - answering requests (see http.h and route.h).
 *
 * Every answer is made on the first call of the handler, from the state
 * already in memory: no request waits for the bus, the disk or another
 * request. Request bodies are never read. Every response says
 * Cache-Control: no-store (a health answer must never be cached) and
 * X-Content-Type-Options: nosniff; the console adds a strict CSP.
 */
#include "http.h"
#include "console.h"
#include "route.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <string.h>

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; base-uri 'none'; form-action 'none'; "
	"frame-ancestors 'none'";

static enum MHD_Result
send_response(struct healthd_http *h, struct MHD_Connection *conn,
	      unsigned status, const char *type, void *body, size_t len,
	      enum MHD_ResponseMemoryMode mode, const char *reason)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result r;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (reason)
		MHD_add_response_header(resp, "X-Skyha-Reason", reason);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	if (strncmp(type, "text/html", 9) == 0) {
		MHD_add_response_header(resp, "Content-Security-Policy", csp);
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	h->stats.requests[healthd_code_of(status)]++;
	return r;
}

static enum MHD_Result send_static(struct healthd_http *h,
				   struct MHD_Connection *conn, unsigned status,
				   const char *type, const char *text,
				   const char *reason)
{
	return send_response(h, conn, status, type, (void *)text, strlen(text),
			     MHD_RESPMEM_PERSISTENT, reason);
}

static unsigned open_connections(const struct healthd_http *h)
{
	unsigned n = 0;
	for (size_t i = 0; i < h->count; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(
			h->daemons[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info)
			n += info->num_connections;
	}
	return n;
}

static enum MHD_Result answer(struct healthd_http *h,
			      struct MHD_Connection *conn,
			      const struct healthd_route *route)
{
	static const char text[] = "text/plain; charset=utf-8";
	int64_t now = sky_now_ms();

	switch (route->page) {
	case HEALTHD_PAGE_NOT_FOUND:
		break;
	case HEALTHD_PAGE_HEALTH: {
		const struct healthd_module *m =
			healthd_table_find(h->table, route->module);
		if (!m)
			return send_static(h, conn, MHD_HTTP_NOT_FOUND, text,
					   "NOK\n", "unknown module");
		enum healthd_verdict v = healthd_module_health(m, now);
		return send_static(h, conn,
				   v == HEALTHD_OK
					   ? MHD_HTTP_OK
					   : MHD_HTTP_SERVICE_UNAVAILABLE,
				   text, v == HEALTHD_OK ? "OK\n" : "NOK\n",
				   healthd_verdict_text(v));
	}
	case HEALTHD_PAGE_STATUS: {
		json_t *st = healthd_render_status(h->table, &h->stats, h->host,
						   now);
		char *body = st ? json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS)
				: NULL;
		json_decref(st);
		if (!body)
			return MHD_NO;
		return send_response(h, conn, MHD_HTTP_OK, "application/json",
				     body, strlen(body), MHD_RESPMEM_MUST_FREE,
				     NULL);
	}
	case HEALTHD_PAGE_METRICS: {
		char *body;
		size_t len;
		h->stats.connections = open_connections(h);
		if (healthd_render_metrics(h->table, &h->stats, now, &body,
					   &len) < 0)
			return MHD_NO;
		return send_response(h, conn, MHD_HTTP_OK,
				     "text/plain; version=0.0.4; "
				     "charset=utf-8",
				     body, len, MHD_RESPMEM_MUST_FREE, NULL);
	}
	case HEALTHD_PAGE_CONSOLE:
		return send_static(h, conn, MHD_HTTP_OK,
				   "text/html; charset=utf-8",
				   healthd_console_html, NULL);
	case HEALTHD_PAGE_CONSOLE_JS:
		return send_static(h, conn, MHD_HTTP_OK,
				   "text/javascript; charset=utf-8",
				   healthd_console_js, NULL);
	case HEALTHD_PAGE_CONSOLE_CSS:
		return send_static(h, conn, MHD_HTTP_OK,
				   "text/css; charset=utf-8",
				   healthd_console_css, NULL);
	}
	return send_static(h, conn, MHD_HTTP_NOT_FOUND, text, "not found\n",
			   NULL);
}

/* Does the request announce a body? healthd never reads one. */
static bool has_body(struct MHD_Connection *conn)
{
	const char *len = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (len && strcmp(len, "0") != 0) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/*
 * libmicrohttpd calls this once when the headers are in, then again when
 * the request is complete. A good GET or HEAD is answered on the second
 * call, so the connection can be kept alive; anything refused (unknown
 * path, other method, a body) is answered on the first, and the connection
 * is closed after the answer without reading the body.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	static char seen; /* *req_cls marker: the first call happened */
	struct healthd_http *h = cls;
	struct healthd_route route;
	bool first = *req_cls == NULL;

	(void)version;
	(void)upload_data;
	if (*upload_data_size) {
		/* Only after an early refusal: skipped unread. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*req_cls = &seen;
	healthd_route(method, url, &route);
	if (route.page != HEALTHD_PAGE_NOT_FOUND && !route.method_allowed)
		return send_static(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "text/plain; charset=utf-8",
				   "method not allowed: GET or HEAD\n", NULL);
	if (first && route.page != HEALTHD_PAGE_NOT_FOUND && !has_body(conn))
		return MHD_YES; /* answered when the request is complete */
	log_debug("%s %.*s -> page %d", method ? method : "?", HEALTHD_URL_MAX,
		  url ? url : "?", (int)route.page);
	return answer(h, conn, &route);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct healthd_http *h = cls;
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	sky_log_ratelimited(&h->rl_mhd, LOG_WARNING, "http: %s", buf);
}

int healthd_http_start(struct healthd_http *h, const struct healthd_table *t,
		       const int *fds, size_t n)
{
	size_t i;

	h->table = t;
	h->count = 0;
	h->stats.started_ms = sky_now_ms();
	if (gethostname(h->host, sizeof(h->host)) < 0)
		h->host[0] = '\0';
	h->host[sizeof(h->host) - 1] = '\0';
	for (i = 0; i < n && i < HEALTHD_LISTEN_MAX; i++) {
		struct MHD_Daemon *d = MHD_start_daemon(
			MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG, 0,
			NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
			on_mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fds[i],
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)HEALTHD_CONN_MAX,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(unsigned)HEALTHD_CONN_PER_IP,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)HEALTHD_CONN_MEMORY,
			MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)HEALTHD_CONN_TIMEOUT_S,
			MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
		if (!d) {
			log_error("cannot start the HTTP server on fd %d "
				  "(libmicrohttpd refused it)",
				  fds[i]);
			for (size_t j = i; j < n; j++)
				close(fds[j]);
			healthd_http_stop(h);
			return -EINVAL;
		}
		h->daemons[h->count++] = d;
	}
	for (; i < n; i++)
		close(fds[i]);
	return 0;
}

size_t healthd_http_poll_items(const struct healthd_http *h,
			       zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < h->count && n < max; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(
			h->daemons[i], MHD_DAEMON_INFO_EPOLL_FD);
		if (info)
			items[n++] = (zmq_pollitem_t){.fd = info->epoll_fd,
						      .events = ZMQ_POLLIN};
	}
	return n;
}

void healthd_http_run(struct healthd_http *h)
{
	for (size_t i = 0; i < h->count; i++)
		MHD_run(h->daemons[i]);
}

int healthd_http_timeout_ms(const struct healthd_http *h, int cap)
{
	int t = cap;
	for (size_t i = 0; i < h->count; i++) {
		MHD_UNSIGNED_LONG_LONG ms;
		if (MHD_get_timeout(h->daemons[i], &ms) == MHD_YES &&
		    ms < (MHD_UNSIGNED_LONG_LONG)t)
			t = (int)ms;
	}
	return t;
}

void healthd_http_stop(struct healthd_http *h)
{
	for (size_t i = 0; i < h->count; i++)
		MHD_stop_daemon(h->daemons[i]);
	h->count = 0;
}
