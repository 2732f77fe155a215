/*
 * log.c - see log.h.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

static struct {
	char program[32];
	char module[SKY_NAME_MAX + 1];
	char node[SKY_NAME_MAX + 1];
	char role[16];
	char peer[SKY_NAME_MAX + 1];
	bool verbose;
	bool journal;
} log_ctx = {.program = "skyha"};

static const char *const level_names[] = {
	"EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG",
};

void sky_log_init(const char *program, bool verbose)
{
	sky_strlcpy(log_ctx.program, program, sizeof(log_ctx.program));
	log_ctx.verbose = verbose;
	/* systemd sets JOURNAL_STREAM when stderr is the journal. */
	log_ctx.journal = getenv("JOURNAL_STREAM") != NULL;
}

static void set_field(char *dst, size_t size, const char *value)
{
	if (value)
		sky_strlcpy(dst, value, size);
	else
		dst[0] = '\0';
}

void sky_log_set_module(const char *v)
{
	set_field(log_ctx.module, sizeof(log_ctx.module), v);
}
void sky_log_set_node(const char *v)
{
	set_field(log_ctx.node, sizeof(log_ctx.node), v);
}
void sky_log_set_role(const char *v)
{
	set_field(log_ctx.role, sizeof(log_ctx.role), v);
}
void sky_log_set_peer(const char *v)
{
	set_field(log_ctx.peer, sizeof(log_ctx.peer), v);
}
bool sky_log_to_journal(void)
{
	return log_ctx.journal;
}

static void log_write(int priority, const char *msg)
{
	if (log_ctx.journal) {
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority,
				"SYSLOG_IDENTIFIER=%s", log_ctx.program,
				"SKYHA_MODULE=%s", log_ctx.module,
				"SKYHA_NODE=%s", log_ctx.node, "SKYHA_ROLE=%s",
				log_ctx.role, "SKYHA_PEER=%s", log_ctx.peer,
				NULL);
		return;
	}
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s %s%s%s%s%s%s: %s\n", stamp,
		ts.tv_nsec / 1000000L, level_names[priority & 7],
		log_ctx.program, log_ctx.node[0] ? "[" : "", log_ctx.node,
		log_ctx.module[0] ? "/" : "", log_ctx.module,
		log_ctx.node[0] ? "]" : "", msg);
}

static void log_va(int priority, const char *fmt, va_list ap)
{
	char msg[1024];

	if (priority == LOG_DEBUG && !log_ctx.verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_write(priority, msg);
}

void sky_log(int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(priority, fmt, ap);
	va_end(ap);
}

void sky_log_ratelimited(struct sky_ratelimit *rl, int priority,
			 const char *fmt, ...)
{
	int64_t now = sky_now_ms();
	va_list ap;

	if (rl->window_start_ms && now - rl->window_start_ms < 1000) {
		rl->suppressed++;
		return;
	}
	if (rl->suppressed)
		sky_log(priority, "(%u similar messages suppressed)",
			rl->suppressed);
	rl->window_start_ms = now;
	rl->suppressed = 0;
	va_start(ap, fmt);
	log_va(priority, fmt, ap);
	va_end(ap);
}
