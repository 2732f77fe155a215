/*
 * main.c - skyctl, the operator's command-line client.
 *
 * Every command is one request/reply round trip with heartbeatd on the
 * module's control socket (docs/protocol.md): skyctl decides nothing
 * itself, so what a script sends over pyzmq and what skyctl sends are the
 * same. This file handles arguments, finding the module, exit codes and
 * printing; render.c turns a status object into text.
 *
 * Replies are hostile input: sky_ctl_call() bounds their size and checks
 * they are JSON objects, and every field is type-checked here before use
 * and printed through skyctl_safe_text().
 *
 * Messages go to stderr as "skyctl: ..." rather than through log.h: an
 * operator at a terminal wants plain lines, not timestamps or the journal.
 * Functions in this file that print their own errors return the process's
 * exit status (enum skyctl_exit) instead of -errno.
 */
#include "bus.h"
#include "ctlbackup.h"
#include "goal.h"
#include "render.h"
#include "support.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

/* The contract with scripts; documented in --help. */
enum skyctl_exit {
	SKYCTL_EXIT_OK = 0,
	SKYCTL_EXIT_REFUSED = 1,     /* heartbeatd said no, or made no sense */
	SKYCTL_EXIT_USAGE = 2,	     /* bad command line */
	SKYCTL_EXIT_UNREACHABLE = 3, /* no heartbeatd, or no reply in time */
	SKYCTL_EXIT_WAIT_TIMEOUT = 4,
};

#define DEFAULT_RUN_DIR		 "/run/skyha"
#define RUN_DIR_ENV		 "SKYHA_RUN_DIR"
#define REPLY_TIMEOUT_DEFAULT_MS 5000
#define WAIT_TIMEOUT_DEFAULT_MS	 30000
#define WAIT_POLL_MS		 100
#define TIMEOUT_MAX_S		 (24 * 3600)
#define MESSAGE_TEXT_MAX	 513 /* a daemon's message or error: 512 bytes */
#define MODULES_LISTED_MAX	 16
#define MODULE_LIST_TEXT_MAX	 600

struct skyctl {
	const char *run_dir;
	char module[SKY_NAME_MAX + 1];
	char ctl_path[PATH_MAX];
	char endpoint[PATH_MAX + 16];
	bool json;
	int64_t reply_timeout_ms;
};

/* What follows a command on the command line. */
struct command_args {
	bool force;	  /* prim --force, resync --discard-local */
	bool full;	  /* resync --full */
	int checkers_on;  /* checkers on|off: 1 or 0; -1: not given */
	const char *role; /* wait STATE[,STATE...] */
	int64_t wait_timeout_ms;
};

