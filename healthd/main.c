/*
 * healthd - what the outside world asks a skyha node over HTTP: should I
 * send this module's traffic here (load balancers), and what is the cluster
 * doing (operators, monitoring). One healthd serves every module of the
 * node. main.c reads the arguments, opens the listening sockets (or takes
 * them from systemd), and runs the one event loop: zmq_poll over the
 * libmicrohttpd epoll fds and every module's bus sockets.
 */
#include "http.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "sub.h"

#define HEALTHD_FIRST_WAIT_MS 2000

#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zmq.h>

static const char usage_text[] =
	"Usage: healthd [OPTIONS]\n"
	"\n"
	"The HTTP face of a skyha node, for every module on it:\n"
	"  GET /health/MODULE   200 \"OK\" when this node should get the "
	"module's\n"
	"                       traffic (it serves: PRIM or ALONE, and every\n"
	"                       actuator reached its target), else 503 "
	"\"NOK\";\n"
	"                       404 for a module healthd does not know\n"
	"  GET /var/modules/MODULE/ready.txt   the same (SafeKit's path)\n"
	"  GET /status          JSON of every module: both nodes' roles, "
	"networks,\n"
	"                       quorum, actuators, counters, recent "
	"transitions\n"
	"  GET /metrics         Prometheus text format\n"
	"  GET /                a read-only web console\n"
	"HEAD works on every path; other methods get 405, other paths 404.\n"
	"\n"
	"The answer comes from the status heartbeatd publishes on the bus of "
	"each\n"
	"module (ipc://RUN/MODULE/desired, once a second and on change). It is "
	"OK\n"
	"only while healthd is connected to that heartbeatd and its last "
	"status is\n"
	"younger than 3 s: a dead or hung heartbeatd never leaves an OK "
	"behind.\n"
	"\n"
	"Options:\n"
	"      --run-dir DIR    find modules in DIR: every DIR/MODULE/ with a\n"
	"                       `desired` socket, rescanned every second "
	"(default\n"
	"                       /run/skyha)\n"
	"  -m, --module NAME    follow this module even before its socket "
	"exists\n"
	"                       (repeatable; discovered modules are followed "
	"too)\n"
	"  -l, --listen ADDR    where to listen, repeatable (at most 4): PORT "
	"or\n"
	"                       *:PORT (every IPv6 and IPv4 address), "
	"A.B.C.D:PORT,\n"
	"                       [IPV6]:PORT (default *:9010). Ignored when "
	"systemd\n"
	"                       passes a socket (FileDescriptorName=http)\n"
	"      --max-connections N   connections in all (default 256, at "
	"most\n"
	"                       16384): when full, the oldest connection that "
	"has\n"
	"                       sent no complete request, from the address "
	"that\n"
	"                       holds the most, is closed to make room\n"
	"      --max-per-address N   connections from one IPv4 address or "
	"IPv6 /64\n"
	"                       (default 32); more are refused\n"
	"      --header-timeout S    a request line and headers must arrive "
	"within\n"
	"                       S seconds of accept (or, on a kept-alive "
	"connection,\n"
	"                       of the request's first byte), else the "
	"connection\n"
	"                       is closed (default 5)\n"
	"      --idle-timeout S     a connection silent for S seconds is "
	"closed\n"
	"                       (default 10)\n"
	"\n"
	"The API and the console that act (docs/health.md, \"API\"):\n"
	"      --api-listen ADDR    serve the console and /api/v1 there only "
	"(as\n"
	"                       --listen, repeatable); --listen then serves\n"
	"                       /health/*, /status and /metrics alone\n"
	"      --tls-cert-file F, --tls-key-file F   PEM certificate (chain) "
	"and\n"
	"                       key: the --api-listen sockets speak HTTPS "
	"(needs\n"
	"                       --api-listen)\n"
	"      --users-file F   users who may log in: lines \"NAME ROLE HASH\" "
	"(ROLE\n"
	"                       monitor, control or admin; mode 0600)\n"
	"      --tokens-file F  bearer tokens: lines \"NAME ROLE SHA256-HEX "
	"EXPIRY\"\n"
	"                       (EXPIRY in RFC 3339; mode 0600)\n"
	"      --session-idle S     a console session ends after S idle "
	"seconds\n"
	"                       (default 900)\n"
	"      --hash-password [NAME ROLE]   read a password on stdin, print "
	"its\n"
	"                       argon2id hash (with NAME ROLE: the users "
	"file's\n"
	"                       line), exit\n"
	"Without TLS the API acts only when its sockets are on loopback.\n"
	"\n"
	"  -n, --check          check the options, print \"configuration OK\" "
	"and\n"
	"                       exit (healthd reads no configuration file: "
	"one\n"
	"                       healthd serves every module of the node)\n"
	"  -v, --verbose        debug messages (one line per request)\n"
	"  -h, --help           this text\n"
	"\n"
	"16 KiB of request line and headers per connection; request bodies are "
	"never\n"
	"read (but the API's POST bodies, at most 4 KiB). Nothing is read "
	"from disk\n"
	"to answer a request. At start, connections wait (at most 2 s) until "
	"every\n"
	"module found has a status from heartbeatd, so the first probe after "
	"a\n"
	"(socket-activated) start gets a real answer.\n"
	"\n"
	"SIGHUP reads the users and tokens files again (a bad one is refused, "
	"the\n"
	"ones in force stay).\n"
	"\n"
	"Logs go to the journal under systemd, else to stderr. Exit status: 0 "
	"after\n"
	"SIGTERM/SIGINT or a good --check; 1 on bad options or when the "
	"listening\n"
	"socket cannot be opened.\n";

