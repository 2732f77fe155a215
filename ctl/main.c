/*
 * main.c - skyctl, the operator's command-line client.
 *
 * Every command is one request/reply round trip with heartbeatd on the
 * module's control socket (docs/protocol.md): skyctl decides nothing
 * itself, so what a script sends over pyzmq and what skyctl sends are the
 * same. This file parses the command line and dispatches: target.c finds
 * the module, call.c asks heartbeatd, commands.c and wait.c are the
 * commands, render.c turns a status object into text, usage.c holds --help
 * and the error lines (skyctl.h: what they share, and the exit statuses).
 */
#include "bus.h"
#include "ctlbackup.h"
#include "skyctl.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_TIMEOUT_DEFAULT_MS 5000
#define WAIT_TIMEOUT_DEFAULT_MS	 30000
#define TIMEOUT_MAX_S		 (24 * 3600)

/* What follows a command on the command line. */
struct command_args {
	bool force;	  /* prim --force, resync --discard-local */
	bool full;	  /* resync --full */
	int checkers_on;  /* checkers on|off: 1 or 0; -1: not given */
	const char *role; /* wait STATE[,STATE...] */
	int64_t wait_timeout_ms;
};

/* "5", "0.5", "2.25": seconds, to the millisecond, into ms. */
static int parse_seconds(const char *text, int64_t *out_ms)
{
	const char *dot = strchr(text, '.');
	size_t whole_len = dot ? (size_t)(dot - text) : strlen(text);
	char whole[24];
	int64_t seconds, fraction_ms = 0;
	int r;

	if (whole_len == 0 || whole_len >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, text, whole_len);
	whole[whole_len] = '\0';
	r = sky_parse_i64(whole, 0, TIMEOUT_MAX_S, &seconds);
	if (r < 0)
		return r;
	if (dot) {
		const char *digits = dot + 1;
		size_t count = strlen(digits);

		if (count == 0 || count > 3)
			return -EINVAL;
		for (size_t i = 0; i < 3; i++) {
			fraction_ms *= 10;
			if (i >= count)
				continue;
			if (!isdigit((unsigned char)digits[i]))
				return -EINVAL;
			fraction_ms += digits[i] - '0';
		}
	}
	*out_ms = seconds * 1000 + fraction_ms;
	return 0;
}

static int parse_command_args(struct skyctl *ctl, const char *command, int argc,
			      char **argv, struct command_args *args)
{
	bool is_wait = strcmp(command, "wait") == 0;
	bool is_prim = strcmp(command, "prim") == 0;
	bool is_resync = strcmp(command, "resync") == 0;
	bool is_checkers = strcmp(command, "checkers") == 0;

	*args = (struct command_args){
		.wait_timeout_ms = WAIT_TIMEOUT_DEFAULT_MS, .checkers_on = -1};
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--json") == 0) {
			ctl->json = true;
		} else if (is_prim && strcmp(arg, "--force") == 0) {
			args->force = true;
		} else if (is_resync && strcmp(arg, "--discard-local") == 0) {
			args->force = true;
		} else if (is_checkers && args->checkers_on < 0 &&
			   (strcmp(arg, "on") == 0 ||
			    strcmp(arg, "off") == 0)) {
			args->checkers_on = strcmp(arg, "on") == 0;
			args->force = args->checkers_on;
		} else if (is_resync && strcmp(arg, "--full") == 0) {
			args->full = true;
		} else if (is_wait && (strcmp(arg, "--timeout") == 0 ||
				       strncmp(arg, "--timeout=", 10) == 0)) {
			const char *value = arg[9] == '='  ? arg + 10
					    : i + 1 < argc ? argv[++i]
							   : NULL;
			if (!value)
				return skyctl_usage_error(
					"wait: --timeout needs a number "
					"of seconds");
			if (parse_seconds(value, &args->wait_timeout_ms) < 0)
				return skyctl_usage_error(
					"wait: --timeout: '%.64s' is not "
					"a number of seconds from 0 "
					"to %d",
					value, TIMEOUT_MAX_S);
		} else if (is_wait && !args->role && arg[0] != '-') {
			args->role = arg;
		} else if (strcmp(arg, "--timeout") == 0 ||
			   strncmp(arg, "--timeout=", 10) == 0) {
			return skyctl_usage_error(
				"%s: give --timeout before the command",
				command);
		} else {
			return skyctl_usage_error(
				"%s: unexpected argument '%.64s'", command,
				arg);
		}
	}
	if (is_resync && args->force == args->full)
		return skyctl_usage_error(
			"resync: say --discard-local (this node's own changes "
			"are dropped and its copy is replaced by the peer's) "
			"or --full (on the serving node: resync whatever "
			"differs, by hashes)");
	if (is_checkers && args->checkers_on < 0)
		return skyctl_usage_error("checkers: say on or off");
	if (is_wait && !args->role)
		return skyctl_usage_error(
			"wait: for which state? STOP, WAIT, SECOND, ALONE, "
			"PRIM, UP, serving, insync, ... (several: PRIM,ALONE)");
	return SKYCTL_EXIT_OK;
}

static const char *const action_commands[] = {"swap",	 "prim",     "second",
					      "stop",	 "start",    "resync",
					      "restart", "checkers", "verify"};

