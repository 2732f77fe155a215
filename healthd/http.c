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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; "
	"connect-src 'self'; base-uri 'none'; form-action 'none'; "
	"frame-ancestors 'none'";

static enum MHD_Result
send_response_allow(struct healthd_http *h, struct MHD_Connection *conn,
		    unsigned status, const char *type, void *body, size_t len,
		    enum MHD_ResponseMemoryMode mode, const char *reason,
		    const char *allow)
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
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
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

static enum MHD_Result
send_response(struct healthd_http *h, struct MHD_Connection *conn,
	      unsigned status, const char *type, void *body, size_t len,
	      enum MHD_ResponseMemoryMode mode, const char *reason)
{
	return send_response_allow(h, conn, status, type, body, len, mode,
				   reason, "GET, HEAD");
}

static enum MHD_Result send_static(struct healthd_http *h,
				   struct MHD_Connection *conn, unsigned status,
				   const char *type, const char *text,
				   const char *reason)
{
	return send_response(h, conn, status, type, (void *)text, strlen(text),
			     MHD_RESPMEM_PERSISTENT, reason);
}

/* The guard's entry of a connection (set when libmicrohttpd took it). */
static int guard_index(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (!info || !info->socket_context)
		return -ENOENT;
	return (int)((intptr_t)info->socket_context - 1);
}

