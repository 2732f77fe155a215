/*
 * daemon.c - checkd's event loop (see daemon.h).
 *
 * One zmq_poll over the desired-state SUB socket, the running action's
 * output pipe, each running checker's fd and each watched process's pidfd;
 * at most 20 ms asleep. Each turn: read heartbeatd's wish, advance the
 * running action, run due checkers, act on checkers that failed (restart,
 * failover, stop), start the next action the application needs, publish.
 */
#include "daemon.h"
#include "cli.h"
#include "log.h"
#include "msg.h"
#include "notify.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

__attribute__((format(printf, 2, 3))) static void event(struct checkd *d,
							const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->last_event, sizeof(d->last_event), fmt, ap);
	va_end(ap);
	log_notice("%s", d->last_event);
	d->publish_now = true;
}

/* --- the environment of scripts and custom checkers ---------------------- */

static int env_refresh(struct checkd *d)
{
	char vars[12 + CHECKD_MAX_ENV]
		 [CHECKD_ENV_NAME_MAX + CHECKD_ENV_VALUE_MAX + 2];
	char *list[12 + CHECKD_MAX_ENV];
	size_t n = 0;

	if (d->env_built && d->env_epoch == d->app.epoch &&
	    strcmp(d->env_role, d->role) == 0)
		return 0;
#define ADD(...) snprintf(vars[n], sizeof(vars[n]), __VA_ARGS__), n++
	ADD("SKYHA_MODULE=%s", d->mod.module);
	ADD("SKYHA_NODE=%s", d->self->name);
	ADD("SKYHA_MODULE_TYPE=%s", sky_module_type_name(d->mod.type));
	if (d->peer) /* a mirror's other node */
		ADD("SKYHA_PEER=%s", d->peer->name);
	ADD("SKYHA_ROLE=%s", d->role);
	ADD("SKYHA_EPOCH=%llu", (unsigned long long)d->app.epoch);
	ADD("SKYHA_NODE_ADDRESS=%s", d->self->addrs[0].text);
	if (d->peer)
		ADD("SKYHA_PEER_ADDRESS=%s", d->peer->addrs[0].text);
	ADD("SKYHA_RUN_DIR=%s", d->run_dir);
	ADD("SKYHA_CONFIG_DIR=%s", d->cfg.dir);
	for (size_t i = 0; i < d->cfg.env_count; i++)
		ADD("%s=%s", d->cfg.env[i].name, d->cfg.env[i].value);
#undef ADD
	for (size_t i = 0; i < n; i++)
		list[i] = vars[i];
	if (d->env_built)
		checkd_env_free(&d->env);
	d->env_built = false;
	int r = checkd_env_build(&d->env, list, n);
	if (r < 0)
		return r;
	d->env_built = true;
	d->env_epoch = d->app.epoch;
	sky_strlcpy(d->env_role, d->role, sizeof(d->env_role));
	return 0;
}

/* --- actions: scripts or unit -------------------------------------------- */

static enum checkd_script script_of(enum checkd_job j)
{
	switch (j) {
	case CHECKD_JOB_START_PRIM:
		return CHECKD_START_PRIM;
	case CHECKD_JOB_STOP_PRIM:
		return CHECKD_STOP_PRIM;
	case CHECKD_JOB_START_BOTH:
		return CHECKD_START_BOTH;
	default:
		return CHECKD_STOP_BOTH;
	}
}

static void job_finished(struct checkd *d, bool ok, const char *why,
			 int64_t now);

