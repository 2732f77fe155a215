/*
 * commands.c - the commands that ask heartbeatd once: status (rendered by
 * render.c), state (the role as one word and as the exit status), snapshot
 * (an archive for support, support.c) and the actions (swap, prim, second,
 * stop, start, resync, restart, checkers, verify).
 *
 * skyctl decides nothing itself: an action prints heartbeatd's answer, and
 * every field of a reply is type-checked here before use.
 */
#include "bus.h"
#include "render.h"
#include "skyctl.h"
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A reply that carries a status object; NULL for anything else. */
const json_t *skyctl_reply_status(const json_t *reply)
{
	const json_t *status = json_object_get(reply, "status");

	if (!json_is_true(json_object_get(reply, "ok")) ||
	    !json_is_object(status))
		return NULL;
	return status;
}

int skyctl_cmd_status(const struct skyctl *ctl)
{
	_cleanup_json_ json_t *reply = NULL;
	const json_t *status;
	int r;

	r = skyctl_request(ctl, "status", false, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return skyctl_report_call_error(ctl, r, ctl->reply_timeout_ms);
	if (ctl->json)
		skyctl_print_json(reply);
	r = skyctl_check_reply(reply);
	if (r != SKYCTL_EXIT_OK)
		return r;
	status = json_object_get(reply, "status");
	if (!json_is_object(status)) {
		skyctl_fail("heartbeatd's reply has no status object");
		return SKYCTL_EXIT_REFUSED;
	}
	if (!ctl->json && skyctl_render_status(stdout, status) < 0) {
		skyctl_fail("writing the status: %s", strerror(errno));
		return SKYCTL_EXIT_REFUSED;
	}
	return SKYCTL_EXIT_OK;
}

/*
 * state: this node's role, one word on stdout and in the exit status
 * (SKYCTL_STATE_EXIT_BASE + the role) so a script can branch on either. A
 * module stopped on this node (no heartbeatd listening) is STOP.
 */
int skyctl_cmd_state(const struct skyctl *ctl)
{
	_cleanup_json_ json_t *reply = NULL;
	int err = skyctl_socket_error(ctl), r, role;

	if (err == ENOENT || err == ECONNREFUSED) {
		if (ctl->json)
			printf("{\"module\": \"%s\", \"role\": \"STOP\", "
			       "\"heartbeatd\": false}\n",
			       ctl->module);
		else
			printf("STOP\n");
		return SKYCTL_STATE_EXIT_BASE + SKY_ROLE_STOP;
	}
	r = skyctl_check_socket(ctl);
	if (r != SKYCTL_EXIT_OK)
		return r;
	r = skyctl_request(ctl, "status", false, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return skyctl_report_call_error(ctl, r, ctl->reply_timeout_ms);
	r = skyctl_check_reply(reply);
	if (r != SKYCTL_EXIT_OK)
		return r;
	role = skyctl_status_role(json_object_get(reply, "status"));
	if (role < 0) {
		skyctl_fail(
			"heartbeatd's status names no role this skyctl knows");
		return SKYCTL_EXIT_REFUSED;
	}
	if (ctl->json)
		printf("{\"module\": \"%s\", \"role\": \"%s\", "
		       "\"heartbeatd\": true}\n",
		       ctl->module, sky_role_name((enum sky_role)role));
	else
		printf("%s\n", sky_role_name((enum sky_role)role));
	return SKYCTL_STATE_EXIT_BASE + role;
}

/*
 * snapshot [--output FILE] [--config FILE] [--state-dir DIR] [--since WHEN]:
 * an archive for support (support.c). heartbeatd's silence is recorded in
 * it, not fatal: a snapshot is most wanted when something is wrong.
 */
int skyctl_cmd_snapshot(struct skyctl *ctl, int argc, char **argv)
{
	char config[PATH_MAX], why[PATH_MAX + 128] = "";
	struct skyctl_snapshot snap = {.module = ctl->module,
				       .run_dir = ctl->run_dir,
				       .state_dir = "/var/lib/skyha",
				       .since = "-1h"};
	_cleanup_json_ json_t *reply = NULL;

	for (int i = 0; i < argc; i++) {
		const char **value =
			strcmp(argv[i], "--output") == 0   ? &snap.output
			: strcmp(argv[i], "--config") == 0 ? &snap.config_path
			: strcmp(argv[i], "--state-dir") == 0 ? &snap.state_dir
			: strcmp(argv[i], "--since") == 0     ? &snap.since
							      : NULL;
		if (!value)
			return skyctl_usage_error(
				"snapshot: unexpected argument '%.64s' "
				"(--output, --config, --state-dir, --since)",
				argv[i]);
		if (i + 1 >= argc || !argv[i + 1][0] ||
		    strlen(argv[i + 1]) >= PATH_MAX)
			return skyctl_usage_error("snapshot: %s needs a value",
						  argv[i]);
		*value = argv[++i];
	}
	/* A time journalctl cannot read left the archive without the
	 * module's journal (journalctl's error in its place), exit 0. */
	if (skyctl_snapshot_since_ok(snap.since) == 0)
		return skyctl_usage_error(
			"snapshot: --since: journalctl cannot read "
			"'%.64s' as a time (-1h, -30min, yesterday, "
			"\"2026-12-07 10:00:00\": journalctl's "
			"--since syntax)",
			snap.since);
	if (!snap.config_path) {
		snprintf(config, sizeof(config), "/etc/skyha/%s.yaml",
			 ctl->module);
		snap.config_path = config;
	}
	int err = skyctl_socket_error(ctl);
	if (err == 0)
		err = -skyctl_request(ctl, "status", false,
				      ctl->reply_timeout_ms, &reply);
	if (err == 0 && !skyctl_reply_status(reply))
		err = EPROTO;
	if (err == 0)
		snap.status = skyctl_reply_status(reply);
	else
		snprintf(why, sizeof(why), "%s: %s", ctl->ctl_path,
			 err == ENOENT || err == ECONNREFUSED
				 ? "heartbeatd is not running"
				 : strerror(err));
	snap.status_error = why;
	if (err)
		skyctl_fail(
			"no status from heartbeatd (%s): the snapshot says so",
			why);
	if (skyctl_snapshot_write(&snap, why, sizeof(why)) < 0) {
		skyctl_fail("snapshot: %s", why);
		return SKYCTL_EXIT_REFUSED;
	}
	return SKYCTL_EXIT_OK;
}

/* swap, prim, second, stop, start: ask, and print heartbeatd's answer. */
int skyctl_cmd_action(const struct skyctl *ctl, const char *command, bool force)
{
	_cleanup_json_ json_t *reply = NULL;
	const json_t *message;
	char text[MESSAGE_TEXT_MAX];
	int r;

	r = skyctl_request(ctl, command, force, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return skyctl_report_call_error(ctl, r, ctl->reply_timeout_ms);
	if (ctl->json)
		skyctl_print_json(reply);
	r = skyctl_check_reply(reply);
	if (r != SKYCTL_EXIT_OK || ctl->json)
		return r;
	message = json_object_get(reply, "message");
	if (json_is_string(message) && json_string_length(message) > 0)
		printf("%s\n", skyctl_safe_text(message, text, sizeof(text)));
	else
		printf("%s%s: accepted\n", command,
		       force && strcmp(command, "checkers") != 0 ? " --force"
								 : "");
	return SKYCTL_EXIT_OK;
}