static enum MHD_Result answer(struct healthd_http *h,
			      struct MHD_Connection *conn,
			      const struct healthd_route *route)
{
	static const char text[] = "text/plain; charset=utf-8";
	int64_t now = sky_now_ms();

	switch (route->page) {
	case HEALTHD_PAGE_NOT_FOUND:
	case HEALTHD_PAGE_API_MODULES: /* on_api_request's */
	case HEALTHD_PAGE_API_SESSION:
	case HEALTHD_PAGE_API_LOGIN:
	case HEALTHD_PAGE_API_LOGOUT:
	case HEALTHD_PAGE_API_ACTION:
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
		h->stats.connections = h->guard.live;
		h->stats.conn = h->guard.counters;
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
	return healthd_route_has_body(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_CONTENT_LENGTH),
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

/* *req_cls of a request that is not the API's: the first call happened. */
static char seen;

/* Did the connection come through the API's own sockets? */
static bool on_api_socket(const struct healthd_http *h,
			  struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
	return info && info->daemon == h->api_daemon;
}

/*
 * An API request: its body (at most HEALTHD_API_BODY_MAX bytes) is read
 * into its state, then api.c answers it, at once or after the connection
 * was suspended for heartbeatd or the login worker.
 */
static enum MHD_Result on_api_request(struct healthd_http *h,
				      struct MHD_Connection *conn,
				      const struct healthd_route *route,
				      const char *upload_data,
				      size_t *upload_data_size, void **req_cls)
{
	struct healthd_api_req *req = *req_cls;

	if (!req) {
		const char *cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		int64_t v;
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->slot = -1;
		*req_cls = req;
		/* A body announced too large is refused before it is read. */
		if (cl && (sky_parse_i64(cl, 0, HEALTHD_API_BODY_MAX, &v) < 0))
			req->too_large = true;
		if (req->too_large || !route->post ||
		    !healthd_route_has_body(
			    cl, MHD_lookup_connection_value(
					conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING)))
			return healthd_api_answer(h, conn, route, req);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		if (req->too_large || req->started || req->finished) {
			/* skipped unread */
		} else if (n > HEALTHD_API_BODY_MAX - req->len) {
			req->too_large = true;
		} else {
			memcpy(req->body + req->len, upload_data, n);
			req->len += n;
			req->body[req->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return healthd_api_answer(h, conn, route, req);
}

/*
 * libmicrohttpd calls this once when the headers are in, then again when
 * the request is complete. A good GET or HEAD is answered on the second
 * call, so the connection can be kept alive; anything refused (unknown
 * path, other method, a body) is answered on the first, and the connection
 * is closed after the answer without reading the body. The API's requests
 * (on_api_request) read a bounded body.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct healthd_http *h = cls;
	struct healthd_route route;
	bool first = *req_cls == NULL;

	(void)version;
	healthd_route(method, url, &route);
	if (*req_cls && *req_cls != &seen)
		return on_api_request(h, conn, &route, upload_data,
				      upload_data_size, req_cls);
	if (*upload_data_size) {
		/* Only after an early refusal: skipped unread. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (first)
		healthd_guard_request(&h->guard, guard_index(conn));
	/* With --api-listen, the console and the API live there only. */
	bool api_page = route.api || route.page == HEALTHD_PAGE_CONSOLE ||
			route.page == HEALTHD_PAGE_CONSOLE_JS ||
			route.page == HEALTHD_PAGE_CONSOLE_CSS;
	if (h->api_daemon && api_page && !on_api_socket(h, conn)) {
		*req_cls = &seen;
		return send_static(h, conn, MHD_HTTP_NOT_FOUND,
				   "text/plain; charset=utf-8",
				   "not here: the console and the API are "
				   "served on healthd's API port "
				   "(--api-listen)\n",
				   NULL);
	}
	if (route.page != HEALTHD_PAGE_NOT_FOUND && !route.method_allowed) {
		*req_cls = &seen;
		return send_response_allow(
			h, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			"text/plain; charset=utf-8",
			route.post ? "method not allowed: POST\n"
				   : "method not allowed: GET or HEAD\n",
			route.post ? 25 : 32, MHD_RESPMEM_PERSISTENT, NULL,
			healthd_route_allow(&route));
	}
	if (first && route.api) {
		*req_cls = NULL;
		return on_api_request(h, conn, &route, upload_data,
				      upload_data_size, req_cls);
	}
	*req_cls = &seen;
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

/* libmicrohttpd took a connection (inside MHD_add_connection) or freed it
 * (before it closes the socket): the guard's entry follows. */
static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct healthd_http *h = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		int i = info ? healthd_guard_find(&h->guard, info->connect_fd)
			     : -ENOENT;
		*socket_context = i < 0 ? NULL : (void *)(intptr_t)(i + 1);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		int i = (int)((intptr_t)*socket_context - 1);
		if (i >= 0 && (size_t)i < h->guard.capacity)
			epoll_ctl(h->idle_epoll, EPOLL_CTL_DEL,
				  h->guard.conns[i].fd, NULL);
		healthd_guard_closed(&h->guard, i);
		*socket_context = NULL;
	}
}

/* A request is over; a kept-alive connection waits for the next one. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct healthd_http *h = cls;

	(void)code;
	if (req_cls && *req_cls) {
		/* Anything but the marker is an API request's state. */
		if (*req_cls != &seen)
			healthd_api_req_free(&h->api, *req_cls);
		*req_cls = NULL;
	}
	int i = guard_index(conn);
	healthd_guard_answered(&h->guard, i, sky_now_ms());
	if (i < 0 || h->guard.conns[i].state != HEALTHD_CONN_IDLE)
		return;
	/* Kept alive: the first byte of the next request starts its header
	 * deadline. libmicrohttpd reads the socket, so healthd watches it
	 * with its own epoll set, once. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
				 .data.fd = h->guard.conns[i].fd};
	if (epoll_ctl(h->idle_epoll, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0 &&
	    (errno != EEXIST ||
	     epoll_ctl(h->idle_epoll, EPOLL_CTL_MOD, ev.data.fd, &ev) < 0))
		/* Cannot watch it: the deadline runs from now instead. */
		healthd_guard_first_byte(&h->guard, i, sky_now_ms());
}

void healthd_http_conf_default(struct healthd_http_conf *c)
{
	healthd_guard_conf_default(&c->guard);
	c->idle_s = HEALTHD_CONN_TIMEOUT_S;
}

static struct MHD_Daemon *start_daemon(struct healthd_http *h,
				       const struct healthd_http_conf *conf,
				       bool tls)
{
	/* libmicrohttpd's own limit leaves room for the connections the guard
	 * shut down and libmicrohttpd has not freed yet; the guard's is the
	 * one that holds. Suspend/resume: the API's requests wait for
	 * heartbeatd or the login worker without blocking the loop. */
	unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
			 MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME;
	if (tls)
		return MHD_start_daemon(
			flags | MHD_USE_TLS, 0, NULL, NULL, on_request, h,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
			MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)(h->guard.capacity + 8),
			MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)HEALTHD_CONN_MEMORY,
			MHD_OPTION_CONNECTION_TIMEOUT, conf->idle_s,
			MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
			MHD_OPTION_HTTPS_MEM_KEY, conf->tls_key_pem,
			MHD_OPTION_HTTPS_MEM_CERT, conf->tls_cert_pem,
			MHD_OPTION_END);
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
		on_mhd_log, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(h->guard.capacity + 8),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEALTHD_CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, conf->idle_s,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
}