static void job_start(struct checkd *d, enum checkd_job j, int64_t now)
{
	char err[256];
	int r;

	d->job_running = true;
	d->publish_now = true;
	if (d->unit_mode) {
		/* start_both/stop_both do not exist for a unit. */
		if (j == CHECKD_JOB_START_BOTH || j == CHECKD_JOB_STOP_BOTH) {
			job_finished(d, true, "", now);
			return;
		}
		d->unit_job_start = j == CHECKD_JOB_START_PRIM;
		log_info("%s unit %s",
			 d->unit_job_start ? "starting" : "stopping",
			 d->unit.name);
		r = checkd_unit_request(&d->unit, d->unit_job_start, err,
					sizeof(err));
		if (r < 0) {
			job_finished(d, false, err, now);
			return;
		}
		d->unit_deadline_ms = now + d->cfg.unit_timeout_ms;
		d->unit_next_poll_ms = now;
		return;
	}
	const struct checkd_script_cfg *s = &d->cfg.scripts[script_of(j)];
	char *argv[] = {(char *)s->path, NULL};
	r = env_refresh(d);
	if (r >= 0) {
		log_info("running %s (%s, timeout %u ms)",
			 checkd_cfg_job_name(&d->cfg, j), s->path,
			 s->timeout_ms);
		r = checkd_proc_spawn(&d->job, checkd_cfg_job_name(&d->cfg, j),
				      argv, d->env.vars, d->cfg.dir,
				      s->timeout_ms, now, LOG_INFO);
	}
	if (r < 0) {
		snprintf(err, sizeof(err), "could not run %.180s: %s", s->path,
			 strerror(-r));
		job_finished(d, false, err, now);
	}
}

static void job_poll(struct checkd *d, int64_t now)
{
	char why[256], state[32];

	if (!d->job_running)
		return;
	if (!d->unit_mode) {
		if (!checkd_proc_poll(&d->job, now))
			return;
		checkd_proc_describe(&d->job, why, sizeof(why));
		job_finished(d, checkd_proc_ok(&d->job), why, now);
		return;
	}
	if (now < d->unit_next_poll_ms)
		return;
	d->unit_next_poll_ms = now + 100;
	int r = checkd_unit_state(&d->unit, state, sizeof(state));
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot read the state of %s: %s",
			 d->unit.name, strerror(-r));
		job_finished(d, false, why, now);
		return;
	}
	bool done = d->unit_job_start ? strcmp(state, "active") == 0
				      : strcmp(state, "inactive") == 0 ||
						strcmp(state, "failed") == 0;
	if (done) {
		job_finished(d, true, "", now);
	} else if (d->unit_job_start && strcmp(state, "failed") == 0) {
		snprintf(why, sizeof(why), "unit %s failed to start",
			 d->unit.name);
		job_finished(d, false, why, now);
	} else if (now >= d->unit_deadline_ms) {
		snprintf(why, sizeof(why), "unit %s still %s after %u ms",
			 d->unit.name, state, d->cfg.unit_timeout_ms);
		if (d->unit_job_start) /* never half-started */
			checkd_unit_request(&d->unit, false, why + strlen(why),
					    0);
		job_finished(d, false, why, now);
	}
}

static void checkers_reset(struct checkd *d, int64_t now)
{
	for (size_t i = 0; i < d->cfg.checker_count; i++) {
		struct checkd_checker_rt *c = &d->checkers[i];
		checkd_probe_close(&c->probe);
		checkd_damper_reset(&c->damper);
		c->next_run_ms = now;
	}
}

static void escalate(struct checkd *d, enum checkd_decision what,
		     const char *cause, int64_t now);

static void job_finished(struct checkd *d, bool ok, const char *why,
			 int64_t now)
{
	enum checkd_job j = d->app.job;
	d->job_running = false;
	d->publish_now = true;
	if (ok)
		log_info("%s done", checkd_cfg_job_name(&d->cfg, j));
	else
		log_error("%s failed: %s", checkd_cfg_job_name(&d->cfg, j),
			  why);
	if (j == CHECKD_JOB_START_PRIM && ok && !d->unit_mode)
		d->start_pid = d->job.reported_pid;
	checkd_app_done(&d->app, ok, why);
	if (j == CHECKD_JOB_START_PRIM)
		checkers_reset(d, now);
	if (j == CHECKD_JOB_START_PRIM && !ok && !d->app.restart_failed)
		event(d, "the application could not start here: %s",
		      d->app.reason);
	if (d->app.restart_failed) {
		d->app.restart_failed = false;
		size_t n = checkd_restarts_in_window(&d->restarts, now);
		enum checkd_decision dec =
			checkd_decide(&d->cfg, CHECKD_ACTION_RESTART, n);
		escalate(d, dec, d->app.reason, now);
	}
}

/* --- decisions ----------------------------------------------------------- */

