/*
 * cfg.c - the `checkd:` section (see cfg.h and docs/config.md).
 *
 * Walks libyaml's tree with shared/yamlcfg.h so that every error names the
 * file, line, column and dotted field. Cross-field rules (a checker's
 * timeout within its interval, kind-specific fields present, scripts or a
 * unit but not both) are checked after each mapping is read, at the
 * mapping's own position.
 */
#include "cfg.h"
#include "app.h"
#include "yamlcfg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECKD_FILE_MAX (256 * 1024)

static const char *const kind_names[CHECKD_KIND_COUNT] = {
	[CHECKD_KIND_PROCESS] = "process",     [CHECKD_KIND_TCP] = "tcp",
	[CHECKD_KIND_HTTP] = "http",	       [CHECKD_KIND_ICMP] = "icmp",
	[CHECKD_KIND_INTERFACE] = "interface", [CHECKD_KIND_CUSTOM] = "custom",
};

const char *checkd_kind_name(enum checkd_kind k)
{
	return (unsigned)k < CHECKD_KIND_COUNT ? kind_names[k] : "?";
}

const char *checkd_action_name(enum checkd_action a)
{
	switch (a) {
	case CHECKD_ACTION_RESTART:
		return "restart";
	case CHECKD_ACTION_FAILOVER:
		return "failover";
	case CHECKD_ACTION_STOP:
		return "stop";
	}
	return "?";
}

static const char *const script_names[CHECKD_SCRIPT_COUNT] = {
	[CHECKD_START_PRIM] = "start_prim",
	[CHECKD_STOP_PRIM] = "stop_prim",
	[CHECKD_START_BOTH] = "start_both",
	[CHECKD_STOP_BOTH] = "stop_both",
};

const char *checkd_script_name(enum checkd_script s)
{
	return (unsigned)s < CHECKD_SCRIPT_COUNT ? script_names[s] : "?";
}

void checkd_cfg_set_port(struct checkd_checker_cfg *ck)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ck->addr.sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ck->addr.sa;
	if (ck->addr.sa.ss_family == AF_INET)
		in4->sin_port = htons(ck->port);
	else if (ck->addr.sa.ss_family == AF_INET6)
		in6->sin6_port = htons(ck->port);
}

struct loader {
	struct checkd_cfg *cfg;
	const yaml_node_t *section;
	/* the checker being read */
	struct checkd_checker_cfg *ck;
	char field[96]; /* "checkd.checkers[2]" */
	bool have_name, have_kind, have_timeout, have_action, have_port,
		have_addr, have_pid, have_expect;
	const yaml_node_t *at_timeout, *at_action;
	/* the script being read */
	enum checkd_script script;
	bool farm; /* module.type is farm or light */
};

/* "section.key" into buf. */
static const char *fieldname(char *buf, size_t size, const char *section,
			     const char *key)
{
	snprintf(buf, size, "%s.%s", section, key);
	return buf;
}

/* Resolve path against the config folder; check it is executable. */
static int exec_path(struct sky_yaml *ctx, const yaml_node_t *v,
		     const char *field, const char *dir, char *out, size_t size)
{
	char rel[PATH_MAX];
	int r = sky_yaml_string(ctx, v, field, rel, sizeof(rel));
	if (r < 0)
		return r;
	if (!rel[0])
		return sky_yaml_fail(ctx, v, field, "must not be empty");
	if (rel[0] == '/')
		r = snprintf(out, size, "%s", rel);
	else
		r = snprintf(out, size, "%s/%s", dir, rel);
	if (r < 0 || (size_t)r >= size)
		return sky_yaml_fail(ctx, v, field, "path too long");
	struct stat st;
	if (stat(out, &st) < 0)
		return sky_yaml_fail(ctx, v, field, "cannot use %s: %s", out,
				     strerror(errno));
	if (!S_ISREG(st.st_mode) || access(out, X_OK) < 0)
		return sky_yaml_fail(ctx, v, field,
				     "%s is not an executable file", out);
	return 0;
}

