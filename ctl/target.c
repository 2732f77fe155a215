/*
 * target.c - which module skyctl talks to, and where its control socket
 * is: the module given with -m, or else the only one in the run directory
 * that has a ctl socket. When that is not one module, the error lists what
 * is there so the operator can pick with -m.
 */
#include "bus.h"
#include "skyctl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#define MODULES_LISTED_MAX   16
#define MODULE_LIST_TEXT_MAX 600

static void closedirp(DIR **dir)
{
	if (*dir)
		closedir(*dir);
}
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

static int compare_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* "a, b, c" from a sorted copy of names, "(none)" when empty. */
static void list_names(char names[][SKY_NAME_MAX + 1], size_t count,
		       size_t total, char *buf, size_t size)
{
	size_t used = 0;

	qsort(names, count, sizeof(names[0]), compare_names);
	buf[0] = '\0';
	for (size_t i = 0; i < count && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
				 names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (total > count && used < size)
		snprintf(buf + used, size - used, " and %zu more",
			 total - count);
	if (total == 0)
		snprintf(buf, size, "(none)");
}

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * With no -m: the module is the only subdirectory of the run directory with
 * a ctl socket. Anything else is an error that lists what is there, so the
 * operator can pick with -m.
 */
int skyctl_find_module(struct skyctl *ctl)
{
	_cleanup_closedir_ DIR *dir = opendir(ctl->run_dir);
	char serving[MODULES_LISTED_MAX][SKY_NAME_MAX + 1];
	char silent[MODULES_LISTED_MAX][SKY_NAME_MAX + 1];
	size_t serving_total = 0, silent_total = 0;
	char listing[MODULE_LIST_TEXT_MAX], path[PATH_MAX];
	struct dirent *entry;

	if (!dir) {
		int err = errno;
		skyctl_fail("cannot read the run directory %s: %s",
			    ctl->run_dir, strerror(err));
		if (err == ENOENT)
			skyctl_fail("is skyha running on this node? (--run-dir "
				    "or " RUN_DIR_ENV
				    " name another run directory)");
		return SKYCTL_EXIT_UNREACHABLE;
	}
	while ((entry = readdir(dir))) {
		const char *name = entry->d_name;
		struct stat st;
		int n;

		if (name[0] == '.' || !sky_name_valid(name, strlen(name)))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/%s", ctl->run_dir, name,
			     SKY_EP_CTL);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (is_socket(path)) {
			if (serving_total < MODULES_LISTED_MAX)
				sky_strlcpy(serving[serving_total], name,
					    sizeof(serving[0]));
			serving_total++;
			continue;
		}
		path[n - strlen(SKY_EP_CTL) - 1] = '\0';
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (silent_total < MODULES_LISTED_MAX)
				sky_strlcpy(silent[silent_total], name,
					    sizeof(silent[0]));
			silent_total++;
		}
	}
	if (serving_total == 1)
		return sky_strlcpy(ctl->module, serving[0],
				   sizeof(ctl->module)) < 0
			       ? SKYCTL_EXIT_USAGE
			       : SKYCTL_EXIT_OK;
	if (serving_total > 1) {
		list_names(serving,
			   MODULES_LISTED_MAX < serving_total
				   ? MODULES_LISTED_MAX
				   : serving_total,
			   serving_total, listing, sizeof(listing));
		return skyctl_usage_error(
			"%s has several modules (%s): pass -m MODULE "
			"to choose one",
			ctl->run_dir, listing);
	}
	list_names(silent,
		   MODULES_LISTED_MAX < silent_total ? MODULES_LISTED_MAX
						     : silent_total,
		   silent_total, listing, sizeof(listing));
	skyctl_fail("no module in %s has a control socket (directories without "
		    "one: "
		    "%s)",
		    ctl->run_dir, listing);
	skyctl_fail(
		"is heartbeatd running? pass -m MODULE to name one, and see "
		"systemctl status 'skyha-heartbeatd@*'");
	return SKYCTL_EXIT_UNREACHABLE;
}

/* Settle the module and its socket's path and endpoint. */
int skyctl_resolve_target(struct skyctl *ctl)
{
	int n;

	if (!ctl->module[0]) {
		int status = skyctl_find_module(ctl);
		if (status != SKYCTL_EXIT_OK)
			return status;
	}
	n = snprintf(ctl->ctl_path, sizeof(ctl->ctl_path), "%s/%s/%s",
		     ctl->run_dir, ctl->module, SKY_EP_CTL);
	/* A unix socket's path must fit in sun_path, or connect fails. */
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return skyctl_usage_error(
			"the socket path %.200s/%s/%s is too long for "
			"a unix socket: use a shorter --run-dir",
			ctl->run_dir, ctl->module, SKY_EP_CTL);
	if (sky_bus_endpoint(ctl->endpoint, sizeof(ctl->endpoint), ctl->run_dir,
			     ctl->module, SKY_EP_CTL) < 0)
		return skyctl_usage_error("--run-dir is too long");
	return SKYCTL_EXIT_OK;
}