static void ask_failover(struct checkd *d, const char *cause, int64_t now)
{
	char reason[CHECKD_REASON_MAX];
	json_t *reply = NULL;

	snprintf(reason, sizeof(reason), "checkd: %s", cause);
	json_t *req =
		json_pack("{s:s,s:s}", "command", "failover", "reason", reason);
	int r = req ? sky_ctl_call(d->ctl_ep, req, 2000, &reply) : -ENOMEM;
	json_decref(req);
	bool ok = r >= 0 && json_is_true(json_object_get(reply, "ok"));
	const char *err = json_string_value(json_object_get(reply, "error"));
	char why[200];
	if (r < 0)
		snprintf(why, sizeof(why), "heartbeatd did not answer: %s",
			 zmq_strerror(-r));
	else
		snprintf(why, sizeof(why), "%s", err ? err : "refused");
	json_decref(reply);
	if (ok) {
		d->failover_pending = true;
		d->failover_deadline_ms = now + d->cfg.failover_wait_ms;
		checkd_app_hold(&d->app, true);
		event(d,
		      "failover requested (%s): waiting for heartbeatd to "
		      "hand the module to %s",
		      cause, d->peer ? d->peer->name : "the other nodes");
		return;
	}
	log_warning("failover refused: %s", why);
	enum checkd_decision dec = checkd_decide_refused(&d->cfg);
	char cause2[CHECKD_REASON_MAX];
	snprintf(cause2, sizeof(cause2), "%.120s; failover refused: %.100s",
		 cause, why);
	escalate(d, dec, cause2, now);
}

static void escalate(struct checkd *d, enum checkd_decision what,
		     const char *cause, int64_t now)
{
	switch (what) {
	case CHECKD_DO_RESTART: {
		checkd_restarts_record(&d->restarts, now);
		size_t n = checkd_restarts_in_window(&d->restarts, now);
		checkd_app_hold(&d->app, false);
		if (d->app.state == CHECKD_APP_RUNNING)
			checkd_app_restart(&d->app);
		event(d, "restarting the application (%zu of %u in %u ms): %s",
		      n, d->cfg.restart_max, d->cfg.restart_window_ms, cause);
		break;
	}
	case CHECKD_DO_FAILOVER:
		ask_failover(d, cause, now);
		break;
	case CHECKD_DO_STOP:
		checkd_app_hold(&d->app, false);
		checkd_app_fail(&d->app, cause);
		event(d, "stopping the application here: %s", cause);
		break;
	case CHECKD_DO_NOTHING:
		break;
	}
}

static void on_checker_failed(struct checkd *d, struct checkd_checker_rt *c,
			      int64_t now)
{
	char cause[CHECKD_REASON_MAX];
	snprintf(cause, sizeof(cause),
		 "checker %s (%s) failed %u times: %.120s", c->cfg->name,
		 checkd_kind_name(c->cfg->kind), c->damper.consecutive,
		 c->last_error);
	if (d->failover_pending || d->app.job != CHECKD_JOB_NONE ||
	    !d->app.want_up || checkd_app_failed_now(&d->app)) {
		log_info("%s (no action: the application is already being "
			 "handled)",
			 cause);
		return;
	}
	size_t n = checkd_restarts_in_window(&d->restarts, now);
	escalate(d, checkd_decide(&d->cfg, c->cfg->action, n), cause, now);
}

/* --- checkers ------------------------------------------------------------ */

static void checker_result(struct checkd *d, struct checkd_checker_rt *c,
			   int64_t now)
{
	const struct checkd_probe *p = &c->probe;
	sky_strlcpy(c->last_error, p->ok ? "" : p->error,
		    sizeof(c->last_error));
	enum checkd_health before = c->damper.state;
	bool changed = checkd_damper_feed(&c->damper, p->ok);
	c->next_run_ms = p->started_ms + c->cfg->interval_ms;
	if (c->next_run_ms <= now)
		c->next_run_ms = now + 1;
	if (!p->ok)
		log_debug("checker %s: %s (%u in a row)", c->cfg->name,
			  p->error, c->damper.consecutive);
	if (!changed)
		return;
	d->publish_now = true;
	if (c->damper.state == CHECKD_HEALTH_FAILED) {
		log_warning("checker %s failed: %s", c->cfg->name, p->error);
		on_checker_failed(d, c, now);
	} else if (before == CHECKD_HEALTH_FAILED) {
		log_notice("checker %s ok again", c->cfg->name);
	} else {
		log_info("checker %s ok", c->cfg->name);
	}
}

