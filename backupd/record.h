/*
 * record.h - replicd's backup record (backup-<id>.rec, shared/changerec.h)
 * read as backupd's change list (changes.h; docs/backup.md, "Point in
 * time").
 *
 * Kinds map as: TRK_ZONES -> those zones; TRK_META, TRK_ENTRY -> whole
 * (read the entry again); TRK_TREE (a rename) -> whole for the path and
 * everything under it (subtree). TRK_ALONE entries name no path: ignored.
 * The record's directory index is the index in replicd.directories; the
 * caller uses the list only when the backup's paths are those, in that
 * order. A record changerec_trusted refuses, or one with a bad entry,
 * gives an incomplete list (read everything).
 */
#ifndef BACKUPD_RECORD_H
#define BACKUPD_RECORD_H

#include "changerec.h"
#include "changes.h"

/* Pure (fuzzers, unit tests): boot is this boot's id. 0 or -ENOMEM. */
int bk_record_parse(const uint8_t *buf, size_t len,
		    const uint8_t boot[CHANGEREC_BOOT_BYTES],
		    struct bk_changes *out);
/* Read the record file at path (at most CHANGEREC_FILE_MAX bytes). A
 * missing or unreadable file: an incomplete list and the error. */
int bk_record_load(const char *path, struct bk_changes *out);

#endif