static const char help_text[] =
	"NAME\n"
	"    skyctl - inspect and steer a skyha module on this node\n"
	"\n"
	"SYNOPSIS\n"
	"    skyctl [-m MODULE] [--run-dir DIR] [--json] [--timeout SECONDS]\n"
	"           COMMAND [ARGS]\n"
	"    skyctl --help\n"
	"\n"
	"DESCRIPTION\n"
	"    skyctl talks to heartbeatd, the daemon that decides this node's "
	"role\n"
	"    for one module (one protected application), over the module's\n"
	"    control socket ipc://RUN_DIR/MODULE/ctl. Each command is one "
	"JSON\n"
	"    request and one JSON reply (docs/protocol.md), so a script can "
	"do\n"
	"    the same with any ZeroMQ client. Commands act on the node skyctl\n"
	"    runs on; heartbeatd applies the cluster's rules and may refuse.\n"
	"\n"
	"COMMANDS\n"
	"    status\n"
	"        The module at a glance: both nodes with their role, data "
	"state,\n"
	"        data generation and when each was last heard from; whether "
	"this\n"
	"        node serves and for how long; each heartbeat network; quorum "
	"and\n"
	"        the witness lease; the last transition, when and why; a step\n"
	"        still pending; the actuators (replicd, vipd, checkd); and "
	"the\n"
	"        counters of dropped heartbeat packets.\n"
	"\n"
	"    swap\n"
	"        Hand the primary role to the other node. Either node may "
	"ask;\n"
	"        the other node must be SECOND with up-to-date data.\n"
	"\n"
	"    prim [--force]\n"
	"        Make this node primary. From SECOND this is a swap; from "
	"WAIT\n"
	"        this node wins the next election if its data is the newest.\n"
	"        --force  become primary even though this node's data is not "
	"the\n"
	"                 newest: it becomes the newest, and writes that only "
	"the\n"
	"                 other node has are overwritten when it resyncs. "
	"Quorum\n"
	"                 is still required.\n"
	"\n"
	"    second\n"
	"        Make this node secondary. From PRIM this is a swap; from WAIT "
	"the\n"
	"        node will not become primary while the other node can.\n"
	"\n"
	"    stop\n"
	"        Stop the module on this node (role STOP). A primary first "
	"hands\n"
	"        over to an up-to-date peer.\n"
	"\n"
	"    start\n"
	"        Leave STOP: the node goes to WAIT, then to whatever role the\n"
	"        rules allow.\n"
	"\n"
	"    resync --discard-local\n"
	"        After both nodes served alone (the copies diverged, replicd\n"
	"        refuses to resync on its own): drop THIS node's changes. Its\n"
	"        replicd forgets them and receives a full copy from the peer.\n"
	"        Only on a node that is not serving; the copy is lost for "
	"good.\n"
	"\n"
	"    restart\n"
	"        checkd restarts the application in place on this node (stop,\n"
	"        start; no role change, not counted in its restart window).\n"
	"        Only where the module serves.\n"
	"\n"
	"    checkers on|off\n"
	"        Turn checkd's checkers off (it then neither restarts the\n"
	"        application nor fails over on a checker: for maintenance of\n"
	"        the application) or on again. heartbeatd forgets \"off\" "
	"when\n"
	"        it restarts.\n"

	"    resync --full\n"
	"        On the serving node: end the session with the peer; the next\n"
	"        one compares both copies by their hashes whatever the change\n"
	"        records say, and sends what differs (repairs what verify\n"
	"        found). The peer is not up to date until it ends.\n"
	"\n"
	"    verify\n"
	"        On the primary, while the peer is in sync: compare both "
	"copies\n"
	"        (64 KiB zone hashes, mode, owner, xattrs, entries) while the\n"
	"        application runs, changing nothing, under\n"
	"        replicd.verify_max_bytes_per_s. Progress and the last "
	"result\n"
	"        (differences: path, what, zones) in `skyctl status`; every\n"
	"        difference in the journal. Zones written during the verify\n"
	"        are counted as \"changed during verify\", not as "
	"differences.\n"
	"\n"
	"    state\n"
	"        This node's role as one word (STOP, WAIT, SECOND, ALONE, PRIM "
	"or\n"
	"        UP) on standard output and in the exit status, for scripts:\n"
	"        10 STOP, 11 WAIT, 12 SECOND, 13 ALONE, 14 PRIM, 15 UP. A "
	"module\n"
	"        stopped on this node (heartbeatd not running) is STOP, 10.\n"
	"        Errors keep their codes (2 usage, 3 unreachable).\n"
	"\n"
	"    wait STATE[,STATE...] [--timeout SECONDS]\n"
	"        Ask for status every 100 ms until this node is in one of the\n"
	"        states, then exit 0. A state is a role (STOP, WAIT, SECOND,\n"
	"        ALONE, PRIM, UP), \"serving\" (PRIM, ALONE or UP), or the\n"
	"        replication state replicd reports on this node (insync,\n"
	"        resyncing, degraded, waiting, diverged, stopped), in any "
	"case.\n"
	"        --timeout here is how long to wait in all (default 30); a\n"
	"        heartbeatd that is not answering yet is asked again until "
	"then.\n"
	"\n"
	"    snapshot [--output FILE] [--config FILE] [--state-dir DIR]\n"
	"             [--since WHEN]\n"
	"        Write one archive (.tar.gz, readable by its owner only) to "
	"hand\n"
	"        to whoever helps: heartbeatd's status with every daemon's "
	"state\n"
	"        (as JSON and as status shows it), the module's journal since\n"
	"        WHEN (default -1h, journalctl's --since syntax), the module "
	"file\n"
	"        (default /etc/skyha/MODULE.yaml) with secret values removed, "
	"the\n"
	"        names, sizes and times of the files in DIR/MODULE (default\n"
	"        /var/lib/skyha: change record, generations), and versions. "
	"Key\n"
	"        and password files are never read. Works with heartbeatd "
	"down:\n"
	"        the archive then says so. Prints the archive's path; default\n"
	"        ./skyha-snapshot-MODULE-HOST-TIME.tar.gz.\n"
	"\n"
	"    backup now|list|verify|restore|forget [ARGS]\n"
	"        Run backupd(8) for the module (now: a backup to this node's\n"
	"        targets); ARGS, output and exit codes are backupd's\n"
	"        (docs/backup.md). The module's file is\n"
	"        $SKYHA_CONFIG_DIR/MODULE.yaml (default /etc/skyha).\n"
	"\n"
	"    help\n"
	"        Print this text.\n"
	"\n"
	"    Commands print heartbeatd's answer, for example\n"
	"    \"swap requested: node2 will become primary\". A command that "
	"was\n"
	"    accepted has been requested, not completed: use wait to see it "
	"done.\n"
	"\n"
	"ROLES\n"
	"    STOP    the module is stopped on this node\n"
	"    WAIT    running but not allowed to serve: no quorum, data that "
	"may\n"
	"            not be the newest, or a failed transition (status says "
	"why)\n"
	"    SECOND  secondary: receives the primary's writes, ready to take "
	"over\n"
	"    ALONE   primary without a reachable peer; changes are tracked so "
	"the\n"
	"            peer resyncs only what changed\n"
	"    PRIM    primary, replicating to the secondary\n"
	"\n"
	"OPTIONS\n"
	"    -m, --module MODULE\n"
	"        The module to talk to. Default: the only subdirectory of the "
	"run\n"
	"        directory that holds a ctl socket; with none or several, "
	"skyctl\n"
	"        names the ones it found and asks for -m.\n"
	"\n"
	"    --run-dir DIR\n"
	"        Where heartbeatd creates its sockets. Default: $" RUN_DIR_ENV
	",\n"
	"        else " DEFAULT_RUN_DIR ".\n"
	"\n"
	"    --json\n"
	"        Print heartbeatd's reply as one pretty-printed JSON object\n"
	"        instead of text: {\"ok\":true,\"status\":{...}} for status,\n"
	"        {\"ok\":...,\"message\" or \"error\":...} for a command, and "
	"the\n"
	"        last status reply for wait. Also accepted after the command.\n"
	"        Exit statuses are the same as without it.\n"
	"\n"
	"    --timeout SECONDS\n"
	"        How long to wait for each reply (default 5; fractions such as "
	"0.5\n"
	"        are allowed). Give it before the command: after \"wait "
	"ROLE\",\n"
	"        --timeout is the wait's own.\n"
	"\n"
	"    -h, --help\n"
	"        Print this text and exit.\n"
	"\n"
	"    --version\n"
	"        Print skyctl's version and exit.\n"
	"\n"
	"EXIT STATUS\n"
	"    0  success; for wait, the state was reached\n"
	"    1  heartbeatd refused the command (its reason is printed), or "
	"its\n"
	"       reply made no sense\n"
	"    2  usage error: unknown command or option, bad argument, or "
	"several\n"
	"       modules and no -m\n"
	"    3  heartbeatd not reachable: no module or no control socket in "
	"the\n"
	"       run directory, or nothing listening on it (the module is\n"
	"       stopped on this node: said at once), or no reply within the\n"
	"       timeout; the message names the socket (see systemctl status\n"
	"       skyha-heartbeatd@MODULE)\n"
	"    4  wait timed out; the state this node was in is printed\n"
	"    10-15  state: this node's role (10 STOP, 11 WAIT, 12 SECOND,\n"
	"       13 ALONE, 14 PRIM, 15 UP)\n"
	"\n"
	"ENVIRONMENT\n"
	"    " RUN_DIR_ENV "  the run directory when --run-dir is not given\n"
	"\n"
	"FILES\n"
	"    " DEFAULT_RUN_DIR "/MODULE/ctl\n"
	"        heartbeatd's control socket (ZeroMQ REQ/REP, one JSON object\n"
	"        each way).\n"
	"\n"
	"EXAMPLES\n"
	"    skyctl status\n"
	"    skyctl -m app --json status | jq -r .status.node.role\n"
	"    skyctl swap && skyctl wait second\n"
	"    skyctl start && skyctl wait serving --timeout 60\n"
	"    skyctl wait insync --timeout 600   (a resync has ended)\n"
	"    skyctl state; case $? in 14|13) echo serving;; 12) echo standby;; "
	"esac\n"
	"    skyctl prim --force     (after a disaster: this node's data "
	"wins)\n";

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("skyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	va_list ap;

	fputs("skyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'skyctl --help' for more information.\n", stderr);
	return SKYCTL_EXIT_USAGE;
}