static bool checkers_active(const struct checkd *d)
{
	return !d->checkers_off && d->app.state == CHECKD_APP_RUNNING &&
	       d->app.job == CHECKD_JOB_NONE && d->app.want_up;
}

static void checkers_step(struct checkd *d, const zmq_pollitem_t *items,
			  const int *item_of, size_t count, int64_t now)
{
	struct checkd_probe_ctx ctx = {
		.run_dir = d->run_dir,
		.cwd = d->cfg.dir,
		.start_pid = d->start_pid,
	};
	if (!checkers_active(d)) {
		for (size_t i = 0; i < d->cfg.checker_count; i++)
			if (d->checkers[i].probe.running)
				checkd_probe_cancel(&d->checkers[i].probe);
		return;
	}
	if (env_refresh(d) < 0)
		return;
	ctx.envp = d->env.vars;
	for (size_t i = 0; i < d->cfg.checker_count; i++) {
		struct checkd_checker_rt *c = &d->checkers[i];
		short revents = 0;
		for (size_t k = 0; k < count; k++) {
			if (item_of[k] != (int)i)
				continue;
			short z = items[k].revents;
			revents |= (short)((z & ZMQ_POLLIN ? POLLIN : 0) |
					   (z & ZMQ_POLLOUT ? POLLOUT : 0) |
					   (z & ZMQ_POLLERR ? POLLERR : 0));
		}
		if (c->probe.running) {
			if (checkd_probe_step(&c->probe, revents, now))
				checker_result(d, c, now);
			continue;
		}
		/* A watched process that exits is seen at once. */
		if (revents && c->probe.pidfd >= 0)
			c->next_run_ms = now;
		if (now < c->next_run_ms)
			continue;
		if (checkd_probe_start(&c->probe, &ctx, now))
			checker_result(d, c, now);
		if (!checkers_active(d))
			return; /* an action began */
	}
}

/* --- the bus ------------------------------------------------------------- */

/*
 * The operator's restart in place and checkers on/off (skyctl or healthd's
 * API, through heartbeatd's control socket and desired state). A restart
 * is asked by a new app_restart value; the one found at checkd's start is
 * not a request (it may be hours old).
 */
static void operator_word(struct checkd *d, const struct checkd_desired *des,
			  bool first_word)
{
	if (des->checkers_off != d->checkers_off) {
		d->checkers_off = des->checkers_off;
		event(d, "checkers %s by the operator",
		      d->checkers_off ? "off" : "on");
	}
	if (des->app_restart == d->app_restart_seen)
		return;
	d->app_restart_seen = des->app_restart;
	if (first_word || !des->app_restart)
		return;
	if (!d->app.want_up || d->app.state != CHECKD_APP_RUNNING ||
	    d->app.job != CHECKD_JOB_NONE) {
		event(d, "restart asked by the operator: not done, the "
			 "application is not running here");
		return;
	}
	checkd_app_restart(&d->app);
	event(d, "restarting the application in place: asked by the "
		 "operator");
}