int healthd_http_start(struct healthd_http *h, const struct healthd_table *t,
		       const int *fds, size_t n, const int *api_fds,
		       size_t api_n, const struct healthd_http_conf *conf)
{
	int r;

	h->table = t;
	h->daemon = NULL;
	h->api_daemon = NULL;
	h->listen_count = 0;
	h->accepting = false;
	h->accept_paused_until = 0;
	h->stats.started_ms = sky_now_ms();
	h->idle_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (h->idle_epoll < 0) {
		r = -errno;
		log_error("epoll_create1: %s", strerror(-r));
		goto fail;
	}
	if (gethostname(h->host, sizeof(h->host)) < 0)
		h->host[0] = '\0';
	h->host[sizeof(h->host) - 1] = '\0';
	r = healthd_guard_init(&h->guard, &conf->guard);
	if (r < 0) {
		log_error("cannot set up the connection table: %s",
			  strerror(-r));
		goto fail;
	}
	h->daemon = start_daemon(h, conf, false);
	if (api_n)
		h->api_daemon = start_daemon(h, conf, conf->tls_cert_pem);
	if (!h->daemon || (api_n && !h->api_daemon)) {
		log_error("cannot start the HTTP server (libmicrohttpd refused "
			  "it%s)",
			  conf->tls_cert_pem
				  ? ": is the TLS certificate or key "
				    "valid PEM?"
				  : "");
		r = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < n && i < HEALTHD_LISTEN_MAX; i++) {
		h->listen_api[h->listen_count] = false;
		h->listen_fds[h->listen_count++] = fds[i];
	}
	for (size_t i = HEALTHD_LISTEN_MAX; i < n; i++)
		close(fds[i]);
	for (size_t i = 0; i < api_n && i < HEALTHD_LISTEN_MAX; i++) {
		h->listen_api[h->listen_count] = true;
		h->listen_fds[h->listen_count++] = api_fds[i];
	}
	for (size_t i = HEALTHD_LISTEN_MAX; i < api_n; i++)
		close(api_fds[i]);
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	for (size_t i = 0; i < api_n; i++)
		close(api_fds[i]);
	healthd_http_stop(h);
	return r;
}

void healthd_http_accept(struct healthd_http *h, bool on)
{
	h->accepting = on;
}

size_t healthd_http_poll_items(const struct healthd_http *h,
			       zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;
	const union MHD_DaemonInfo *info =
		h->daemon ? MHD_get_daemon_info(h->daemon,
						MHD_DAEMON_INFO_EPOLL_FD)
			  : NULL;

	if (info && n < max)
		items[n++] = (zmq_pollitem_t){.fd = info->epoll_fd,
					      .events = ZMQ_POLLIN};
	info = h->api_daemon ? MHD_get_daemon_info(h->api_daemon,
						   MHD_DAEMON_INFO_EPOLL_FD)
			     : NULL;
	if (info && n < max)
		items[n++] = (zmq_pollitem_t){.fd = info->epoll_fd,
					      .events = ZMQ_POLLIN};
	n += healthd_api_poll_items(&h->api, items + n, max - n);
	if (h->idle_epoll >= 0 && n < max)
		items[n++] = (zmq_pollitem_t){.fd = h->idle_epoll,
					      .events = ZMQ_POLLIN};
	if (h->accept_paused_until)
		return n; /* out of file descriptors: see healthd_http_run */
	for (size_t i = 0; h->accepting && i < h->listen_count && n < max; i++)
		items[n++] = (zmq_pollitem_t){.fd = h->listen_fds[i],
					      .events = ZMQ_POLLIN};
	return n;
}

/* Close a connection libmicrohttpd owns: it sees the end and frees it. */
static void close_conn(int fd)
{
	shutdown(fd, SHUT_RDWR);
}

static void accept_one(struct healthd_http *h, struct MHD_Daemon *daemon,
		       int fd, const struct sockaddr *sa, socklen_t len,
		       int64_t now)
{
	struct healthd_source src;
	int evict = -1, r;

	r = healthd_source_of(sa, len, &src);
	if (r == 0)
		r = healthd_guard_admit(&h->guard, fd, &src, now, &evict);
	if (evict >= 0)
		close_conn(evict);
	if (r < 0) {
		sky_log_ratelimited(
			&h->rl_refuse, LOG_WARNING,
			"http: refused a connection: %s",
			r == -EUSERS ? "too many from its address"
			: r == -EMFILE
				? "every connection is busy with a request"
				: "not an IP address");
		close(fd);
		return;
	}
	if (evict >= 0)
		sky_log_ratelimited(&h->rl_evict, LOG_WARNING,
				    "http: %u connections open: closed the "
				    "oldest one that sent no request yet",
				    h->guard.conf.max_total);
	if (MHD_add_connection(daemon, fd, sa, len) != MHD_YES)
		/* libmicrohttpd closed fd; the notifier may have run. */
		healthd_guard_closed(&h->guard, r);
}

#define ACCEPT_BATCH	64  /* per listening socket and round */
#define ACCEPT_PAUSE_MS 100 /* after accept() ran out of descriptors */
#define EXPIRE_BATCH	64