static void closedirp(DIR **dir)
{
	if (*dir)
		closedir(*dir);
}
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

/* "5", "0.5", "2.25": seconds, to the millisecond, into ms. */
static int parse_seconds(const char *text, int64_t *out_ms)
{
	const char *dot = strchr(text, '.');
	size_t whole_len = dot ? (size_t)(dot - text) : strlen(text);
	char whole[24];
	int64_t seconds, fraction_ms = 0;
	int r;

	if (whole_len == 0 || whole_len >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, text, whole_len);
	whole[whole_len] = '\0';
	r = sky_parse_i64(whole, 0, TIMEOUT_MAX_S, &seconds);
	if (r < 0)
		return r;
	if (dot) {
		const char *digits = dot + 1;
		size_t count = strlen(digits);

		if (count == 0 || count > 3)
			return -EINVAL;
		for (size_t i = 0; i < 3; i++) {
			fraction_ms *= 10;
			if (i >= count)
				continue;
			if (!isdigit((unsigned char)digits[i]))
				return -EINVAL;
			fraction_ms += digits[i] - '0';
		}
	}
	*out_ms = seconds * 1000 + fraction_ms;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* "a, b, c" from a sorted copy of names, "(none)" when empty. */
static void list_names(char names[][SKY_NAME_MAX + 1], size_t count,
		       size_t total, char *buf, size_t size)
{
	size_t used = 0;

	qsort(names, count, sizeof(names[0]), compare_names);
	buf[0] = '\0';
	for (size_t i = 0; i < count && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
				 names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (total > count && used < size)
		snprintf(buf + used, size - used, " and %zu more",
			 total - count);
	if (total == 0)
		snprintf(buf, size, "(none)");
}

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * With no -m: the module is the only subdirectory of the run directory with
 * a ctl socket. Anything else is an error that lists what is there, so the
 * operator can pick with -m.
 */
static int find_module(struct skyctl *ctl)
{
	_cleanup_closedir_ DIR *dir = opendir(ctl->run_dir);
	char serving[MODULES_LISTED_MAX][SKY_NAME_MAX + 1];
	char silent[MODULES_LISTED_MAX][SKY_NAME_MAX + 1];
	size_t serving_total = 0, silent_total = 0;
	char listing[MODULE_LIST_TEXT_MAX], path[PATH_MAX];
	struct dirent *entry;

	if (!dir) {
		int err = errno;
		fail("cannot read the run directory %s: %s", ctl->run_dir,
		     strerror(err));
		if (err == ENOENT)
			fail("is skyha running on this node? (--run-dir "
			     "or " RUN_DIR_ENV " name another run directory)");
		return SKYCTL_EXIT_UNREACHABLE;
	}
	while ((entry = readdir(dir))) {
		const char *name = entry->d_name;
		struct stat st;
		int n;

		if (name[0] == '.' || !sky_name_valid(name, strlen(name)))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s/%s", ctl->run_dir, name,
			     SKY_EP_CTL);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		if (is_socket(path)) {
			if (serving_total < MODULES_LISTED_MAX)
				sky_strlcpy(serving[serving_total], name,
					    sizeof(serving[0]));
			serving_total++;
			continue;
		}
		path[n - strlen(SKY_EP_CTL) - 1] = '\0';
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (silent_total < MODULES_LISTED_MAX)
				sky_strlcpy(silent[silent_total], name,
					    sizeof(silent[0]));
			silent_total++;
		}
	}
	if (serving_total == 1)
		return sky_strlcpy(ctl->module, serving[0],
				   sizeof(ctl->module)) < 0
			       ? SKYCTL_EXIT_USAGE
			       : SKYCTL_EXIT_OK;
	if (serving_total > 1) {
		list_names(serving,
			   MODULES_LISTED_MAX < serving_total
				   ? MODULES_LISTED_MAX
				   : serving_total,
			   serving_total, listing, sizeof(listing));
		return usage_error(
			"%s has several modules (%s): pass -m MODULE "
			"to choose one",
			ctl->run_dir, listing);
	}
	list_names(silent,
		   MODULES_LISTED_MAX < silent_total ? MODULES_LISTED_MAX
						     : silent_total,
		   silent_total, listing, sizeof(listing));
	fail("no module in %s has a control socket (directories without one: "
	     "%s)",
	     ctl->run_dir, listing);
	fail("is heartbeatd running? pass -m MODULE to name one, and see "
	     "systemctl status 'skyha-heartbeatd@*'");
	return SKYCTL_EXIT_UNREACHABLE;
}

