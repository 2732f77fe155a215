/*
 * cfg.h - checkd's section of the module file (docs/config.md, `checkd:`).
 *
 * The application's actions (scripts with a timeout each, or a systemd
 * unit), its checkers (kind, interval, timeout, damping, action) and the
 * restart policy. checkd_cfg_parse() validates everything before filling
 * *out; errors read "file:line:col: checkd.field: why". Pure apart from
 * checking that the scripts it names exist and are executable.
 */
#ifndef SKYHA_CHECKD_CFG_H
#define SKYHA_CHECKD_CFG_H

#include "config.h"

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#define CHECKD_MAX_CHECKERS  16
#define CHECKD_MAX_ENV	     16
#define CHECKD_ENV_NAME_MAX  64
#define CHECKD_ENV_VALUE_MAX 256
#define CHECKD_HTTP_PATH_MAX 256
#define CHECKD_UNIT_MAX	     256

enum checkd_kind {
	CHECKD_KIND_PROCESS = 0,
	CHECKD_KIND_TCP,
	CHECKD_KIND_HTTP,
	CHECKD_KIND_ICMP,
	CHECKD_KIND_INTERFACE,
	CHECKD_KIND_CUSTOM,
	CHECKD_KIND_COUNT,
};
const char *checkd_kind_name(enum checkd_kind k);

/* What a checker that has failed asks for. */
enum checkd_action {
	CHECKD_ACTION_RESTART = 0, /* stop + start here, within restart.max */
	CHECKD_ACTION_FAILOVER,	   /* hand the module to the peer */
	CHECKD_ACTION_STOP,	   /* stop here, report failed (module WAIT) */
};
const char *checkd_action_name(enum checkd_action a);

enum checkd_script {
	CHECKD_START_PRIM = 0,
	CHECKD_STOP_PRIM,
	CHECKD_START_BOTH,
	CHECKD_STOP_BOTH,
	CHECKD_SCRIPT_COUNT,
};
const char *checkd_script_name(enum checkd_script s);

struct checkd_script_cfg {
	bool set;
	char path[PATH_MAX];
	uint32_t timeout_ms;
};

/* How a process checker finds the process. */
enum checkd_pid_source {
	CHECKD_PID_FILE = 0, /* pidfile: PATH */
	CHECKD_PID_START, /* from_start: the SKYHA_PID=N line of start_prim */
	CHECKD_PID_EXE,	  /* exe: NAME (the command name in /proc) */
};

struct checkd_checker_cfg {
	char name[SKY_NAME_MAX + 1];
	enum checkd_kind kind;
	uint32_t interval_ms, timeout_ms, fail_after, ok_after;
	enum checkd_action action;
	/* process */
	enum checkd_pid_source pid_source;
	char pidfile[PATH_MAX]; /* relative: to the module's run dir */
	char exe[16];		/* TASK_COMM_LEN - 1 */
	/* tcp, http, icmp */
	struct sky_addr addr;
	bool addr_self; /* address: self - this node's first address */
	uint16_t port;
	char http_path[CHECKD_HTTP_PATH_MAX];
	uint32_t expect_status; /* 0: any 2xx or 3xx */
	/* interface */
	char ifname[IFNAMSIZ];
	/* custom */
	char command[PATH_MAX];
};

struct checkd_env {
	char name[CHECKD_ENV_NAME_MAX];
	char value[CHECKD_ENV_VALUE_MAX];
};

struct checkd_cfg {
	char dir[PATH_MAX]; /* the config file's folder: scripts' cwd */
	struct checkd_script_cfg scripts[CHECKD_SCRIPT_COUNT];
	char unit[CHECKD_UNIT_MAX]; /* "" when scripts are used */
	uint32_t unit_timeout_ms;
	uint32_t restart_max;
	uint32_t restart_window_ms;
	enum checkd_action escalation;	     /* FAILOVER or STOP */
	enum checkd_action failover_refused; /* RESTART or STOP */
	uint32_t failover_wait_ms; /* an accepted failover must demote us */
	struct checkd_checker_cfg checkers[CHECKD_MAX_CHECKERS];
	size_t checker_count;
	struct checkd_env env[CHECKD_MAX_ENV];
	size_t env_count;
	/* A farm or light module (module.type): its start_both and stop_both
	 * were read into the start_prim and stop_prim slots, the scripts
	 * that run where heartbeatd asks for the application; logs and the
	 * published state use the farm's names (checkd_cfg_job_name). */
	bool farm;
};

/* "start_prim" or, in a farm, "start_both" (the same for stop). */
const char *checkd_cfg_job_name(const struct checkd_cfg *c, int job);

/*
 * Parse the `checkd:` section of a module file held in memory; path names
 * the file in messages and anchors relative script paths.
 */
int checkd_cfg_parse(const char *path, const char *text, size_t len,
		     struct checkd_cfg *out, char *err, size_t err_size);
/* Put the checker's port into its address (after address: self is known). */
void checkd_cfg_set_port(struct checkd_checker_cfg *ck);
int checkd_cfg_load(const char *path, struct checkd_cfg *out, char *err,
		    size_t err_size);

#endif
