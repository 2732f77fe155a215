/*
 * changes.h - what changed since the previous snapshot, as replicd's
 * change record says (docs/backup.md, "Incremental backups").
 *
 * A list of (directory index, relative path) items, each either "the entry
 * or its metadata changed" (whole: read the file again, list the
 * directory again) or "these zones changed" (zone = 64 KiB, the zones
 * of the file that were written). A complete list lets a backup keep the
 * previous snapshot's entry of every file not in it, after checking that
 * its size and mtime are the snapshot's (a file that differs anyway is
 * read whole and counted in files_unlisted_changed). Without a list, or
 * with an incomplete one, everything is read and deduplicated.
 */
#ifndef BACKUPD_CHANGES_H
#define BACKUPD_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bk_zone_range {
	uint64_t first, count; /* zones */
};

struct bk_change {
	uint8_t dir;  /* index in the snapshot's paths */
	char *path;   /* relative to that directory, no leading '/' */
	bool whole;   /* entry or metadata changed: read it all */
	bool subtree; /* and everything under it (a directory renamed) */
	struct bk_zone_range *zones;
	size_t zone_count;
};

struct bk_changes {
	struct bk_change *items; /* sorted by (dir, path) after finish */
	size_t count, cap;
	bool complete; /* false: the record was lost or damaged */
};

/* Add an item; items for the same path merge (whole wins). */
int bk_changes_add(struct bk_changes *c, uint8_t dir, const char *path,
		   bool whole, uint64_t first_zone, uint64_t zone_count);
/*
 * The entry at path and everything under it changed (a rename): nothing
 * below it is taken from the parent snapshot. replicd's record maps as:
 * TRK_TREE -> bk_changes_add_subtree; TRK_ENTRY or TRK_META -> whole;
 * TRK_ZONES alone -> its zones (first, count).
 */
int bk_changes_add_subtree(struct bk_changes *c, uint8_t dir, const char *path);
/* The same, with subtree: the path and everything under it (a rename in
 * replicd's record) count as whole; implies whole. */
int bk_changes_add_kind(struct bk_changes *c, uint8_t dir, const char *path,
			bool whole, bool subtree, uint64_t first_zone,
			uint64_t zone_count);
/* Sort and merge: call once after the last add. */
void bk_changes_finish(struct bk_changes *c);
/* The item of (dir, path), else the nearest subtree item above it. */
const struct bk_change *bk_changes_find(const struct bk_changes *c, uint8_t dir,
					const char *path);
void bk_changes_free(struct bk_changes *c);

/*
 * Load a change list from a text file (tests, and operators; replicd's own
 * record is read by record.h): first line "complete" or
 * "incomplete", then one item a line: "<dir> whole <path>",
 * "<dir> tree <path>" or
 * "<dir> zones <first>+<count>[,<first>+<count>...] <path>".
 * -EBADMSG with why giving the line.
 */
int bk_changes_parse(const char *text, size_t len, struct bk_changes *out,
		     char *why, size_t why_size);

/*
 * A change list from replicd's backup record (shared/changerec.h, the
 * bytes of backup-<id>.rec): TRK_TREE -> a subtree, TRK_ENTRY or TRK_META
 * -> whole, TRK_ZONES -> its zones. Complete only when the record is
 * trusted (changerec_trusted: complete, and any unsynced entries from
 * this boot) and names no directory past dir_count. A damaged record
 * gives an incomplete list (why says so), never an error: the backup
 * then reads everything. -ENOMEM only.
 */
int bk_changes_from_record(const uint8_t *buf, size_t len, size_t dir_count,
			   struct bk_changes *out, char *why, size_t why_size);
/* The text form (bk_changes_parse) or a record (by its first bytes). */
int bk_changes_load(const char *path, size_t dir_count, struct bk_changes *out,
		    char *why, size_t why_size);

#endif
