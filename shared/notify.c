/*
 * notify.c - see notify.h.
 */
#include "notify.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <systemd/sd-daemon.h>

void sky_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sky_notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void sky_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void sky_notify_watchdog(int64_t now_ms)
{
	static int64_t period_ms = -1, last_ms;
	uint64_t usec;

	if (period_ms < 0)
		period_ms = sd_watchdog_enabled(0, &usec) > 0
				    ? (int64_t)(usec / 2000)
				    : 0;
	if (period_ms == 0 || now_ms - last_ms < period_ms)
		return;
	last_ms = now_ms;
	sd_notify(0, "WATCHDOG=1");
}

int sky_listen_fd(const char *name)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), found = -ENOENT;

	for (int i = 0; i < n; i++) {
		if (found < 0 && names && names[i] &&
		    strcmp(names[i], name) == 0)
			found = SD_LISTEN_FDS_START + i;
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return found;
}