/* "2 modules: app OK, db NOK (stale status)" for systemctl status. */
static void summarize(const struct healthd_table *t, int64_t now, char *buf,
		      size_t size)
{
	size_t used;
	int n = snprintf(buf, size, "%zu module%s%s", t->count,
			 t->count == 1 ? "" : "s", t->count ? ":" : "");
	used = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < t->count && used < size; i++) {
		enum healthd_verdict v = healthd_module_health(t->mods[i], now);
		n = snprintf(buf + used, size - used, "%s %s %s%s%s%s",
			     i ? "," : "", t->mods[i]->name,
			     v == HEALTHD_OK ? "OK" : "NOK",
			     v == HEALTHD_OK ? "" : " (",
			     v == HEALTHD_OK ? "" : healthd_verdict_text(v),
			     v == HEALTHD_OK ? "" : ")");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Log each module's answer when it changes between OK and NOK. */
static void log_changes(struct healthd_table *t, int64_t now)
{
	for (size_t i = 0; i < t->count; i++) {
		struct healthd_module *m = t->mods[i];
		enum healthd_verdict v = healthd_module_health(m, now);
		if ((v == HEALTHD_OK) == m->logged_ok)
			continue;
		m->logged_ok = v == HEALTHD_OK;
		log_notice("module %s: /health now %s (%s, role %s)", m->name,
			   v == HEALTHD_OK ? "200 OK" : "503 NOK",
			   healthd_verdict_text(v),
			   m->role[0] ? m->role : "unknown");
	}
}

/*
 * Until every module found at start has a status (or HEALTHD_FIRST_WAIT_MS
 * passed), connections wait in the kernel's queue: the first probe after a
 * start (socket activation) gets the real answer, not "no status yet".
 * READY=1 goes to systemd then: healthd serves from that moment.
 */
static void open_when_heard(struct healthd_http *http,
			    const struct healthd_table *t, int64_t now,
			    int64_t until, const char *ready)
{
	if (http->accepting)
		return;
	bool heard = healthd_table_all_heard(t);
	if (!heard && now < until)
		return;
	if (heard)
		log_info("every module has a status: answering requests");
	else
		log_warning("no status from heartbeatd for some module after "
			    "%d ms: answering requests anyway",
			    HEALTHD_FIRST_WAIT_MS);
	healthd_http_accept(http, true);
	sky_notify_ready(ready);
}

static int run(struct healthd_http *http, struct healthd_bus *bus,
	       const char *ready)
{
	/* Listening sockets, libmicrohttpd's epoll set, healthd's own (kept-
	 * alive connections), two sockets per module. */
	zmq_pollitem_t items[2 * HEALTHD_LISTEN_MAX + 4 + HEALTHD_CALLS_MAX +
			     2 * HEALTHD_MODULES_MAX];
	char status[512], last_status[512] = "";
	int64_t next_status_ms = 0;
	int64_t open_until = sky_now_ms() + HEALTHD_FIRST_WAIT_MS;

	while (!sky_stop_requested()) {
		int64_t now = sky_now_ms();
		open_when_heard(http, bus->table, now, open_until, ready);
		int timeout = healthd_http_timeout_ms(
			http, now, http->accepting ? 250 : 20);
		size_t n = healthd_http_poll_items(http, items,
						   SKY_ARRAY_SIZE(items));
		n += healthd_bus_poll_items(bus, items + n,
					    SKY_ARRAY_SIZE(items) - n);
		if (zmq_poll(items, (int)n, timeout) < 0 && errno != EINTR) {
			log_error("zmq_poll: %s", zmq_strerror(errno));
			return -errno;
		}
		now = sky_now_ms();
		/* The bus first, so requests are answered from the newest. */
		healthd_bus_drain(bus, now);
		open_when_heard(http, bus->table, now, open_until, ready);
		healthd_http_run(http, now);
		healthd_bus_scan(bus, now, false);
		if (sky_reload_requested())
			healthd_api_reload(&http->api);
		log_changes(bus->table, now);
		sky_notify_watchdog(now);
		if (now >= next_status_ms) {
			next_status_ms = now + 1000;
			summarize(bus->table, now, status, sizeof(status));
			if (strcmp(status, last_status) != 0) {
				sky_notify_status(status);
				sky_strlcpy(last_status, status,
					    sizeof(last_status));
			}
		}
	}
	return 0;
}

/* --max-connections, --max-per-address, --header-timeout, --idle-timeout */
static int parse_limit(int opt, const char *text, int64_t *out)
{
	const char *name = opt == 'C'	? "--max-connections"
			   : opt == 'P' ? "--max-per-address"
			   : opt == 'H' ? "--header-timeout"
					: "--idle-timeout";
	int64_t max = opt == 'C' || opt == 'P' ? HEALTHD_GUARD_LIMIT
					       : HEALTHD_IDLE_MAX_S;

	if (!text[0] || strspn(text, "0123456789") != strlen(text) ||
	    sky_parse_i64(text, 1, max, out) < 0) {
		fprintf(stderr,
			"healthd: %s: '%s' is not a whole number in "
			"1..%lld\n",
			name, text, (long long)max);
		return -EINVAL;
	}
	return 0;
}

/*
 * Every connection the guard tracks (live or closing: 2 x max-connections)
 * is a descriptor, plus libmicrohttpd's, ZeroMQ's and the listening ones:
 * raise the soft limit as far as the hard one allows, or say why not.
 */
static int ensure_fd_limit(const struct healthd_http_conf *conf)
{
	struct rlimit rl;
	rlim_t want = 2 * (rlim_t)conf->guard.max_total + 16 +
		      4 * HEALTHD_MODULES_MAX + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
				      ? want
				      : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		log_error("--max-connections %u needs %llu file descriptors; "
			  "the limit is %llu (LimitNOFILE=)",
			  conf->guard.max_total, (unsigned long long)want,
			  (unsigned long long)rl.rlim_cur);
		return -EMFILE;
	}
	return 0;
}