static void accept_all(struct healthd_http *h, int64_t now_ms)
{
	if (h->accept_paused_until && now_ms >= h->accept_paused_until)
		h->accept_paused_until = 0;
	for (size_t i = 0;
	     h->accepting && !h->accept_paused_until && i < h->listen_count;
	     i++) {
		for (int k = 0; k < ACCEPT_BATCH; k++) {
			struct sockaddr_storage sa;
			socklen_t len = sizeof(sa);
			int fd = accept4(h->listen_fds[i],
					 (struct sockaddr *)&sa, &len,
					 SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				accept_one(h,
					   h->listen_api[i] ? h->api_daemon
							    : h->daemon,
					   fd, (struct sockaddr *)&sa, len,
					   now_ms);
				continue;
			}
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				/* The connection stays queued: retry later
				 * rather than spin on it. */
				h->accept_paused_until =
					now_ms + ACCEPT_PAUSE_MS;
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				sky_log_ratelimited(&h->rl_accept, LOG_WARNING,
						    "http: accept: %s",
						    strerror(errno));
			break;
		}
	}
}

/* Kept-alive connections whose next request began. */
static void next_requests(struct healthd_http *h, int64_t now_ms)
{
	struct epoll_event evs[EXPIRE_BATCH];
	int n;

	while ((n = epoll_wait(h->idle_epoll, evs, EXPIRE_BATCH, 0)) > 0) {
		for (int k = 0; k < n; k++) {
			int fd = evs[k].data.fd;
			epoll_ctl(h->idle_epoll, EPOLL_CTL_DEL, fd, NULL);
			healthd_guard_first_byte(
				&h->guard, healthd_guard_find(&h->guard, fd),
				now_ms);
		}
		if (n < EXPIRE_BATCH)
			break;
	}
}

void healthd_http_run(struct healthd_http *h, int64_t now_ms)
{
	int fds[EXPIRE_BATCH];
	size_t n;

	next_requests(h, now_ms);
	accept_all(h, now_ms);
	while ((n = healthd_guard_expire(&h->guard, now_ms, fds,
					 SKY_ARRAY_SIZE(fds))) > 0) {
		for (size_t i = 0; i < n; i++)
			close_conn(fds[i]);
		sky_log_ratelimited(&h->rl_deadline, LOG_WARNING,
				    "http: closed %zu connection%s that sent "
				    "no complete request in %lld ms",
				    n, n == 1 ? "" : "s",
				    (long long)h->guard.conf.header_ms);
	}
	healthd_api_run(&h->api, now_ms);
	if (h->daemon)
		MHD_run(h->daemon);
	if (h->api_daemon)
		MHD_run(h->api_daemon);
}

int healthd_http_timeout_ms(const struct healthd_http *h, int64_t now_ms,
			    int cap)
{
	int t = cap;
	MHD_UNSIGNED_LONG_LONG ms;
	int64_t next = healthd_guard_next_deadline(&h->guard);

	if (h->daemon && MHD_get_timeout(h->daemon, &ms) == MHD_YES &&
	    ms < (MHD_UNSIGNED_LONG_LONG)t)
		t = (int)ms;
	if (h->api_daemon && MHD_get_timeout(h->api_daemon, &ms) == MHD_YES &&
	    ms < (MHD_UNSIGNED_LONG_LONG)t)
		t = (int)ms;
	t = healthd_api_timeout_ms(&h->api, now_ms, t);
	if (h->accept_paused_until)
		next = next < h->accept_paused_until ? next
						     : h->accept_paused_until;
	if (next != INT64_MAX) {
		int64_t left = next > now_ms ? next - now_ms : 0;
		if (left < t)
			t = (int)left;
	}
	return t;
}

void healthd_http_stop(struct healthd_http *h)
{
	/* Suspended connections must be resumed before their daemon stops:
	 * their answers are given up. */
	for (size_t i = 0; i < HEALTHD_CALLS_MAX; i++)
		if (h->api.calls[i].sock && h->api.calls[i].req)
			MHD_resume_connection(h->api.calls[i].conn);
	healthd_api_stop(&h->api); /* the login worker is gone after this */
	for (size_t i = 0; i < HEALTHD_LOGINS_MAX; i++)
		if (h->api.logins[i].used && h->api.logins[i].req)
			MHD_resume_connection(h->api.logins[i].conn);
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	h->daemon = NULL;
	if (h->api_daemon)
		MHD_stop_daemon(h->api_daemon);
	h->api_daemon = NULL;
	for (size_t i = 0; i < h->listen_count; i++)
		close(h->listen_fds[i]);
	h->listen_count = 0;
	if (h->idle_epoll >= 0)
		close(h->idle_epoll);
	h->idle_epoll = -1;
	healthd_guard_free(&h->guard);
}
