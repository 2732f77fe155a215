/*
 * vipd - the virtual IPs of one skyha module on one node: taken where
 * heartbeatd says the module serves, announced so that neighbours move to
 * this node at once, released everywhere else. main.c reads the arguments
 * and both halves of the configuration (the module, and the vipd: section),
 * then runs the loop in daemon.c.
 */
#include "config.h"
#include "daemon.h"
#include "httpc.h"
#include "log.h"
#include "vipcfg.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: vipd [OPTIONS]\n"
	"\n"
	"The virtual IP addresses of one skyha module on one node. vipd\n"
	"follows the target heartbeatd publishes for it. On \"up\" (the node\n"
	"serves: PRIM or ALONE) it ARP-probes each IPv4 address, adds every\n"
	"address of the vipd: section to its interface through rtnetlink\n"
	"(IPv6 without duplicate address detection), and announces them:\n"
	"gratuitous ARP for IPv4, unsolicited neighbour advertisements with\n"
	"the Override flag for IPv6, in a burst of announce.repeat packets,\n"
	"again after announce.delay_ms, then every announce.refresh_ms (the\n"
	"behaviour of keepalived's garp_master_* settings). It then reports\n"
	"\"up\" for heartbeatd's epoch. On \"down\" it removes the addresses\n"
	"and reports \"down\". An address that cannot be added (no such\n"
	"interface, no permission) is reported \"failed\" with the reason,\n"
	"and heartbeatd fails the promotion. A probe answered by another MAC\n"
	"is logged, counted and reported as the reason; the address is taken\n"
	"anyway (probe.on_conflict: report) or the promotion fails\n"
	"(probe.on_conflict: fail).\n"
	"\n"
	"Addresses left by a crash are removed as soon as heartbeatd says\n"
	"this node does not serve; once a second vipd checks that the\n"
	"addresses are where its state says, and puts them right.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE    module configuration with a vipd: section\n"
	"                       (default /etc/skyha/skyha.yaml); see "
	"docs/config.md\n"
	"      --node NAME      which entry of `nodes` this is (default: host "
	"name)\n"
	"      --run-dir DIR    the bus sockets are under DIR/<module>/ "
	"(default\n"
	"                       /run/skyha); vipd.json is written there\n"
	"  -n, --check          validate the configuration (the module and "
	"the\n"
	"                       vipd: section), print \"configuration OK\" and "
	"exit\n"
	"  -v, --verbose        debug messages\n"
	"  -h, --help           this text\n"
	"\n"
	"Privileges: CAP_NET_ADMIN (addresses) and CAP_NET_RAW (ARP and\n"
	"neighbour advertisement packets), nothing else; see\n"
	"units/skyha-vipd@.service.\n"
	"\n"
	"Bus: SUB ipc://DIR/<module>/desired (MODULE.heartbeatd.desired, "
	"field\n"
	"targets.vipd), PUB ipc://DIR/<module>/actual (MODULE.vipd.actual:\n"
	"state up, down, starting or failed, reason, addresses, counters).\n"
	"See docs/protocol.md.\n"
	"\n"
	"Signals: SIGTERM/SIGINT remove the addresses and exit.\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration (file:line:column: field: why) or a setup failure.\n";

enum { OPT_NODE = 256, OPT_RUN_DIR };

static void report(bool check_only, const char *err)
{
	if (check_only)
		fprintf(stderr, "%s\n", err);
	else
		log_error("%s", err);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"node", required_argument, NULL, OPT_NODE},
		{"run-dir", required_argument, NULL, OPT_RUN_DIR},
		{"check", no_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config_path = "/etc/skyha/skyha.yaml";
	const char *run_dir = "/run/skyha";
	char node_name[SKY_NAME_MAX + 1] = "";
	bool check_only = false, verbose = false;
	static struct sky_config mod;
	static struct vipd_cfg cfg;
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
					"vipd: --node: '%s' is not a valid "
					"node name\n",
					optarg);
				return 1;
			}
			sky_strlcpy(node_name, optarg, sizeof(node_name));
			break;
		case OPT_RUN_DIR:
			run_dir = optarg;
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
			fputs("Try 'vipd --help'.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"vipd: unexpected argument '%s'\n"
			"Try 'vipd --help'.\n",
			argv[optind]);
		return 1;
	}

	sky_log_init("vipd", verbose);
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	r = sky_config_load(config_path, &mod, err, sizeof(err));
	if (r >= 0)
		r = vipd_cfg_load(config_path, &cfg, err, sizeof(err));
	sodium_memzero(mod.key, sizeof(mod.key)); /* vipd needs no key */
	if (r < 0) {
		report(check_only, err);
		return 1;
	}
	if (!node_name[0] && !check_only) {
		if (gethostname(node_name, sizeof(node_name)) < 0)
			node_name[0] = '\0';
		node_name[sizeof(node_name) - 1] = '\0';
		node_name[strcspn(node_name, ".")] = '\0';
	}
	if (node_name[0] && !sky_config_node(&mod, node_name)) {
		snprintf(err, sizeof(err),
			 "%s: node '%s' is not in nodes (%s, %s); pass --node",
			 config_path, node_name, mod.nodes[0].name,
			 mod.nodes[1].name);
		report(check_only, err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}

	sky_log_set_module(mod.module);
	sky_log_set_node(node_name);
	if (vipd_http_global_init() < 0) { /* before any thread */
		log_error("libcurl failed to initialise");
		return 1;
	}
	static struct vipd d;
	r = vipd_open(&d, &mod, &cfg, node_name, run_dir);
	if (r >= 0)
		r = vipd_run(&d);
	vipd_close(&d);
	return r < 0 ? 1 : 0;
}
