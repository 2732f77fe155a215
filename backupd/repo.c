/*
 * repo.c - the repository on a target: config and keys, listing names,
 * sealed objects (repo.h). The blob index and packs are in index.c, locks
 * in lock.c.
 */
#include "repo.h"
#include "bytes.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_MAX (64u << 10)
#define KEY_MAX	   (16u << 10)

/* --- config and keys ---------------------------------------------------- */

static int parse_config(struct bk_repo *r, const uint8_t *buf, size_t len,
			char *why, size_t why_size)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			       &jerr);
	int ret = -EBADMSG;
	if (!j || !json_is_object(j)) {
		sky_refuse(why, why_size, "%s: config: not JSON", r->target);
		goto out;
	}
	json_t *v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) != BK_REPO_VERSION) {
		sky_refuse(why, why_size,
			   "%s: config: repository version %lld, this "
			   "backupd reads %d",
			   r->target, (long long)json_integer_value(v),
			   BK_REPO_VERSION);
		goto out;
	}
	const char *id = json_string_value(json_object_get(j, "id"));
	uint8_t raw[BK_ID_LEN];
	if (bk_unhex(id, raw, sizeof(raw)) < 0) {
		sky_refuse(why, why_size, "%s: config: id", r->target);
		goto out;
	}
	memcpy(r->id, id, BK_HEX_ID);
	json_t *c = json_object_get(j, "chunker");
	json_int_t mn = json_integer_value(json_object_get(c, "min"));
	json_int_t av = json_integer_value(json_object_get(c, "avg"));
	json_int_t mx = json_integer_value(json_object_get(c, "max"));
	json_int_t zn = json_integer_value(json_object_get(c, "zone"));
	if (mn <= 0 || av <= 0 || mx <= 0 || zn < 0 || mx > (8 << 20) ||
	    zn > (1 << 30) ||
	    bk_chunker_init(&r->chunker, (uint32_t)mn, (uint32_t)av,
			    (uint32_t)mx, (uint32_t)zn) < 0) {
		sky_refuse(why, why_size, "%s: config: chunker", r->target);
		goto out;
	}
	ret = 0;
out:
	json_decref(j);
	return ret;
}

int bk_repo_init(struct bk_store *store, const char *target,
		 const struct bk_secret *secret, char *why, size_t why_size)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = store->ops->get(store, "config", CONFIG_MAX, &buf, &len);
	free(buf);
	if (r == 0)
		return sky_refuse(why, why_size,
				  "%s: a repository is already there", target),
		       -EEXIST;
	if (r != -ENOENT)
		return sky_refuse(why, why_size, "%s: reading config: %s",
				  target, store->reason),
		       r;
	uint8_t raw[BK_ID_LEN], master[BK_KEY_LEN];
	char id[BK_HEX_ID];
	randombytes_buf(raw, sizeof(raw));
	bk_hex(raw, sizeof(raw), id);
	randombytes_buf(master, sizeof(master));
	_cleanup_free_ char *key_json = NULL;
	r = bk_key_wrap(secret, master, id, &key_json);
	sodium_memzero(master, sizeof(master));
	if (r < 0)
		return sky_refuse(why, why_size, "%s: wrapping the key: %s",
				  target, strerror(-r)),
		       r;
	char key_name[BK_NAME_MAX];
	char key_id[BK_HEX_ID];
	bk_content_id(key_json, strlen(key_json), key_id);
	snprintf(key_name, sizeof(key_name), "keys/%s", key_id);
	r = store->ops->put(store, key_name, key_json, strlen(key_json));
	if (r < 0)
		return sky_refuse(why, why_size, "%s: writing %s: %s", target,
				  key_name, store->reason),
		       r;
	json_t *j = json_pack("{s:i,s:s,s:{s:i,s:i,s:i,s:i}}", "version",
			      BK_REPO_VERSION, "id", id, "chunker", "min",
			      BK_CHUNK_MIN, "avg", BK_CHUNK_AVG, "max",
			      BK_CHUNK_MAX, "zone", BK_ZONE);
	_cleanup_free_ char *text =
		j ? json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1)) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	/* config last: a repository exists once its key does. */
	r = store->ops->put(store, "config", text, strlen(text));
	if (r < 0)
		return sky_refuse(why, why_size, "%s: writing config: %s",
				  target, store->reason),
		       r;
	return 0;
}

struct name_list {
	char **names;
	size_t count, cap;
	int err;
};

static int collect_name(void *ctx, const char *name, uint64_t size)
{
	struct name_list *l = ctx;
	(void)size;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **n = realloc(l->names, cap * sizeof(*n));
		if (!n) {
			l->err = -ENOMEM;
			return 1;
		}
		l->names = n;
		l->cap = cap;
	}
	l->names[l->count] = strdup(name);
	if (!l->names[l->count]) {
		l->err = -ENOMEM;
		return 1;
	}
	l->count++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void bk_names_free(char **names, size_t count)
{
	for (size_t i = 0; names && i < count; i++)
		free(names[i]);
	free(names);
}

