/*
 * wait.c - `skyctl wait STATE[,STATE...]`: ask for status every 100 ms
 * until this node is in one of the states (goal.c), or the time is up.
 *
 * A heartbeatd that is restarting does not end the wait, so a script can
 * run `skyctl start && skyctl wait serving`; only the last answer (or the
 * silence) at the deadline decides the exit status and the closing words.
 */
#include "bus.h"
#include "render.h"
#include "skyctl.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define WAIT_POLL_MS 100

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The last thing wait saw, for its closing words. */
static int report_wait_timeout(const struct skyctl_goal *goal,
			       int64_t timeout_ms, const json_t *status)
{
	const json_t *node = json_object_get(status, "node");
	const json_t *why = json_object_get(node, "waiting_for");
	char dur[32], name[SKY_NAME_MAX * 2 + 1], role[17];
	char reason[MESSAGE_TEXT_MAX], wanted[MESSAGE_TEXT_MAX];
	const json_t *replicd = json_object_get(
		json_object_get(status, "actuators"), "replicd");
	char sync_word[32], sync_text[64] = "";

	skyctl_format_duration(timeout_ms, dur, sizeof(dur));
	skyctl_goal_describe(goal, wanted, sizeof(wanted));
	if (goal->syncs && skyctl_status_sync(status))
		snprintf(sync_text, sizeof(sync_text), ", replication %s",
			 skyctl_safe_text(json_object_get(replicd, "sync"),
					  sync_word, sizeof(sync_word)));
	skyctl_fail("timed out after %s waiting for %s: %s is %s%s%s%s%s", dur,
		    wanted,
		    skyctl_safe_text(json_object_get(node, "name"), name,
				     sizeof(name)),
		    skyctl_safe_text(json_object_get(node, "role"), role,
				     sizeof(role)),
		    json_is_string(why) && json_string_length(why) ? " (" : "",
		    json_is_string(why) && json_string_length(why)
			    ? skyctl_safe_text(why, reason, sizeof(reason))
			    : "",
		    json_is_string(why) && json_string_length(why) ? ")" : "",
		    sync_text);
	return SKYCTL_EXIT_WAIT_TIMEOUT;
}

/*
 * Poll status until the role is reached or the time is up. A heartbeatd
 * that is restarting does not end the wait: it is asked again until the
 * deadline, and only the last answer (or silence) decides the exit status.
 */
int skyctl_cmd_wait(const struct skyctl *ctl, const struct skyctl_goal *goal,
		    int64_t timeout_ms)
{
	_cleanup_json_ json_t *last = NULL;
	int64_t deadline = sky_now_ms() + timeout_ms;
	int64_t call_timeout_ms = 0;
	int last_error = 0;
	char name[SKY_NAME_MAX * 2 + 1], role[17];

	for (;;) {
		int64_t poll_start = sky_now_ms();
		int64_t left = deadline - poll_start, next_poll;
		json_t *reply = NULL;
		const json_t *status;

		/* At least one poll period per request, at most --timeout. */
		call_timeout_ms = left < WAIT_POLL_MS ? WAIT_POLL_MS : left;
		if (call_timeout_ms > ctl->reply_timeout_ms)
			call_timeout_ms = ctl->reply_timeout_ms;
		/* A stopped module is not asked (ZeroMQ would wait the whole
		 * call timeout); it may start before the deadline. */
		last_error = sky_ctl_probe(ctl->endpoint);
		if (last_error == 0)
			last_error = skyctl_request(ctl, "status", false,
						    call_timeout_ms, &reply);
		if (last_error == 0) {
			json_decref(last);
			last = reply;
		}
		status = skyctl_reply_status(last);
		if (last_error == 0 && status &&
		    skyctl_goal_reached(status, goal)) {
			if (ctl->json) {
				skyctl_print_json(last);
			} else {
				const json_t *node =
					json_object_get(status, "node");
				printf("%s is %s\n",
				       skyctl_safe_text(
					       json_object_get(node, "name"),
					       name, sizeof(name)),
				       skyctl_safe_text(
					       json_object_get(node, "role"),
					       role, sizeof(role)));
			}
			return SKYCTL_EXIT_OK;
		}
		if (sky_now_ms() >= deadline)
			break;
		next_poll = poll_start + WAIT_POLL_MS;
		sleep_ms((next_poll < deadline ? next_poll : deadline) -
			 sky_now_ms());
	}
	if (ctl->json && last)
		skyctl_print_json(last);
	if (last_error < 0)
		return skyctl_report_call_error(ctl, last_error,
						call_timeout_ms);
	if (!skyctl_reply_status(last)) {
		int status = skyctl_check_reply(last);
		if (status != SKYCTL_EXIT_OK)
			return status;
		skyctl_fail("heartbeatd's reply has no status object");
		return SKYCTL_EXIT_REFUSED;
	}
	return report_wait_timeout(goal, timeout_ms, skyctl_reply_status(last));
}
