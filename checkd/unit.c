/*
 * unit.c - see unit.h.
 */
#include "unit.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MGR	"org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"

int checkd_unit_open(struct checkd_unit *u, const char *name, char *err,
		     size_t err_size)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	const char *path;
	int r;

	memset(u, 0, sizeof(*u));
	sky_strlcpy(u->name, name, sizeof(u->name));
	if (sd_booted() <= 0) {
		snprintf(err, err_size,
			 "unit %s: systemd is not PID 1 here; use scripts "
			 "instead of unit:",
			 name);
		return -EOPNOTSUPP;
	}
	r = sd_bus_open_system(&bus);
	if (r < 0) {
		snprintf(err, err_size,
			 "unit %s: cannot reach the system bus: %s", name,
			 strerror(-r));
		return r;
	}
	/* LoadUnit gives the object path even for a unit not yet loaded. */
	r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MGR, "LoadUnit", &e,
			       &reply, "s", name);
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &path);
	if (r < 0) {
		snprintf(err, err_size, "unit %s: %s", name,
			 e.message ? e.message : strerror(-r));
		sd_bus_error_free(&e);
		sd_bus_message_unref(reply);
		sd_bus_unref(bus);
		return r;
	}
	sky_strlcpy(u->path, path, sizeof(u->path));
	sd_bus_message_unref(reply);
	u->bus = bus;
	return 0;
}

void checkd_unit_close(struct checkd_unit *u)
{
	if (u->bus)
		sd_bus_flush_close_unref(u->bus);
	u->bus = NULL;
}

int checkd_unit_request(struct checkd_unit *u, bool start, char *err,
			size_t err_size)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	if (!u->bus)
		return -ENOTCONN;
	r = sd_bus_call_method(u->bus, SD_DEST, SD_PATH, SD_MGR,
			       start ? "StartUnit" : "StopUnit", &e, &reply,
			       "ss", u->name, "replace");
	if (r < 0)
		snprintf(err, err_size, "%s %s: %s",
			 start ? "StartUnit" : "StopUnit", u->name,
			 e.message ? e.message : strerror(-r));
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 0;
}

int checkd_unit_state(struct checkd_unit *u, char *out, size_t size)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char *state = NULL;
	int r;

	if (!u->bus)
		return -ENOTCONN;
	r = sd_bus_get_property_string(u->bus, SD_DEST, u->path, SD_UNIT,
				       "ActiveState", &e, &state);
	sd_bus_error_free(&e);
	if (r < 0)
		return r;
	sky_strlcpy(out, state, size);
	free(state);
	return 0;
}
