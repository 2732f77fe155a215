/*
 * proc.c - see proc.h.
 */
#include "proc.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int checkd_env_build(struct checkd_env_block *e, char *const *extra,
		     size_t extra_count)
{
	memset(e, 0, sizeof(*e));
	for (char **v = environ; v && *v; v++) {
		if (strncmp(*v, "SKYHA_", 6) == 0 ||
		    strncmp(*v, "NOTIFY_SOCKET=", 14) == 0 ||
		    strncmp(*v, "WATCHDOG_", 9) == 0 ||
		    strncmp(*v, "LISTEN_", 7) == 0)
			continue;
		if (e->count + extra_count >= CHECKD_ENV_MAX_VARS)
			break;
		e->vars[e->count] = strdup(*v);
		if (!e->vars[e->count])
			goto nomem;
		e->count++;
	}
	for (size_t i = 0; i < extra_count; i++) {
		e->vars[e->count] = strdup(extra[i]);
		if (!e->vars[e->count])
			goto nomem;
		e->count++;
	}
	e->vars[e->count] = NULL;
	return 0;
nomem:
	checkd_env_free(e);
	return -ENOMEM;
}

void checkd_env_free(struct checkd_env_block *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->vars[i]);
	e->count = 0;
	e->vars[0] = NULL;
}

void checkd_proc_init(struct checkd_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
}

int checkd_proc_spawn(struct checkd_proc *p, const char *name,
		      char *const argv[], char *const envp[], const char *cwd,
		      int64_t timeout_ms, int64_t now, int priority)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int pipefd[2], r;

	checkd_proc_init(p);
	sky_strlcpy(p->name, name, sizeof(p->name));
	p->priority = priority;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* Own process group (killed as a whole on timeout); default signal
	 * dispositions and an empty mask, whatever checkd uses itself. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&p->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		p->pid = 0;
		return -r;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	p->out_fd = pipefd[0];
	p->started_ms = now;
	p->timeout_ms = timeout_ms;
	p->deadline_ms = now + timeout_ms;
	return 0;
}

static void flush_line(struct checkd_proc *p)
{
	int64_t v;
	p->line[p->line_len] = '\0';
	/* Strip control characters: the journal is for humans. */
	for (size_t i = 0; i < p->line_len; i++)
		if ((unsigned char)p->line[i] < ' ' && p->line[i] != '\t')
			p->line[i] = '?';
	if (strncmp(p->line, "SKYHA_PID=", 10) == 0 &&
	    sky_parse_i64(p->line + 10, 1, INT32_MAX, &v) == 0)
		p->reported_pid = (pid_t)v;
	if (p->line_len || p->line_cut) {
		sky_strlcpy(p->last_line, p->line, sizeof(p->last_line));
		if (p->lines < CHECKD_LINES_LOGGED)
			sky_log(p->priority, "%s: %s%s", p->name, p->line,
				p->line_cut ? " [cut]" : "");
		else
			p->lines_dropped++;
		p->lines++;
	}
	p->line_len = 0;
	p->line_cut = false;
}

void checkd_proc_feed(struct checkd_proc *p, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			flush_line(p);
			continue;
		}
		if (p->line_len < CHECKD_LINE_MAX)
			p->line[p->line_len++] = buf[i];
		else
			p->line_cut = true;
	}
}

void checkd_proc_read(struct checkd_proc *p)
{
	char buf[4096];
	/* Bounded per call: a chatty script cannot starve the loop. */
	for (int budget = 16; p->out_fd >= 0 && budget > 0; budget--) {
		ssize_t n = read(p->out_fd, buf, sizeof(buf));
		if (n > 0) {
			checkd_proc_feed(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF or error: everyone holding the pipe is gone. */
		close(p->out_fd);
		p->out_fd = -1;
	}
}

static void finish(struct checkd_proc *p, int status)
{
	checkd_proc_read(p);
	if (p->line_len)
		flush_line(p);
	if (p->out_fd >= 0) {
		close(p->out_fd);
		p->out_fd = -1;
	}
	if (p->lines_dropped)
		sky_log(p->priority, "%s: %u more output lines not logged",
			p->name, p->lines_dropped);
	p->wait_status = status;
	p->finished = true;
	p->pid = 0;
}

bool checkd_proc_poll(struct checkd_proc *p, int64_t now)
{
	int status;
	if (p->pid <= 0)
		return p->finished;
	checkd_proc_read(p);
	pid_t r = waitpid(p->pid, &status, WNOHANG);
	if (r == p->pid) {
		/* The script is done; what it left in its group may not be. */
		finish(p, status);
		return true;
	}
	if (r < 0 && errno == ECHILD) {
		finish(p, 0xff00);
		return true;
	}
	if (now >= p->deadline_ms && !p->killed_on_timeout) {
		p->killed_on_timeout = true;
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		/* SIGKILL cannot be ignored: reaped on the next polls. */
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			finish(p, status);
			return true;
		}
	}
	return false;
}

bool checkd_proc_ok(const struct checkd_proc *p)
{
	return p->finished && !p->killed_on_timeout &&
	       WIFEXITED(p->wait_status) && WEXITSTATUS(p->wait_status) == 0;
}

void checkd_proc_describe(const struct checkd_proc *p, char *buf, size_t size)
{
	const char *tail = p->last_line[0] ? ": " : "";
	if (p->killed_on_timeout)
		snprintf(buf, size,
			 "timed out after %lld ms (process group killed)",
			 (long long)p->timeout_ms);
	else if (WIFEXITED(p->wait_status))
		snprintf(buf, size, "exited with status %d%s%.120s",
			 WEXITSTATUS(p->wait_status), tail, p->last_line);
	else if (WIFSIGNALED(p->wait_status))
		snprintf(buf, size, "killed by signal %d (%s)",
			 WTERMSIG(p->wait_status),
			 strsignal(WTERMSIG(p->wait_status)));
	else
		snprintf(buf, size, "ended (wait status %#x)", p->wait_status);
}

void checkd_proc_abort(struct checkd_proc *p)
{
	int status;
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		if (waitpid(p->pid, &status, 0) == p->pid)
			finish(p, status);
		p->pid = 0;
	}
	if (p->out_fd >= 0) {
		close(p->out_fd);
		p->out_fd = -1;
	}
}
