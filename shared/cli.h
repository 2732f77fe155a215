/*
 * cli.h - the command line every module daemon shares.
 *
 * heartbeatd, checkd, replicd and vipd all take --config FILE, --node NAME,
 * --run-dir DIR, -n/--check, -v/--verbose and -h/--help, find their node
 * name from the host name when --node is absent, and report a bad file on
 * stderr under --check (for the operator at the terminal) or in the log
 * otherwise (for journalctl). One copy of that, here; each daemon keeps its
 * own options table and a handler for them.
 *
 *	static const struct option options[] = {SKY_CLI_OPTIONS,
 *		{"state-dir", required_argument, NULL, OPT_STATE_DIR}, {0}};
 *	r = sky_cli_parse(&cli, argc, argv, options, own_option, &mine);
 */
#ifndef SKYHA_CLI_H
#define SKYHA_CLI_H

#include "config.h"

#include <getopt.h>
#include <stdbool.h>

enum {
	SKY_OPT_NODE = 256,
	SKY_OPT_RUN_DIR,
	SKY_OPT_OWN, /* a daemon numbers its own long options from here */
};

#define SKY_CLI_SHORT "c:nvh"
#define SKY_CLI_OPTIONS                                                        \
	{"config", required_argument, NULL, 'c'},                              \
		{"node", required_argument, NULL, SKY_OPT_NODE},               \
		{"run-dir", required_argument, NULL, SKY_OPT_RUN_DIR},         \
		{"check", no_argument, NULL, 'n'},                             \
		{"verbose", no_argument, NULL, 'v'},                           \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

struct sky_cli {
	const char *prog;  /* in messages: "checkd: --node: ..." */
	const char *usage; /* printed by --help */
	const char *config_path;
	const char *run_dir;
	char node[SKY_NAME_MAX + 1];
	bool check_only, verbose;
};

/*
 * Where the units and docs/config.md put a module's file:
 * SKY_CONFIG_DIR/<module>.yaml. A daemon cannot know its module before it
 * reads the file, so --config has no default: sky_cli_parse() refuses a
 * command line without it.
 */
#define SKY_CONFIG_DIR "/etc/skyha"

/* Defaults: no --config (required), /run/skyha, no node, neither -n nor -v. */
void sky_cli_init(struct sky_cli *cli, const char *prog, const char *usage);

/*
 * A daemon's own option (numbered from SKY_OPT_OWN): 0 when taken, 1 when
 * refused (the message printed), -EINVAL when it is not one of its own.
 */
typedef int (*sky_cli_own_fn)(int opt, const char *arg, void *data);

/*
 * The whole command line. options is the daemon's table (SKY_CLI_OPTIONS
 * first, then its own, {0}-terminated), or NULL when it has only the
 * common ones; own handles the rest. -1 to go on, or the exit code (0
 * after --help, 1 after a message).
 */
int sky_cli_parse(struct sky_cli *cli, int argc, char **argv,
		  const struct option *options, sky_cli_own_fn own, void *data);

/*
 * Load the module file and find this node in it: --node, else the short
 * host name. --check without --node checks the file alone, as does a
 * program that has no node (node_needed false: the witness). Errors are
 * reported once, as sky_cli_error() does. Returns 0 or a negative errno.
 */
int sky_cli_load(struct sky_cli *cli, struct sky_config *cfg, bool node_needed);
/*
 * Everything an actuator daemon does between its command line and its
 * loop: logging as cli->prog, libsodium, the module file and this node
 * (sky_cli_load), the cluster key wiped unless keep_key, then its own
 * section through load_own(path, own, err, size) when given. Under
 * --check it prints "configuration OK". Returns -1 to go on (logging then
 * names the module and node), or the exit code.
 */
typedef int (*sky_cli_section_fn)(const char *path, void *own, char *err,
				  size_t err_size);
int sky_cli_start(struct sky_cli *cli, struct sky_config *cfg, bool keep_key,
		  sky_cli_section_fn load_own, void *own);
/*
 * After SIGHUP (systemctl reload: the unit's ExecReload= first validated the
 * file with --check). Daemons do not apply a changed module file live
 * (vipd's node weights are the exception, vipd/reload.c): this
 * compares the file with the one sky_cli_load() read at start and logs
 * "configuration unchanged" or "configuration changed: restart UNIT to
 * apply" (UNIT: skyha-PROG@MODULE, skyha-witness@MODULE for the witness);
 * the daemon keeps running with the configuration it started with.
 */
void sky_cli_reload(void);
/* A daemon applied the file as it is now: the next sky_cli_reload()
 * compares with it. */
void sky_cli_reload_accepted(void);
/* The message on stderr under --check, in the log otherwise. */
void sky_cli_error(const struct sky_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
