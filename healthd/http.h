/*
 * http.h - healthd's HTTP server: libmicrohttpd driven from healthd's own
 * event loop (MHD_USE_EPOLL without an internal thread: one epoll fd per
 * listening socket goes into zmq_poll, MHD_run() does the work), so the
 * request handlers read the module table without locks.
 *
 * Limits on hostile clients (libmicrohttpd enforces them):
 *   HEALTHD_CONN_MAX connections in all, HEALTHD_CONN_PER_IP from one
 *   address; HEALTHD_CONN_MEMORY bytes per connection for the request line
 *   and headers (larger: 431/414, connection closed); an idle connection is
 *   closed after HEALTHD_CONN_TIMEOUT_S; request bodies are never read.
 */
#ifndef HEALTHD_HTTP_H
#define HEALTHD_HTTP_H

#include "listen.h"
#include "log.h"
#include "modules.h"
#include "render.h"

#include <limits.h>
#include <zmq.h>

#define HEALTHD_CONN_MAX       256
#define HEALTHD_CONN_PER_IP    64
#define HEALTHD_CONN_MEMORY    (16 * 1024)
#define HEALTHD_CONN_TIMEOUT_S 10

struct MHD_Daemon;

struct healthd_http {
	struct MHD_Daemon *daemons[HEALTHD_LISTEN_MAX];
	size_t count;
	const struct healthd_table *table;
	struct healthd_stats stats;
	char host[HOST_NAME_MAX + 1];
	struct sky_ratelimit rl_mhd;
};

/*
 * Serve the listening fds (consumed: closed on failure too). Returns 0 or
 * a negative errno, logged.
 */
int healthd_http_start(struct healthd_http *h, const struct healthd_table *t,
		       const int *fds, size_t n);
size_t healthd_http_poll_items(const struct healthd_http *h,
			       zmq_pollitem_t *items, size_t max);
/* Do whatever is ready (never blocks). */
void healthd_http_run(struct healthd_http *h);
/* How long the loop may sleep for libmicrohttpd's sake, at most cap. */
int healthd_http_timeout_ms(const struct healthd_http *h, int cap);
void healthd_http_stop(struct healthd_http *h);

#endif
