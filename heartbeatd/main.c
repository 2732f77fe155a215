/*
 * heartbeatd - membership, quorum and the module state machine: the only
 * place roles are decided. main.c reads the arguments and the
 * configuration, then runs either a node (node.c) or the witness
 * (witness_server.c).
 */
#include "cli.h"
#include "config.h"
#include "log.h"
#include "node.h"
#include "witness_server.h"

#include <errno.h>
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
	"  -c, --config FILE    the module's configuration, required (the "
	"units pass\n"
	"                       /etc/skyha/<module>.yaml); see docs/config.md\n"
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
	"SIGHUP (systemctl reload): log whether the module file changed since\n"
	"start; nothing is applied live (restart to apply), but for a farm's\n"
	"nodes[].weight alone (the status's shares).\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration or a setup failure (the message says which file and "
	"field).\n";

enum { OPT_STATE_DIR = SKY_OPT_OWN, OPT_WITNESS };

struct own_options {
	const char *state_dir;
	bool witness;
};

static int own_option(int opt, const char *arg, void *data)
{
	struct own_options *own = data;
	if (opt == OPT_STATE_DIR)
		own->state_dir = arg;
	else if (opt == OPT_WITNESS)
		own->witness = true;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		SKY_CLI_OPTIONS,
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{"witness", no_argument, NULL, OPT_WITNESS},
		{0},
	};
	struct own_options own = {.state_dir = "/var/lib/skyha"};
	static struct sky_config cfg;
	struct sky_cli cli;
	int r;

	sky_cli_init(&cli, "heartbeatd", usage_text);
	r = sky_cli_parse(&cli, argc, argv, options, own_option, &own);
	if (r >= 0)
		return r;

	sky_log_init(own.witness ? "heartbeatd-witness" : "heartbeatd",
		     cli.verbose);
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	if (sky_cli_load(&cli, &cfg, !own.witness) < 0)
		return 1;
	if (own.witness && !cfg.quorum_witness) {
		fprintf(stderr,
			"%s: quorum: none, so there is no witness to run\n",
			cli.config_path);
		return 1;
	}
	if (cli.check_only) {
		printf("configuration OK\n");
		return 0;
	}

	sky_log_set_module(cfg.module);
	if (own.witness)
		return witness_run(&cfg, own.state_dir) < 0 ? 1 : 0;

	sky_log_set_node(cli.node);
	static struct node node;
	r = node_open(&node, &cfg, cli.node, cli.run_dir, own.state_dir);
	if (r >= 0)
		r = node_run(&node);
	node_close(&node);
	sodium_memzero(cfg.key, sizeof(cfg.key));
	return r < 0 ? 1 : 0;
}
