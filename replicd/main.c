/*
 * replicd - synchronous replication of directories between the two nodes
 * of a mirror module. main.c reads the arguments and the configuration,
 * then runs the daemon (daemon.c): FUSE over-mounts of the configured
 * directories (mount.c), the peer connection (peer.c, chan.c) and the
 * bus to heartbeatd.
 */
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "settings.h"

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
	"  -c, --config FILE    module configuration (default "
	"/etc/skyha/skyha.yaml);\n"
	"                       the replicd: section is described in "
	"docs/config.md\n"
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
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration or a setup failure (the message says which file and "
	"field).\n";

enum { OPT_NODE = 256, OPT_RUN_DIR, OPT_STATE_DIR, OPT_STANDALONE };

static int fail(bool to_stderr, const char *msg)
{
	if (to_stderr)
		fprintf(stderr, "%s\n", msg);
	else
		log_error("%s", msg);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"node", required_argument, NULL, OPT_NODE},
		{"run-dir", required_argument, NULL, OPT_RUN_DIR},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"standalone", required_argument, NULL, OPT_STANDALONE},
		{"check", no_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config_path = "/etc/skyha/skyha.yaml";
	const char *run_dir = "/run/skyha", *state_dir = "/var/lib/skyha";
	char node_name[SKY_NAME_MAX + 1] = "";
	enum replicd_target standalone = RT_NONE;
	bool check_only = false, verbose = false;
	static struct sky_config cfg;
	static struct replicd_settings set;
	static struct replicd d;
	char err[1024];
	int c, r;

	while ((c = getopt_long(argc, argv, "c:nvh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_NODE:
			if (!sky_name_valid(optarg, strlen(optarg))) {
				fprintf(stderr,
					"replicd: --node: '%s' is not a valid "
					"node name\n",
					optarg);
				return 1;
			}
			sky_strlcpy(node_name, optarg, sizeof(node_name));
			break;
		case OPT_RUN_DIR:
			run_dir = optarg;
			break;
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_STANDALONE:
			if (strcmp(optarg, "primary") == 0)
				standalone = RT_PRIMARY;
			else if (strcmp(optarg, "secondary") == 0)
				standalone = RT_SECONDARY;
			else {
				fprintf(stderr,
					"replicd: --standalone: '%s' is not "
					"primary or secondary\n",
					optarg);
				return 1;
			}
			break;
		case 'n':
			check_only = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("Try 'replicd --help'.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"replicd: unexpected argument '%s'\n"
			"Try 'replicd --help'.\n",
			argv[optind]);
		return 1;
	}

	sky_log_init("replicd", verbose);
	if (sodium_init() < 0)
		return fail(check_only, "libsodium failed to initialise");
	r = sky_config_load(config_path, &cfg, err, sizeof(err));
	if (r == 0)
		r = replicd_settings_load(config_path, &set, err, sizeof(err));
	if (r < 0)
		return fail(check_only, err);
	bool check_file_only = check_only && !node_name[0];
	if (!node_name[0] && !check_file_only) {
		if (gethostname(node_name, sizeof(node_name)) < 0)
			node_name[0] = '\0';
		node_name[strcspn(node_name, ".")] = '\0';
	}
	if (!check_file_only && !sky_config_node(&cfg, node_name)) {
		snprintf(err, sizeof(err),
			 "%s: node '%s' is not in nodes (%s, %s); pass --node",
			 config_path, node_name, cfg.nodes[0].name,
			 cfg.nodes[1].name);
		return fail(check_only, err);
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}

	sky_log_set_module(cfg.module);
	sky_log_set_node(node_name);
	r = replicd_open(&d, &cfg, &set, node_name, run_dir, state_dir,
			 standalone);
	if (r >= 0)
		r = replicd_run(&d);
	replicd_close(&d);
	sodium_memzero(cfg.key, sizeof(cfg.key));
	return r < 0 ? 1 : 0;
}
