/*
 * remote.c - see remote.h.
 */
#include "remote.h"
#include "httpc.h"
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int bk_remote_init(struct bk_remote *r, const struct bk_target_cfg *t)
{
	sky_strlcpy(r->target, t->name, sizeof(r->target));
	r->timeout_ms =
		t->timeout_ms > 0 ? t->timeout_ms : BK_REMOTE_TIMEOUT_MS;
	r->attempts = t->attempts > 0 ? t->attempts : BK_REMOTE_ATTEMPTS;
	r->seed = (unsigned)sky_now_ms() ^ ((unsigned)getpid() << 12);
	sky_strlcpy(r->ca_file, t->ca_file, sizeof(r->ca_file));
	r->part_size = BK_PART_SIZE;
	r->conn = sky_http_conn_new();
	return r->conn ? 0 : -ENOMEM;
}

void bk_remote_done(struct bk_remote *r)
{
	sky_http_conn_free(&r->conn);
}

bool bk_remote_aborted(const struct bk_remote *r)
{
	return r->base.abort && atomic_load(r->base.abort);
}

int bk_remote_backoff(struct bk_remote *r, int attempt)
{
	r->base.retries++;
	int64_t until =
		sky_now_ms() + sky_backoff_ms(BK_REMOTE_BACKOFF_MS,
					      (uint32_t)attempt - 1, &r->seed);
	while (sky_now_ms() < until) {
		if (bk_remote_aborted(r))
			return -ECANCELED;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return bk_remote_aborted(r) ? -ECANCELED : 0;
}

bool bk_remote_transport_transient(int r)
{
	return r == -ETIMEDOUT || r == -ECONNRESET || r == -ECONNREFUSED ||
	       r == -EIO;
}

bool bk_remote_status_transient(long status)
{
	return status >= 500 || status == 429 || status == 408;
}

int bk_remote_status_errno(long status)
{
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 413:
		return -EFBIG;
	case 507:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

bool bk_prefix_ok(const char *prefix)
{
	char tmp[BK_NAME_MAX + 2];
	size_t n = strlen(prefix);
	if (n == 0)
		return true;
	if (n > BK_NAME_MAX || prefix[n - 1] != '/')
		return false;
	memcpy(tmp, prefix, n - 1);
	tmp[n - 1] = '\0';
	return bk_store_name_ok(tmp);
}

int bk_remote_final_errno(int r)
{
	switch (r) {
	case 0:
	case -ENOENT:
	case -EACCES:
	case -ETIMEDOUT:
	case -EIO:
	case -ENOSPC:
	case -EFBIG:
	case -ENOMEM:
	case -EINVAL:
	case -ECANCELED:
	case -EMSGSIZE: /* the caller's bound: get says -EFBIG */
	case -ENAMETOOLONG:
		return r;
	default:
		return -EIO;
	}
}

bool bk_content_range_is(const char *v, uint64_t offset, size_t len)
{
	unsigned long long a, b;
	char slash;
	if (sscanf(v, "bytes %llu-%llu%c", &a, &b, &slash) != 3 || slash != '/')
		return false;
	return a == offset && b + 1 == offset + len;
}

bool bk_content_length_is(const char *v, size_t len)
{
	int64_t announced;

	if (!v[0])
		return true;
	return sky_parse_i64(v, 0, INT64_MAX, &announced) == 0 &&
	       (uint64_t)announced == len;
}
