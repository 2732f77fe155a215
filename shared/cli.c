/*
 * cli.c - see cli.h.
 */
#include "cli.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What cli_option() did with one getopt result. */
enum sky_cli_result {
	SKY_CLI_TAKEN,	   /* a common option: go on */
	SKY_CLI_NOT_MINE,  /* the daemon's own option (or '?') */
	SKY_CLI_EXIT_OK,   /* --help was printed: exit 0 */
	SKY_CLI_EXIT_FAIL, /* the message was printed: exit 1 */
};

void sky_cli_init(struct sky_cli *cli, const char *prog, const char *usage)
{
	memset(cli, 0, sizeof(*cli));
	cli->prog = prog;
	cli->usage = usage;
	cli->config_path = NULL; /* --config is required */
	cli->run_dir = "/run/skyha";
}

static enum sky_cli_result cli_option(struct sky_cli *cli, int opt,
				      const char *arg)
{
	switch (opt) {
	case 'c':
		cli->config_path = arg;
		return SKY_CLI_TAKEN;
	case SKY_OPT_NODE:
		if (!sky_name_valid(arg, strlen(arg))) {
			fprintf(stderr,
				"%s: --node: '%s' is not a valid node name "
				"([A-Za-z0-9_.-], 1 to %d characters)\n",
				cli->prog, arg, SKY_NAME_MAX);
			return SKY_CLI_EXIT_FAIL;
		}
		sky_strlcpy(cli->node, arg, sizeof(cli->node));
		return SKY_CLI_TAKEN;
	case SKY_OPT_RUN_DIR:
		cli->run_dir = arg;
		return SKY_CLI_TAKEN;
	case 'n':
		cli->check_only = true;
		return SKY_CLI_TAKEN;
	case 'v':
		cli->verbose = true;
		return SKY_CLI_TAKEN;
	case 'h':
		fputs(cli->usage, stdout);
		return SKY_CLI_EXIT_OK;
	default:
		return SKY_CLI_NOT_MINE;
	}
}

/* An unknown option (getopt printed why): the "Try --help" line. */
static int usage_error(const struct sky_cli *cli)
{
	fprintf(stderr, "Try '%s --help'.\n", cli->prog);
	return 1;
}

int sky_cli_parse(struct sky_cli *cli, int argc, char **argv,
		  const struct option *options, sky_cli_own_fn own, void *data)
{
	static const struct option common[] = {SKY_CLI_OPTIONS, {0}};
	int c;

	while ((c = getopt_long(argc, argv, SKY_CLI_SHORT,
				options ? options : common, NULL)) != -1) {
		switch (cli_option(cli, c, optarg)) {
		case SKY_CLI_TAKEN:
			continue;
		case SKY_CLI_EXIT_OK:
			return 0;
		case SKY_CLI_EXIT_FAIL:
			return 1;
		case SKY_CLI_NOT_MINE:
			break;
		}
		int r = own ? own(c, optarg, data) : -EINVAL;
		if (r == -EINVAL)
			return usage_error(cli);
		if (r != 0)
			return 1;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli->prog,
			argv[optind]);
		return usage_error(cli);
	}
	if (!cli->config_path) {
		fprintf(stderr,
			"%s: --config FILE is required: the module's file, "
			"%s/<module>.yaml when installed (docs/config.md)\n",
			cli->prog, SKY_CONFIG_DIR);
		return usage_error(cli);
	}
	return -1;
}

void sky_cli_error(const struct sky_cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->check_only)
		fprintf(stderr, "%s\n", msg);
	else
		log_error("%s", msg);
}

/* The module file as read at start, for sky_cli_reload(). */
#define RELOAD_FILE_MAX (16 * 1024 * 1024)
static struct {
	bool armed;
	char path[4096];
	char unit[SKY_NAME_MAX * 2 + 16];
	unsigned char hash[crypto_generichash_BYTES];
} loaded;

/* BLAKE2b of a whole file (at most RELOAD_FILE_MAX bytes): 0 or -errno. */
static int hash_file(const char *path, unsigned char *out)
{
	crypto_generichash_state st;
	unsigned char buf[8192];
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (total += (size_t)n) > RELOAD_FILE_MAX) {
			int err = n < 0 ? errno : EFBIG;
			close(fd);
			return -err;
		}
		crypto_generichash_update(&st, buf, (size_t)n);
	}
	close(fd);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
	return 0;
}