/* Settle the module and its socket's path and endpoint. */
static int resolve_target(struct skyctl *ctl)
{
	int n;

	if (!ctl->module[0]) {
		int status = find_module(ctl);
		if (status != SKYCTL_EXIT_OK)
			return status;
	}
	n = snprintf(ctl->ctl_path, sizeof(ctl->ctl_path), "%s/%s/%s",
		     ctl->run_dir, ctl->module, SKY_EP_CTL);
	/* A unix socket's path must fit in sun_path, or connect fails. */
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return usage_error(
			"the socket path %.200s/%s/%s is too long for "
			"a unix socket: use a shorter --run-dir",
			ctl->run_dir, ctl->module, SKY_EP_CTL);
	if (sky_bus_endpoint(ctl->endpoint, sizeof(ctl->endpoint), ctl->run_dir,
			     ctl->module, SKY_EP_CTL) < 0)
		return usage_error("--run-dir is too long");
	return SKYCTL_EXIT_OK;
}

static void suggest_systemctl(const struct skyctl *ctl)
{
	fail("is heartbeatd running? try: systemctl status skyha-heartbeatd@%s",
	     ctl->module);
}

/*
 * No heartbeatd behind the socket: no socket file, or a file left behind
 * that refuses connections (ZeroMQ does not always remove it).
 */
static int report_stopped(const struct skyctl *ctl, int err)
{
	fail("module %s is stopped on this node (heartbeatd is not running)",
	     ctl->module);
	if (err == ENOENT)
		fail("no control socket at %s", ctl->ctl_path);
	else
		fail("nothing listens on the control socket %s", ctl->ctl_path);
	fail("start it with: systemctl start skyha@%s.target", ctl->module);
	return SKYCTL_EXIT_UNREACHABLE;
}

/*
 * Fail fast when there is no socket to talk to, or nothing listens on it:
 * ZeroMQ would otherwise retry the connection quietly until the reply
 * timeout, and say nothing about why.
 */
static int socket_error(const struct skyctl *ctl)
{
	struct stat st;

	if (stat(ctl->ctl_path, &st) < 0)
		return errno;
	if (!S_ISSOCK(st.st_mode))
		return ENOTSOCK;
	if (access(ctl->ctl_path, W_OK) < 0)
		return errno;
	return -sky_ctl_probe(ctl->endpoint);
}

static int check_socket(const struct skyctl *ctl)
{
	int err = socket_error(ctl);

	if (err == 0)
		return SKYCTL_EXIT_OK;
	if (err == EACCES) {
		fail("%s: permission denied (run skyctl as root, or as a user "
		     "allowed to write to the socket)",
		     ctl->ctl_path);
		return SKYCTL_EXIT_UNREACHABLE;
	}
	if (err == ENOENT || err == ECONNREFUSED)
		return report_stopped(ctl, err);
	fail("cannot use the control socket %s: %s", ctl->ctl_path,
	     strerror(err));
	suggest_systemctl(ctl);
	return SKYCTL_EXIT_UNREACHABLE;
}

static int request(const struct skyctl *ctl, const char *command, bool force,
		   int64_t timeout_ms, json_t **reply)
{
	/* resync says which side's changes go, or --full (not force);
	 * checkers "off" travels as force = false (see cmd_action). */
	bool resync = strcmp(command, "resync") == 0;
	bool checkers = strcmp(command, "checkers") == 0;
	_cleanup_json_ json_t *req =
		checkers ? json_pack("{s:s,s:b}", "command", command, "on",
				     force)
		: force || resync ? json_pack("{s:s,s:b}", "command", command,
					      !resync ? "force"
					      : force ? "discard_local"
						      : "full",
					      1)
				  : json_pack("{s:s}", "command", command);

	if (!req)
		return -ENOMEM;
	return sky_ctl_call(ctl->endpoint, req, (int)timeout_ms, reply);
}

