/*
 * proc.h - running the application's scripts and custom checkers.
 *
 * A script runs in its own process group, in the config file's folder,
 * with stdin from /dev/null and stdout+stderr into a pipe that checkd reads
 * line by line: each line goes to the log (the journal, under the module),
 * bounded in length and in count. A line "SKYHA_PID=N" reports the
 * application's pid for process checkers (from_start: true). A script
 * still running at its deadline is killed with its whole process group
 * (SIGKILL), so nothing it started survives half-way. Reaping is polled
 * (waitpid WNOHANG) from the event loop. Output is read only while the
 * script runs: a script that leaves a daemon behind must redirect the
 * daemon's output (checkd closes its end when the script exits).
 */
#ifndef SKYHA_CHECKD_PROC_H
#define SKYHA_CHECKD_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CHECKD_LINE_MAX	    400 /* longer output lines are cut */
#define CHECKD_LINES_LOGGED 200 /* per run; the rest is counted */
#define CHECKD_ENV_MAX_VARS 512

struct checkd_env_block {
	char *vars[CHECKD_ENV_MAX_VARS + 1];
	size_t count;
};
/* The inherited environment minus SKYHA_*, then extra "NAME=value". */
int checkd_env_build(struct checkd_env_block *e, char *const *extra,
		     size_t extra_count);
void checkd_env_free(struct checkd_env_block *e);

struct checkd_proc {
	pid_t pid; /* > 0 while running */
	int out_fd;
	char name[48];
	int priority; /* log priority of output lines */
	int64_t started_ms, deadline_ms, timeout_ms;
	bool killed_on_timeout;
	bool finished;
	int wait_status;
	pid_t reported_pid; /* from a SKYHA_PID=N line, else 0 */
	char line[CHECKD_LINE_MAX + 1];
	size_t line_len;
	bool line_cut;
	unsigned lines, lines_dropped;
	char last_line[CHECKD_LINE_MAX + 1];
};

void checkd_proc_init(struct checkd_proc *p);
/* Start argv[0] (an absolute path). 0 / -errno. */
int checkd_proc_spawn(struct checkd_proc *p, const char *name,
		      char *const argv[], char *const envp[], const char *cwd,
		      int64_t timeout_ms, int64_t now, int priority);
/* Read what the pipe holds (non-blocking). */
void checkd_proc_read(struct checkd_proc *p);
/* Reap or kill on deadline; true once finished (then p->pid == 0). */
bool checkd_proc_poll(struct checkd_proc *p, int64_t now);
/* true if it exited 0 within its timeout. */
bool checkd_proc_ok(const struct checkd_proc *p);
/* "exited with status 3", "timed out after 2000 ms (process group killed)" */
void checkd_proc_describe(const struct checkd_proc *p, char *buf, size_t size);
/* Kill the process group now and reap (shutdown). */
void checkd_proc_abort(struct checkd_proc *p);
/* Feed output bytes (exposed for tests: the line splitter). */
void checkd_proc_feed(struct checkd_proc *p, const char *buf, size_t len);

#endif
