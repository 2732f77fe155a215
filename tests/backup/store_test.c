/*
 * store_test.c - the store campaign: one scenario against one target (a
 * directory, an S3 bucket, an Azure container), through store.h only, so
 * every backend is held to the same promises. tests/backup/run.py starts
 * the servers (s3rver, Azurite) and the fault proxy and runs this program
 * once per target and scenario.
 *
 *   bkstore_test SCENARIO key=value...
 *
 * The key=value pairs fill struct bk_target_cfg (kind, path, bucket,
 * region, endpoint, path_style, credentials, account, container, key_file,
 * prefix, ca_file, timeout_ms, attempts). Scenarios:
 *   campaign   put/get/get_range/list (over 1000 objects)/del, a 20 MiB
 *              object, bad names, sizes, counters
 *   denied     wrong credentials: -EACCES with the service's reason
 *   retried    the proxy fails the first requests (500s or resets): the
 *              put and get succeed, with retries counted
 *   partfail   the proxy fails the second part (block) of a big put for
 *              good: -EIO, and no object, not even a partial one
 *   timeout    the proxy never answers: -ETIMEDOUT, in bounded time
 *   abort      the proxy never answers and the abort flag rises meanwhile
 *              (a shutdown): -ECANCELED without waiting for the timeout
 *   truncated  the proxy cuts every reply body short: -EIO, no buffer
 *   reset      the proxy resets every connection: -EIO
 *   roundtrip  put, get, get_range, list, del of a few objects (the
 *              credentials from IMDS, a managed identity over https)
 * Prints one PASS/FAIL line per check and "N passed, N failed" last.
 */
#include "store.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int passed, failed;

#define CHECK(what, cond)                                                      \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			printf("FAIL %s (%s:%d: %s)\n", what, __FILE__,        \
			       __LINE__, #cond);                               \
		}                                                              \
	} while (0)

#define CHECK_RC(what, expr, want)                                             \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ == (want)) {                                           \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			printf("FAIL %s: %d (%s), want %d (%s); reason: %s\n", \
			       what, rc_, strerror(-rc_), (want),              \
			       strerror(-(want)), s->reason);                  \
		}                                                              \
	} while (0)

static int parse_cfg(int argc, char **argv, struct bk_target_cfg *t)
{
	memset(t, 0, sizeof(*t));
	sky_strlcpy(t->name, "test", sizeof(t->name));
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			fprintf(stderr, "not key=value: %s\n", argv[i]);
			return -EINVAL;
		}
		*eq = '\0';
		const char *k = argv[i], *v = eq + 1;
		if (!strcmp(k, "kind"))
			t->kind = !strcmp(v, "s3")	? BK_TARGET_S3
				  : !strcmp(v, "azure") ? BK_TARGET_AZURE
							: BK_TARGET_DIR;
		else if (!strcmp(k, "path"))
			sky_strlcpy(t->path, v, sizeof(t->path));
		else if (!strcmp(k, "bucket"))
			sky_strlcpy(t->bucket, v, sizeof(t->bucket));
		else if (!strcmp(k, "region"))
			sky_strlcpy(t->region, v, sizeof(t->region));
		else if (!strcmp(k, "endpoint"))
			sky_strlcpy(t->endpoint, v, sizeof(t->endpoint));
		else if (!strcmp(k, "path_style"))
			t->path_style = !strcmp(v, "1");
		else if (!strcmp(k, "credentials"))
			sky_strlcpy(t->credentials, v, sizeof(t->credentials));
		else if (!strcmp(k, "account"))
			sky_strlcpy(t->account, v, sizeof(t->account));
		else if (!strcmp(k, "container"))
			sky_strlcpy(t->container, v, sizeof(t->container));
		else if (!strcmp(k, "key_file"))
			sky_strlcpy(t->key_file, v, sizeof(t->key_file));
		else if (!strcmp(k, "prefix"))
			sky_strlcpy(t->prefix, v, sizeof(t->prefix));
		else if (!strcmp(k, "ca_file"))
			sky_strlcpy(t->ca_file, v, sizeof(t->ca_file));
		else if (!strcmp(k, "timeout_ms"))
			t->timeout_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "attempts"))
			t->attempts = (int)strtol(v, NULL, 10);
		else if (!strcmp(k, "list_page"))
			t->list_page = (int)strtol(v, NULL, 10);
		else {
			fprintf(stderr, "unknown key %s\n", k);
			return -EINVAL;
		}
	}
	return 0;
}

