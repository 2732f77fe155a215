/*
 * http.h - healthd's HTTP server: libmicrohttpd driven from healthd's own
 * event loop (MHD_USE_EPOLL without an internal thread: one epoll fd per
 * listening socket goes into zmq_poll, MHD_run() does the work), so the
 * request handlers read the module table without locks.
 *
 * healthd accepts connections itself (guard.h decides which it keeps) and
 * hands each one to libmicrohttpd, so that no client can starve the load
 * balancers' probes:
 *   at most max_per_addr connections from one source and max_total in
 *   all; when full, the oldest connection of the heaviest source that has
 *   not sent a complete request is closed to make room (guard.h);
 *   a request head (line and headers) must be complete within header_ms
 *   of accept, or on a kept-alive connection of the first byte of the
 *   next request, or the connection is closed;
 *   HEALTHD_CONN_MEMORY bytes per connection for the request line and
 *   headers (larger: 431/414, connection closed); a connection silent for
 *   idle_s is closed (libmicrohttpd); request bodies are never read.
 * Connections are closed by shutdown(2) on their socket: libmicrohttpd sees
 * the end of the stream, closes and frees the connection itself.
 */
#ifndef HEALTHD_HTTP_H
#define HEALTHD_HTTP_H

#include "api.h"
#include "guard.h"
#include "listen.h"
#include "log.h"
#include "modules.h"
#include "render.h"

#include <limits.h>
#include <zmq.h>

#define HEALTHD_CONN_MEMORY    (16 * 1024)
#define HEALTHD_CONN_TIMEOUT_S 10
#define HEALTHD_IDLE_MAX_S     3600

struct healthd_http_conf {
	struct healthd_guard_conf guard;
	unsigned idle_s; /* libmicrohttpd's idle timeout */
	/* The API's sockets speak HTTPS with these (PEM, NUL-terminated), or
	 * plain HTTP when NULL. */
	const char *tls_cert_pem, *tls_key_pem;
};

struct MHD_Daemon;

struct healthd_http {
	struct MHD_Daemon *daemon;
	/* The API's and the console's, when they have their own sockets
	 * (--api-listen): the plain daemon then serves only /health/...,
	 * /var/modules/..., /status and /metrics. */
	struct MHD_Daemon *api_daemon;
	int listen_fds[2 * HEALTHD_LISTEN_MAX];
	bool listen_api[2 * HEALTHD_LISTEN_MAX];
	size_t listen_count;
	bool accepting; /* false: connections wait in the kernel's queue */
	int64_t accept_paused_until; /* out of descriptors: retry then */
	int idle_epoll; /* kept-alive connections, for their next first byte */
	const struct healthd_table *table;
	struct healthd_guard guard;
	struct healthd_stats stats;
	char host[HOST_NAME_MAX + 1];
	struct sky_ratelimit rl_mhd, rl_accept, rl_refuse, rl_evict,
		rl_deadline;
	struct healthd_api api; /* loaded before healthd_http_start */
};

void healthd_http_conf_default(struct healthd_http_conf *c);

/*
 * Serve the listening fds (consumed: closed on failure too). Returns 0 or
 * a negative errno, logged. Nothing is accepted before
 * healthd_http_accept(h, true).
 */
int healthd_http_start(struct healthd_http *h, const struct healthd_table *t,
		       const int *fds, size_t n, const int *api_fds,
		       size_t api_n, const struct healthd_http_conf *conf);
/* Start or stop taking connections from the listening sockets. */
void healthd_http_accept(struct healthd_http *h, bool on);
size_t healthd_http_poll_items(const struct healthd_http *h,
			       zmq_pollitem_t *items, size_t max);
/* Do whatever is ready (never blocks). */
void healthd_http_run(struct healthd_http *h, int64_t now_ms);
/* How long the loop may sleep for libmicrohttpd's and the header
 * deadlines' sake, at most cap. */
int healthd_http_timeout_ms(const struct healthd_http *h, int64_t now_ms,
			    int cap);
void healthd_http_stop(struct healthd_http *h);

#endif
