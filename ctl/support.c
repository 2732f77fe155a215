/*
 * support.c - skyctl snapshot: gather, redact, archive (see support.h).
 *
 * Each part is best effort: a part that cannot be had (heartbeatd down, no
 * journal, no state directory) is written as a line saying why, so the
 * archive is still worth handing over. External programs (journalctl,
 * tar, dpkg-query) run with a fixed argv, no shell, and a time limit.
 */
#include "support.h"
#include "render.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SKYHA_VERSION
#define SKYHA_VERSION "unknown"
#endif

#define CONFIG_MAX	  (1024 * 1024)
#define PROGRAM_TIME_S	  60
#define STATE_DEPTH_MAX	  4
#define STATE_ENTRIES_MAX 10000
#define REMOVED		  "\"<removed by skyctl snapshot>\""

/* --- redaction ---------------------------------------------------------- */

static bool key_is_secret(const char *key, size_t len)
{
	static const char *const words[] = {"password", "passphrase",
					    "secret",	"token",
					    "private",	"credential"};
	char lower[128];

	if (len == 0 || len >= sizeof(lower))
		return false;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)((key[i] >= 'A' && key[i] <= 'Z')
					  ? key[i] - 'A' + 'a'
					  : key[i]);
	lower[len] = '\0';
	/* A file's or a folder's name is not the secret: it stays. */
	if ((len > 5 && strcmp(lower + len - 5, "_file") == 0) ||
	    (len > 5 && strcmp(lower + len - 5, "_path") == 0) ||
	    strcmp(lower, "credentials") == 0)
		return false;
	if (strcmp(lower, "key") == 0 ||
	    (len > 4 && strcmp(lower + len - 4, "_key") == 0))
		return true;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(words); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

struct outbuf {
	char *p;
	size_t len, cap;
};

static int put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *p = realloc(o->p, cap);
		if (!p)
			return -ENOMEM;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static size_t indent_of(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] == ' ')
		i++;
	return i;
}

/*
 * In one line: the key's position and the value after "key:", if the line
 * is a mapping entry ("  key: value", "- key: value", "'key': v").
 */
static bool split_entry(const char *line, size_t len, size_t *key_at,
			size_t *key_len, size_t *value_at)
{
	size_t i = indent_of(line, len);

	if (i + 1 < len && line[i] == '-' && line[i + 1] == ' ')
		i = i + 2 + indent_of(line + i + 2, len - i - 2);
	if (i < len && (line[i] == '"' || line[i] == '\''))
		i++;
	size_t start = i;
	while (i < len && line[i] != ':' && line[i] != '#' && line[i] != '"' &&
	       line[i] != '\'' && line[i] != ' ')
		i++;
	size_t end = i;
	if (i < len && (line[i] == '"' || line[i] == '\''))
		i++;
	if (end == start || i >= len || line[i] != ':' ||
	    (i + 1 < len && line[i + 1] != ' ' && line[i + 1] != '\t'))
		return false;
	*key_at = start;
	*key_len = end - start;
	*value_at = i + 1;
	return true;
}

int skyctl_redact_config(const char *in, size_t len, char **out,
			 size_t *out_len, unsigned *removed)
{
	struct outbuf o = {0};
	size_t pos = 0;
	/* Inside a secret's block value: lines indented more than this. */
	long block_indent = -1;
	int r = 0;

	*removed = 0;
	while (r == 0 && pos < len) {
		const char *line = in + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		size_t key_at, key_len, value_at;
		size_t ind = indent_of(line, n);
		bool blank = ind == n;

		pos += n + (nl ? 1 : 0);
		if (block_indent >= 0) {
			if (blank || (long)ind > block_indent)
				continue; /* part of the removed value */
			block_indent = -1;
		}
		if (split_entry(line, n, &key_at, &key_len, &value_at) &&
		    key_is_secret(line + key_at, key_len)) {
			size_t v = value_at +
				   indent_of(line + value_at, n - value_at);
			bool empty = v >= n || line[v] == '#';
			(*removed)++;
			r = put(&o, line, value_at);
			if (r == 0)
				r = put(&o, " " REMOVED "\n",
					sizeof(REMOVED) + 1);
			/* "key: |", "key: >", or "key:" then lines below. */
			if (empty || line[v] == '|' || line[v] == '>')
				block_indent = (long)ind;
			continue;
		}
		r = put(&o, line, n);
		if (r == 0)
			r = put(&o, "\n", 1);
	}
	if (r < 0) {
		free(o.p);
		return r;
	}
	if (!o.p && (r = put(&o, "", 0)) < 0)
		return r;
	*out = o.p;
	*out_len = o.len;
	return 0;
}