static uint8_t *pattern(size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; b && i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* get gives back exactly want. */
static bool same(struct bk_store *s, const char *name, const uint8_t *want,
		 size_t len)
{
	uint8_t *got = NULL;
	size_t got_len = 0;
	int r = s->ops->get(s, name, 64u << 20, &got, &got_len);
	bool ok = r == 0 && got_len == len && memcmp(got, want, len) == 0;
	if (!ok)
		printf("  get %s: %d, %zu bytes (want %zu): %s\n", name, r,
		       got_len, len, s->reason);
	free(got);
	return ok;
}

struct seen {
	uint8_t *count; /* per index of data/aa/obj-NNNN */
	size_t n, calls, wrong, stop_after;
};

static int on_name(void *ctx, const char *name, uint64_t size)
{
	struct seen *v = ctx;
	unsigned idx;
	v->calls++;
	if (sscanf(name, "data/aa/obj-%4u", &idx) == 1 && idx < v->n &&
	    size == 10 + idx % 50)
		v->count[idx]++;
	else
		v->wrong++;
	return v->stop_after && v->calls >= v->stop_after;
}

/* Objects the campaign lists: 1100 by default (more than one page of
 * 1000); run.py --short makes it 60 with list_page=25 (still 3 pages). */
static unsigned many = 1100;
#define MANY many

static void campaign(struct bk_store *s, bool remote)
{
	char name[64];
	uint8_t *small = pattern(100, 1), *other = pattern(77, 2);
	CHECK_RC("put config", s->ops->put(s, "config", small, 100), 0);
	CHECK("get config is what was put", same(s, "config", small, 100));
	CHECK_RC("put config again (replace)",
		 s->ops->put(s, "config", other, 77), 0);
	CHECK("get config is the replacement", same(s, "config", other, 77));
	CHECK_RC("put an empty object", s->ops->put(s, "locks/empty", "", 0),
		 0);
	CHECK("get the empty object", same(s, "locks/empty", small, 0));

	uint8_t *buf = (uint8_t *)"x";
	size_t len = 5;
	CHECK_RC("get a missing object",
		 s->ops->get(s, "keys/missing", 1024, &buf, &len), -ENOENT);
	CHECK("a failed get leaves the buffer alone",
	      buf == (uint8_t *)"x" && len == 5);
	CHECK_RC("get_range of a missing object",
		 s->ops->get_range(s, "keys/missing", 0, 4, small), -ENOENT);
	CHECK_RC("delete a missing object", s->ops->del(s, "keys/missing"), 0);
	CHECK_RC("get larger than max",
		 s->ops->get(s, "config", 10, &buf, &len), -EFBIG);
	CHECK_RC("a name with ..", s->ops->put(s, "data/../x", small, 1),
		 -EINVAL);
	CHECK_RC("a name with a space", s->ops->put(s, "data/a b", small, 1),
		 -EINVAL);

	/* Ranges of a 1 MiB object. */
	size_t mib = 1u << 20;
	uint8_t *one = pattern(mib, 3), out[4096];
	CHECK_RC("put a 1 MiB object", s->ops->put(s, "data/01/one", one, mib),
		 0);
	static const struct {
		uint64_t off;
		size_t len;
	} ranges[] = {{0, 10}, {12345, 1000}, {1048571, 5}, {524288, 4096}};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(ranges); i++) {
		memset(out, 0, sizeof(out));
		int r = s->ops->get_range(s, "data/01/one", ranges[i].off,
					  ranges[i].len, out);
		snprintf(name, sizeof(name), "get_range %zu at %" PRIu64,
			 ranges[i].len, ranges[i].off);
		CHECK(name, r == 0 && memcmp(out, one + ranges[i].off,
					     ranges[i].len) == 0);
	}
	CHECK_RC("get_range past the end",
		 s->ops->get_range(s, "data/01/one", mib - 2, 4, out), -EIO);
	CHECK_RC("get_range starting past the end",
		 s->ops->get_range(s, "data/01/one", mib + 100, 4, out), -EIO);

	/* A 20 MiB object: multipart upload / block list. */
	size_t big = 20u << 20;
	uint8_t *large = pattern(big, 4);
	uint64_t req0 = s->requests;
	CHECK_RC("put 20 MiB", s->ops->put(s, "data/02/large", large, big), 0);
	if (remote)
		CHECK("20 MiB went in several requests (parts or blocks)",
		      s->requests - req0 >= 4);
	CHECK("get 20 MiB is what was put",
	      same(s, "data/02/large", large, big));
	memset(out, 0, sizeof(out));
	CHECK_RC("get_range across a part boundary",
		 s->ops->get_range(s, "data/02/large", (8u << 20) - 100, 200,
				   out),
		 0);
	CHECK("the range across the boundary is right",
	      memcmp(out, large + (8u << 20) - 100, 200) == 0);

	/* Over 1000 objects: the listing pages. */
	int put_failed = 0;
	for (unsigned i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "data/aa/obj-%04u", i);
		if (s->ops->put(s, name, small, 10 + i % 50) < 0 &&
		    put_failed++ == 0)
			printf("  put %s: %s\n", name, s->reason);
	}
	CHECK("put the small objects", put_failed == 0);
	struct seen v = {.count = calloc(MANY, 1), .n = MANY};
	uint64_t list0 = s->requests;
	CHECK_RC("list data/aa/", s->ops->list(s, "data/aa/", on_name, &v), 0);
	if (remote)
		CHECK("the listing took several pages",
		      s->requests - list0 >= 2);
	size_t once = 0;
	for (size_t i = 0; i < MANY; i++)
		once += v.count[i] == 1;
	CHECK("list gives each name once, with its size",
	      once == MANY && v.wrong == 0 && v.calls == MANY);
	if (once != MANY || v.wrong)
		printf("  list: %zu once, %zu calls, %zu unexpected\n", once,
		       v.calls, v.wrong);
	memset(v.count, 0, MANY);
	v.calls = v.wrong = 0;
	CHECK_RC("list data/aa/obj-000",
		 s->ops->list(s, "data/aa/obj-000", on_name, &v), 0);
	CHECK("list of a narrower prefix gives its 10 names",
	      v.calls == 10 && v.wrong == 0);
	memset(v.count, 0, MANY);
	v.calls = v.wrong = 0;
	v.stop_after = 5;
	CHECK_RC("list stopped by the callback",
		 s->ops->list(s, "data/aa/", on_name, &v), 0);
	CHECK("a callback's nonzero stops the listing", v.calls == 5);

	/* Delete everything; the listing is empty afterwards. */
	int del_failed = 0;
	for (unsigned i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "data/aa/obj-%04u", i);
		if (s->ops->del(s, name) < 0 && del_failed++ == 0)
			printf("  del %s: %s\n", name, s->reason);
	}
	CHECK("delete the small objects", del_failed == 0);
	CHECK_RC("delete the 20 MiB object", s->ops->del(s, "data/02/large"),
		 0);
	CHECK_RC("get a deleted object",
		 s->ops->get(s, "data/02/large", big, &buf, &len), -ENOENT);
	memset(v.count, 0, MANY);
	v.calls = v.wrong = 0;
	v.stop_after = 0;
	CHECK_RC("list data/ after the deletes",
		 s->ops->list(s, "data/aa/", on_name, &v), 0);
	CHECK("nothing is listed once deleted", v.calls == 0);
	CHECK("counters: bytes up and down, requests",
	      s->bytes_up >= big + mib && s->bytes_down >= big &&
		      s->requests > 2 * MANY);
	printf("  counters: %" PRIu64 " bytes up, %" PRIu64
	       " bytes down, %" PRIu64 " requests, %" PRIu64 " retries\n",
	       s->bytes_up, s->bytes_down, s->requests, s->retries);
	free(v.count);
	free(small);
	free(other);
	free(one);
	free(large);
}

