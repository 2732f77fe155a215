/*
 * call.c - one round trip with heartbeatd on the module's control socket,
 * and what to tell the operator when it fails.
 *
 * Before asking, the socket is checked (a file, writable, something
 * listening) so a stopped module is said at once rather than after the
 * reply timeout. Replies are hostile input: sky_ctl_call() bounds their
 * size and checks they are JSON objects; what is printed of them goes
 * through skyctl_safe_text() or is escaped to ASCII.
 */
#include "bus.h"
#include "render.h"
#include "skyctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void suggest_systemctl(const struct skyctl *ctl)
{
	skyctl_fail("is heartbeatd running? try: systemctl status "
		    "skyha-heartbeatd@%s",
		    ctl->module);
}

/*
 * No heartbeatd behind the socket: no socket file, or a file left behind
 * that refuses connections (ZeroMQ does not always remove it).
 */
static int report_stopped(const struct skyctl *ctl, int err)
{
	skyctl_fail(
		"module %s is stopped on this node (heartbeatd is not running)",
		ctl->module);
	if (err == ENOENT)
		skyctl_fail("no control socket at %s", ctl->ctl_path);
	else
		skyctl_fail("nothing listens on the control socket %s",
			    ctl->ctl_path);
	skyctl_fail("start it with: systemctl start skyha@%s.target",
		    ctl->module);
	return SKYCTL_EXIT_UNREACHABLE;
}

/*
 * Fail fast when there is no socket to talk to, or nothing listens on it:
 * ZeroMQ would otherwise retry the connection quietly until the reply
 * timeout, and say nothing about why.
 */
int skyctl_socket_error(const struct skyctl *ctl)
{
	struct stat st;

	if (stat(ctl->ctl_path, &st) < 0)
		return errno;
	if (!S_ISSOCK(st.st_mode))
		return ENOTSOCK;
	if (access(ctl->ctl_path, W_OK) < 0)
		return errno;
	return -sky_ctl_probe(ctl->endpoint);
}

int skyctl_check_socket(const struct skyctl *ctl)
{
	int err = skyctl_socket_error(ctl);

	if (err == 0)
		return SKYCTL_EXIT_OK;
	if (err == EACCES) {
		skyctl_fail("%s: permission denied (run skyctl as root, or as "
			    "a user "
			    "allowed to write to the socket)",
			    ctl->ctl_path);
		return SKYCTL_EXIT_UNREACHABLE;
	}
	if (err == ENOENT || err == ECONNREFUSED)
		return report_stopped(ctl, err);
	skyctl_fail("cannot use the control socket %s: %s", ctl->ctl_path,
		    strerror(err));
	suggest_systemctl(ctl);
	return SKYCTL_EXIT_UNREACHABLE;
}

int skyctl_request(const struct skyctl *ctl, const char *command, bool force,
		   int64_t timeout_ms, json_t **reply)
{
	/* resync says which side's changes go, or --full (not force);
	 * checkers "off" travels as force = false (see skyctl_cmd_action). */
	bool resync = strcmp(command, "resync") == 0;
	bool checkers = strcmp(command, "checkers") == 0;
	_cleanup_json_ json_t *req =
		checkers ? json_pack("{s:s,s:b}", "command", command, "on",
				     force)
		: force || resync ? json_pack("{s:s,s:b}", "command", command,
					      !resync ? "force"
					      : force ? "discard_local"
						      : "full",
					      1)
				  : json_pack("{s:s}", "command", command);

	if (!req)
		return -ENOMEM;
	return sky_ctl_call(ctl->endpoint, req, (int)timeout_ms, reply);
}

/* Explain why a request got no usable reply; returns the exit status. */
int skyctl_report_call_error(const struct skyctl *ctl, int r,
			     int64_t timeout_ms)
{
	char dur[32];

	switch (r) {
	case -ETIMEDOUT:
		/* The socket accepted the connection: something is there. */
		skyctl_format_duration(timeout_ms, dur, sizeof(dur));
		skyctl_fail("heartbeatd on %s accepts connections but did not "
			    "reply "
			    "within %s (busy, hung or still starting?)",
			    ctl->endpoint, dur);
		suggest_systemctl(ctl);
		return SKYCTL_EXIT_UNREACHABLE;
	case -ENOENT:
	case -ECONNREFUSED:
		return report_stopped(ctl, -r);
	case -EBADMSG:
		skyctl_fail(
			"heartbeatd on %s sent a reply that is not one JSON "
			"object "
			"of at most %d bytes",
			ctl->endpoint, SKY_BUS_MSG_MAX);
		return SKYCTL_EXIT_REFUSED;
	default:
		skyctl_fail("cannot talk to heartbeatd on %s: %s",
			    ctl->endpoint, strerror(-r));
		suggest_systemctl(ctl);
		return SKYCTL_EXIT_UNREACHABLE;
	}
}

/* Print a refusal or a reply that makes no sense; returns the exit status. */
int skyctl_check_reply(const json_t *reply)
{
	const json_t *ok = json_object_get(reply, "ok");
	const json_t *error = json_object_get(reply, "error");
	char text[MESSAGE_TEXT_MAX];

	if (json_is_true(ok))
		return SKYCTL_EXIT_OK;
	if (!json_is_false(ok))
		skyctl_fail(
			"heartbeatd's reply makes no sense: no \"ok\": true or "
			"false");
	else if (json_is_string(error) && json_string_length(error) > 0)
		skyctl_fail("heartbeatd refused: %s",
			    skyctl_safe_text(error, text, sizeof(text)));
	else
		skyctl_fail("heartbeatd refused without saying why");
	return SKYCTL_EXIT_REFUSED;
}

void skyctl_print_json(const json_t *reply)
{
	/* ASCII-only: the raw reply is printed, but never raw bytes. */
	json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
}
