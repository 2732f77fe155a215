/*
 * main.c - backupd: point-in-time, incremental, deduplicated, encrypted
 * backups of a module's directories to a directory, S3 or Azure Blob
 * (docs/backup.md, docs/man/backupd.8.md).
 *
 * Not a daemon that stays: each run is one command (a systemd timer runs
 * `backup`, skyctl runs the others), which reads the module file, does
 * its work and exits with a documented code (commands.h).
 */
#include "commands.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: backupd --config FILE [--node NAME] [options] COMMAND [ARGS]\n"
	"       backupd --module MODULE [options] COMMAND [ARGS]\n"
	"\n"
	"Backups of the module's directories (backup.paths, by default\n"
	"replicd.directories) to the targets of its backup: section, in a\n"
	"deduplicated, compressed and encrypted repository (docs/backup.md).\n"
	"\n"
	"Commands:\n"
	"  init TARGET          create the repository on TARGET (its config\n"
	"                       and key object, wrapped with backup.key_file\n"
	"                       or backup.passphrase_file)\n"
	"  backup [TARGET]      take a snapshot to TARGET, or to every target\n"
	"                       whose nodes include this node\n"
	"  list [TARGET]        the snapshots of TARGET (or of every target)\n"
	"  verify TARGET        read back every pack (--sample PCT: a share "
	"of\n"
	"                       them), authenticate every blob, check every\n"
	"                       snapshot's trees and chunks; name each bad "
	"object\n"
	"  restore TARGET SNAPSHOT DEST [PATH...]\n"
	"                       restore a snapshot (an id, a unique prefix of\n"
	"                       one, or \"latest\") under DEST, each path at\n"
	"                       DEST/<its absolute path>; PATHs (absolute, as\n"
	"                       backed up) restrict it to those trees\n"
	"  forget TARGET        apply the retention policy (the target's "
	"keep_*\n"
	"                       or --keep-*); --prune also deletes the data "
	"no\n"
	"                       snapshot uses any more\n"
	"  keygen FILE          write a new random key file (mode 600)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE    the module file (/etc/skyha/<module>.yaml)\n"
	"      --module NAME    the same as --config /etc/skyha/NAME.yaml\n"
	"      --node NAME      this node (default: the short host name)\n"
	"      --state-dir DIR  where results go (default "
	"/var/lib/skyha/MODULE;\n"
	"                       each target's last run: "
	"DIR/backup/TARGET.json)\n"
	"      --run-dir DIR    the bus and replicd's state (/run/skyha)\n"
	"      --json           backup, list: print JSON (counters included)\n"
	"      --changes FILE   backup: what changed since the last backup,\n"
	"                       instead of replicd's record\n"
	"                       (docs/backup.md, \"Incremental backups\")\n"
	"      --sample PCT     verify: read back PCT %% of the packs (1-100)\n"
	"      --keep-last N, --keep-daily N, --keep-weekly N, --keep-monthly "
	"N\n"
	"                       forget: the policy (instead of the target's)\n"
	"      --prune          forget: delete unused data afterwards\n"
	"      --dry-run        forget: say what would be forgotten, change "
	"nothing\n"
	"  -n, --check          validate the configuration and exit\n"
	"  -v, --verbose        debug logging\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success; 1 the operation failed (target unreachable,\n"
	"I/O error, a hook failed); 2 usage or configuration error; 3 wrong "
	"key\n"
	"file or passphrase; 4 the repository is damaged (verify found bad\n"
	"objects, restore refused data that failed authentication); 5 the\n"
	"repository is locked by a conflicting run.\n";

enum {
	OPT_STATE_DIR = SKY_OPT_OWN,
	OPT_MODULE,
	OPT_JSON,
	OPT_CHANGES,
	OPT_SAMPLE,
	OPT_KEEP_LAST,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_PRUNE,
	OPT_DRY_RUN,
};