static void on_bus(struct checkd *d, int64_t now)
{
	char topic[SKY_TOPIC_MAX], why[160];
	json_t *msg;

	for (int budget = 64; budget > 0; budget--) {
		int r = sky_bus_recv(d->sub, topic, sizeof(topic),
				     SKY_BUS_MSG_MAX, &msg);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			d->bus_bad_messages++;
			sky_log_ratelimited(&d->rl_bus, LOG_WARNING,
					    "dropped a malformed bus message");
			continue;
		}
		if (strcmp(topic, d->topic_status) == 0) {
			if (d->heard_desired && !d->app.up_this_term &&
			    d->app.want_up &&
			    checkd_msg_status_counts_up(msg, d->app.epoch))
				checkd_app_resume_term(&d->app);
			json_decref(msg);
			continue;
		}
		if (strcmp(topic, d->topic_desired) != 0) {
			json_decref(msg);
			continue;
		}
		struct checkd_desired des;
		r = checkd_msg_desired(msg, d->mod.module, d->self->name, &des,
				       why, sizeof(why));
		json_decref(msg);
		if (r < 0) {
			d->bus_bad_messages++;
			sky_log_ratelimited(&d->rl_bus, LOG_WARNING,
					    "dropped desired state: %s", why);
			continue;
		}
		const char *role = sky_role_name(des.role);
		bool was_up = d->app.want_up && d->app.have_desired;
		if (!d->heard_desired || strcmp(role, d->role) != 0 ||
		    des.epoch != d->app.epoch ||
		    (des.target &&
		     (!d->app.have_desired ||
		      (strcmp(des.target, "up") == 0) != d->app.want_up))) {
			log_info("heartbeatd: %s epoch %llu, checkd target %s",
				 role, (unsigned long long)des.epoch,
				 des.target ? des.target : "(not asked yet)");
			sky_log_set_role(role);
			d->publish_now = true;
		}
		struct sky_desired word = {.role = des.role,
					   .epoch = des.epoch,
					   .target = des.target,
					   .valid_ms = des.valid_ms,
					   .sent_ms = des.sent_ms};
		sky_desired_lease_renew(&d->word, SKY_ACT_CHECKD, &word, now);
		bool first_word = !d->heard_desired;
		d->heard_desired = true;
		sky_strlcpy(d->role, role, sizeof(d->role));
		checkd_app_desired(&d->app, des.target,
				   des.role != SKY_ROLE_STOP, des.epoch);
		operator_word(d, &des, first_word);
		if (d->failover_pending && was_up && !d->app.want_up) {
			d->failover_pending = false;
			event(d,
			      "failover carried out: heartbeatd made this "
			      "node %s",
			      role);
		}
	}
}

json_t *checkd_actual_json(const struct checkd *d, int64_t now)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->cfg.checker_count; i++) {
		const struct checkd_checker_rt *c = &d->checkers[i];
		json_array_append_new(
			list,
			json_pack("{s:s,s:s,s:s,s:s,s:I,s:b,s:s}", "name",
				  c->cfg->name, "kind",
				  checkd_kind_name(c->cfg->kind), "action",
				  checkd_action_name(c->cfg->action), "state",
				  checkd_health_name(c->damper.state),
				  "consecutive",
				  (json_int_t)c->damper.consecutive, "last_ok",
				  c->damper.runs ? c->damper.last_ok : 0,
				  "last_error", c->last_error));
	}
	struct checkd_restarts r = d->restarts;
	const char *state = checkd_app_report(&d->app);
	const char *reason =
		strcmp(state, "failed") == 0 ? d->app.reason : d->last_event;
	return json_pack(
		"{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:b,s:s,s:I,"
		"s:b}",
		"module", d->mod.module, "daemon", "checkd", "node",
		d->self->name, "epoch", (json_int_t)d->app.epoch, "state",
		state, "reason", reason, "app", checkd_app_describe(&d->app),
		"action", checkd_cfg_job_name(&d->cfg, d->app.job), "checkers",
		list, "restarts_in_window",
		(json_int_t)checkd_restarts_in_window(&r, now), "restart_max",
		(json_int_t)d->cfg.restart_max, "restart_window_ms",
		(json_int_t)d->cfg.restart_window_ms, "failover_pending",
		d->failover_pending, "target",
		!d->app.have_desired ? ""
		: d->app.want_up     ? "up"
				     : "down",
		"app_pid", (json_int_t)d->start_pid, "checkers_enabled",
		!d->checkers_off);
}

static void publish(struct checkd *d, int64_t now)
{
	json_t *obj = checkd_actual_json(d, now);
	if (obj) {
		sky_bus_publish(d->pub, d->topic_actual, obj);
		sky_bus_write_state_file(d->run_dir, "checkd", obj);
	}
	json_decref(obj);
	d->next_publish_ms = now + SKY_PUBLISH_PERIOD_MS;
	d->publish_now = false;
	char status[200];
	snprintf(status, sizeof(status), "%s, target %s, app %s; %s",
		 d->heard_desired ? d->role : "no word from heartbeatd",
		 !d->app.have_desired ? "none"
		 : d->app.want_up     ? "up"
				      : "down",
		 checkd_app_describe(&d->app), checkd_app_report(&d->app));
	sky_notify_status(status);
}

/* --- the loop ------------------------------------------------------------ */

