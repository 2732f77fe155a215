/*
 * checkd - the application itself: started where heartbeatd says it runs,
 * watched by checkers, restarted when it fails, and handed to the peer when
 * it keeps failing. main.c reads the arguments and both halves of the
 * configuration (the module, and the checkd: section), then runs the loop
 * in daemon.c.
 */
#include "cfg.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: checkd [OPTIONS]\n"
	"\n"
	"The application of one skyha module on one node. checkd follows the\n"
	"target heartbeatd publishes for it: \"up\" runs start_prim (or "
	"starts\n"
	"the configured systemd unit), \"down\" runs stop_prim. While the\n"
	"application runs, checkers watch it (process, tcp, http, icmp,\n"
	"interface, custom command), each at its interval and within its\n"
	"timeout, damped by fail_after/ok_after. A failed checker restarts "
	"the\n"
	"application, at most restart.max times in restart.window_ms; then\n"
	"checkd escalates: it asks heartbeatd to fail the module over to the\n"
	"peer, or stops the application and reports failed (the module goes "
	"to\n"
	"WAIT here). A script still running at its timeout is killed with its\n"
	"whole process group. The state of the application and of every\n"
	"checker is published on the bus every second and on change.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE    the module's configuration with a checkd: "
	"section,\n"
	"                       required (the units pass "
	"/etc/skyha/<module>.yaml);\n"
	"                       see docs/config.md\n"
	"      --node NAME      which entry of `nodes` this is (default: host "
	"name)\n"
	"      --run-dir DIR    the bus sockets are under DIR/<module>/ "
	"(default\n"
	"                       /run/skyha); relative pidfiles too\n"
	"  -n, --check          validate the configuration (the module and "
	"the\n"
	"                       checkd: section, that every script exists and "
	"is\n"
	"                       executable), print \"configuration OK\" and "
	"exit\n"
	"  -v, --verbose        debug messages (every checker run)\n"
	"  -h, --help           this text\n"
	"\n"
	"Scripts run in the config file's folder, in their own process group,\n"
	"with SKYHA_MODULE, SKYHA_NODE, SKYHA_PEER, SKYHA_ROLE, SKYHA_EPOCH,\n"
	"SKYHA_NODE_ADDRESS, SKYHA_PEER_ADDRESS, SKYHA_RUN_DIR and "
	"SKYHA_CONFIG_DIR\n"
	"in the environment; their output goes to the log line by line. A "
	"line\n"
	"SKYHA_PID=N from start_prim names the process for `from_start` "
	"checkers.\n"
	"\n"
	"Bus: SUB ipc://DIR/<module>/desired (MODULE.heartbeatd.desired), PUB\n"
	"ipc://DIR/<module>/actual (MODULE.checkd.actual); failover requests "
	"go\n"
	"to ipc://DIR/<module>/ctl. See docs/protocol.md.\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop the application (stop_prim, then\n"
	"stop_both) and exit.\n"
	"\n"
	"SIGHUP (systemctl reload): log whether the module file changed since\n"
	"start; nothing is applied live (restart to apply).\n"
	"\n"
	"Exit status: 0 after SIGTERM/SIGINT or a good --check; 1 on a bad\n"
	"configuration (file:line:column: field: why) or a setup failure.\n";

static int load_section(const char *path, void *cfg, char *err, size_t err_size)
{
	return checkd_cfg_load(path, cfg, err, err_size);
}

int main(int argc, char **argv)
{
	static struct sky_config mod;
	static struct checkd_cfg cfg;
	struct sky_cli cli;
	int r;

	sky_cli_init(&cli, "checkd", usage_text);
	r = sky_cli_parse(&cli, argc, argv, NULL, NULL, NULL);
	if (r >= 0)
		return r;

	r = sky_cli_start(&cli, &mod, false, load_section, &cfg);
	if (r >= 0)
		return r;
	static struct checkd d;
	r = checkd_open(&d, &mod, &cfg, cli.node, cli.run_dir);
	if (r >= 0)
		r = checkd_run(&d);
	checkd_close(&d);
	return r < 0 ? 1 : 0;
}
