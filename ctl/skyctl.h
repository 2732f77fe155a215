/*
 * skyctl.h - what skyctl's own files share: the exit statuses promised to
 * scripts, the target a command talks to (module, control socket, ZeroMQ
 * endpoint), and the few helpers each command uses to reach heartbeatd and
 * to say what went wrong.
 *
 * Messages go to stderr as "skyctl: ..." rather than through log.h: an
 * operator at a terminal wants plain lines, not timestamps or the journal.
 * Functions declared here that print their own errors return the process's
 * exit status (enum skyctl_exit) instead of -errno.
 */
#ifndef SKYCTL_SKYCTL_H
#define SKYCTL_SKYCTL_H

#include "goal.h"
#include "util.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* The contract with scripts; documented in --help. */
enum skyctl_exit {
	SKYCTL_EXIT_OK = 0,
	SKYCTL_EXIT_REFUSED = 1,     /* heartbeatd said no, or made no sense */
	SKYCTL_EXIT_USAGE = 2,	     /* bad command line */
	SKYCTL_EXIT_UNREACHABLE = 3, /* no heartbeatd, or no reply in time */
	SKYCTL_EXIT_WAIT_TIMEOUT = 4,
};

#define DEFAULT_RUN_DIR	 "/run/skyha"
#define RUN_DIR_ENV	 "SKYHA_RUN_DIR"
#define MESSAGE_TEXT_MAX 513 /* a daemon's message or error: 512 bytes */

struct skyctl {
	const char *run_dir;
	char module[SKY_NAME_MAX + 1];
	char ctl_path[PATH_MAX];
	char endpoint[PATH_MAX + 16];
	bool json;
	int64_t reply_timeout_ms;
};

/* usage.c: --help, and the lines that say what went wrong. */
extern const char skyctl_help_text[];
__attribute__((format(printf, 1, 2))) void skyctl_fail(const char *fmt, ...);
/* Says what was wrong and where to read more; returns SKYCTL_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int skyctl_usage_error(const char *fmt,
							     ...);

/* target.c: which module, and its socket's path and endpoint. */
int skyctl_find_module(struct skyctl *ctl);
int skyctl_resolve_target(struct skyctl *ctl);

/* call.c: one request/reply round trip with heartbeatd. */
/* 0, or the errno (positive) that says why no one listens on the socket. */
int skyctl_socket_error(const struct skyctl *ctl);
int skyctl_check_socket(const struct skyctl *ctl);
int skyctl_request(const struct skyctl *ctl, const char *command, bool force,
		   int64_t timeout_ms, json_t **reply);
int skyctl_report_call_error(const struct skyctl *ctl, int r,
			     int64_t timeout_ms);
int skyctl_check_reply(const json_t *reply);
void skyctl_print_json(const json_t *reply);

/* commands.c: status, state, snapshot and the actions. */
const json_t *skyctl_reply_status(const json_t *reply);
int skyctl_cmd_status(const struct skyctl *ctl);
int skyctl_cmd_state(const struct skyctl *ctl);
int skyctl_cmd_snapshot(struct skyctl *ctl, int argc, char **argv);
int skyctl_cmd_action(const struct skyctl *ctl, const char *command,
		      bool force);

/* wait.c */
int skyctl_cmd_wait(const struct skyctl *ctl, const struct skyctl_goal *goal,
		    int64_t timeout_ms);

#endif
