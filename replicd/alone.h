/*
 * alone.h - what this node acknowledged without its peer: how many changes,
 * and when the first and the last were acknowledged.
 *
 * The change record (track.h) says *that* this copy holds changes the peer
 * never got (its "alone" marker); this says how many and when, so that when
 * two copies diverged, the status on both nodes tells the operator which
 * node acknowledged what before one side's changes are dropped. Counted by
 * the FUSE threads as each change is recorded, saved by the main thread at
 * most once a second to <state>/alone.stats ("count first_ms last_ms\n",
 * wall-clock milliseconds, replaced atomically; the first change of a
 * period is saved at once, so a power cut may lose the last second of the
 * count but never make it zero), and cleared once the record no longer has
 * the marker.
 */
#ifndef REPLICD_ALONE_H
#define REPLICD_ALONE_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replicd_alone_stats {
	uint64_t count;
	int64_t first_ms, last_ms; /* wall clock; 0 with count 0 */
};

struct replicd_alone {
	pthread_mutex_t lock;
	char path[PATH_MAX];
	struct replicd_alone_stats st;
	bool dirty;
};

/* Load <dir>/alone.stats if it is there (a damaged file counts nothing). */
int replicd_alone_open(struct replicd_alone *a, const char *dir);
void replicd_alone_close(struct replicd_alone *a);
/* A change is being acknowledged without the peer (any thread). */
void replicd_alone_note(struct replicd_alone *a, int64_t wall_ms);
/* Main thread: forget the count once the record lost its marker; save
 * what changed. 0 or -errno (the file could not be written). */
int replicd_alone_sync(struct replicd_alone *a, bool record_alone);
struct replicd_alone_stats replicd_alone_get(struct replicd_alone *a);
/* {count, first_ms, last_ms, first, last} (times also as UTC text), or
 * null for no change. */
json_t *replicd_alone_json(const struct replicd_alone_stats *st);
/* On the wire (record-end, diverged sync): offset = count, length = the
 * first and the last second, 32 bits each. */
uint64_t replicd_alone_pack_times(const struct replicd_alone_stats *st);
struct replicd_alone_stats replicd_alone_unpack(uint64_t count, uint64_t times);
/* "7804 changes (2026-12-04T18:02:11Z to 2026-12-04T18:04:55Z)" */
void replicd_alone_describe(const struct replicd_alone_stats *st, char *buf,
			    size_t size);
/* The file's bytes (pure, for tests and fuzzers): 0 or -EBADMSG. */
int replicd_alone_parse(const char *buf, size_t len,
			struct replicd_alone_stats *out);

#endif
