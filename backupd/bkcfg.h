/*
 * bkcfg.h - the `backup:` section of the module configuration
 * (docs/config.md, "backup").
 *
 *   backup:
 *     key_file: backup.key        # 32 random bytes, hex (or passphrase_file)
 *     paths: [/srv/app/data]      # default: replicd.directories
 *     pre_backup: /etc/skyha/app/pre-backup    # optional hooks
 *     post_backup: /etc/skyha/app/post-backup
 *     targets:
 *       - name: local
 *         kind: dir               # dir | s3 | azure
 *         path: /var/backups/skyha/app
 *         nodes: [node2]          # who writes it (default: every node)
 *         on_calendar: daily      # documents the timer's drop-in
 *         keep_last: 7
 *         keep_daily: 14
 *         keep_weekly: 8
 *         keep_monthly: 12
 *         max_age: 2d             # status warns past this (s, m, h, d)
 *
 * Parsed once, fully validated; errors "file:line:col: backup.field: why".
 */
#ifndef BACKUPD_BKCFG_H
#define BACKUPD_BKCFG_H

#include "crypto.h"
#include "forget.h"
#include "snapshot.h"
#include "store.h"

#include <limits.h>
#include <stdbool.h>

#define BK_TARGETS_MAX 8

struct bk_target {
	struct bk_target_cfg store;
	char nodes[16][33];
	size_t node_count; /* 0: every node */
	char on_calendar[64];
	struct bk_keep keep;
	uint64_t max_age_s; /* 0: no warning */
};

struct bk_cfg {
	char key_file[PATH_MAX];	/* resolved; "" with a passphrase */
	char passphrase_file[PATH_MAX]; /* resolved */
	char paths[BK_SNAP_PATHS_MAX][PATH_MAX];
	size_t path_count;
	bool paths_are_replicd; /* paths are replicd.directories, in order */
	char pre_backup[PATH_MAX], post_backup[PATH_MAX];
	struct bk_target targets[BK_TARGETS_MAX];
	size_t target_count;
};

int bk_cfg_parse(const char *path, const char *text, size_t len,
		 struct bk_cfg *out, char *err, size_t err_size);
int bk_cfg_load(const char *path, struct bk_cfg *out, char *err,
		size_t err_size);
const struct bk_target *bk_cfg_target(const struct bk_cfg *c, const char *name);
bool bk_target_for_node(const struct bk_target *t, const char *node);
/* Read the key file or passphrase file named by the config. */
int bk_cfg_secret(const struct bk_cfg *c, struct bk_secret *s, char *err,
		  size_t err_size);

#endif
