/*
 * alone.c - the count of changes acknowledged without the peer (alone.h).
 */
#include "alone.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATS_MAX 128 /* the file is one short line */

static int parse_u64(const char **p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;
	if (s == end || *s < '0' || *s > '9')
		return -EBADMSG;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int replicd_alone_parse(const char *buf, size_t len,
			struct replicd_alone_stats *out)
{
	const char *p = buf, *end = buf + len;
	uint64_t v[3];

	if (len == 0 || len > STATS_MAX)
		return -EBADMSG;
	for (int i = 0; i < 3; i++) {
		if (parse_u64(&p, end, &v[i]) < 0)
			return -EBADMSG;
		char want = i < 2 ? ' ' : '\n';
		if (p == end || *p != want)
			return -EBADMSG;
		p++;
	}
	if (p != end || v[1] > INT64_MAX || v[2] > INT64_MAX || v[1] > v[2] ||
	    (v[0] == 0) != (v[2] == 0))
		return -EBADMSG;
	*out = (struct replicd_alone_stats){.count = v[0],
					    .first_ms = (int64_t)v[1],
					    .last_ms = (int64_t)v[2]};
	return 0;
}

int replicd_alone_open(struct replicd_alone *a, const char *dir)
{
	char *buf = NULL;
	size_t len = 0;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	int n = snprintf(a->path, sizeof(a->path), "%s/alone.stats", dir);
	if (n < 0 || (size_t)n >= sizeof(a->path))
		return -ENAMETOOLONG;
	int r = sky_read_file(a->path, STATS_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = replicd_alone_parse(buf, len, &a->st);
	free(buf);
	if (r < 0)
		memset(&a->st, 0, sizeof(a->st)); /* counted anew */
	return r == -ENOMEM ? r : 0;
}

void replicd_alone_close(struct replicd_alone *a)
{
	pthread_mutex_destroy(&a->lock);
}

static int save_locked(struct replicd_alone *a)
{
	char line[STATS_MAX];
	int r = 0;
	if (!a->st.count) {
		if (unlink(a->path) < 0 && errno != ENOENT)
			r = -errno;
	} else {
		int n = snprintf(line, sizeof(line), "%llu %lld %lld\n",
				 (unsigned long long)a->st.count,
				 (long long)a->st.first_ms,
				 (long long)a->st.last_ms);
		r = sky_write_file_atomic(a->path, line, (size_t)n, 0600);
	}
	if (r == 0)
		a->dirty = false;
	return r;
}

void replicd_alone_note(struct replicd_alone *a, int64_t wall_ms)
{
	pthread_mutex_lock(&a->lock);
	bool first = !a->st.count;
	if (first || wall_ms < a->st.first_ms)
		a->st.first_ms = wall_ms;
	if (wall_ms > a->st.last_ms)
		a->st.last_ms = wall_ms;
	a->st.count++;
	a->dirty = true;
	/* The first one at once (durably): after a power cut the count may
	 * be short by the last second, never say "no change". */
	if (first && save_locked(a) < 0)
		a->dirty = true; /* the main thread tries again, and logs */
	pthread_mutex_unlock(&a->lock);
}

struct replicd_alone_stats replicd_alone_get(struct replicd_alone *a)
{
	pthread_mutex_lock(&a->lock);
	struct replicd_alone_stats st = a->st;
	pthread_mutex_unlock(&a->lock);
	return st;
}

int replicd_alone_sync(struct replicd_alone *a, bool record_alone)
{
	int r = 0;

	pthread_mutex_lock(&a->lock);
	if (!record_alone && a->st.count) {
		memset(&a->st, 0, sizeof(a->st));
		a->dirty = true;
	}
	if (a->dirty)
		r = save_locked(a);
	pthread_mutex_unlock(&a->lock);
	return r;
}

json_t *replicd_alone_json(const struct replicd_alone_stats *st)
{
	char first[32], last[32];
	if (!st->count)
		return json_null();
	sky_format_utc(st->first_ms, first, sizeof(first));
	sky_format_utc(st->last_ms, last, sizeof(last));
	return json_pack("{s:I,s:I,s:I,s:s,s:s}", "count",
			 (json_int_t)st->count, "first_ms",
			 (json_int_t)st->first_ms, "last_ms",
			 (json_int_t)st->last_ms, "first", first, "last", last);
}

uint64_t replicd_alone_pack_times(const struct replicd_alone_stats *st)
{
	uint64_t first = (uint64_t)(st->first_ms / 1000) & 0xffffffffu;
	uint64_t last = (uint64_t)(st->last_ms / 1000) & 0xffffffffu;
	return first << 32 | last;
}

struct replicd_alone_stats replicd_alone_unpack(uint64_t count, uint64_t times)
{
	struct replicd_alone_stats st = {.count = count};
	if (count) {
		st.first_ms = (int64_t)(times >> 32) * 1000;
		st.last_ms = (int64_t)(times & 0xffffffffu) * 1000;
	}
	return st;
}

void replicd_alone_describe(const struct replicd_alone_stats *st, char *buf,
			    size_t size)
{
	char first[32], last[32];
	if (!st->count) {
		snprintf(buf, size, "no change");
		return;
	}
	sky_format_utc(st->first_ms, first, sizeof(first));
	sky_format_utc(st->last_ms, last, sizeof(last));
	snprintf(buf, size, "%llu change%s (%s to %s)",
		 (unsigned long long)st->count, st->count == 1 ? "" : "s",
		 first, last);
}