/* --- the parts ---------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const char *text,
		      size_t len)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, text, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_line(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int write_line(const char *dir, const char *name, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return write_text(dir, name, text,
			  (size_t)n < sizeof(text) ? (size_t)n
						   : sizeof(text) - 1);
}

/*
 * Run argv with stdout (and stderr) into path (appended), at most
 * PROGRAM_TIME_S: the exit status, or -errno if it could not run.
 */
static int run_into(char *const argv[], const char *path)
{
	int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600)
		      : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "skyctl snapshot: cannot run %s: %s\n",
			argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	int64_t deadline = sky_now_ms() + PROGRAM_TIME_S * 1000;
	int status;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (sky_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int skyctl_snapshot_since_ok(const char *since)
{
	char arg[PATH_MAX + 16];
	char *argv[] = {"journalctl", "--no-pager", "-q", "-n", "0", arg, NULL};

	snprintf(arg, sizeof(arg), "--since=%s", since);
	int r = run_into(argv, NULL);
	if (r < 0 || r >= 126)
		return -1; /* no journalctl to ask: part_journal says so */
	return r == 0;
}

static void part_status(const char *dir, const struct skyctl_snapshot *s)
{
	if (!s->status) {
		write_line(dir, "status.json",
			   "{\"error\": \"no status from heartbeatd\"}\n");
		write_line(dir, "status.txt", "no status from heartbeatd: %s\n",
			   s->status_error ? s->status_error : "unknown");
		return;
	}
	char *json = json_dumps(s->status, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (json) {
		write_text(dir, "status.json", json, strlen(json));
		free(json);
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/status.txt", dir);
	FILE *f = fopen(path, "we");
	if (f) {
		skyctl_render_status(f, s->status);
		fclose(f);
	}
}

/* Append a line to a part (a note on what could not be had). */
static void append_note(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void append_note(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "ae");
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void part_journal(const char *dir, const struct skyctl_snapshot *s)
{
	static const char *const daemons[] = {"heartbeatd", "replicd", "checkd",
					      "vipd", "backup"};
	char since[96], field[96], units[SKY_ARRAY_SIZE(daemons)][96],
		path[PATH_MAX];
	char *argv[8 + 2 * SKY_ARRAY_SIZE(daemons) + 4];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/journal.txt", dir);
	snprintf(since, sizeof(since), "--since=%s", s->since);
	snprintf(field, sizeof(field), "SKYHA_MODULE=%s", s->module);
	argv[n++] = "journalctl";
	argv[n++] = "--no-pager";
	argv[n++] = "-o";
	argv[n++] = "short-iso-precise";
	argv[n++] = since;
	argv[n++] = field;
	/* "+" between matches: entries matching any of them. */
	for (size_t i = 0; i < SKY_ARRAY_SIZE(daemons); i++) {
		snprintf(units[i], sizeof(units[i]),
			 "_SYSTEMD_UNIT=skyha-%s@%s.service", daemons[i],
			 s->module);
		argv[n++] = "+";
		argv[n++] = units[i];
	}
	argv[n] = NULL;
	int r = run_into(argv, path);
	if (r < 0)
		append_note(path, "\n(skyctl snapshot: journalctl: %s)\n",
			    strerror(-r));
	else if (r != 0)
		append_note(path,
			    "\n(skyctl snapshot: journalctl exited with %d)\n",
			    r);
}

static void part_config(const char *dir, const struct skyctl_snapshot *s)
{
	_cleanup_free_ char *text = NULL, *redacted = NULL;
	size_t len = 0, out_len = 0;
	unsigned removed = 0;
	int r = sky_read_file(s->config_path, CONFIG_MAX, &text, &len);

	if (r == 0)
		r = skyctl_redact_config(text, len, &redacted, &out_len,
					 &removed);
	if (r < 0) {
		write_line(dir, "config.yaml", "# %s: %s\n", s->config_path,
			   strerror(-r));
		return;
	}
	char head[PATH_MAX + 200];
	int n = snprintf(head, sizeof(head),
			 "# %s as skyctl snapshot found it; %u secret "
			 "value(s) removed. Files it names (keys, passwords) "
			 "are not included.\n",
			 s->config_path, removed);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	write_text(dir, "config.yaml", head, (size_t)n);
	FILE *f = fopen(path, "ae");
	if (f) {
		fwrite(redacted, 1, out_len, f);
		fclose(f);
	}
}

/* state.txt: one line per file under the module's state directory. */
static FILE *state_out;
static size_t state_entries;

static int state_entry(const char *fpath, const struct stat *st, int type,
		       struct FTW *ftw)
{
	char when[32];

	(void)type;
	if (ftw->level > STATE_DEPTH_MAX || ++state_entries > STATE_ENTRIES_MAX)
		return 0;
	sky_format_utc((int64_t)st->st_mtime * 1000, when, sizeof(when));
	fprintf(state_out, "%06o %12lld %s %s\n", (unsigned)st->st_mode,
		(long long)st->st_size, when, fpath);
	return 0;
}

static void part_state(const char *dir, const struct skyctl_snapshot *s)
{
	char path[PATH_MAX], root[PATH_MAX];

	snprintf(path, sizeof(path), "%s/state.txt", dir);
	snprintf(root, sizeof(root), "%s/%s", s->state_dir, s->module);
	state_out = fopen(path, "we");
	if (!state_out)
		return;
	fprintf(state_out,
		"# %s: mode, size, modified, path (names only, never the "
		"contents)\n",
		root);
	state_entries = 0;
	if (nftw(root, state_entry, 8, FTW_PHYS) < 0)
		fprintf(state_out, "# %s: %s\n", root, strerror(errno));
	if (state_entries > STATE_ENTRIES_MAX)
		fprintf(state_out, "# ... %zu more entries not listed\n",
			state_entries - STATE_ENTRIES_MAX);
	fclose(state_out);
	state_out = NULL;
}

static void part_versions(const char *dir)
{
	struct utsname u;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/versions.txt", dir);
	if (uname(&u) == 0)
		write_line(dir, "versions.txt",
			   "skyctl %s\nkernel %s %s %s\nhost %s\n",
			   SKYHA_VERSION, u.sysname, u.release, u.machine,
			   u.nodename);
	char *argv[] = {"dpkg-query", "-W",
			"-f",	      "${Package} ${Version} ${Status}\\n",
			"skyha",      NULL};
	if (run_into(argv, path) != 0)
		append_note(path, "(the skyha package is not installed)\n");
}

static void part_readme(const char *dir, const struct skyctl_snapshot *s)
{
	write_line(dir, "README.txt",
		   "skyctl snapshot of module %s\n\n"
		   "status.json  heartbeatd's status (docs/protocol.md), with "
		   "every daemon's state\n"
		   "status.txt   the same as skyctl status shows it\n"
		   "journal.txt  the module's journal since %s "
		   "(journalctl SKYHA_MODULE=%s and its units)\n"
		   "config.yaml  %s, secret values removed\n"
		   "state.txt    the files of %s/%s (change record, "
		   "generations): names, sizes, times\n"
		   "versions.txt skyctl, kernel, package\n",
		   s->module, s->since, s->module, s->config_path, s->state_dir,
		   s->module);
}

static int remove_entry(const char *fpath, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(fpath);
}

int skyctl_snapshot_write(const struct skyctl_snapshot *s, char *why,
			  size_t why_size)
{
	char tmp[] = "/tmp/skyctl-snapshot.XXXXXX";
	char name[256], dir[PATH_MAX], output[PATH_MAX], when[32];
	struct utsname u;
	int r;

	if (uname(&u) < 0)
		snprintf(u.nodename, sizeof(u.nodename), "host");
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof(name), "skyha-snapshot-%s-%.64s-%s", s->module,
		 u.nodename, when);
	if (s->output)
		r = sky_strlcpy(output, s->output, sizeof(output));
	else
		r = snprintf(output, sizeof(output), "%s.tar.gz", name) <
				    (int)sizeof(output)
			    ? 0
			    : -ENAMETOOLONG;
	if (r < 0) {
		snprintf(why, why_size, "the output path is too long");
		return r;
	}
	if (!mkdtemp(tmp)) {
		r = -errno;
		snprintf(why, why_size, "cannot make a folder in /tmp: %s",
			 strerror(errno));
		return r;
	}
	snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
	if (mkdir(dir, 0700) < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot make %s: %s", dir,
			 strerror(errno));
		goto out;
	}
	part_readme(dir, s);
	part_status(dir, s);
	part_config(dir, s);
	part_state(dir, s);
	part_versions(dir);
	part_journal(dir, s);
	/* The archive holds logs: only its owner reads it. */
	mode_t old = umask(077);
	char *argv[] = {"tar", "-czf", output, "-C", tmp, name, NULL};
	r = run_into(argv, NULL);
	umask(old);
	if (r != 0) {
		snprintf(why, why_size, "tar -czf %s failed (%s)", output,
			 r < 0 ? strerror(-r) : "see its exit status");
		r = r < 0 ? r : -EIO;
		goto out;
	}
	printf("%s\n", output);
out:
	nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return r;
}
