/*
 * forget.c - retention and prune (forget.h).
 */
#include "forget.h"
#include "bkbackup.h"
#include "idset.h"
#include "log.h"
#include "tree.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool same_group(const struct bk_snapshot *a, const struct bk_snapshot *b)
{
	if (strcmp(a->host, b->host) || a->path_count != b->path_count)
		return false;
	for (size_t i = 0; i < a->path_count; i++)
		if (strcmp(a->paths[i], b->paths[i]))
			return false;
	return true;
}

static void bucket(int64_t ms, const char *fmt, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, fmt, &tm);
}

void bk_keep_select(const struct bk_snapshot *s, size_t count,
		    const struct bk_keep *k, bool *keep)
{
	bool *done = calloc(count ? count : 1, sizeof(bool));
	for (size_t i = 0; i < count; i++)
		keep[i] = false;
	if (!done) { /* keep everything rather than guess */
		for (size_t i = 0; i < count; i++)
			keep[i] = true;
		return;
	}
	for (size_t g = count; g-- > 0;) {
		if (done[g])
			continue;
		unsigned last = 0, days = 0, weeks = 0, months = 0;
		char day[16] = "", week[16] = "", month[16] = "";
		/* newest first within the group */
		for (size_t i = g + 1; i-- > 0;) {
			if (done[i] || !same_group(&s[i], &s[g]))
				continue;
			done[i] = true;
			char b[16];
			if (last < k->last) {
				last++;
				keep[i] = true;
			}
			bucket(s[i].time_ms, "%Y-%m-%d", b, sizeof(b));
			if (days < k->daily && strcmp(b, day)) {
				days++;
				keep[i] = true;
				memcpy(day, b, sizeof(day));
			}
			bucket(s[i].time_ms, "%G-%V", b, sizeof(b));
			if (weeks < k->weekly && strcmp(b, week)) {
				weeks++;
				keep[i] = true;
				memcpy(week, b, sizeof(week));
			}
			bucket(s[i].time_ms, "%Y-%m", b, sizeof(b));
			if (months < k->monthly && strcmp(b, month)) {
				months++;
				keep[i] = true;
				memcpy(month, b, sizeof(month));
			}
		}
	}
	free(done);
}

int bk_forget(struct bk_repo *r, const struct bk_keep *k, bool dry_run,
	      struct bk_forget_result *res)
{
	struct bk_snapshot *s = NULL;
	size_t n = 0;
	int ret = bk_snapshots_load(r, &s, &n);
	if (ret < 0)
		return ret;
	bool *keep = calloc(n ? n : 1, sizeof(bool));
	if (!keep) {
		free(s);
		return -ENOMEM;
	}
	bk_keep_select(s, n, k, keep);
	for (size_t i = 0; i < n && ret == 0; i++) {
		char name[BK_NAME_MAX];
		if (keep[i]) {
			res->kept++;
			continue;
		}
		snprintf(name, sizeof(name), "snapshots/%s", s[i].id);
		log_info("forget %s%s", name, dry_run ? " (dry run)" : "");
		if (!dry_run && (ret = r->store->ops->del(r->store, name)) < 0)
			snprintf(r->why, sizeof(r->why), "deleting %s: %s",
				 name, r->store->reason);
		res->forgotten++;
	}
	free(keep);
	free(s);
	return ret;
}

/* Every blob the snapshots reach. */
static int reachable(struct bk_repo *r, const uint8_t id[BK_ID_LEN],
		     struct bk_idset *used)
{
	int added = bk_idset_add(used, id);
	if (added <= 0)
		return added;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct bk_tree t;
	char why[BK_REASON_MAX];
	int ret = bk_repo_read_blob(r, BK_BLOB_TREE, id, &buf, &len);
	if (ret < 0)
		return ret; /* prune never deletes on a tree it cannot read */
	ret = bk_tree_parse(buf, len, &t, why, sizeof(why));
	free(buf);
	if (ret < 0) {
		snprintf(r->why, sizeof(r->why), "a tree: %s", why);
		return ret;
	}
	for (size_t i = 0; i < t.count && ret >= 0; i++) {
		const struct bk_entry *e = &t.entries[i];
		/* a long walk must not let the lease lapse: a backup could
		 * then reuse blobs this prune is about to delete */
		if ((ret = bk_repo_lock_refresh(r)) < 0)
			break;
		if (e->type == BK_DIR)
			ret = reachable(r, e->subtree, used);
		for (size_t c = 0; c < e->chunk_count && ret >= 0; c++)
			ret = bk_idset_add(used, e->chunks[c].id);
	}
	bk_tree_free(&t);
	return ret < 0 ? ret : 0;
}

