/*
 * log.h - one logging call for every daemon.
 *
 * Started by systemd (JOURNAL_STREAM or INVOCATION_ID set) messages go to the
 * journal with structured fields SKYHA_MODULE=, SKYHA_NODE=, SKYHA_ROLE=,
 * SKYHA_PEER=, so `journalctl SKYHA_MODULE=app` tells one module's story.
 * Run in a terminal they go to stderr as "time level [module] message".
 *
 * sky_log_ratelimited() keeps hostile input from flooding the journal: at
 * most one line per key per second, with a count of what was suppressed.
 */
#ifndef SKYHA_LOG_H
#define SKYHA_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void sky_log_init(const char *program, bool verbose);
/* Context fields attached to every later message (NULL clears one). */
void sky_log_set_module(const char *module);
void sky_log_set_node(const char *node);
void sky_log_set_role(const char *role);
void sky_log_set_peer(const char *peer);
bool sky_log_to_journal(void);

void sky_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct sky_ratelimit {
	int64_t window_start_ms;
	unsigned suppressed;
};
void sky_log_ratelimited(struct sky_ratelimit *rl, int priority,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...)	 sky_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	 sky_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	 sky_log(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) sky_log(LOG_WARNING, __VA_ARGS__)
#define log_error(...)	 sky_log(LOG_ERR, __VA_ARGS__)

#endif
