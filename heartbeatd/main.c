/*
 * heartbeatd - membership, quorum and the module state machine: the only
 * place roles are decided. main.c reads the arguments and the
 * configuration, then runs either a node (node.c) or the witness
 * (witness_server.c).
 */
#include "config.h"
#include "log.h"
#include "node.h"
#include "witness_server.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: heartbeatd [OPTIONS]\n"
	"       heartbeatd --witness [OPTIONS]\n"
	"\n"
	"The skyha brain for one module on one node: it exchanges "
	"authenticated\n"
	"UDP heartbeats with the peer on every configured network, holds the\n"
	"witness lease while primary, decides the role (STOP, WAIT, SECOND,\n"
	"ALONE, PRIM) and publishes it to the other daemons of the node.\n"
	"With --witness it runs the lease service of a third host instead.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE    module configuration (default "
	"/etc/skyha/skyha.yaml);\n"
	"                       see docs/config.md\n"
	"      --node NAME      which entry of `nodes` this is (default: host "
	"name)\n"
	"      --run-dir DIR    sockets go to DIR/<module>/ (default "
	"/run/skyha)\n"
	"      --state-dir DIR  persistent state goes to DIR/<module>/\n"
	"                       (default /var/lib/skyha)\n"
	"      --witness        run the witness lease service on "
	"witness.addresses\n"
	"  -n, --check          validate the configuration, print "
	"\"configuration OK\"\n"
	"                       and exit\n"
	"  -v, --verbose        debug messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Sockets (run-dir): ipc://DIR/<module>/ctl (commands, skyctl), desired "
	"(PUB),\n"
	"actual (SUB). Under systemd the ctl socket may come from socket "
	"activation\n"
	"(FileDescriptorName=ctl). Logs go to the journal with SKYHA_MODULE=,\n"
	"SKYHA_NODE=, SKYHA_ROLE=, SKYHA_PEER= fields, or to stderr in a "
	"terminal.\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration or a setup failure (the message says which file and "
	"field).\n";

enum { OPT_NODE = 256, OPT_RUN_DIR, OPT_STATE_DIR, OPT_WITNESS };

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"node", required_argument, NULL, OPT_NODE},
		{"run-dir", required_argument, NULL, OPT_RUN_DIR},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"witness", no_argument, NULL, OPT_WITNESS},
		{"check", no_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config_path = "/etc/skyha/skyha.yaml";
	const char *run_dir = "/run/skyha", *state_dir = "/var/lib/skyha";
	char node_name[SKY_NAME_MAX + 1] = "";
	bool witness = false, check_only = false, verbose = false;
	static struct sky_config cfg;
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
					"heartbeatd: --node: '%s' is not a "
					"valid node name\n",
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
		case OPT_WITNESS:
			witness = true;
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
			fputs("Try 'heartbeatd --help'.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"heartbeatd: unexpected argument '%s'\n"
			"Try 'heartbeatd --help'.\n",
			argv[optind]);
		return 1;
	}

	sky_log_init(witness ? "heartbeatd-witness" : "heartbeatd", verbose);
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	r = sky_config_load(config_path, &cfg, err, sizeof(err));
	if (r < 0) {
		if (check_only)
			fprintf(stderr, "%s\n", err);
		else
			log_error("%s", err);
		return 1;
	}
	/* -n without --node checks the file alone (also on the witness). */
	bool check_file_only = check_only && !node_name[0];
	if (!node_name[0] && !witness && !check_file_only) {
		if (gethostname(node_name, sizeof(node_name)) < 0)
			node_name[0] = '\0';
		node_name[strcspn(node_name, ".")] = '\0';
	}
	if (!witness && !check_file_only && !sky_config_node(&cfg, node_name)) {
		snprintf(err, sizeof(err),
			 "%s: node '%s' is not in nodes (%s, "
			 "%s); pass --node",
			 config_path, node_name, cfg.nodes[0].name,
			 cfg.nodes[1].name);
		if (check_only)
			fprintf(stderr, "%s\n", err);
		else
			log_error("%s", err);
		return 1;
	}
	if (witness && !cfg.quorum_witness) {
		fprintf(stderr,
			"%s: quorum: none, so there is no witness to run\n",
			config_path);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}

	sky_log_set_module(cfg.module);
	if (witness)
		return witness_run(&cfg, state_dir) < 0 ? 1 : 0;

	sky_log_set_node(node_name);
	static struct node node;
	r = node_open(&node, &cfg, node_name, run_dir, state_dir);
	if (r >= 0)
		r = node_run(&node);
	node_close(&node);
	sodium_memzero(cfg.key, sizeof(cfg.key));
	return r < 0 ? 1 : 0;
}
