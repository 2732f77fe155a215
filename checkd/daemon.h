/*
 * daemon.h - checkd's event loop: the bus, the application's actions, the
 * checkers and the decisions, for one module on one node.
 */
#ifndef SKYHA_CHECKD_DAEMON_H
#define SKYHA_CHECKD_DAEMON_H

#include "app.h"
#include "cfg.h"
#include "config.h"
#include "desired.h"
#include "log.h"
#include "policy.h"
#include "probe.h"
#include "proc.h"
#include "unit.h"

#include <jansson.h>

struct checkd_checker_rt {
	const struct checkd_checker_cfg *cfg;
	struct checkd_probe probe;
	struct checkd_damper damper;
	int64_t next_run_ms;
	char last_error[CHECKD_ERROR_MAX];
};

struct checkd {
	struct sky_config mod;
	struct checkd_cfg cfg;
	const struct sky_node *self, *peer;
	char run_dir[PATH_MAX]; /* RUN/MODULE */
	char ctl_ep[PATH_MAX + 16];
	char topic_desired[SKY_TOPIC_MAX], topic_status[SKY_TOPIC_MAX],
		topic_actual[SKY_TOPIC_MAX];
	void *sub, *pub;

	struct checkd_app app;
	char role[16];
	bool heard_desired;
	struct sky_desired_lease word; /* until when "up" holds */
	/* the running action */
	struct checkd_proc job;
	bool unit_mode;
	struct checkd_unit unit;
	bool unit_job_start;
	int64_t unit_deadline_ms, unit_next_poll_ms;
	bool job_running;
	pid_t start_pid;

	struct checkd_checker_rt checkers[CHECKD_MAX_CHECKERS];
	struct checkd_restarts restarts;
	bool failover_pending;
	/* The operator's word, through heartbeatd's desired state. */
	int64_t app_restart_seen; /* the last app_restart heard */
	bool checkers_off;
	int64_t failover_deadline_ms;
	char last_event[CHECKD_REASON_MAX];

	int64_t next_publish_ms;
	bool publish_now;
	unsigned bus_bad_messages;
	struct sky_ratelimit rl_bus;
	struct checkd_env_block env;
	uint64_t env_epoch;
	char env_role[16];
	bool env_built;
};

int checkd_open(struct checkd *d, const struct sky_config *mod,
		const struct checkd_cfg *cfg, const char *node,
		const char *run_dir);
int checkd_run(struct checkd *d);
void checkd_close(struct checkd *d);
/* The actual-state object published on the bus (for tests too). */
json_t *checkd_actual_json(const struct checkd *d, int64_t now);

#endif