/* Explain why a request got no usable reply; returns the exit status. */
static int report_call_error(const struct skyctl *ctl, int r,
			     int64_t timeout_ms)
{
	char dur[32];

	switch (r) {
	case -ETIMEDOUT:
		/* The socket accepted the connection: something is there. */
		skyctl_format_duration(timeout_ms, dur, sizeof(dur));
		fail("heartbeatd on %s accepts connections but did not reply "
		     "within %s (busy, hung or still starting?)",
		     ctl->endpoint, dur);
		suggest_systemctl(ctl);
		return SKYCTL_EXIT_UNREACHABLE;
	case -ENOENT:
	case -ECONNREFUSED:
		return report_stopped(ctl, -r);
	case -EBADMSG:
		fail("heartbeatd on %s sent a reply that is not one JSON "
		     "object "
		     "of at most %d bytes",
		     ctl->endpoint, SKY_BUS_MSG_MAX);
		return SKYCTL_EXIT_REFUSED;
	default:
		fail("cannot talk to heartbeatd on %s: %s", ctl->endpoint,
		     strerror(-r));
		suggest_systemctl(ctl);
		return SKYCTL_EXIT_UNREACHABLE;
	}
}

/* Print a refusal or a reply that makes no sense; returns the exit status. */
static int check_reply(const json_t *reply)
{
	const json_t *ok = json_object_get(reply, "ok");
	const json_t *error = json_object_get(reply, "error");
	char text[MESSAGE_TEXT_MAX];

	if (json_is_true(ok))
		return SKYCTL_EXIT_OK;
	if (!json_is_false(ok))
		fail("heartbeatd's reply makes no sense: no \"ok\": true or "
		     "false");
	else if (json_is_string(error) && json_string_length(error) > 0)
		fail("heartbeatd refused: %s",
		     skyctl_safe_text(error, text, sizeof(text)));
	else
		fail("heartbeatd refused without saying why");
	return SKYCTL_EXIT_REFUSED;
}

static void print_json(const json_t *reply)
{
	/* ASCII-only: the raw reply is printed, but never raw bytes. */
	json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
}

