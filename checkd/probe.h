/*
 * probe.h - one run of a checker: the I/O side.
 *
 * Every kind runs without blocking the event loop: a run starts (and may
 * finish at once: process, or a refused connect), then waits on one fd
 * (a TCP/HTTP socket, an ICMP socket, a netlink socket, a custom command's
 * output pipe) until it finishes or its timeout passes. Results are
 * ok / failed with a one-line error; checker.c damps them.
 *
 *   process    pidfile, the SKYHA_PID=N line of start_prim, or an exe name
 *              (/proc/PID/comm); watched through a pidfd while alive, so an
 *              exit is seen at once rather than at the next interval
 *   tcp        a connect() that completes
 *   http       GET path over HTTP/1.0; the status must be expect_status
 *              (default: any 2xx or 3xx); the reply is read up to 1 KiB
 *   icmp       an echo reply, over a ping socket (SOCK_DGRAM) or, when
 *              net.ipv4.ping_group_range forbids it, a raw socket
 *   interface  the link is up with carrier (netlink RTM_GETLINK)
 *   custom     a command that exits 0 within the timeout
 */
#ifndef SKYHA_CHECKD_PROBE_H
#define SKYHA_CHECKD_PROBE_H

#include "cfg.h"
#include "proc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CHECKD_ERROR_MAX 160

/* What a run needs from the daemon. */
struct checkd_probe_ctx {
	const char *run_dir; /* the module's run directory (pidfiles) */
	const char *cwd;     /* custom commands run here */
	pid_t start_pid;     /* reported by start_prim, 0 if none */
	char *const *envp;
};

struct checkd_probe {
	const struct checkd_checker_cfg *cfg;
	bool running;
	int64_t started_ms, deadline_ms;
	int fd;
	short events;
	int phase;
	char buf[1024];
	size_t len, sent;
	uint16_t echo_id, echo_seq;
	bool icmp_raw;
	uint32_t nl_seq;
	struct checkd_proc proc;
	/* process: the watched pid and its pidfd (-1 when none) */
	pid_t pid;
	int pidfd;
	/* the last result */
	bool ok;
	char error[CHECKD_ERROR_MAX];
};

void checkd_probe_init(struct checkd_probe *p,
		       const struct checkd_checker_cfg *cfg);
void checkd_probe_close(struct checkd_probe *p);
/* Start a run; true if it finished at once (result in ok/error). */
bool checkd_probe_start(struct checkd_probe *p,
			const struct checkd_probe_ctx *ctx, int64_t now);
/* The fd and events to wait on while running (-1: poll by time). */
int checkd_probe_fd(const struct checkd_probe *p, short *events);
/* Advance on fd readiness or time; true once finished. */
bool checkd_probe_step(struct checkd_probe *p, short revents, int64_t now);
/* Abandon a running run (the application stopped). */
void checkd_probe_cancel(struct checkd_probe *p);
/* Forget the watched process (a new start). */
void checkd_probe_forget_pid(struct checkd_probe *p);

/* HTTP status line parser: "HTTP/1.x NNN ..." -> NNN. Exposed for tests. */
int checkd_http_status(const char *buf, size_t len, int *status);

/* A pidfile's bytes (at most CHECKD_PIDFILE_MAX): a pid, blanks around. */
#define CHECKD_PIDFILE_MAX 64
int checkd_pid_parse(const char *buf, size_t len, pid_t *out);
/*
 * Is this datagram (n bytes from the ICMP socket; raw IPv4 ones start
 * with the IP header) the echo reply to our request?
 */
bool checkd_icmp_is_reply(const uint8_t *buf, size_t n, bool v6, bool raw,
			  uint16_t echo_id, uint16_t echo_seq);

#endif