static bool is_action(const char *command)
{
	for (size_t i = 0; i < SKY_ARRAY_SIZE(action_commands); i++)
		if (strcmp(command, action_commands[i]) == 0)
			return true;
	return false;
}

static int run_command(struct skyctl *ctl, const char *command, int argc,
		       char **argv)
{
	struct command_args args;
	struct skyctl_goal goal;
	char err[MESSAGE_TEXT_MAX];
	int status;

	if (strcmp(command, "snapshot") == 0) {
		status = skyctl_resolve_target(ctl);
		return status != SKYCTL_EXIT_OK
			       ? status
			       : skyctl_cmd_snapshot(ctl, argc, argv);
	}
	if (strcmp(command, "backup") == 0) {
		/* backupd's business: the module's file, not heartbeatd */
		if (!ctl->module[0] &&
		    (status = skyctl_find_module(ctl)) != SKYCTL_EXIT_OK)
			return status;
		return skyctl_backup(ctl->module, ctl->json, argc, argv);
	}
	if (strcmp(command, "status") != 0 && strcmp(command, "wait") != 0 &&
	    strcmp(command, "state") != 0 && !is_action(command))
		return skyctl_usage_error(
			"unknown command '%.64s' (status, state, swap, prim, "
			"second, stop, start, resync, restart, checkers, "
			"verify, "
			"wait, snapshot, backup)",
			command);
	status = parse_command_args(ctl, command, argc, argv, &args);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (args.role &&
	    skyctl_goal_parse(args.role, &goal, err, sizeof(err)) < 0)
		return skyctl_usage_error("wait: %s", err);
	status = skyctl_resolve_target(ctl);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (args.role)
		return skyctl_cmd_wait(ctl, &goal, args.wait_timeout_ms);
	if (strcmp(command, "state") == 0)
		return skyctl_cmd_state(ctl);
	status = skyctl_check_socket(ctl);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (strcmp(command, "status") == 0)
		return skyctl_cmd_status(ctl);
	return skyctl_cmd_action(ctl, command, args.force);
}

static bool asks_for_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

static int parse_global_options(struct skyctl *ctl, int argc, char **argv,
				bool *help)
{
	enum { OPT_RUN_DIR = 0x100, OPT_JSON, OPT_TIMEOUT, OPT_VERSION };
	static const struct option options[] = {
		{"module", required_argument, NULL, 'm'},
		{"run-dir", required_argument, NULL, OPT_RUN_DIR},
		{"json", no_argument, NULL, OPT_JSON},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{0},
	};
	int c;

	/* "+": stop at the command, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+m:h", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!sky_name_valid(optarg, strlen(optarg)))
				return skyctl_usage_error(
					"-m: '%.64s' is not a module "
					"name (1 to %d of A-Z a-z 0-9 "
					"_ . -)",
					optarg, SKY_NAME_MAX);
			sky_strlcpy(ctl->module, optarg, sizeof(ctl->module));
			break;
		case OPT_RUN_DIR:
			if (!optarg[0])
				return skyctl_usage_error(
					"--run-dir: empty directory");
			ctl->run_dir = optarg;
			break;
		case OPT_JSON:
			ctl->json = true;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &ctl->reply_timeout_ms) < 0 ||
			    ctl->reply_timeout_ms == 0)
				return skyctl_usage_error(
					"--timeout: '%.64s' is not a "
					"number of seconds from 0.001 "
					"to %d",
					optarg, TIMEOUT_MAX_S);
			break;
		case 'h':
			*help = true;
			break;
		case OPT_VERSION:
			printf("skyctl %s\n", SKYHA_VERSION);
			exit(SKYCTL_EXIT_OK);
		default:
			/* getopt already said what was wrong. */
			fputs("Try 'skyctl --help' for more information.\n",
			      stderr);
			return SKYCTL_EXIT_USAGE;
		}
	}
	return SKYCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *env_run_dir = getenv(RUN_DIR_ENV);
	struct skyctl ctl = {
		.run_dir = env_run_dir && env_run_dir[0] ? env_run_dir
							 : DEFAULT_RUN_DIR,
		.reply_timeout_ms = REPLY_TIMEOUT_DEFAULT_MS,
	};
	const char *command;
	bool help = false;
	int status;

	status = parse_global_options(&ctl, argc, argv, &help);
	if (status != SKYCTL_EXIT_OK)
		return status;
	command = optind < argc ? argv[optind] : NULL;
	if (help || (command &&
		     (strcmp(command, "help") == 0 ||
		      asks_for_help(argc - optind - 1, argv + optind + 1)))) {
		fputs(skyctl_help_text, stdout);
		return SKYCTL_EXIT_OK;
	}
	if (!command)
		return skyctl_usage_error(
			"which command? status, state, swap, prim, "
			"second, stop, start, resync "
			"--discard-local|--full, verify or wait "
			"STATE");
	status = run_command(&ctl, command, argc - optind - 1,
			     argv + optind + 1);
	sky_bus_shutdown();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		skyctl_fail("writing to standard output: %s", strerror(errno));
		if (status == SKYCTL_EXIT_OK)
			status = SKYCTL_EXIT_REFUSED;
	}
	return status;
}