static int cmd_status(const struct skyctl *ctl)
{
	_cleanup_json_ json_t *reply = NULL;
	const json_t *status;
	int r;

	r = request(ctl, "status", false, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return report_call_error(ctl, r, ctl->reply_timeout_ms);
	if (ctl->json)
		print_json(reply);
	r = check_reply(reply);
	if (r != SKYCTL_EXIT_OK)
		return r;
	status = json_object_get(reply, "status");
	if (!json_is_object(status)) {
		fail("heartbeatd's reply has no status object");
		return SKYCTL_EXIT_REFUSED;
	}
	if (!ctl->json && skyctl_render_status(stdout, status) < 0) {
		fail("writing the status: %s", strerror(errno));
		return SKYCTL_EXIT_REFUSED;
	}
	return SKYCTL_EXIT_OK;
}

/*
 * state: this node's role, one word on stdout and in the exit status
 * (SKYCTL_STATE_EXIT_BASE + the role) so a script can branch on either. A
 * module stopped on this node (no heartbeatd listening) is STOP.
 */
static int cmd_state(const struct skyctl *ctl)
{
	_cleanup_json_ json_t *reply = NULL;
	int err = socket_error(ctl), r, role;

	if (err == ENOENT || err == ECONNREFUSED) {
		if (ctl->json)
			printf("{\"module\": \"%s\", \"role\": \"STOP\", "
			       "\"heartbeatd\": false}\n",
			       ctl->module);
		else
			printf("STOP\n");
		return SKYCTL_STATE_EXIT_BASE + SKY_ROLE_STOP;
	}
	r = check_socket(ctl);
	if (r != SKYCTL_EXIT_OK)
		return r;
	r = request(ctl, "status", false, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return report_call_error(ctl, r, ctl->reply_timeout_ms);
	r = check_reply(reply);
	if (r != SKYCTL_EXIT_OK)
		return r;
	role = skyctl_status_role(json_object_get(reply, "status"));
	if (role < 0) {
		fail("heartbeatd's status names no role this skyctl knows");
		return SKYCTL_EXIT_REFUSED;
	}
	if (ctl->json)
		printf("{\"module\": \"%s\", \"role\": \"%s\", "
		       "\"heartbeatd\": true}\n",
		       ctl->module, sky_role_name((enum sky_role)role));
	else
		printf("%s\n", sky_role_name((enum sky_role)role));
	return SKYCTL_STATE_EXIT_BASE + role;
}

static const json_t *reply_status(const json_t *reply);

/*
 * snapshot [--output FILE] [--config FILE] [--state-dir DIR] [--since WHEN]:
 * an archive for support (support.c). heartbeatd's silence is recorded in
 * it, not fatal: a snapshot is most wanted when something is wrong.
 */
static int cmd_snapshot(struct skyctl *ctl, int argc, char **argv)
{
	char config[PATH_MAX], why[PATH_MAX + 128] = "";
	struct skyctl_snapshot snap = {.module = ctl->module,
				       .run_dir = ctl->run_dir,
				       .state_dir = "/var/lib/skyha",
				       .since = "-1h"};
	_cleanup_json_ json_t *reply = NULL;

	for (int i = 0; i < argc; i++) {
		const char **value =
			strcmp(argv[i], "--output") == 0   ? &snap.output
			: strcmp(argv[i], "--config") == 0 ? &snap.config_path
			: strcmp(argv[i], "--state-dir") == 0 ? &snap.state_dir
			: strcmp(argv[i], "--since") == 0     ? &snap.since
							      : NULL;
		if (!value)
			return usage_error(
				"snapshot: unexpected argument '%.64s' "
				"(--output, --config, --state-dir, --since)",
				argv[i]);
		if (i + 1 >= argc || !argv[i + 1][0] ||
		    strlen(argv[i + 1]) >= PATH_MAX)
			return usage_error("snapshot: %s needs a value",
					   argv[i]);
		*value = argv[++i];
	}
	/* A time journalctl cannot read left the archive without the
	 * module's journal (journalctl's error in its place), exit 0. */
	if (skyctl_snapshot_since_ok(snap.since) == 0)
		return usage_error("snapshot: --since: journalctl cannot read "
				   "'%.64s' as a time (-1h, -30min, yesterday, "
				   "\"2026-12-07 10:00:00\": journalctl's "
				   "--since syntax)",
				   snap.since);
	if (!snap.config_path) {
		snprintf(config, sizeof(config), "/etc/skyha/%s.yaml",
			 ctl->module);
		snap.config_path = config;
	}
	int err = socket_error(ctl);
	if (err == 0)
		err = -request(ctl, "status", false, ctl->reply_timeout_ms,
			       &reply);
	if (err == 0 && !reply_status(reply))
		err = EPROTO;
	if (err == 0)
		snap.status = reply_status(reply);
	else
		snprintf(why, sizeof(why), "%s: %s", ctl->ctl_path,
			 err == ENOENT || err == ECONNREFUSED
				 ? "heartbeatd is not running"
				 : strerror(err));
	snap.status_error = why;
	if (err)
		fail("no status from heartbeatd (%s): the snapshot says so",
		     why);
	if (skyctl_snapshot_write(&snap, why, sizeof(why)) < 0) {
		fail("snapshot: %s", why);
		return SKYCTL_EXIT_REFUSED;
	}
	return SKYCTL_EXIT_OK;
}

/* swap, prim, second, stop, start: ask, and print heartbeatd's answer. */
static int cmd_action(const struct skyctl *ctl, const char *command, bool force)
{
	_cleanup_json_ json_t *reply = NULL;
	const json_t *message;
	char text[MESSAGE_TEXT_MAX];
	int r;

	r = request(ctl, command, force, ctl->reply_timeout_ms, &reply);
	if (r < 0)
		return report_call_error(ctl, r, ctl->reply_timeout_ms);
	if (ctl->json)
		print_json(reply);
	r = check_reply(reply);
	if (r != SKYCTL_EXIT_OK || ctl->json)
		return r;
	message = json_object_get(reply, "message");
	if (json_is_string(message) && json_string_length(message) > 0)
		printf("%s\n", skyctl_safe_text(message, text, sizeof(text)));
	else
		printf("%s%s: accepted\n", command,
		       force && strcmp(command, "checkers") != 0 ? " --force"
								 : "");
	return SKYCTL_EXIT_OK;
}

/* A reply that carries a status object; NULL for anything else. */
static const json_t *reply_status(const json_t *reply)
{
	const json_t *status = json_object_get(reply, "status");

	if (!json_is_true(json_object_get(reply, "ok")) ||
	    !json_is_object(status))
		return NULL;
	return status;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The last thing wait saw, for its closing words. */
static int report_wait_timeout(const struct skyctl_goal *goal,
			       int64_t timeout_ms, const json_t *status)
{
	const json_t *node = json_object_get(status, "node");
	const json_t *why = json_object_get(node, "waiting_for");
	char dur[32], name[SKY_NAME_MAX * 2 + 1], role[17];
	char reason[MESSAGE_TEXT_MAX], wanted[MESSAGE_TEXT_MAX];
	const json_t *replicd = json_object_get(
		json_object_get(status, "actuators"), "replicd");
	char sync_word[32], sync_text[64] = "";

	skyctl_format_duration(timeout_ms, dur, sizeof(dur));
	skyctl_goal_describe(goal, wanted, sizeof(wanted));
	if (goal->syncs && skyctl_status_sync(status))
		snprintf(sync_text, sizeof(sync_text), ", replication %s",
			 skyctl_safe_text(json_object_get(replicd, "sync"),
					  sync_word, sizeof(sync_word)));
	fail("timed out after %s waiting for %s: %s is %s%s%s%s%s", dur, wanted,
	     skyctl_safe_text(json_object_get(node, "name"), name,
			      sizeof(name)),
	     skyctl_safe_text(json_object_get(node, "role"), role,
			      sizeof(role)),
	     json_is_string(why) && json_string_length(why) ? " (" : "",
	     json_is_string(why) && json_string_length(why)
		     ? skyctl_safe_text(why, reason, sizeof(reason))
		     : "",
	     json_is_string(why) && json_string_length(why) ? ")" : "",
	     sync_text);
	return SKYCTL_EXIT_WAIT_TIMEOUT;
}

/*
 * Poll status until the role is reached or the time is up. A heartbeatd
 * that is restarting does not end the wait: it is asked again until the
 * deadline, and only the last answer (or silence) decides the exit status.
 */
static int cmd_wait(const struct skyctl *ctl, const struct skyctl_goal *goal,
		    int64_t timeout_ms)
{
	_cleanup_json_ json_t *last = NULL;
	int64_t deadline = sky_now_ms() + timeout_ms;
	int64_t call_timeout_ms = 0;
	int last_error = 0;
	char name[SKY_NAME_MAX * 2 + 1], role[17];

	for (;;) {
		int64_t poll_start = sky_now_ms();
		int64_t left = deadline - poll_start, next_poll;
		json_t *reply = NULL;
		const json_t *status;

		/* At least one poll period per request, at most --timeout. */
		call_timeout_ms = left < WAIT_POLL_MS ? WAIT_POLL_MS : left;
		if (call_timeout_ms > ctl->reply_timeout_ms)
			call_timeout_ms = ctl->reply_timeout_ms;
		/* A stopped module is not asked (ZeroMQ would wait the whole
		 * call timeout); it may start before the deadline. */
		last_error = sky_ctl_probe(ctl->endpoint);
		if (last_error == 0)
			last_error = request(ctl, "status", false,
					     call_timeout_ms, &reply);
		if (last_error == 0) {
			json_decref(last);
			last = reply;
		}
		status = reply_status(last);
		if (last_error == 0 && status &&
		    skyctl_goal_reached(status, goal)) {
			if (ctl->json) {
				print_json(last);
			} else {
				const json_t *node =
					json_object_get(status, "node");
				printf("%s is %s\n",
				       skyctl_safe_text(
					       json_object_get(node, "name"),
					       name, sizeof(name)),
				       skyctl_safe_text(
					       json_object_get(node, "role"),
					       role, sizeof(role)));
			}
			return SKYCTL_EXIT_OK;
		}
		if (sky_now_ms() >= deadline)
			break;
		next_poll = poll_start + WAIT_POLL_MS;
		sleep_ms((next_poll < deadline ? next_poll : deadline) -
			 sky_now_ms());
	}
	if (ctl->json && last)
		print_json(last);
	if (last_error < 0)
		return report_call_error(ctl, last_error, call_timeout_ms);
	if (!reply_status(last)) {
		int status = check_reply(last);
		if (status != SKYCTL_EXIT_OK)
			return status;
		fail("heartbeatd's reply has no status object");
		return SKYCTL_EXIT_REFUSED;
	}
	return report_wait_timeout(goal, timeout_ms, reply_status(last));
}

static int parse_command_args(struct skyctl *ctl, const char *command, int argc,
			      char **argv, struct command_args *args)
{
	bool is_wait = strcmp(command, "wait") == 0;
	bool is_prim = strcmp(command, "prim") == 0;
	bool is_resync = strcmp(command, "resync") == 0;
	bool is_checkers = strcmp(command, "checkers") == 0;

	*args = (struct command_args){
		.wait_timeout_ms = WAIT_TIMEOUT_DEFAULT_MS, .checkers_on = -1};
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--json") == 0) {
			ctl->json = true;
		} else if (is_prim && strcmp(arg, "--force") == 0) {
			args->force = true;
		} else if (is_resync && strcmp(arg, "--discard-local") == 0) {
			args->force = true;
		} else if (is_checkers && args->checkers_on < 0 &&
			   (strcmp(arg, "on") == 0 ||
			    strcmp(arg, "off") == 0)) {
			args->checkers_on = strcmp(arg, "on") == 0;
			args->force = args->checkers_on;
		} else if (is_resync && strcmp(arg, "--full") == 0) {
			args->full = true;
		} else if (is_wait && (strcmp(arg, "--timeout") == 0 ||
				       strncmp(arg, "--timeout=", 10) == 0)) {
			const char *value = arg[9] == '='  ? arg + 10
					    : i + 1 < argc ? argv[++i]
							   : NULL;
			if (!value)
				return usage_error(
					"wait: --timeout needs a number "
					"of seconds");
			if (parse_seconds(value, &args->wait_timeout_ms) < 0)
				return usage_error(
					"wait: --timeout: '%.64s' is not "
					"a number of seconds from 0 "
					"to %d",
					value, TIMEOUT_MAX_S);
		} else if (is_wait && !args->role && arg[0] != '-') {
			args->role = arg;
		} else if (strcmp(arg, "--timeout") == 0 ||
			   strncmp(arg, "--timeout=", 10) == 0) {
			return usage_error(
				"%s: give --timeout before the command",
				command);
		} else {
			return usage_error("%s: unexpected argument '%.64s'",
					   command, arg);
		}
	}
	if (is_resync && args->force == args->full)
		return usage_error(
			"resync: say --discard-local (this node's own changes "
			"are dropped and its copy is replaced by the peer's) "
			"or --full (on the serving node: resync whatever "
			"differs, by hashes)");
	if (is_checkers && args->checkers_on < 0)
		return usage_error("checkers: say on or off");
	if (is_wait && !args->role)
		return usage_error(
			"wait: for which state? STOP, WAIT, SECOND, ALONE, "
			"PRIM, UP, serving, insync, ... (several: PRIM,ALONE)");
	return SKYCTL_EXIT_OK;
}

static const char *const action_commands[] = {"swap",	 "prim",     "second",
					      "stop",	 "start",    "resync",
					      "restart", "checkers", "verify"};

static bool is_action(const char *command)
{
	for (size_t i = 0; i < SKY_ARRAY_SIZE(action_commands); i++)
		if (strcmp(command, action_commands[i]) == 0)
			return true;
	return false;
}

static int run_command(struct skyctl *ctl, const char *command, int argc,
		       char **argv)
{
	struct command_args args;
	struct skyctl_goal goal;
	char err[MESSAGE_TEXT_MAX];
	int status;

	if (strcmp(command, "snapshot") == 0) {
		status = resolve_target(ctl);
		return status != SKYCTL_EXIT_OK ? status
						: cmd_snapshot(ctl, argc, argv);
	}
	if (strcmp(command, "backup") == 0) {
		/* backupd's business: the module's file, not heartbeatd */
		if (!ctl->module[0] &&
		    (status = find_module(ctl)) != SKYCTL_EXIT_OK)
			return status;
		return skyctl_backup(ctl->module, ctl->json, argc, argv);
	}
	if (strcmp(command, "status") != 0 && strcmp(command, "wait") != 0 &&
	    strcmp(command, "state") != 0 && !is_action(command))
		return usage_error(
			"unknown command '%.64s' (status, state, swap, prim, "
			"second, stop, start, resync, restart, checkers, "
			"verify, "
			"wait, snapshot, backup)",
			command);
	status = parse_command_args(ctl, command, argc, argv, &args);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (args.role &&
	    skyctl_goal_parse(args.role, &goal, err, sizeof(err)) < 0)
		return usage_error("wait: %s", err);
	status = resolve_target(ctl);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (args.role)
		return cmd_wait(ctl, &goal, args.wait_timeout_ms);
	if (strcmp(command, "state") == 0)
		return cmd_state(ctl);
	status = check_socket(ctl);
	if (status != SKYCTL_EXIT_OK)
		return status;
	if (strcmp(command, "status") == 0)
		return cmd_status(ctl);
	return cmd_action(ctl, command, args.force);
}

static bool asks_for_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

static int parse_global_options(struct skyctl *ctl, int argc, char **argv,
				bool *help)
{
	enum { OPT_RUN_DIR = 0x100, OPT_JSON, OPT_TIMEOUT, OPT_VERSION };
	static const struct option options[] = {
		{"module", required_argument, NULL, 'm'},
		{"run-dir", required_argument, NULL, OPT_RUN_DIR},
		{"json", no_argument, NULL, OPT_JSON},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{0},
	};
	int c;

	/* "+": stop at the command, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+m:h", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!sky_name_valid(optarg, strlen(optarg)))
				return usage_error(
					"-m: '%.64s' is not a module "
					"name (1 to %d of A-Z a-z 0-9 "
					"_ . -)",
					optarg, SKY_NAME_MAX);
			sky_strlcpy(ctl->module, optarg, sizeof(ctl->module));
			break;
		case OPT_RUN_DIR:
			if (!optarg[0])
				return usage_error(
					"--run-dir: empty directory");
			ctl->run_dir = optarg;
			break;
		case OPT_JSON:
			ctl->json = true;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &ctl->reply_timeout_ms) < 0 ||
			    ctl->reply_timeout_ms == 0)
				return usage_error(
					"--timeout: '%.64s' is not a "
					"number of seconds from 0.001 "
					"to %d",
					optarg, TIMEOUT_MAX_S);
			break;
		case 'h':
			*help = true;
			break;
		case OPT_VERSION:
			printf("skyctl %s\n", SKYHA_VERSION);
			exit(SKYCTL_EXIT_OK);
		default:
			/* getopt already said what was wrong. */
			fputs("Try 'skyctl --help' for more information.\n",
			      stderr);
			return SKYCTL_EXIT_USAGE;
		}
	}
	return SKYCTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *env_run_dir = getenv(RUN_DIR_ENV);
	struct skyctl ctl = {
		.run_dir = env_run_dir && env_run_dir[0] ? env_run_dir
							 : DEFAULT_RUN_DIR,
		.reply_timeout_ms = REPLY_TIMEOUT_DEFAULT_MS,
	};
	const char *command;
	bool help = false;
	int status;

	status = parse_global_options(&ctl, argc, argv, &help);
	if (status != SKYCTL_EXIT_OK)
		return status;
	command = optind < argc ? argv[optind] : NULL;
	if (help || (command &&
		     (strcmp(command, "help") == 0 ||
		      asks_for_help(argc - optind - 1, argv + optind + 1)))) {
		fputs(help_text, stdout);
		return SKYCTL_EXIT_OK;
	}
	if (!command)
		return usage_error("which command? status, state, swap, prim, "
				   "second, stop, start, resync "
				   "--discard-local|--full, verify or wait "
				   "STATE");
	status = run_command(&ctl, command, argc - optind - 1,
			     argv + optind + 1);
	sky_bus_shutdown();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail("writing to standard output: %s", strerror(errno));
		if (status == SKYCTL_EXIT_OK)
			status = SKYCTL_EXIT_REFUSED;
	}
	return status;
}
