/*
 * commands.h - backupd's commands (docs/man/backupd.8.md), each returning
 * an exit code:
 */
#ifndef BACKUPD_COMMANDS_H
#define BACKUPD_COMMANDS_H

#include "bkcfg.h"
#include "cli.h"
#include "config.h"

enum bk_exit {
	BK_EXIT_OK = 0,
	BK_EXIT_FAILED = 1,  /* the operation failed (target, I/O, ...) */
	BK_EXIT_USAGE = 2,   /* command line or configuration */
	BK_EXIT_KEY = 3,     /* wrong key file or passphrase */
	BK_EXIT_DAMAGED = 4, /* verify found bad objects; restore refused */
	BK_EXIT_LOCKED = 5,  /* another writer holds a conflicting lock */
};

struct bk_app {
	struct sky_cli cli;
	struct sky_config mod;
	struct bk_cfg cfg;
	char module_config[PATH_MAX];
	const char *state_dir; /* default /var/lib/skyha/<module> */
	const char *changes_file;
	bool json, prune, dry_run, keep_given;
	unsigned sample_pct;
	struct bk_keep keep;
	const char *command;
	char **args;
	int arg_count;
};

int bk_cmd_init(struct bk_app *a);
int bk_cmd_backup(struct bk_app *a);
int bk_cmd_list(struct bk_app *a);
int bk_cmd_verify(struct bk_app *a);
int bk_cmd_restore(struct bk_app *a);
int bk_cmd_forget(struct bk_app *a);
int bk_cmd_keygen(struct bk_app *a);

#endif