static int script_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		       void *data)
{
	struct loader *l = data;
	struct checkd_script_cfg *s = &l->cfg->scripts[l->script];
	char section[64], f[96];
	snprintf(section, sizeof(section), "checkd.scripts.%s",
		 script_names[l->script]);
	if (strcmp(key, "path") == 0) {
		s->set = true;
		return exec_path(ctx, v, fieldname(f, sizeof(f), section, key),
				 l->cfg->dir, s->path, sizeof(s->path));
	}
	if (strcmp(key, "timeout_ms") == 0)
		return sky_yaml_u32(ctx, v,
				    fieldname(f, sizeof(f), section, key), 100,
				    3600000, &s->timeout_ms);
	return sky_yaml_unknown_key(ctx, v, section, key);
}

static int scripts_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	char f[96];
	for (int i = 0; i < CHECKD_SCRIPT_COUNT; i++) {
		if (strcmp(key, script_names[i]) != 0)
			continue;
		struct checkd_script_cfg *s = &l->cfg->scripts[i];
		fieldname(f, sizeof(f), "checkd.scripts", key);
		if (v->type == YAML_SCALAR_NODE) { /* short form: a path */
			s->set = true;
			return exec_path(ctx, v, f, l->cfg->dir, s->path,
					 sizeof(s->path));
		}
		l->script = (enum checkd_script)i;
		int r = sky_yaml_each(ctx, v, f, script_pair, l);
		if (r >= 0 && !s->set)
			r = sky_yaml_fail(ctx, v, f, "path: required");
		return r;
	}
	return sky_yaml_unknown_key(ctx, v, "checkd.scripts", key);
}

static int restart_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	if (strcmp(key, "max") == 0)
		return sky_yaml_u32(ctx, v, "checkd.restart.max", 0, 100,
				    &l->cfg->restart_max);
	if (strcmp(key, "window_ms") == 0)
		return sky_yaml_u32(ctx, v, "checkd.restart.window_ms", 1000,
				    86400000, &l->cfg->restart_window_ms);
	return sky_yaml_unknown_key(ctx, v, "checkd.restart", key);
}

static int parse_action(struct sky_yaml *ctx, const yaml_node_t *v,
			const char *field, unsigned allowed,
			enum checkd_action *out)
{
	const char *s = sky_yaml_scalar(v);
	char list[64] = "";
	for (int a = 0; a <= CHECKD_ACTION_STOP; a++) {
		if (!(allowed & (1u << a)))
			continue;
		if (s && strcmp(s, checkd_action_name(a)) == 0) {
			*out = (enum checkd_action)a;
			return 0;
		}
		size_t n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%s", n ? " or " : "",
			 checkd_action_name(a));
	}
	return sky_yaml_fail(ctx, v, field, "must be %s", list);
}

#define ALLOW(a) (1u << (a))

static int env_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		    void *data)
{
	struct loader *l = data;
	struct checkd_cfg *c = l->cfg;
	char f[96];
	fieldname(f, sizeof(f), "checkd.environment", key);
	size_t n = strlen(key);
	bool ok = n > 0 && n < CHECKD_ENV_NAME_MAX &&
		  (isupper((unsigned char)key[0]) || key[0] == '_');
	for (size_t i = 0; ok && i < n; i++)
		ok = isupper((unsigned char)key[i]) ||
		     isdigit((unsigned char)key[i]) || key[i] == '_';
	if (!ok)
		return sky_yaml_fail(ctx, v, f,
				     "a variable name is [A-Z_][A-Z0-9_]*, "
				     "at most %d characters",
				     CHECKD_ENV_NAME_MAX - 1);
	if (strncmp(key, "SKYHA_", 6) == 0)
		return sky_yaml_fail(ctx, v, f,
				     "SKYHA_ variables are set by checkd");
	if (c->env_count >= CHECKD_MAX_ENV)
		return sky_yaml_fail(ctx, v, f, "at most %d variables",
				     CHECKD_MAX_ENV);
	struct checkd_env *e = &c->env[c->env_count];
	int r = sky_yaml_string(ctx, v, f, e->value, sizeof(e->value));
	if (r < 0)
		return r;
	sky_strlcpy(e->name, key, sizeof(e->name));
	c->env_count++;
	return 0;
}