static void remember_file(const struct sky_cli *cli,
			  const struct sky_config *cfg, bool witness)
{
	loaded.armed = hash_file(cli->config_path, loaded.hash) == 0 &&
		       strlen(cli->config_path) < sizeof(loaded.path);
	if (!loaded.armed)
		return;
	sky_strlcpy(loaded.path, cli->config_path, sizeof(loaded.path));
	snprintf(loaded.unit, sizeof(loaded.unit), "skyha-%s@%s",
		 witness ? "witness" : cli->prog, cfg->module);
}

void sky_cli_reload(void)
{
	unsigned char now[crypto_generichash_BYTES];
	int r;

	if (!loaded.armed) {
		log_warning("reload: the configuration read at start is not "
			    "known; restart to apply a change");
		return;
	}
	r = hash_file(loaded.path, now);
	if (r < 0) {
		log_error("reload: cannot read %s: %s; keeping the "
			  "configuration read at start",
			  loaded.path, strerror(-r));
		return;
	}
	if (memcmp(now, loaded.hash, sizeof(now)) == 0) {
		log_notice("reload: configuration unchanged (%s)", loaded.path);
		return;
	}
	log_notice("configuration changed: restart %s to apply (%s is read "
		   "only at start; running with the configuration read then)",
		   loaded.unit, loaded.path);
}

void sky_cli_reload_accepted(void)
{
	if (loaded.armed && hash_file(loaded.path, loaded.hash) < 0)
		loaded.armed = false;
}

int sky_cli_load(struct sky_cli *cli, struct sky_config *cfg, bool node_needed)
{
	char err[1024];
	int r = sky_config_load(cli->config_path, cfg, err, sizeof(err));

	if (r < 0) {
		sky_cli_error(cli, "%s", err);
		return r;
	}
	if (!cli->check_only)
		remember_file(cli, cfg, !node_needed);
	if (!node_needed || (cli->check_only && !cli->node[0]))
		return 0;
	if (!cli->node[0]) {
		/* The short host name, as `hostname -s` prints it. */
		if (gethostname(cli->node, sizeof(cli->node)) < 0)
			cli->node[0] = '\0';
		cli->node[sizeof(cli->node) - 1] = '\0';
		cli->node[strcspn(cli->node, ".")] = '\0';
	}
	if (!sky_config_node(cfg, cli->node)) {
		char names[SKY_MAX_NODES * (SKY_NAME_MAX + 2) + 1] = "";
		size_t used = 0;
		for (size_t i = 0; i < cfg->node_count; i++) {
			int w = snprintf(names + used, sizeof(names) - used,
					 "%s%s", i ? ", " : "",
					 cfg->nodes[i].name);
			if (w < 0 || (size_t)w >= sizeof(names) - used)
				break;
			used += (size_t)w;
		}
		sky_cli_error(cli,
			      "%s: node '%s' is not in nodes (%s); pass --node",
			      cli->config_path, cli->node, names);
		return -ENOENT;
	}
	return 0;
}

int sky_cli_start(struct sky_cli *cli, struct sky_config *cfg, bool keep_key,
		  sky_cli_section_fn load_own, void *own)
{
	char err[1024];
	int r;

	sky_log_init(cli->prog, cli->verbose);
	if (sodium_init() < 0) {
		sky_cli_error(cli, "libsodium failed to initialise");
		return 1;
	}
	r = sky_cli_load(cli, cfg, true);
	if (!keep_key)
		sodium_memzero(cfg->key, sizeof(cfg->key));
	if (r < 0)
		return 1;
	if (load_own &&
	    (r = load_own(cli->config_path, own, err, sizeof(err))) < 0) {
		sky_cli_error(cli, "%s", err);
		sodium_memzero(cfg->key, sizeof(cfg->key));
		return 1;
	}
	if (cli->check_only) {
		sodium_memzero(cfg->key, sizeof(cfg->key));
		printf("configuration OK\n");
		return 0;
	}
	sky_log_set_module(cfg->module);
	sky_log_set_node(cli->node);
	/* SKYHA_PEER= on every daemon's journal entries, not only on those
	 * of the daemons that set it themselves. */
	const struct sky_node *self = sky_config_node(cfg, cli->node);
	const struct sky_node *peer = self ? sky_config_peer(cfg, self) : NULL;
	sky_log_set_peer(peer ? peer->name : NULL);
	return -1;
}
