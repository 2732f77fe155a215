/*
 * ctlbackup.c - `skyctl backup`: skyctl decides nothing about backups; it
 * runs backupd (the same command line an operator or the timer uses), so
 * backupd's output and exit codes (docs/backup.md) are skyctl's.
 */
#include "ctlbackup.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_DIR_ENV "SKYHA_CONFIG_DIR"

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* Where backupd is: see ctlbackup.h. */
static int find_backupd(char *out, size_t size)
{
	const char *env = getenv("SKYHA_BACKUPD");
	if (env && env[0])
		return sky_strlcpy(out, env, size);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if (snprintf(out, size, "%s/../lib/skyha/backupd", self) < (int)size &&
	    executable(out))
		return 0;
	if (snprintf(out, size, "%s/backupd", self) < (int)size &&
	    executable(out))
		return 0;
	return -ENOENT;
}

int skyctl_backup(const char *module, bool json, int argc, char **argv)
{
	static const char *const subcommands[][2] = {
		{"now", "backup"},    {"list", "list"},
		{"verify", "verify"}, {"restore", "restore"},
		{"forget", "forget"},
	};
	const char *sub = argc > 0 ? argv[0] : NULL, *mapped = NULL;
	for (size_t i = 0; sub && i < SKY_ARRAY_SIZE(subcommands); i++)
		if (!strcmp(sub, subcommands[i][0]))
			mapped = subcommands[i][1];
	if (!mapped) {
		fprintf(stderr, "skyctl: backup: now, list, verify, restore "
				"or forget (see backupd(8))\n");
		return 2;
	}
	char backupd[PATH_MAX], config[PATH_MAX];
	if (find_backupd(backupd, sizeof(backupd)) < 0) {
		fprintf(stderr, "skyctl: backup: backupd not found (installed "
				"in lib/skyha beside the daemons; "
				"SKYHA_BACKUPD names another)\n");
		return 1;
	}
	const char *dir = getenv(CONFIG_DIR_ENV);
	snprintf(config, sizeof(config), "%s/%s.yaml",
		 dir && dir[0] ? dir : "/etc/skyha", module);
	/* backupd --config FILE [--json] COMMAND ARGS... */
	char **args = calloc((size_t)argc + 6, sizeof(char *));
	if (!args)
		return 1;
	size_t n = 0;
	args[n++] = backupd;
	args[n++] = "--config";
	args[n++] = config;
	if (json && strcmp(mapped, "backup") && strcmp(mapped, "list"))
		json = false; /* only those print JSON */
	if (json)
		args[n++] = "--json";
	args[n++] = (char *)mapped;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	execv(backupd, args);
	fprintf(stderr, "skyctl: backup: %s: %s\n", backupd, strerror(errno));
	free(args);
	return 1;
}
