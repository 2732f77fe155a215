/*
 * replicd - synchronous replication of directories between the two nodes
 * of a mirror module. main.c reads the arguments and the configuration,
 * then runs the daemon (daemon.c): FUSE over-mounts of the configured
 * directories (mount.c), the peer connection (peer.c, chan.c) and the
 * bus to heartbeatd.
 */
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "settings.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: replicd [OPTIONS]\n"
	"\n"
	"The skyha mirror for one module on one node. Each directory of\n"
	"replicd.directories is over-mounted in place with FUSE: applications\n"
	"keep their paths, and replicd reaches the real files through a\n"
	"descriptor opened before mounting. On the primary (heartbeatd's\n"
	"target replicd: primary) the mount is read-write and every change is\n"
	"sent, in order, to the peer replicd over an authenticated, encrypted\n"
	"TCP connection; in sync mode write() returns once the peer applied\n"
	"it and fsync() once the peer made it durable. Anywhere else the "
	"mount\n"
	"refuses writes (EROFS); a secondary applies the primary's changes to\n"
	"its real directory. If the peer does not answer within\n"
	"replicd.timeout_ms the primary stops waiting, carries on alone and\n"
	"reports the peer out of date.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE    the module's configuration, required (the "
	"units pass\n"
	"                       /etc/skyha/<module>.yaml); the replicd: "
	"section is\n"
	"                       described in docs/config.md\n"
	"      --node NAME      which entry of `nodes` this is (default: host "
	"name)\n"
	"      --run-dir DIR    bus sockets are under DIR/<module>/ (default "
	"/run/skyha)\n"
	"      --state-dir DIR  the change record for resync is kept in\n"
	"                       DIR/<module>/replicd/ (default "
	"/var/lib/skyha)\n"
	"      --standalone ROLE\n"
	"                       ignore heartbeatd and act as ROLE (primary or\n"
	"                       secondary); for tests and benchmarks only: "
	"nothing\n"
	"                       then prevents two primaries\n"
	"  -n, --check          validate the configuration, print "
	"\"configuration OK\"\n"
	"                       and exit\n"
	"  -v, --verbose        debug messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Bus (run-dir): subscribes to ipc://DIR/<module>/desired "
	"(<module>.heartbeatd.desired,\n"
	"field targets.replicd), publishes <module>.replicd.actual to\n"
	"ipc://DIR/<module>/actual on change and every second. Replication "
	"listens on\n"
	"TCP replicd.port (default 7410) of this node's first address.\n"
	"\n"
	"Needs CAP_SYS_ADMIN (mount) and /dev/fuse. A stale mount left by a\n"
	"crashed replicd on a directory is detected and detached at start.\n"
	"SIGTERM/SIGINT: stop taking writes, wait up to timeout_ms for the "
	"peer's\n"
	"acks, unmount (lazily if files are open), exit.\n"
	"\n"
	"SIGHUP (systemctl reload): log whether the module file changed since\n"
	"start; nothing is applied live (restart to apply).\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration or a setup failure (the message says which file and "
	"field).\n";

static int load_section(const char *path, void *set, char *err, size_t err_size)
{
	return replicd_settings_load(path, set, err, err_size);
}

enum { OPT_STATE_DIR = SKY_OPT_OWN, OPT_STANDALONE };

struct own_options {
	const char *state_dir;
	enum replicd_target standalone;
};

static int own_option(int opt, const char *arg, void *data)
{
	struct own_options *own = data;
	if (opt == OPT_STATE_DIR) {
		own->state_dir = arg;
	} else if (opt == OPT_STANDALONE && strcmp(arg, "primary") == 0) {
		own->standalone = RT_PRIMARY;
	} else if (opt == OPT_STANDALONE && strcmp(arg, "secondary") == 0) {
		own->standalone = RT_SECONDARY;
	} else if (opt == OPT_STANDALONE) {
		fprintf(stderr,
			"replicd: --standalone: '%s' is not primary or "
			"secondary\n",
			arg);
		return 1;
	} else {
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		SKY_CLI_OPTIONS,
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"standalone", required_argument, NULL, OPT_STANDALONE},
		{0},
	};
	struct own_options own = {.state_dir = "/var/lib/skyha",
				  .standalone = RT_NONE};
	static struct sky_config cfg;
	static struct replicd_settings set;
	static struct replicd d;
	struct sky_cli cli;
	int r;

	sky_cli_init(&cli, "replicd", usage_text);
	r = sky_cli_parse(&cli, argc, argv, options, own_option, &own);
	if (r >= 0)
		return r;

	r = sky_cli_start(&cli, &cfg, true, load_section, &set);
	if (r >= 0)
		return r;
	if (cfg.type != SKY_MODULE_MIRROR) {
		log_error("%s: module.type: %s: replicd replicates the data of "
			  "a mirror module only",
			  cfg.path, sky_module_type_name(cfg.type));
		sodium_memzero(cfg.key, sizeof(cfg.key));
		return 1;
	}
	r = replicd_open(&d, &cfg, &set, cli.node, cli.run_dir, own.state_dir,
			 own.standalone);
	if (r >= 0)
		r = replicd_run(&d);
	replicd_close(&d);
	sodium_memzero(cfg.key, sizeof(cfg.key));
	return r < 0 ? 1 : 0;
}
