/*
 * main.c - wanem: a WAN between two interfaces, for the lab.
 *
 * The kernel here has no sch_netem, so the lab's cross-cloud latency, jitter,
 * loss, reordering and rate come from this program: it takes every frame
 * arriving on one interface and sends it out of the other after the link's
 * treatment (line.h), both ways. It parses nothing of the frames. Arguments
 * here; the loop in relay.c, the rings in port.c, the decisions in line.c,
 * the parameters and the control file's parser in params.c.
 */
#include "log.h"
#include "params.h"
#include "relay.h"
#include "util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: wanem [OPTIONS] IFACE_A IFACE_B\n"
		"\n"
		"Forward every Ethernet frame between two interfaces "
		"(AF_PACKET\n"
		"rings), both ways, as a WAN link would: each direction gets "
		"the\n"
		"same one-way delay, jitter, loss, reordering and rate.\n"
		"\n"
		"  --delay-ms MS      one-way delay (0..%d, decimals allowed; "
		"0)\n"
		"  --jitter-ms MS     each frame's delay varies uniformly "
		"within\n"
		"                     +-MS, never below 0; frames keep their "
		"order\n"
		"                     (0)\n"
		"  --loss-pct PCT     frames dropped at random, each direction "
		"(0)\n"
		"  --reorder-pct PCT  frames sent at once, ahead of those "
		"queued (0)\n"
		"  --rate-mbit MBIT   link rate: each frame takes its bits' "
		"time\n"
		"                     after the one ahead of it (0: "
		"unlimited)\n"
		"  --seed N           of the random draws: same seed, same "
		"losses\n"
		"                     (1)\n"
		"  --limit FRAMES     queue of each direction; more is dropped "
		"and\n"
		"                     counted (1..%d; %d)\n"
		"  --control FILE     on SIGHUP, read \"key = value\" lines "
		"(delay_ms,\n"
		"                     jitter_ms, loss_pct, reorder_pct, "
		"rate_mbit,\n"
		"                     seed) and apply them on top of the "
		"options;\n"
		"                     a missing or empty file restores the "
		"options\n"
		"  -v, --verbose      debug messages\n"
		"  -h, --help         this help\n"
		"\n"
		"Signals: SIGHUP re-reads --control FILE; SIGUSR1 prints the\n"
		"counters on stdout (also printed at exit); SIGTERM/SIGINT "
		"stop.\n"
		"Frames larger than %d bytes are dropped and counted: turn\n"
		"segmentation and checksum offloads off on the senders "
		"(ethtool -K\n"
		"DEV tx off tso off gso off). docs/wan.md has the measured "
		"limits.\n",
		WANEM_DELAY_MAX_MS, WANEM_LIMIT_MAX, WANEM_LIMIT_DFLT,
		WANEM_FRAME_MAX);
}

enum {
	OPT_DELAY = 256,
	OPT_JITTER,
	OPT_LOSS,
	OPT_REORDER,
	OPT_RATE,
	OPT_SEED,
	OPT_LIMIT,
	OPT_CONTROL,
};

static const char *const opt_keys[] = {
	[OPT_DELAY - OPT_DELAY] = "delay_ms",
	[OPT_JITTER - OPT_DELAY] = "jitter_ms",
	[OPT_LOSS - OPT_DELAY] = "loss_pct",
	[OPT_REORDER - OPT_DELAY] = "reorder_pct",
	[OPT_RATE - OPT_DELAY] = "rate_mbit",
	[OPT_SEED - OPT_DELAY] = "seed",
};

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"delay-ms", required_argument, NULL, OPT_DELAY},
		{"jitter-ms", required_argument, NULL, OPT_JITTER},
		{"loss-pct", required_argument, NULL, OPT_LOSS},
		{"reorder-pct", required_argument, NULL, OPT_REORDER},
		{"rate-mbit", required_argument, NULL, OPT_RATE},
		{"seed", required_argument, NULL, OPT_SEED},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"control", required_argument, NULL, OPT_CONTROL},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct wanem_relay relay;
	bool verbose = false;
	int64_t limit = WANEM_LIMIT_DFLT;
	char err[200], desc[200];
	int c, rc;

	memset(&relay, 0, sizeof(relay));
	wanem_params_default(&relay.base);
	while ((c = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
		switch (c) {
		case OPT_DELAY:
		case OPT_JITTER:
		case OPT_LOSS:
		case OPT_REORDER:
		case OPT_RATE:
		case OPT_SEED:
			if (wanem_params_set(&relay.base,
					     opt_keys[c - OPT_DELAY], optarg,
					     err, sizeof(err)) < 0) {
				fprintf(stderr, "wanem: --%s: %s\n",
					options[c - OPT_DELAY].name, err);
				return 2;
			}
			break;
		case OPT_LIMIT:
			if (sky_parse_i64(optarg, 1, WANEM_LIMIT_MAX, &limit) <
			    0) {
				fprintf(stderr,
					"wanem: --limit: '%s' is not a number "
					"of frames in 1..%d\n",
					optarg, WANEM_LIMIT_MAX);
				return 2;
			}
			break;
		case OPT_CONTROL:
			relay.control_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"wanem: expected two interfaces, got %d "
			"(wanem --help)\n",
			argc - optind);
		return 2;
	}
	sky_log_init("wanem", verbose);
	relay.params = relay.base;
	wanem_relay_signals_install();
	if (wanem_relay_open(&relay, argv[optind], argv[optind + 1],
			     (uint32_t)limit) < 0)
		return 1;
	if (relay.control_path)
		(void)wanem_relay_reload(&relay);
	wanem_params_format(&relay.params, desc, sizeof(desc));
	log_notice("forwarding %s <-> %s: %s; queue %" PRId64
		   " frames each way",
		   argv[optind], argv[optind + 1], desc, limit);
	rc = wanem_relay_run(&relay);
	wanem_relay_print_counters(&relay, stdout);
	wanem_relay_close(&relay);
	log_notice("stopped");
	return rc < 0 ? 1 : 0;
}