static void tick(struct checkd *d, const zmq_pollitem_t *items,
		 const int *item_of, size_t count, int64_t now)
{
	job_poll(d, now);
	checkers_step(d, items, item_of, count, now);
	if (d->failover_pending && now >= d->failover_deadline_ms) {
		d->failover_pending = false;
		log_warning("heartbeatd accepted the failover but did not "
			    "carry it out within %u ms",
			    d->cfg.failover_wait_ms);
		escalate(d, checkd_decide_refused(&d->cfg),
			 "failover not carried out", now);
	}
	/* heartbeatd's word is too old to keep the application up on. */
	bool silent = sky_desired_lease_expired(&d->word, now);
	if (silent != d->app.silenced) {
		char why[160];
		sky_desired_lease_why(&d->word, now, why, sizeof(why));
		if (silent)
			event(d,
			      "%s: stopping the application until it speaks "
			      "again",
			      why);
		else
			event(d, "heartbeatd speaks again");
		checkd_app_silence(&d->app, silent);
	}
	if (!d->job_running) {
		enum checkd_job j = checkd_app_next(&d->app);
		if (j != CHECKD_JOB_NONE)
			job_start(d, j, now);
	}
	if (d->publish_now || now >= d->next_publish_ms)
		publish(d, now);
	sky_notify_watchdog(now);
}

int checkd_open(struct checkd *d, const struct sky_config *mod,
		const struct checkd_cfg *cfg, const char *node,
		const char *run_dir)
{
	char ep[PATH_MAX + 16], err[512];
	int r;

	memset(d, 0, sizeof(*d));
	d->mod = *mod;
	d->cfg = *cfg;
	checkd_proc_init(&d->job);
	d->self = sky_config_node(&d->mod, node);
	if (!d->self) {
		log_error("%s: this node '%s' is not in nodes (use --node)",
			  mod->path, node);
		return -ENOENT;
	}
	/* A farm's application has no one peer; a light module none. */
	d->peer = mod->type == SKY_MODULE_MIRROR
			  ? sky_config_peer(&d->mod, d->self)
			  : NULL;
	if (d->peer)
		sky_log_set_peer(d->peer->name);
	sky_strlcpy(d->role, "UNKNOWN", sizeof(d->role));
	r = snprintf(d->run_dir, sizeof(d->run_dir), "%s/%s", run_dir,
		     mod->module);
	if (r < 0 || (size_t)r >= sizeof(d->run_dir))
		return -ENAMETOOLONG;
	r = sky_mkdir_p(d->run_dir, 0755);
	if (r < 0) {
		log_error("cannot create %s: %s", d->run_dir, strerror(-r));
		return r;
	}
	checkd_app_init(&d->app, d->cfg.scripts[CHECKD_START_BOTH].set);
	checkd_restarts_init(&d->restarts, d->cfg.restart_max,
			     d->cfg.restart_window_ms);
	for (size_t i = 0; i < d->cfg.checker_count; i++) {
		struct checkd_checker_rt *c = &d->checkers[i];
		struct checkd_checker_cfg *cc = &d->cfg.checkers[i];
		if (cc->addr_self) {
			cc->addr = d->self->addrs[0];
			checkd_cfg_set_port(cc);
		}
		c->cfg = cc;
		checkd_probe_init(&c->probe, c->cfg);
		checkd_damper_init(&c->damper, c->cfg->fail_after,
				   c->cfg->ok_after);
	}
	if (d->cfg.unit[0]) {
		d->unit_mode = true;
		r = checkd_unit_open(&d->unit, d->cfg.unit, err, sizeof(err));
		if (r < 0) {
			log_error("%s", err);
			return r;
		}
	}
	if (sky_bus_endpoint(d->ctl_ep, sizeof(d->ctl_ep), run_dir, mod->module,
			     SKY_EP_CTL) < 0 ||
	    sky_bus_topic(d->topic_desired, sizeof(d->topic_desired),
			  mod->module, "heartbeatd", SKY_KIND_DESIRED) < 0 ||
	    sky_bus_topic(d->topic_status, sizeof(d->topic_status), mod->module,
			  "heartbeatd", SKY_KIND_STATUS) < 0 ||
	    sky_bus_topic(d->topic_actual, sizeof(d->topic_actual), mod->module,
			  "checkd", SKY_KIND_ACTUAL) < 0)
		return -ENAMETOOLONG;
	r = sky_bus_open_actuator(run_dir, mod->module, true, &d->sub, &d->pub,
				  ep, sizeof(ep));
	if (r < 0) {
		log_error("cannot connect to %s: %s", ep, zmq_strerror(-r));
		return r;
	}
	return 0;
}