static int checker_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	struct checkd_checker_cfg *ck = l->ck;
	char f[160];
	fieldname(f, sizeof(f), l->field, key);

	if (strcmp(key, "name") == 0) {
		l->have_name = true;
		return sky_yaml_name(ctx, v, f, ck->name);
	}
	if (strcmp(key, "kind") == 0) {
		const char *s = sky_yaml_scalar(v);
		for (int k = 0; s && k < CHECKD_KIND_COUNT; k++)
			if (strcmp(s, kind_names[k]) == 0) {
				ck->kind = (enum checkd_kind)k;
				l->have_kind = true;
				return 0;
			}
		return sky_yaml_fail(ctx, v, f,
				     "must be process, tcp, http, icmp, "
				     "interface or custom");
	}
	if (strcmp(key, "interval_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 20, 3600000, &ck->interval_ms);
	if (strcmp(key, "timeout_ms") == 0) {
		l->have_timeout = true;
		l->at_timeout = v;
		return sky_yaml_u32(ctx, v, f, 10, 3600000, &ck->timeout_ms);
	}
	if (strcmp(key, "fail_after") == 0)
		return sky_yaml_u32(ctx, v, f, 1, 100, &ck->fail_after);
	if (strcmp(key, "ok_after") == 0)
		return sky_yaml_u32(ctx, v, f, 1, 100, &ck->ok_after);
	if (strcmp(key, "action") == 0) {
		l->have_action = true;
		l->at_action = v;
		return parse_action(ctx, v, f,
				    ALLOW(CHECKD_ACTION_RESTART) |
					    ALLOW(CHECKD_ACTION_FAILOVER) |
					    ALLOW(CHECKD_ACTION_STOP),
				    &ck->action);
	}
	if (strcmp(key, "pidfile") == 0) {
		l->have_pid = true;
		ck->pid_source = CHECKD_PID_FILE;
		int r = sky_yaml_string(ctx, v, f, ck->pidfile,
					sizeof(ck->pidfile));
		if (r >= 0 && !ck->pidfile[0])
			r = sky_yaml_fail(ctx, v, f, "must not be empty");
		return r;
	}
	if (strcmp(key, "from_start") == 0) {
		bool b;
		int r = sky_yaml_bool(ctx, v, f, &b);
		if (r < 0)
			return r;
		if (!b)
			return sky_yaml_fail(ctx, v, f,
					     "only 'true' makes sense here "
					     "(or use pidfile/exe)");
		l->have_pid = true;
		ck->pid_source = CHECKD_PID_START;
		return 0;
	}
	if (strcmp(key, "exe") == 0) {
		l->have_pid = true;
		ck->pid_source = CHECKD_PID_EXE;
		const char *s = sky_yaml_scalar(v);
		if (!s || !*s || strlen(s) >= sizeof(ck->exe) || strchr(s, '/'))
			return sky_yaml_fail(
				ctx, v, f,
				"must be a command name of 1..15 characters "
				"without '/' (as in /proc/PID/comm)");
		sky_strlcpy(ck->exe, s, sizeof(ck->exe));
		return 0;
	}
	if (strcmp(key, "address") == 0) {
		l->have_addr = true;
		const char *a = sky_yaml_scalar(v);
		if (a && strcmp(a, "self") == 0) {
			ck->addr_self = true;
			return 0;
		}
		return sky_yaml_addr(ctx, v, f, &ck->addr);
	}
	if (strcmp(key, "port") == 0) {
		uint32_t p;
		int r = sky_yaml_u32(ctx, v, f, 1, 65535, &p);
		ck->port = (uint16_t)p;
		l->have_port = true;
		return r;
	}
	if (strcmp(key, "path") == 0) {
		int r = sky_yaml_string(ctx, v, f, ck->http_path,
					sizeof(ck->http_path));
		if (r < 0)
			return r;
		if (ck->http_path[0] != '/')
			return sky_yaml_fail(ctx, v, f, "must start with '/'");
		for (const char *p = ck->http_path; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return sky_yaml_fail(
					ctx, v, f,
					"must not contain spaces or control "
					"characters (URL-encode them)");
		return 0;
	}
	if (strcmp(key, "expect_status") == 0) {
		l->have_expect = true;
		return sky_yaml_u32(ctx, v, f, 100, 599, &ck->expect_status);
	}
	if (strcmp(key, "interface") == 0) {
		const char *s = sky_yaml_scalar(v);
		if (!s || !*s || strlen(s) >= IFNAMSIZ || strchr(s, '/') ||
		    strchr(s, ' '))
			return sky_yaml_fail(ctx, v, f,
					     "must be an interface name of "
					     "1..%d characters",
					     IFNAMSIZ - 1);
		sky_strlcpy(ck->ifname, s, sizeof(ck->ifname));
		return 0;
	}
	if (strcmp(key, "command") == 0)
		return exec_path(ctx, v, f, l->cfg->dir, ck->command,
				 sizeof(ck->command));
	return sky_yaml_unknown_key(ctx, v, l->field, key);
}

/* Which kind-specific keys each kind needs or accepts. */
static int checker_validate(struct sky_yaml *ctx, struct loader *l,
			    const yaml_node_t *v)
{
	struct checkd_checker_cfg *ck = l->ck;
	char f[160];

	if (!l->have_name)
		return sky_yaml_fail(ctx, v,
				     fieldname(f, sizeof(f), l->field, "name"),
				     "required");
	if (!l->have_kind)
		return sky_yaml_fail(ctx, v,
				     fieldname(f, sizeof(f), l->field, "kind"),
				     "required (process, tcp, http, icmp, "
				     "interface or custom)");
	if (!l->have_timeout)
		ck->timeout_ms =
			ck->interval_ms < 1000 ? ck->interval_ms : 1000;
	if (ck->timeout_ms > ck->interval_ms)
		return sky_yaml_fail(
			ctx, l->at_timeout,
			fieldname(f, sizeof(f), l->field, "timeout_ms"),
			"must not exceed interval_ms (%u), got %u",
			ck->interval_ms, ck->timeout_ms);
	bool need_addr = ck->kind == CHECKD_KIND_TCP ||
			 ck->kind == CHECKD_KIND_HTTP ||
			 ck->kind == CHECKD_KIND_ICMP;
	bool need_port =
		ck->kind == CHECKD_KIND_TCP || ck->kind == CHECKD_KIND_HTTP;
	const char *kn = kind_names[ck->kind];
	if (need_addr && !l->have_addr)
		return sky_yaml_fail(
			ctx, v, fieldname(f, sizeof(f), l->field, "address"),
			"required for a %s checker", kn);
	if (need_port && !l->have_port)
		return sky_yaml_fail(ctx, v,
				     fieldname(f, sizeof(f), l->field, "port"),
				     "required for a %s checker", kn);
	if (!need_addr && (l->have_addr || l->have_port))
		return sky_yaml_fail(ctx, v, l->field,
				     "address/port do not apply to a %s "
				     "checker",
				     kn);
	if (ck->kind == CHECKD_KIND_ICMP && l->have_port)
		return sky_yaml_fail(ctx, v, l->field,
				     "port does not apply to an icmp checker");
	if (ck->kind == CHECKD_KIND_PROCESS && !l->have_pid)
		return sky_yaml_fail(ctx, v, l->field,
				     "a process checker needs pidfile, "
				     "from_start: true, or exe");
	if (ck->kind != CHECKD_KIND_PROCESS && l->have_pid)
		return sky_yaml_fail(ctx, v, l->field,
				     "pidfile/from_start/exe apply to process "
				     "checkers only");
	if (ck->kind != CHECKD_KIND_HTTP &&
	    (ck->http_path[0] || l->have_expect))
		return sky_yaml_fail(ctx, v, l->field,
				     "path/expect_status apply to http "
				     "checkers only");
	if (ck->kind == CHECKD_KIND_HTTP && !ck->http_path[0])
		sky_strlcpy(ck->http_path, "/", sizeof(ck->http_path));
	if ((ck->kind == CHECKD_KIND_INTERFACE) != (ck->ifname[0] != 0))
		return sky_yaml_fail(ctx, v, l->field,
				     ck->ifname[0]
					     ? "interface applies to interface "
					       "checkers only"
					     : "an interface checker needs "
					       "interface: NAME");
	if ((ck->kind == CHECKD_KIND_CUSTOM) != (ck->command[0] != 0))
		return sky_yaml_fail(ctx, v, l->field,
				     ck->command[0]
					     ? "command applies to custom "
					       "checkers only"
					     : "a custom checker needs "
					       "command: PATH");
	/* A link that is down is not fixed by restarting the application. */
	if (ck->kind == CHECKD_KIND_INTERFACE) {
		if (!l->have_action)
			ck->action = CHECKD_ACTION_FAILOVER;
		else if (ck->action == CHECKD_ACTION_RESTART)
			return sky_yaml_fail(
				ctx, l->at_action,
				fieldname(f, sizeof(f), l->field, "action"),
				"an interface checker cannot restart the "
				"application: use failover or stop");
	}
	if (ck->kind == CHECKD_KIND_PROCESS &&
	    ck->pid_source == CHECKD_PID_FILE && ck->pidfile[0] != '/' &&
	    strstr(ck->pidfile, ".."))
		return sky_yaml_fail(ctx, v, l->field,
				     "a relative pidfile must stay inside the "
				     "run directory (no '..')");
	return 0;
}

static int load_checkers(struct sky_yaml *ctx, struct loader *l,
			 yaml_node_t *seq)
{
	struct checkd_cfg *c = l->cfg;
	size_t n = sky_yaml_seq_len(seq);

	if (seq->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(ctx, seq, "checkd.checkers",
				     "must be a list of checkers");
	if (n > CHECKD_MAX_CHECKERS)
		return sky_yaml_fail(ctx, seq, "checkd.checkers",
				     "at most %d checkers, got %zu",
				     CHECKD_MAX_CHECKERS, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = sky_yaml_seq_item(ctx, seq, i);
		struct checkd_checker_cfg *ck = &c->checkers[i];
		memset(ck, 0, sizeof(*ck));
		ck->interval_ms = 1000;
		ck->fail_after = 3;
		ck->ok_after = 2;
		ck->action = CHECKD_ACTION_RESTART;
		l->ck = ck;
		l->have_name = l->have_kind = l->have_timeout = l->have_action =
			l->have_port = l->have_addr = l->have_pid =
				l->have_expect = false;
		l->at_timeout = l->at_action = item;
		snprintf(l->field, sizeof(l->field), "checkd.checkers[%zu]", i);
		if (!item)
			return sky_yaml_fail(ctx, seq, l->field, "unreadable");
		int r = sky_yaml_each(ctx, item, l->field, checker_pair, l);
		if (r >= 0)
			r = checker_validate(ctx, l, item);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->checkers[j].name, ck->name) == 0)
				return sky_yaml_fail(ctx, item, l->field,
						     "name '%s' is used twice",
						     ck->name);
		if (!ck->addr_self)
			checkd_cfg_set_port(ck);
	}
	c->checker_count = n;
	return 0;
}

static int section_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	struct checkd_cfg *c = l->cfg;
	if (strcmp(key, "scripts") == 0)
		return sky_yaml_each(ctx, v, "checkd.scripts", scripts_pair, l);
	if (strcmp(key, "unit") == 0) {
		int r = sky_yaml_string(ctx, v, "checkd.unit", c->unit,
					sizeof(c->unit));
		if (r < 0)
			return r;
		size_t n = strlen(c->unit);
		bool ok =
			n > 0 && strchr(c->unit, '.') && !strchr(c->unit, '/');
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)c->unit[i]) ||
			     strchr(":-_.\\@", c->unit[i]);
		if (!ok)
			return sky_yaml_fail(ctx, v, "checkd.unit",
					     "must be a systemd unit name such "
					     "as myapp.service");
		return 0;
	}
	if (strcmp(key, "unit_timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, "checkd.unit_timeout_ms", 100,
				    3600000, &c->unit_timeout_ms);
	if (strcmp(key, "restart") == 0)
		return sky_yaml_each(ctx, v, "checkd.restart", restart_pair, l);
	if (strcmp(key, "escalation") == 0)
		return parse_action(ctx, v, "checkd.escalation",
				    ALLOW(CHECKD_ACTION_FAILOVER) |
					    ALLOW(CHECKD_ACTION_STOP),
				    &c->escalation);
	if (strcmp(key, "failover_refused") == 0)
		return parse_action(ctx, v, "checkd.failover_refused",
				    ALLOW(CHECKD_ACTION_RESTART) |
					    ALLOW(CHECKD_ACTION_STOP),
				    &c->failover_refused);
	if (strcmp(key, "failover_wait_ms") == 0)
		return sky_yaml_u32(ctx, v, "checkd.failover_wait_ms", 1000,
				    600000, &c->failover_wait_ms);
	if (strcmp(key, "environment") == 0)
		return sky_yaml_each(ctx, v, "checkd.environment", env_pair, l);
	if (strcmp(key, "checkers") == 0)
		return load_checkers(ctx, l, v);
	return sky_yaml_unknown_key(ctx, v, "checkd", key);
}

