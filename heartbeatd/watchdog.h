/*
 * watchdog.h - etcd.watchdog: a frozen primary resets its machine before
 * etcd can give its leader key away (Patroni's watchdog).
 *
 * With quorum: etcd the primary stops serving on its own once its lease can
 * no longer be proven (docs/architecture.md, "Quorum on etcd"); a
 * heartbeatd frozen past that point (a stuck kernel, a paused process)
 * cannot stop anything. So the primary opens the watchdog device when it
 * starts serving, sets its timeout to T = (etcd.lease_ms - 2 x
 * heartbeat.interval_ms) / 1000 seconds, and pets it every turn of its loop
 * only while the pet keeps the reset before the lease's end in etcd (now +
 * T <= the send time of the last successful keepalive + the lease's TTL).
 * Pets stop when keepalives stop; the device resets the machine no later
 * than etcd frees the key. A primary that stops serving (demoted, stopped,
 * its lease lost while it runs) disarms it with the magic close ('V').
 * heartbeatd killed with SIGKILL leaves it armed: the machine resets, as
 * with Patroni.
 *
 * A device that refuses WDIOC_SETTIMEOUT but reports a timeout at most T
 * is used as is; one whose timeout is longer is refused (the primary does
 * not serve). A path that is no watchdog driver at all (ENOTTY: a file, a
 * FIFO, as the lab uses) is petted with writes alone, with a warning.
 */
#ifndef HEARTBEATD_WATCHDOG_H
#define HEARTBEATD_WATCHDOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hb_watchdog {
	char path[PATH_MAX];
	int timeout_s; /* T */
	int fd;	       /* -1: not armed */
	uint64_t pets;
	int64_t last_pet_ms;
	bool no_ioctl; /* not a watchdog driver (ENOTTY) */
};

/* T for these timings (at least 1 when the config is valid). */
int hb_watchdog_timeout_s(uint32_t lease_ms, uint32_t interval_ms);
/* May a pet be given at now, the lease ending at lease_end_ms (0: no
 * lease)? Pure. */
bool hb_watchdog_may_pet(int64_t now, int64_t lease_end_ms, int timeout_s);

void hb_watchdog_init(struct hb_watchdog *w, const char *path, int timeout_s);
/* Open, set the timeout, pet once. 0, or -errno with why filled. */
int hb_watchdog_arm(struct hb_watchdog *w, int64_t now, char *why,
		    size_t why_size);
/* 0 or -errno (the write failed). */
int hb_watchdog_pet(struct hb_watchdog *w, int64_t now);
/* The magic close: 'V', then close. No-op when not armed. */
void hb_watchdog_disarm(struct hb_watchdog *w);
static inline bool hb_watchdog_armed(const struct hb_watchdog *w)
{
	return w->fd >= 0;
}

#endif
