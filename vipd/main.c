/*
 * vipd - the virtual IPs of one skyha module on one node: taken where
 * heartbeatd says the module serves, announced so that neighbours move to
 * this node at once, released everywhere else. main.c reads the arguments
 * and both halves of the configuration (the module, and the vipd: section),
 * then runs the loop in daemon.c.
 */
#include "cli.h"
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
	"  -c, --config FILE    the module's configuration with a vipd: "
	"section,\n"
	"                       required (the units pass "
	"/etc/skyha/<module>.yaml);\n"
	"                       see docs/config.md\n"
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
	"SIGHUP (systemctl reload): read and validate the module file again;\n"
	"a change of nodes[].weight alone is applied live (bucket mode: the\n"
	"buckets move, established connections stay); anything else is logged\n"
	"as needing a restart and not applied.\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration (file:line:column: field: why) or a setup failure.\n";

static int load_section(const char *path, void *cfg, char *err, size_t err_size)
{
	return vipd_cfg_load(path, cfg, err, err_size);
}

int main(int argc, char **argv)
{
	static struct sky_config mod;
	static struct vipd_cfg cfg;
	struct sky_cli cli;
	int r;

	sky_cli_init(&cli, "vipd", usage_text);
	r = sky_cli_parse(&cli, argc, argv, NULL, NULL, NULL);
	if (r >= 0)
		return r;

	r = sky_cli_start(&cli, &mod, false, load_section, &cfg);
	if (r >= 0)
		return r;
	if (sky_http_global_init() < 0) { /* before any thread */
		log_error("libcurl failed to initialise");
		return 1;
	}
	static struct vipd d;
	r = vipd_open(&d, &mod, &cfg, cli.node, cli.run_dir);
	if (r >= 0)
		r = vipd_run(&d);
	vipd_close(&d);
	return r < 0 ? 1 : 0;
}