static int validate(struct sky_yaml *ctx, struct loader *l)
{
	struct checkd_cfg *c = l->cfg;
	const yaml_node_t *at = l->section;
	bool any_script = false;
	for (int i = 0; i < CHECKD_SCRIPT_COUNT; i++)
		any_script |= c->scripts[i].set;
	if (c->unit[0] && any_script)
		return sky_yaml_fail(ctx, at, "checkd",
				     "use either scripts or unit, not both");
	if (!c->unit[0] && l->farm) {
		/* SafeKit's names: a farm starts its application on every
		 * node with start_both; there is no primary. */
		if (c->scripts[CHECKD_START_PRIM].set ||
		    c->scripts[CHECKD_STOP_PRIM].set)
			return sky_yaml_fail(ctx, at, "checkd.scripts",
					     "a farm module runs start_both "
					     "and stop_both on "
					     "every UP node: start_prim and "
					     "stop_prim belong "
					     "to a mirror module");
		if (!c->scripts[CHECKD_START_BOTH].set ||
		    !c->scripts[CHECKD_STOP_BOTH].set)
			return sky_yaml_fail(
				ctx, at, "checkd.scripts",
				"start_both and stop_both are required in a "
				"farm "
				"module (or name a systemd unit with unit:)");
		c->scripts[CHECKD_START_PRIM] = c->scripts[CHECKD_START_BOTH];
		c->scripts[CHECKD_STOP_PRIM] = c->scripts[CHECKD_STOP_BOTH];
		c->scripts[CHECKD_START_BOTH].set = false;
		c->scripts[CHECKD_STOP_BOTH].set = false;
	} else if (!c->unit[0]) {
		if (!c->scripts[CHECKD_START_PRIM].set ||
		    !c->scripts[CHECKD_STOP_PRIM].set)
			return sky_yaml_fail(
				ctx, at, "checkd.scripts",
				"start_prim and stop_prim are required "
				"(or name a systemd unit with unit:)");
		if (c->scripts[CHECKD_START_BOTH].set !=
		    c->scripts[CHECKD_STOP_BOTH].set)
			return sky_yaml_fail(
				ctx, at, "checkd.scripts",
				"start_both and stop_both go together");
	}
	for (size_t i = 0; i < c->checker_count; i++)
		if (c->checkers[i].kind == CHECKD_KIND_PROCESS &&
		    c->checkers[i].pid_source == CHECKD_PID_START && c->unit[0])
			return sky_yaml_fail(ctx, at, "checkd.checkers",
					     "%s: from_start needs a %s script",
					     c->checkers[i].name,
					     l->farm ? "start_both"
						     : "start_prim");
	c->farm = l->farm;
	return 0;
}

