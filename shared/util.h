/*
 * util.h - small helpers every skyha program uses.
 *
 * Cleanup attributes (systemd style) so early returns free what they own, a
 * monotonic clock for every timeout, strict number parsing (no atoi), bounded
 * string copies, and atomic file replacement for persisted state.
 * Functions return 0 or a negative errno.
 */
#ifndef SKYHA_UTIL_H
#define SKYHA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SKY_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void sky_freep(void *p)
{
	free(*(void **)p);
}
static inline void sky_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void sky_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_	 __attribute__((cleanup(sky_freep)))
#define _cleanup_close_	 __attribute__((cleanup(sky_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(sky_fclosep)))

/* Hand ownership out of a cleanup variable: return steal_ptr(p). */
#define steal_ptr(p)                                                           \
	({                                                                     \
		__typeof__(p) stolen_ = (p);                                   \
		(p) = NULL;                                                    \
		stolen_;                                                       \
	})

/* Milliseconds on CLOCK_MONOTONIC: every timeout uses this. */
int64_t sky_now_ms(void);
/* Milliseconds since the epoch (wall time): logs and display only. */
int64_t sky_wall_ms(void);
/* "2026-11-23T12:03:55Z" for a wall-clock millisecond time. */
void sky_format_utc(int64_t wall_ms, char *buf, size_t size);

/* Copy at most size-1 bytes and terminate; -ENAMETOOLONG if src did not fit. */
int sky_strlcpy(char *dst, const char *src, size_t size);

/* A parser's refusal: the reason, formatted into err, and -EINVAL. */
int sky_refuse(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse a whole decimal string into [min, max]; -EINVAL / -ERANGE otherwise. */
int sky_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Names of clusters, modules, nodes: [A-Za-z0-9_.-], 1..SKY_NAME_MAX bytes. */
#define SKY_NAME_MAX 32
bool sky_name_valid(const char *s, size_t len);

/* mkdir -p with the given mode for the directories it creates. */
int sky_mkdir_p(const char *path, unsigned mode);

/* Write a file atomically and durably: tmp file, fsync, rename, fsync dir. */
int sky_write_file_atomic(const char *path, const void *data, size_t len,
			  unsigned mode);

/* fsync the directory holding path (a rename or create there durable). */
int sky_fsync_parent_dir(const char *path);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
int sky_read_file(const char *path, size_t max, char **out, size_t *out_len);

/* Decode exactly 2*len hex characters (surrounding whitespace ignored). */
int sky_hex_decode(const char *hex, uint8_t *out, size_t len);

/*
 * SIGTERM and SIGINT set a flag the main loop reads; SIGHUP (systemctl
 * reload) sets another; SIGPIPE is ignored. No SA_RESTART: poll/zmq_poll
 * return EINTR so the loop sees it at once.
 */
void sky_stop_signals_install(void);
bool sky_stop_requested(void);
/* True once per SIGHUP received since the last call (then cleared). */
bool sky_reload_requested(void);

#endif