static const struct option options[] = {
	SKY_CLI_OPTIONS,
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"module", required_argument, NULL, OPT_MODULE},
	{"json", no_argument, NULL, OPT_JSON},
	{"changes", required_argument, NULL, OPT_CHANGES},
	{"sample", required_argument, NULL, OPT_SAMPLE},
	{"keep-last", required_argument, NULL, OPT_KEEP_LAST},
	{"keep-daily", required_argument, NULL, OPT_KEEP_DAILY},
	{"keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY},
	{"keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY},
	{"prune", no_argument, NULL, OPT_PRUNE},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{0},
};

static int number(const char *opt, const char *arg, int64_t min, int64_t max,
		  unsigned *out)
{
	int64_t v;
	if (sky_parse_i64(arg, min, max, &v) < 0) {
		fprintf(stderr, "backupd: %s: a number from %lld to %lld\n",
			opt, (long long)min, (long long)max);
		return 1;
	}
	*out = (unsigned)v;
	return 0;
}

static int own_option(int opt, const char *arg, void *data)
{
	struct bk_app *a = data;
	switch (opt) {
	case OPT_STATE_DIR:
		a->state_dir = arg;
		return 0;
	case OPT_MODULE:
		if (!sky_name_valid(arg, strlen(arg))) {
			fprintf(stderr, "backupd: --module: not a name\n");
			return 1;
		}
		snprintf(a->module_config, sizeof(a->module_config),
			 "%s/%s.yaml", SKY_CONFIG_DIR, arg);
		a->cli.config_path = a->module_config;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_CHANGES:
		a->changes_file = arg;
		return 0;
	case OPT_SAMPLE:
		return number("--sample", arg, 1, 100, &a->sample_pct);
	case OPT_KEEP_LAST:
		a->keep_given = true;
		return number("--keep-last", arg, 0, 100000, &a->keep.last);
	case OPT_KEEP_DAILY:
		a->keep_given = true;
		return number("--keep-daily", arg, 0, 100000, &a->keep.daily);
	case OPT_KEEP_WEEKLY:
		a->keep_given = true;
		return number("--keep-weekly", arg, 0, 100000, &a->keep.weekly);
	case OPT_KEEP_MONTHLY:
		a->keep_given = true;
		return number("--keep-monthly", arg, 0, 100000,
			      &a->keep.monthly);
	case OPT_PRUNE:
		a->prune = true;
		return 0;
	case OPT_DRY_RUN:
		a->dry_run = true;
		return 0;
	}
	return -EINVAL;
}

/* Does this option take the next word as its argument? */
static bool takes_argument(const char *word)
{
	if (word[0] != '-' || strchr(word, '='))
		return false;
	if (word[1] != '-')
		return word[1] == 'c' && word[2] == 0;
	for (const struct option *o = options; o->name; o++)
		if (!strcmp(word + 2, o->name))
			return o->has_arg == required_argument;
	return false;
}

/*
 * Options go to sky_cli_parse; the words that are not options (the
 * command and its arguments) are taken out first, in order.
 */
static int split_words(int argc, char **argv, char **opts, int *opt_count,
		       char **words, int *word_count)
{
	*opt_count = *word_count = 0;
	opts[(*opt_count)++] = argv[0];
	bool only_words = false;
	for (int i = 1; i < argc; i++) {
		if (only_words || argv[i][0] != '-' || !argv[i][1]) {
			words[(*word_count)++] = argv[i];
			continue;
		}
		if (!strcmp(argv[i], "--")) {
			only_words = true;
			continue;
		}
		opts[(*opt_count)++] = argv[i];
		if (takes_argument(argv[i]) && i + 1 < argc)
			opts[(*opt_count)++] = argv[++i];
	}
	opts[*opt_count] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bk_app app;
	struct bk_app *a = &app;
	_cleanup_free_ char **opts = calloc((size_t)argc + 1, sizeof(char *));
	_cleanup_free_ char **words = calloc((size_t)argc + 1, sizeof(char *));
	int opt_count, word_count;
	char state_dir[PATH_MAX], err[1024];
	if (!opts || !words)
		return BK_EXIT_FAILED;
	split_words(argc, argv, opts, &opt_count, words, &word_count);
	sky_cli_init(&a->cli, "backupd", usage);
	if (word_count && !strcmp(words[0], "keygen")) {
		/* needs no configuration */
		a->args = words + 1;
		a->arg_count = word_count - 1;
		return sodium_init() < 0 ? BK_EXIT_FAILED : bk_cmd_keygen(a);
	}
	int r = sky_cli_parse(&a->cli, opt_count, opts, options, own_option, a);
	if (r >= 0)
		return r == 0 ? 0 : BK_EXIT_USAGE;
	if (!word_count && !a->cli.check_only) {
		fprintf(stderr, "backupd: a COMMAND is needed (--help)\n");
		return BK_EXIT_USAGE;
	}
	a->command = word_count ? words[0] : "";
	a->args = words + 1;
	a->arg_count = word_count ? word_count - 1 : 0;
	sky_log_init("backupd", a->cli.verbose);
	if (sodium_init() < 0)
		return BK_EXIT_FAILED;
	bool backup = !strcmp(a->command, "backup");
	if (sky_cli_load(&a->cli, &a->mod, backup) < 0)
		return BK_EXIT_USAGE;
	sodium_memzero(a->mod.key, sizeof(a->mod.key));
	if (bk_cfg_load(a->cli.config_path, &a->cfg, err, sizeof(err)) < 0) {
		sky_cli_error(&a->cli, "%s", err);
		return BK_EXIT_USAGE;
	}
	if (a->cli.check_only) {
		printf("configuration OK\n");
		return 0;
	}
	sky_log_set_module(a->mod.module);
	if (a->cli.node[0])
		sky_log_set_node(a->cli.node);
	if (!a->state_dir) {
		snprintf(state_dir, sizeof(state_dir), "/var/lib/skyha/%s",
			 a->mod.module);
		a->state_dir = state_dir;
	}
	sky_stop_signals_install();
	static const struct {
		const char *name;
		int (*fn)(struct bk_app *);
	} cmds[] = {
		{"init", bk_cmd_init},	     {"backup", bk_cmd_backup},
		{"list", bk_cmd_list},	     {"verify", bk_cmd_verify},
		{"restore", bk_cmd_restore}, {"forget", bk_cmd_forget},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(cmds); i++)
		if (!strcmp(a->command, cmds[i].name))
			return cmds[i].fn(a);
	fprintf(stderr, "backupd: unknown command '%s' (--help)\n", a->command);
	return BK_EXIT_USAGE;
}
