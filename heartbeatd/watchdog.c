/*
 * watchdog.c - see watchdog.h.
 */
#include "watchdog.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int hb_watchdog_timeout_s(uint32_t lease_ms, uint32_t interval_ms)
{
	int64_t t = ((int64_t)lease_ms - 2 * (int64_t)interval_ms) / 1000;
	return t < 1 ? 1 : t > 3600 ? 3600 : (int)t;
}

bool hb_watchdog_may_pet(int64_t now, int64_t lease_end_ms, int timeout_s)
{
	return lease_end_ms > 0 &&
	       now + (int64_t)timeout_s * 1000 <= lease_end_ms;
}

void hb_watchdog_init(struct hb_watchdog *w, const char *path, int timeout_s)
{
	memset(w, 0, sizeof(*w));
	sky_strlcpy(w->path, path, sizeof(w->path));
	w->timeout_s = timeout_s;
	w->fd = -1;
}

int hb_watchdog_arm(struct hb_watchdog *w, int64_t now, char *why,
		    size_t why_size)
{
	if (w->fd >= 0)
		return 0;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_size, "cannot open %s: %s", w->path,
			 strerror(e));
		return -e;
	}
	int t = w->timeout_s;
	w->no_ioctl = false;
	if (ioctl(fd, WDIOC_SETTIMEOUT, &t) < 0 || t > w->timeout_s) {
		int e = errno;
		int now_t = 0;
		if (ioctl(fd, WDIOC_GETTIMEOUT, &now_t) == 0 &&
		    now_t <= w->timeout_s) {
			/* Its own timeout is short enough. */
		} else if (e == ENOTTY && now_t == 0) {
			w->no_ioctl = true;
		} else {
			/* Armed by the open: disarm before giving up. */
			if (write(fd, "V", 1) < 0) {
			}
			close(fd);
			snprintf(why, why_size,
				 "%s: cannot set a timeout of %d s (it "
				 "has %d s): a longer one would reset the "
				 "machine after etcd freed the leader key",
				 w->path, w->timeout_s, now_t ? now_t : t);
			return -EINVAL;
		}
	}
	w->fd = fd;
	return hb_watchdog_pet(w, now);
}

int hb_watchdog_pet(struct hb_watchdog *w, int64_t now)
{
	if (w->fd < 0)
		return -EBADF;
	if (write(w->fd, "1", 1) != 1)
		return -errno;
	w->pets++;
	w->last_pet_ms = now;
	return 0;
}

void hb_watchdog_disarm(struct hb_watchdog *w)
{
	if (w->fd < 0)
		return;
	if (write(w->fd, "V", 1) < 0) {
		/* close() stops nothing then: the machine will reset. */
	}
	close(w->fd);
	w->fd = -1;
}
