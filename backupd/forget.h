/*
 * forget.h - retention and prune (docs/backup.md, "Retention").
 *
 * Snapshots are grouped by host and paths; in each group the newest
 * keep_last are kept, plus the newest of each of the last keep_daily
 * days, keep_weekly ISO weeks, keep_monthly months (UTC) that have one.
 * The others are forgotten (their snapshot objects deleted). Prune then
 * keeps what the remaining snapshots reach: packs wholly used stay,
 * packs partly used are repacked, the rest deleted; one new index
 * replaces the old ones (written before they are deleted). Under an
 * exclusive lock.
 */
#ifndef BACKUPD_FORGET_H
#define BACKUPD_FORGET_H

#include "repo.h"
#include "snapshot.h"

struct bk_keep {
	unsigned last, daily, weekly, monthly;
};

struct bk_forget_result {
	uint64_t kept, forgotten;
	uint64_t packs_deleted, packs_repacked, blobs_dropped;
};

/* Mark which snapshots (sorted oldest first) the policy keeps. Pure. */
void bk_keep_select(const struct bk_snapshot *s, size_t count,
		    const struct bk_keep *k, bool *keep);

int bk_forget(struct bk_repo *r, const struct bk_keep *k, bool dry_run,
	      struct bk_forget_result *res);
int bk_prune(struct bk_repo *r, struct bk_forget_result *res);

#endif