/* --tls-cert-file, --tls-key-file: PEM text for libmicrohttpd (GnuTLS). */
static int load_tls(const char *cert_file, const char *key_file, char **cert,
		    char **key, char *err, size_t err_size)
{
	struct stat st;
	size_t len;
	int r;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, err_size,
			 "--tls-cert-file: this libmicrohttpd is built "
			 "without TLS");
		return -ENOTSUP;
	}
	if (stat(key_file, &st) == 0 && (st.st_mode & 0007)) {
		snprintf(err, err_size,
			 "--tls-key-file %s: others may read it (mode %04o): "
			 "chmod o-rwx",
			 key_file, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r = sky_read_file(cert_file, 1024 * 1024, cert, &len);
	if (r < 0) {
		snprintf(err, err_size, "--tls-cert-file %s: %s", cert_file,
			 strerror(-r));
		return r;
	}
	r = sky_read_file(key_file, 1024 * 1024, key, &len);
	if (r < 0) {
		char hint[96] = "";
		if (r == -EACCES)
			snprintf(hint, sizeof(hint),
				 ": healthd runs as uid %u and must own it "
				 "(chown skyha:)",
				 (unsigned)geteuid());
		snprintf(err, err_size, "--tls-key-file %s: %s%s", key_file,
			 strerror(-r), hint);
		return r;
	}
	if (!strstr(*cert, "-----BEGIN ") || !strstr(*key, "-----BEGIN ")) {
		snprintf(err, err_size,
			 "--tls-cert-file/--tls-key-file: not PEM (-----BEGIN "
			 "...)");
		return -EINVAL;
	}
	return 0;
}

/*
 * Without TLS, a password or session cookie sent to the API would cross the
 * network in clear: the API acts only when every socket it is served on is
 * bound to loopback (reached through ssh -L, or a local reverse proxy that
 * terminates TLS).
 */
static void decide_api(struct healthd_api *a, const int *fds, int n)
{
	bool loopback = n > 0;

	for (int i = 0; i < n; i++)
		loopback = loopback && healthd_listen_is_loopback(fds[i]);
	a->may_act = a->tls || loopback;
	if (!a->have_users && !a->have_tokens)
		log_info("API: no --users-file or --tokens-file: the console "
			 "is read-only and /api/v1 refuses every request");
	else if (!a->may_act)
		log_warning("API: no TLS certificate and the API's socket is "
			    "not on loopback: /api/v1 refuses every request "
			    "(give --tls-cert-file, --tls-key-file and "
			    "--api-listen)");
	else
		log_info("API: %s, %zu user%s, %zu token%s",
			 a->tls ? "HTTPS" : "plain HTTP on loopback only",
			 a->users.user_count,
			 a->users.user_count == 1 ? "" : "s",
			 a->users.token_count,
			 a->users.token_count == 1 ? "" : "s");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"run-dir", required_argument, NULL, 'r'},
		{"module", required_argument, NULL, 'm'},
		{"listen", required_argument, NULL, 'l'},
		{"max-connections", required_argument, NULL, 'C'},
		{"max-per-address", required_argument, NULL, 'P'},
		{"header-timeout", required_argument, NULL, 'H'},
		{"idle-timeout", required_argument, NULL, 'I'},
		{"api-listen", required_argument, NULL, 'A'},
		{"tls-cert-file", required_argument, NULL, 'T'},
		{"tls-key-file", required_argument, NULL, 'K'},
		{"users-file", required_argument, NULL, 'U'},
		{"tokens-file", required_argument, NULL, 'O'},
		{"session-idle", required_argument, NULL, 'S'},
		{"hash-password", no_argument, NULL, 'W'},
		{"check", no_argument, NULL, 'n'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct healthd_listen listens[HEALTHD_LISTEN_MAX];
	static struct healthd_listen api_listens[HEALTHD_LISTEN_MAX];
	struct healthd_api_conf api_conf = {.session_idle_s =
						    HEALTHD_SESSION_IDLE_S};
	const char *tls_cert_file = NULL, *tls_key_file = NULL;
	_cleanup_free_ char *tls_cert = NULL, *tls_key = NULL;
	size_t api_listen_count = 0;
	bool hash_password = false;
	int api_fds[HEALTHD_LISTEN_MAX], api_fd_count = 0;
	static struct healthd_table table;
	static struct healthd_http http;
	static struct healthd_bus bus;
	struct healthd_http_conf conf;
	int64_t v;
	const char *modules[HEALTHD_MODULES_MAX];
	const char *run_dir = "/run/skyha";
	size_t listen_count = 0, module_count = 0;
	bool check_only = false, verbose = false;
	int fds[HEALTHD_LISTEN_MAX], fd_count, c, r;
	char err[256];

	healthd_http_conf_default(&conf);
	while ((c = getopt_long(argc, argv, "m:l:nvh", options, NULL)) != -1) {
		switch (c) {
		case 'C':
		case 'P':
		case 'H':
		case 'I':
			if (parse_limit(c, optarg, &v) < 0)
				return 1;
			if (c == 'C')
				conf.guard.max_total = (unsigned)v;
			else if (c == 'P')
				conf.guard.max_per_addr = (unsigned)v;
			else if (c == 'H')
				conf.guard.header_ms = v * 1000;
			else
				conf.idle_s = (unsigned)v;
			break;
		case 'r':
			if (!optarg[0] || strlen(optarg) >= PATH_MAX - 64) {
				fprintf(stderr,
					"healthd: --run-dir: empty or too "
					"long\n");
				return 1;
			}
			run_dir = optarg;
			break;
		case 'm':
			if (!sky_name_valid(optarg, strlen(optarg))) {
				fprintf(stderr,
					"healthd: --module: '%s' is not a "
					"valid module name ([A-Za-z0-9_.-], "
					"1..32)\n",
					optarg);
				return 1;
			}
			if (module_count == HEALTHD_MODULES_MAX) {
				fprintf(stderr,
					"healthd: --module: at most %d\n",
					HEALTHD_MODULES_MAX);
				return 1;
			}
			modules[module_count++] = optarg;
			break;
		case 'l':
			if (listen_count == HEALTHD_LISTEN_MAX) {
				fprintf(stderr,
					"healthd: --listen: at most %d\n",
					HEALTHD_LISTEN_MAX);
				return 1;
			}
			if (healthd_listen_parse(optarg, &listens[listen_count],
						 err, sizeof(err)) < 0) {
				fprintf(stderr, "healthd: %s\n", err);
				return 1;
			}
			listen_count++;
			break;
		case 'A':
			if (api_listen_count == HEALTHD_LISTEN_MAX) {
				fprintf(stderr,
					"healthd: --api-listen: at most %d\n",
					HEALTHD_LISTEN_MAX);
				return 1;
			}
			if (healthd_listen_parse(optarg,
						 &api_listens[api_listen_count],
						 err, sizeof(err)) < 0) {
				fprintf(stderr, "healthd: --api-listen: %s\n",
					err);
				return 1;
			}
			api_listen_count++;
			break;
		case 'T':
			tls_cert_file = optarg;
			break;
		case 'K':
			tls_key_file = optarg;
			break;
		case 'U':
			api_conf.users_file = optarg;
			break;
		case 'O':
			api_conf.tokens_file = optarg;
			break;
		case 'S':
			if (!optarg[0] ||
			    strspn(optarg, "0123456789") != strlen(optarg) ||
			    sky_parse_i64(optarg, 60, 86400, &v) < 0) {
				fprintf(stderr,
					"healthd: --session-idle: '%s' is not "
					"a whole number in 60..86400\n",
					optarg);
				return 1;
			}
			api_conf.session_idle_s = (unsigned)v;
			break;
		case 'W':
			hash_password = true;
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
			fputs("Try 'healthd --help'.\n", stderr);
			return 1;
		}
	}
	if (hash_password) {
		if (argc - optind != 0 && argc - optind != 2) {
			fprintf(stderr, "healthd: --hash-password takes NAME "
					"ROLE or nothing\n");
			return 1;
		}
		return healthd_hash_password(
			optind < argc ? argv[optind] : NULL,
			optind < argc ? argv[optind + 1] : NULL);
	}
	if (optind < argc) {
		fprintf(stderr,
			"healthd: unexpected argument '%s'\n"
			"Try 'healthd --help'.\n",
			argv[optind]);
		return 1;
	}
	bool listen_given = listen_count > 0;
	if (listen_count == 0) {
		char spec[16];
		snprintf(spec, sizeof(spec), "*:%d", HEALTHD_DEFAULT_PORT);
		healthd_listen_parse(spec, &listens[0], err, sizeof(err));
		listen_count = 1;
	}
	if (conf.guard.max_per_addr > conf.guard.max_total) {
		fprintf(stderr,
			"healthd: --max-per-address (%u) must not exceed "
			"--max-connections (%u)\n",
			conf.guard.max_per_addr, conf.guard.max_total);
		return 1;
	}
	if (!tls_cert_file != !tls_key_file) {
		fprintf(stderr, "healthd: --tls-cert-file and --tls-key-file "
				"go together\n");
		return 1;
	}
	if (tls_cert_file && !api_listen_count) {
		fprintf(stderr,
			"healthd: --tls-cert-file needs --api-listen: the "
			"HTTPS port of the API and console (--listen stays "
			"plain HTTP for load balancers)\n");
		return 1;
	}
	if (tls_cert_file) {
		r = load_tls(tls_cert_file, tls_key_file, &tls_cert, &tls_key,
			     err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "healthd: %s\n", err);
			return 1;
		}
	}
	conf.tls_cert_pem = tls_cert;
	conf.tls_key_pem = tls_key;
	api_conf.run_dir = run_dir;
	http.api.tls = tls_cert != NULL;
	if (healthd_api_load(&http.api, &api_conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "healthd: %s\n", err);
		healthd_api_stop(&http.api);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		healthd_api_stop(&http.api);
		return 0;
	}

	sky_log_init("healthd", verbose);
	r = ensure_fd_limit(&conf);
	if (r < 0)
		return 1;
	fd_count = healthd_listen_activated(fds, SKY_ARRAY_SIZE(fds));
	if (fd_count < 0) {
		log_error("systemd passed sockets healthd cannot use (want "
			  "listening TCP sockets named \"http\")");
		return 1;
	}
	bool activated = fd_count > 0;
	if (activated) {
		log_info("serving %d socket%s passed by systemd%s", fd_count,
			 fd_count == 1 ? "" : "s",
			 listen_given ? " (--listen ignored)" : "");
	} else {
		for (size_t i = 0; i < listen_count; i++) {
			r = healthd_listen_open(&listens[i]);
			if (r < 0) {
				log_error("cannot listen on %s: %s",
					  listens[i].text, strerror(-r));
				for (int j = 0; j < fd_count; j++)
					close(fds[j]);
				return 1;
			}
			fds[fd_count++] = r;
		}
	}
	for (size_t i = 0; i < api_listen_count; i++) {
		r = healthd_listen_open(&api_listens[i]);
		if (r < 0) {
			log_error("cannot listen on %s (--api-listen): %s",
				  api_listens[i].text, strerror(-r));
			for (int j = 0; j < fd_count; j++)
				close(fds[j]);
			for (int j = 0; j < api_fd_count; j++)
				close(api_fds[j]);
			return 1;
		}
		api_fds[api_fd_count++] = r;
	}
	decide_api(&http.api, api_fd_count ? api_fds : fds,
		   api_fd_count ? api_fd_count : fd_count);
	r = healthd_http_start(&http, &table, fds, (size_t)fd_count, api_fds,
			       (size_t)api_fd_count, &conf);
	if (r == 0)
		r = healthd_api_start(&http.api, &table);
	if (r < 0) {
		healthd_http_stop(&http);
		return 1;
	}

	healthd_bus_init(&bus, &table, run_dir, true);
	for (size_t i = 0; i < module_count; i++) {
		r = healthd_bus_follow(&bus, modules[i], true);
		if (r < 0) {
			log_error("cannot follow module %s: %s", modules[i],
				  strerror(-r));
			healthd_bus_close(&bus);
			healthd_http_stop(&http);
			return 1;
		}
	}
	healthd_bus_scan(&bus, sky_now_ms(), true);
	sky_stop_signals_install();

	char ready[256];
	snprintf(ready, sizeof(ready), "listening on %s, %zu module%s",
		 activated ? "the socket systemd passed" : listens[0].text,
		 table.count, table.count == 1 ? "" : "s");
	log_notice("%s (modules from %s)", ready, run_dir);

	r = run(&http, &bus, ready);

	sky_notify_stopping();
	healthd_http_stop(&http);
	healthd_bus_close(&bus);
	sky_bus_shutdown();
	log_info("stopped");
	return r < 0 ? 1 : 0;
}