static void denied(struct bk_store *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	CHECK_RC("put with wrong credentials", s->ops->put(s, "config", "x", 1),
		 -EACCES);
	printf("  reason: %s\n", s->reason);
	CHECK("the reason names the service's refusal",
	      (strstr(s->reason, "403") || strstr(s->reason, "401")) &&
		      (strstr(s->reason, "SignatureDoesNotMatch") ||
		       strstr(s->reason, "InvalidAccessKeyId") ||
		       strstr(s->reason, "AuthenticationFailed") ||
		       strstr(s->reason, "AuthorizationFailure") ||
		       strstr(s->reason, "AuthenticationFailed")));
	CHECK_RC("get with wrong credentials",
		 s->ops->get(s, "config", 100, &buf, &len), -EACCES);
	CHECK("a refusal is not retried", s->retries == 0);
	free(buf);
}

static void retried(struct bk_store *s)
{
	uint8_t *small = pattern(5000, 9);
	CHECK_RC("put through failing then healed requests",
		 s->ops->put(s, "index/retried", small, 5000), 0);
	CHECK("the failures were retried", s->retries >= 1);
	CHECK("get gives the object back",
	      same(s, "index/retried", small, 5000));
	printf("  %" PRIu64 " retries, %" PRIu64 " requests\n", s->retries,
	       s->requests);
	free(small);
}

