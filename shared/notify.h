/*
 * notify.h - systemd service notifications (sd-daemon), harmless when not
 * started by systemd: READY=1 once truly serving, STATUS= for humans in
 * `systemctl status`, WATCHDOG=1 from the main loop at half the interval.
 */
#ifndef SKYHA_NOTIFY_H
#define SKYHA_NOTIFY_H

#include <stdint.h>

void sky_notify_ready(const char *status);
void sky_notify_status(const char *status);
/* Call every loop iteration; pings at most every half watchdog period. */
void sky_notify_watchdog(int64_t now_ms);
void sky_notify_stopping(void);

/*
 * A listening fd passed by systemd socket activation with
 * FileDescriptorName=name, or -ENOENT when there is none.
 */
int sky_listen_fd(const char *name);

#endif
