/*
 * cli.h - the command line every module daemon shares.
 *
 * heartbeatd, checkd, replicd and vipd all take --config FILE, --node NAME,
 * --run-dir DIR, -n/--check, -v/--verbose and -h/--help, find their node
 * name from the host name when --node is absent, and report a bad file on
 * stderr under --check (for the operator at the terminal) or in the log
 * otherwise (for journalctl). One copy of that, here; each daemon keeps its
 * own getopt loop for its own options and hands the common ones over.
 *
 *	static const struct option options[] = {SKY_CLI_OPTIONS,
 *		{"state-dir", required_argument, NULL, OPT_STATE_DIR}, {0}};
 *	while ((c = getopt_long(argc, argv, SKY_CLI_SHORT, options, NULL)) != -1)
 *		switch (sky_cli_option(&cli, c, optarg)) { ... }
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

/* What sky_cli_option() did with one getopt result. */
enum sky_cli_result {
	SKY_CLI_TAKEN,	   /* a common option: go on */
	SKY_CLI_NOT_MINE,  /* the daemon's own option (or '?') */
	SKY_CLI_EXIT_OK,   /* --help was printed: exit 0 */
	SKY_CLI_EXIT_FAIL, /* the message was printed: exit 1 */
};

/* Defaults: /etc/skyha/skyha.yaml, /run/skyha, no node, neither -n nor -v. */
void sky_cli_init(struct sky_cli *cli, const char *prog, const char *usage);
enum sky_cli_result sky_cli_option(struct sky_cli *cli, int opt,
				   const char *arg);
/*
 * The whole command line of a daemon that has only the common options:
 * -1 to go on, or the exit code (0 after --help, 1 after a message).
 */
int sky_cli_parse(struct sky_cli *cli, int argc, char **argv);
/* An unknown option (getopt printed why): the "Try --help" line, exit 1. */
int sky_cli_usage_error(const struct sky_cli *cli);
/* After the loop: no stray arguments. 0, or 1 with the message printed. */
int sky_cli_no_operands(const struct sky_cli *cli, int argc, char **argv,
			int optind_after);

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
/* The message on stderr under --check, in the log otherwise. */
void sky_cli_error(const struct sky_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