static void partfail(struct bk_store *s)
{
	size_t big = 20u << 20;
	uint8_t *large = pattern(big, 5), *buf = NULL;
	size_t len = 0;
	CHECK_RC("put 20 MiB whose second part keeps failing",
		 s->ops->put(s, "data/03/partial", large, big), -EIO);
	printf("  reason: %s\n", s->reason);
	CHECK_RC("no object, not even a partial one",
		 s->ops->get(s, "data/03/partial", big, &buf, &len), -ENOENT);
	free(buf);
	free(large);
}

static void timeout(struct bk_store *s)
{
	int64_t t0 = sky_now_ms();
	CHECK_RC("put to a server that never answers",
		 s->ops->put(s, "index/timeout", "x", 1), -ETIMEDOUT);
	printf("  reason: %s (%lld ms)\n", s->reason,
	       (long long)(sky_now_ms() - t0));
	CHECK("the reason says it timed out",
	      strstr(s->reason, "imed out") || strstr(s->reason, "imeout"));
}

static atomic_bool stop_now;

static void *raise_abort(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	atomic_store(&stop_now, true);
	return NULL;
}

static void abort_put(struct bk_store *s)
{
	pthread_t t;
	s->abort = &stop_now;
	CHECK("a thread raises the abort flag",
	      pthread_create(&t, NULL, raise_abort, NULL) == 0);
	CHECK_RC("put interrupted by the abort flag",
		 s->ops->put(s, "index/abort", "x", 1), -ECANCELED);
	printf("  reason: %s\n", s->reason);
	pthread_join(t, NULL);
}

static void truncated(struct bk_store *s)
{
	uint8_t *buf = (uint8_t *)"x", out[64];
	size_t len = 7;
	/* run.py put index/whole (100000 bytes) before cutting replies. */
	CHECK_RC("get with a cut body",
		 s->ops->get(s, "index/whole", 1 << 20, &buf, &len), -EIO);
	CHECK("no short object comes back", buf == (uint8_t *)"x" && len == 7);
	printf("  reason: %s\n", s->reason);
	CHECK_RC("get_range with a cut body",
		 s->ops->get_range(s, "index/whole", 0, 64, out), -EIO);
	CHECK("the cut replies were retried", s->retries >= 1);
}