const char *checkd_cfg_job_name(const struct checkd_cfg *c, int job)
{
	if (c->farm && job == CHECKD_JOB_START_PRIM)
		return "start_both";
	if (c->farm && job == CHECKD_JOB_STOP_PRIM)
		return "stop_both";
	return checkd_job_name((enum checkd_job)job);
}

int checkd_cfg_parse(const char *path, const char *text, size_t len,
		     struct checkd_cfg *out, char *err, size_t err_size)
{
	struct sky_yaml ctx;
	struct loader l = {0};
	struct checkd_cfg *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	const char *slash = strrchr(path, '/');
	if (!slash)
		sky_strlcpy(c->dir, ".", sizeof(c->dir));
	else if (slash == path)
		sky_strlcpy(c->dir, "/", sizeof(c->dir));
	else
		snprintf(c->dir, sizeof(c->dir), "%.*s", (int)(slash - path),
			 path);
	for (int i = 0; i < CHECKD_SCRIPT_COUNT; i++)
		c->scripts[i].timeout_ms = 30000;
	c->unit_timeout_ms = 90000;
	c->restart_max = 3;
	c->restart_window_ms = 300000;
	c->escalation = CHECKD_ACTION_FAILOVER;
	c->failover_refused = CHECKD_ACTION_RESTART;
	c->failover_wait_ms = 15000;
	l.cfg = c;