int bk_repo_list(struct bk_repo *r, const char *prefix, char ***names,
		 size_t *count)
{
	struct name_list l = {0};
	int ret = r->store->ops->list(r->store, prefix, collect_name, &l);
	if (ret == 0)
		ret = l.err;
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "listing %s: %s", prefix,
			 r->store->reason);
		bk_names_free(l.names, l.count);
		return ret;
	}
	if (l.count > 1)
		qsort(l.names, l.count, sizeof(*l.names), cmp_names);
	*names = l.names;
	*count = l.count;
	return 0;
}

int bk_repo_open(struct bk_store *store, const char *target,
		 const struct bk_secret *secret, struct bk_repo **out,
		 char *why, size_t why_size)
{
	struct bk_repo *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->store = store;
	sky_strlcpy(r->target, target, sizeof(r->target));
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret = store->ops->get(store, "config", CONFIG_MAX, &buf, &len);
	if (ret < 0) {
		if (ret == -ENOENT)
			sky_refuse(why, why_size,
				   "%s: no repository (run backupd init %s)",
				   target, target);
		else
			sky_refuse(why, why_size, "%s: reading config: %s",
				   target, store->reason);
		goto fail;
	}
	ret = parse_config(r, buf, len, why, why_size);
	free(buf);
	if (ret < 0)
		goto fail;
	char **keys = NULL;
	size_t nkeys = 0;
	ret = bk_repo_list(r, "keys/", &keys, &nkeys);
	if (ret < 0) {
		sky_refuse(why, why_size, "%s: %s", target, r->why);
		goto fail;
	}
	ret = -ENOENT;
	sky_refuse(why, why_size, "%s: no key object", target);
	for (size_t i = 0; i < nkeys && ret != 0; i++) {
		int g = store->ops->get(store, keys[i], KEY_MAX, &buf, &len);
		if (g < 0) {
			sky_refuse(why, why_size, "%s: reading %s: %s", target,
				   keys[i], store->reason);
			ret = g;
			continue;
		}
		char kwhy[BK_REASON_MAX];
		int u = bk_key_unwrap(secret, buf, len, r->id, r->keys.master,
				      kwhy, sizeof(kwhy));
		free(buf);
		if (u == 0) {
			ret = 0;
			break;
		}
		/* a wrong secret says more than a damaged key object */
		if (ret != -EKEYREJECTED) {
			ret = u == -EACCES ? -EKEYREJECTED : u;
			sky_refuse(why, why_size, "%s: %s: %s", target, keys[i],
				   kwhy);
		}
	}
	bk_names_free(keys, nkeys);
	if (ret < 0)
		goto fail;
	bk_keys_derive(&r->keys);
	*out = r;
	return 0;
fail:
	bk_keys_wipe(&r->keys);
	free(r);
	return ret;
}

void bk_repo_free(struct bk_repo **rp)
{
	struct bk_repo *r = *rp;
	if (!r)
		return;
	if (r->lock_name[0])
		bk_repo_unlock(r);
	bk_keys_wipe(&r->keys);
	free(r->slots);
	free(r->packs);
	free(r->pack_fresh);
	free(r->pack_slots);
	if (r->open_pack) {
		bk_out_free(r->open_pack);
		free(r->open_pack);
	}
	free(r->open_entries);
	free(r);
	*rp = NULL;
}

static void sealed_ad(const char *label, char *ad, size_t size)
{
	snprintf(ad, size, "skyha-backup %s v1", label);
}

int bk_repo_put_sealed(struct bk_repo *r, const char *dir, const char *label,
		       const void *buf, size_t len, char *name_out,
		       size_t name_size)
{
	char ad[64], hex[BK_HEX_ID], name[BK_NAME_MAX];
	uint8_t *sealed = NULL;
	size_t slen = 0;
	sealed_ad(label, ad, sizeof(ad));
	int ret = bk_seal(&r->keys, ad, strlen(ad), buf, len, true, &sealed,
			  &slen);
	if (ret < 0)
		return ret;
	bk_content_id(sealed, slen, hex);
	snprintf(name, sizeof(name), "%s/%s", dir, hex);
	ret = r->store->ops->put(r->store, name, sealed, slen);
	free(sealed);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "writing %s: %s", name,
			 r->store->reason);
		return ret;
	}
	r->stats.bytes_uploaded += slen;
	if (name_out)
		sky_strlcpy(name_out, hex, name_size);
	return 0;
}

int bk_repo_get_sealed(struct bk_repo *r, const char *name, const char *label,
		       uint8_t **out, size_t *len)
{
	char ad[64], hex[BK_HEX_ID];
	uint8_t *sealed = NULL;
	size_t slen = 0;
	sealed_ad(label, ad, sizeof(ad));
	int ret = r->store->ops->get(r->store, name, BK_OBJECT_MAX + 4096,
				     &sealed, &slen);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "reading %s: %s", name,
			 r->store->reason);
		return ret;
	}
	bk_content_id(sealed, slen, hex);
	const char *base = strrchr(name, '/');
	if (!base || strcmp(base + 1, hex)) {
		free(sealed);
		snprintf(r->why, sizeof(r->why),
			 "%s: content does not match its name", name);
		return -EBADMSG;
	}
	ret = bk_open(&r->keys, ad, strlen(ad), sealed, slen, BK_OBJECT_MAX,
		      out, len);
	free(sealed);
	if (ret < 0)
		snprintf(r->why, sizeof(r->why), "%s: fails authentication",
			 name);
	return ret;
}