static void reset(struct bk_store *s)
{
	CHECK_RC("put through reset connections",
		 s->ops->put(s, "index/reset", "x", 1), -EIO);
	printf("  reason: %s\n", s->reason);
	CHECK("resets are retried", s->retries >= 1);
}

static int count_names(void *ctx, const char *name, uint64_t size)
{
	(void)name, (void)size;
	++*(int *)ctx;
	return 0;
}

static void roundtrip(struct bk_store *s)
{
	uint8_t *a = pattern(3000, 11), *b = pattern(1u << 20, 12), out[100];
	uint8_t *none = NULL;
	size_t none_len = 0;
	int n = 0;
	/* Before anything was written (an Azure container not yet made). */
	CHECK_RC("list before anything exists",
		 s->ops->list(s, "snapshots/", count_names, &n), 0);
	CHECK("nothing is listed", n == 0);
	CHECK_RC("get before anything exists",
		 s->ops->get(s, "snapshots/a", 100, &none, &none_len), -ENOENT);
	CHECK_RC("delete before anything exists", s->ops->del(s, "snapshots/a"),
		 0);
	CHECK_RC("put snapshots/a", s->ops->put(s, "snapshots/a", a, 3000), 0);
	CHECK_RC("put snapshots/b", s->ops->put(s, "snapshots/b", b, 1u << 20),
		 0);
	CHECK("get snapshots/a", same(s, "snapshots/a", a, 3000));
	CHECK_RC("get_range of snapshots/b",
		 s->ops->get_range(s, "snapshots/b", 777, 100, out), 0);
	CHECK("the range is right", memcmp(out, b + 777, 100) == 0);
	CHECK_RC("list snapshots/",
		 s->ops->list(s, "snapshots/", count_names, &n), 0);
	CHECK("both are listed", n == 2);
	CHECK_RC("delete snapshots/a", s->ops->del(s, "snapshots/a"), 0);
	CHECK_RC("delete snapshots/b", s->ops->del(s, "snapshots/b"), 0);
	free(a);
	free(b);
}

static void seed(struct bk_store *s)
{
	uint8_t *whole = pattern(100000, 7);
	CHECK_RC("put index/whole",
		 s->ops->put(s, "index/whole", whole, 100000), 0);
	free(whole);
}

int main(int argc, char **argv)
{
	struct bk_target_cfg t;
	struct bk_store *s = NULL;
	char why[BK_REASON_MAX];

	if (argc < 2 || parse_cfg(argc, argv, &t) < 0) {
		fprintf(stderr, "usage: bkstore_test SCENARIO key=value...\n");
		return 2;
	}
	int r = bk_store_open(&t, &s, why, sizeof(why));
	if (r < 0) {
		printf("FAIL open: %s\n0 passed, 1 failed\n", why);
		return 1;
	}
	const char *sc = argv[1];
	const char *n = getenv("BKSTORE_MANY");
	if (n && strtoul(n, NULL, 10) >= 10 && strtoul(n, NULL, 10) <= 100000)
		many = (unsigned)strtoul(n, NULL, 10);
	if (!strcmp(sc, "campaign"))
		campaign(s, t.kind != BK_TARGET_DIR);
	else if (!strcmp(sc, "denied"))
		denied(s);
	else if (!strcmp(sc, "retried"))
		retried(s);
	else if (!strcmp(sc, "partfail"))
		partfail(s);
	else if (!strcmp(sc, "timeout"))
		timeout(s);
	else if (!strcmp(sc, "abort"))
		abort_put(s);
	else if (!strcmp(sc, "truncated"))
		truncated(s);
	else if (!strcmp(sc, "reset"))
		reset(s);
	else if (!strcmp(sc, "roundtrip"))
		roundtrip(s);
	else if (!strcmp(sc, "seed"))
		seed(s);
	else {
		fprintf(stderr, "unknown scenario %s\n", sc);
		bk_store_close(&s);
		return 2;
	}
	bk_store_close(&s);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