int bk_prune(struct bk_repo *r, struct bk_forget_result *res)
{
	struct bk_snapshot *s = NULL;
	size_t n = 0;
	struct bk_idset used = {0};
	int ret = bk_snapshots_load(r, &s, &n);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = reachable(r, s[i].tree, &used);
	free(s);
	if (ret < 0) {
		bk_idset_free(&used);
		return ret;
	}
	char **old_index = NULL, **old_packs = NULL;
	size_t old_index_count = 0, old_pack_count = 0;
	ret = bk_repo_list(r, "index/", &old_index, &old_index_count);
	if (ret == 0)
		ret = bk_repo_list(r, "data/", &old_packs, &old_pack_count);
	if (ret < 0)
		goto out;

	/* the old index, to read from; r starts an empty one */
	struct bk_repo old = *r;
	r->slots = NULL;
	r->slot_count = r->used = 0;
	r->packs = NULL;
	r->pack_fresh = NULL;
	r->pack_slots = NULL;
	r->pack_count = r->pack_cap = r->pack_slot_count = 0;
	/* the old index's entries grouped by pack: one pass to count, one
	 * to place */
	size_t *first = calloc(old.pack_count + 1, sizeof(*first));
	struct bk_pack_entry *all =
		calloc(old.used ? old.used : 1, sizeof(*all));
	if (!first || !all)
		ret = -ENOMEM;
	for (size_t i = 0; ret == 0 && i < old.slot_count; i++)
		if (old.slots[i].used && old.slots[i].pack != UINT32_MAX)
			first[old.slots[i].pack + 1]++;
	for (size_t p = 0; ret == 0 && p < old.pack_count; p++)
		first[p + 1] += first[p];
	for (size_t i = 0; ret == 0 && i < old.slot_count; i++) {
		const struct bk_ientry *ie = &old.slots[i];
		if (!ie->used || ie->pack == UINT32_MAX)
			continue;
		/* first[p] is the next free place of pack p's run */
		struct bk_pack_entry *pe = &all[first[ie->pack]++];
		pe->kind = ie->kind;
		memcpy(pe->id, ie->id, BK_ID_LEN);
		pe->off = ie->off;
		pe->len = ie->len;
	}
	for (size_t p = 0; p < old.pack_count && ret == 0; p++) {
		/* after the placing pass, pack p's run ends at first[p] */
		size_t begin = p ? first[p - 1] : 0;
		struct bk_pack_entry *e = all + begin;
		size_t count = first[p] - begin, live = 0;
		for (size_t i = 0; i < count; i++)
			live += bk_idset_has(&used, e[i].id);
		if (ret == 0 && live == count && count)
			ret = bk_repo_adopt_pack(r, old.packs[p], e, count);
		else if (ret == 0 && live) {
			/* partly used: its live blobs go to new packs */
			res->packs_repacked++;
			for (size_t i = 0; i < count && ret >= 0; i++) {
				if ((ret = bk_repo_lock_refresh(r)) < 0)
					break;
				if (!bk_idset_has(&used, e[i].id)) {
					res->blobs_dropped++;
					continue;
				}
				uint8_t *buf = NULL, id[BK_ID_LEN];
				size_t len = 0;
				ret = bk_repo_read_blob(&old, e[i].kind,
							e[i].id, &buf, &len);
				if (ret < 0)
					memcpy(r->why, old.why, sizeof(r->why));
				else
					ret = bk_repo_put_blob(r, e[i].kind,
							       buf, len, id);
				free(buf);
			}
			ret = ret < 0 ? ret : 0;
		} else if (ret == 0)
			res->blobs_dropped += count;
	}
	free(first);
	free(all);
	free(old.slots);
	free(old.pack_fresh);
	free(old.pack_slots);
	if (ret == 0)
		ret = bk_repo_commit(r);
	if (ret < 0) {
		free(old.packs);
		goto out;
	}
	/* the new index is written: the old ones, then unused packs, go */
	for (size_t i = 0; i < old_index_count; i++) {
		const char *base = strrchr(old_index[i], '/');
		if (base && strcmp(base + 1, r->last_index))
			r->store->ops->del(r->store, old_index[i]);
	}
	for (size_t i = 0; i < old_pack_count; i++) {
		const char *base = strrchr(old_packs[i], '/');
		uint8_t id[BK_ID_LEN];
		if (!base || bk_unhex(base + 1, id, sizeof(id)) < 0)
			continue;
		if (bk_repo_pack_find(r, id) >= 0)
			continue;
		if (r->store->ops->del(r->store, old_packs[i]) == 0)
			res->packs_deleted++;
	}
	free(old.packs);
out:
	bk_names_free(old_index, old_index_count);
	bk_names_free(old_packs, old_pack_count);
	bk_idset_free(&used);
	return ret;
}