/* Run one action to its end, now (shutdown). */
static void run_sync(struct checkd *d, enum checkd_job j)
{
	d->app.job = j;
	int64_t now = sky_now_ms();
	job_start(d, j, now);
	while (d->job_running) {
		usleep(10000);
		job_poll(d, sky_now_ms());
	}
}

int checkd_run(struct checkd *d)
{
	zmq_pollitem_t items[2 + 2 * CHECKD_MAX_CHECKERS];
	int item_of[2 + 2 * CHECKD_MAX_CHECKERS];

	sky_stop_signals_install();
	log_notice("checkd for module %s on node %s started: %zu checkers, "
		   "%s, restart at most %u times in %u ms, then %s",
		   d->mod.module, d->self->name, d->cfg.checker_count,
		   d->unit_mode ? "systemd unit" : "scripts",
		   d->cfg.restart_max, d->cfg.restart_window_ms,
		   checkd_action_name(d->cfg.escalation));
	sky_notify_ready("waiting for heartbeatd's desired state");

	while (!sky_stop_requested()) {
		size_t count = 0;

		if (sky_reload_requested())
			sky_cli_reload();
		items[count] = (zmq_pollitem_t){.socket = d->sub,
						.events = ZMQ_POLLIN};
		item_of[count++] = -1;
		if (d->job_running && d->job.out_fd >= 0) {
			items[count] = (zmq_pollitem_t){.fd = d->job.out_fd,
							.events = ZMQ_POLLIN};
			item_of[count++] = -1;
		}
		for (size_t i = 0; i < d->cfg.checker_count; i++) {
			struct checkd_probe *p = &d->checkers[i].probe;
			short ev = 0;
			int fd = checkd_probe_fd(p, &ev);
			if (fd >= 0 && ev) {
				/* ZMQ_POLLOUT is not POLLOUT: translate. */
				short zev =
					(short)((ev & POLLIN ? ZMQ_POLLIN : 0) |
						(ev & POLLOUT ? ZMQ_POLLOUT
							      : 0));
				items[count] = (zmq_pollitem_t){.fd = fd,
								.events = zev};
				item_of[count++] = (int)i;
			} else if (!p->running && p->pidfd >= 0) {
				items[count] = (zmq_pollitem_t){
					.fd = p->pidfd, .events = ZMQ_POLLIN};
				item_of[count++] = (int)i;
			}
		}
		int r = zmq_poll(items, (int)count, 20);
		if (r < 0 && errno != EINTR) {
			log_error("zmq_poll: %s", zmq_strerror(errno));
			return -errno;
		}
		if (r <= 0)
			for (size_t k = 0; k < count; k++)
				items[k].revents = 0;
		int64_t now = sky_now_ms();
		on_bus(d, now);
		tick(d, items, item_of, count, now);
	}

	sky_notify_stopping();
	log_notice("shutting down: stopping the application");
	if (d->job_running && !d->unit_mode) {
		checkd_proc_abort(&d->job);
		char why[64] = "interrupted by shutdown";
		checkd_app_done(&d->app, false, why);
		d->job_running = false;
	}
	for (size_t i = 0; i < d->cfg.checker_count; i++)
		checkd_probe_close(&d->checkers[i].probe);
	if (d->app.state != CHECKD_APP_STOPPED || d->app.cleanup_pending ||
	    d->app.up_this_term)
		run_sync(d, CHECKD_JOB_STOP_PRIM);
	if (d->app.both_started)
		run_sync(d, CHECKD_JOB_STOP_BOTH);
	d->app.want_up = false;
	publish(d, sky_now_ms());
	return 0;
}

void checkd_close(struct checkd *d)
{
	for (size_t i = 0; i < d->cfg.checker_count; i++)
		checkd_probe_close(&d->checkers[i].probe);
	checkd_proc_abort(&d->job);
	checkd_unit_close(&d->unit);
	if (d->env_built)
		checkd_env_free(&d->env);
	sky_bus_close(&d->sub);
	sky_bus_close(&d->pub);
	sky_bus_shutdown();
}
