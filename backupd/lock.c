/*
 * lock.c - lock objects locks/<id> with a lease (repo.h).
 *
 * A lock is plain JSON: holder, pid, host, created and expires (Unix
 * seconds, wall clock: writers are on other hosts), exclusive. Backups
 * take shared locks; forget and prune an exclusive one. Taking one is:
 * write ours, then list the others; a live lock that conflicts makes us
 * remove ours and give up (-EBUSY), so two conflicting writers racing
 * both back off rather than both proceeding. Expired locks are removed
 * on the way. The lease is renewed every third of it during long runs.
 */
#include "repo.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_MAX 4096

int bk_lock_parse(const uint8_t *buf, size_t len, struct bk_lock_info *out)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			       &jerr);
	int ret = -EBADMSG;
	memset(out, 0, sizeof(*out));
	if (!j || !json_is_object(j))
		goto out;
	const char *holder = json_string_value(json_object_get(j, "holder"));
	const char *host = json_string_value(json_object_get(j, "host"));
	json_t *pid = json_object_get(j, "pid");
	json_t *created = json_object_get(j, "created");
	json_t *expires = json_object_get(j, "expires");
	json_t *excl = json_object_get(j, "exclusive");
	if (!holder || !host || !json_is_integer(pid) ||
	    !json_is_integer(created) || !json_is_integer(expires) ||
	    !json_is_boolean(excl))
		goto out;
	if (sky_strlcpy(out->holder, holder, sizeof(out->holder)) < 0 ||
	    sky_strlcpy(out->host, host, sizeof(out->host)) < 0)
		goto out;
	out->pid = json_integer_value(pid);
	out->created = json_integer_value(created);
	out->expires = json_integer_value(expires);
	out->exclusive = json_is_true(excl);
	ret = 0;
out:
	json_decref(j);
	return ret;
}

static int write_lock(struct bk_repo *r)
{
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	long long now = (long long)time(NULL);
	json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:b}", "holder",
			      r->lock_exclusive ? "prune" : "backup", "host",
			      host, "pid", (json_int_t)getpid(), "created",
			      (json_int_t)now, "expires",
			      (json_int_t)(now + BK_LOCK_LEASE_S), "exclusive",
			      r->lock_exclusive);
	_cleanup_free_ char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	int ret =
		r->store->ops->put(r->store, r->lock_name, text, strlen(text));
	if (ret < 0)
		snprintf(r->why, sizeof(r->why), "writing %s: %s", r->lock_name,
			 r->store->reason);
	r->lock_renewed_ms = sky_now_ms();
	return ret;
}

int bk_repo_lock(struct bk_repo *r, bool exclusive)
{
	uint8_t raw[16];
	char hex[33];
	randombytes_buf(raw, sizeof(raw));
	bk_hex(raw, sizeof(raw), hex);
	snprintf(r->lock_name, sizeof(r->lock_name), "locks/%s", hex);
	r->lock_exclusive = exclusive;
	int ret = write_lock(r);
	if (ret < 0) {
		r->lock_name[0] = 0;
		return ret;
	}
	char **names = NULL;
	size_t count = 0;
	ret = bk_repo_list(r, "locks/", &names, &count);
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < count && ret == 0; i++) {
		if (strcmp(names[i], r->lock_name) == 0)
			continue;
		uint8_t *buf = NULL;
		size_t len = 0;
		if (r->store->ops->get(r->store, names[i], LOCK_MAX, &buf,
				       &len) < 0)
			continue; /* removed meanwhile */
		struct bk_lock_info li;
		int p = bk_lock_parse(buf, len, &li);
		free(buf);
		if (p < 0 || li.expires < now) {
			/* stale (or garbage): ignored and removed */
			r->store->ops->del(r->store, names[i]);
			continue;
		}
		if (exclusive || li.exclusive) {
			snprintf(r->why, sizeof(r->why),
				 "repository locked (%s, %s lock by %s on "
				 "%s pid %lld, expires in %lld s)",
				 names[i],
				 li.exclusive ? "exclusive" : "shared",
				 li.holder, li.host, li.pid, li.expires - now);
			ret = -EBUSY;
		}
	}
	bk_names_free(names, count);
	if (ret < 0)
		bk_repo_unlock(r);
	return ret;
}

int bk_repo_lock_refresh(struct bk_repo *r)
{
	if (!r->lock_name[0] ||
	    sky_now_ms() - r->lock_renewed_ms < BK_LOCK_LEASE_S * 1000 / 3)
		return 0;
	return write_lock(r);
}

void bk_repo_unlock(struct bk_repo *r)
{
	if (!r->lock_name[0])
		return;
	r->store->ops->del(r->store, r->lock_name);
	r->lock_name[0] = 0;
}