	r = sky_yaml_parse(&ctx, path, text, len, err, err_size);
	if (r < 0) {
		free(c);
		return r;
	}
	yaml_node_t *root = sky_yaml_root(&ctx);
	yaml_node_t *sec = root ? sky_yaml_get(&ctx, root, "checkd") : NULL;
	if (!root)
		r = sky_yaml_fail(&ctx, NULL, "(file)", "empty configuration");
	else if (!sec)
		r = sky_yaml_fail(&ctx, root, "checkd",
				  "section missing: checkd needs at least "
				  "scripts (start_prim, stop_prim) or unit");
	else {
		/* The module's type decides the scripts' names (validate). */
		yaml_node_t *mod = sky_yaml_get(&ctx, root, "module");
		yaml_node_t *type = mod && mod->type == YAML_MAPPING_NODE
					    ? sky_yaml_get(&ctx, mod, "type")
					    : NULL;
		const char *t = type ? sky_yaml_scalar(type) : NULL;
		l.farm = t &&
			 (strcmp(t, "farm") == 0 || strcmp(t, "light") == 0);
		l.section = sec;
		r = sky_yaml_each(&ctx, sec, "checkd", section_pair, &l);
		if (r >= 0)
			r = validate(&ctx, &l);
	}
	if (r >= 0)
		*out = *c;
	sky_yaml_done(&ctx);
	free(c);
	return r;
}

int checkd_cfg_load(const char *path, struct checkd_cfg *out, char *err,
		    size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, CHECKD_FILE_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: cannot read: %s", path,
			 r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
		return r;
	}
	return checkd_cfg_parse(path, text, len, out, err, err_size);
}
