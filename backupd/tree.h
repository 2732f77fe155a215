/*
 * tree.h - a directory listing, stored as a tree blob (docs/backup.md,
 * "Trees").
 *
 * Entries in strictly increasing name order (bytes), each with its type,
 * metadata, xattrs, and: a dir its subtree's blob id; a file its chunks
 * (offset, length, id; gaps between them are holes); a symlink its
 * target; a hard link the path (from the snapshot's root, "<dir
 * index>/rel/path") of the earlier entry it shares an inode with; a
 * device its rdev. bk_tree_parse takes a buffer from the repository
 * (hostile: it may have been tampered with) and checks every length,
 * name and order before anything is used.
 */
#ifndef BACKUPD_TREE_H
#define BACKUPD_TREE_H

#include "crypto.h"

#include <stddef.h>
#include <stdint.h>

enum bk_type {
	BK_FILE = 0,
	BK_DIR = 1,
	BK_SYMLINK = 2,
	BK_HARDLINK = 3, /* to an earlier entry of the snapshot */
	BK_FIFO = 4,
	BK_CHARDEV = 5,
	BK_BLOCKDEV = 6,
};

#define BK_TREE_NAME_MAX     255
#define BK_TREE_TARGET_MAX   4096
#define BK_TREE_XATTRS_MAX   64
#define BK_TREE_XATTR_VALMAX (64u << 10)
#define BK_TREE_ENTRIES_MAX  (1u << 20)
#define BK_TREE_CHUNKS_MAX   (1u << 24)

struct bk_xattr {
	char *name;
	uint8_t *value;
	uint32_t len;
};

struct bk_chunk_ref {
	uint64_t off;
	uint32_t len;
	uint8_t id[BK_ID_LEN];
};

struct bk_entry {
	char *name;
	uint8_t type;
	uint32_t mode, uid, gid;
	int64_t atime_ns, mtime_ns;
	uint64_t size, rdev;
	char *target; /* symlink target, hard link path */
	uint8_t subtree[BK_ID_LEN];
	struct bk_xattr *xattrs;
	size_t xattr_count;
	struct bk_chunk_ref *chunks;
	size_t chunk_count;
};

struct bk_tree {
	struct bk_entry *entries;
	size_t count, cap;
};

/* Append an entry (moves its pointers into the tree). */
int bk_tree_add(struct bk_tree *t, struct bk_entry *e);
/* Sort entries by name (before encoding a tree that was built unsorted). */
void bk_tree_sort(struct bk_tree *t);
/* The entry named name, or NULL (binary search: the tree is sorted). */
const struct bk_entry *bk_tree_find(const struct bk_tree *t, const char *name);
void bk_entry_free(struct bk_entry *e);
void bk_tree_free(struct bk_tree *t);

/* Encode (entries must be sorted, names unique); *out malloc'ed. */
int bk_tree_encode(const struct bk_tree *t, uint8_t **out, size_t *len);
/* Parse, checking everything: -EBADMSG with why filled. */
int bk_tree_parse(const uint8_t *buf, size_t len, struct bk_tree *out,
		  char *why, size_t why_size);

#endif
