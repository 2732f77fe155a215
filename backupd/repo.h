/*
 * repo.h - a backup repository on one target (docs/backup.md,
 * "Repository format"): its config and key, the index of every blob,
 * packs being written, snapshots and locks.
 *
 * Crash safety is the order of writes: a pack is put whole (the store's
 * put is atomic), then the index naming its blobs, then the snapshot
 * naming its root tree. An interrupted run leaves packs no index names;
 * bk_repo_load_index(recover) reads their headers and indexes them, so
 * the next backup reuses what was uploaded. A snapshot is only written
 * once every blob it reaches is in an index.
 */
#ifndef BACKUPD_REPO_H
#define BACKUPD_REPO_H

#include "chunker.h"
#include "crypto.h"
#include "pack.h"
#include "store.h"
#include "tree.h"

#include <jansson.h>
#include <stdbool.h>

#define BK_REPO_VERSION 1
#define BK_LOCK_LEASE_S 120 /* renewed every third of it */
/* An index object is written once this many blobs wait for one: each
 * stays well under BK_OBJECT_MAX (45 bytes a blob), and a long first
 * backup of a large data set writes many, not one too large to read. */
#define BK_INDEX_BLOBS 200000

struct bk_ientry {
	uint8_t id[BK_ID_LEN];
	uint32_t pack; /* index in repo->packs; UINT32_MAX: the open pack */
	uint32_t len;
	uint64_t off;
	uint8_t kind;
	bool used; /* slot taken */
};

struct bk_repo_stats {
	uint64_t blobs_new, blobs_reused;
	uint64_t bytes_new;	 /* plaintext of new blobs */
	uint64_t bytes_uploaded; /* packs, index, snapshot */
	uint64_t packs_written, packs_recovered;
};

struct bk_repo {
	struct bk_store *store; /* borrowed */
	char target[64];
	char id[BK_HEX_ID];
	struct bk_keys keys;
	struct bk_chunker chunker;
	/* the index: open addressing on the blob id */
	struct bk_ientry *slots;
	size_t slot_count, used;
	uint8_t (*packs)[BK_ID_LEN];
	bool *pack_fresh; /* written or recovered by this run: to index */
	size_t pack_count, pack_cap;
	uint32_t *pack_slots; /* hash of pack id -> index in packs */
	size_t pack_slot_count;
	/* the pack being filled */
	struct bk_out *open_pack;
	struct bk_pack_entry *open_entries;
	size_t open_count, open_cap;
	struct bk_repo_stats stats;
	char last_index[BK_HEX_ID]; /* the index the last commit wrote */
	uint64_t fresh_blobs;	    /* in fresh packs, not in an index yet */
	/* our lock */
	char lock_name[BK_NAME_MAX + 1];
	bool lock_exclusive;
	int64_t lock_renewed_ms;
	char why[BK_REASON_MAX]; /* the last failure, one line */
};

/* Create config and keys/<id> on an empty target (-EEXIST otherwise). */
int bk_repo_init(struct bk_store *store, const char *target,
		 const struct bk_secret *secret, char *why, size_t why_size);
/*
 * Open: read config, unwrap the master key with secret (-EKEYREJECTED:
 * wrong key or passphrase, -ENOENT: no repository there, -EBADMSG: damaged config).
 */
int bk_repo_open(struct bk_store *store, const char *target,
		 const struct bk_secret *secret, struct bk_repo **out,
		 char *why, size_t why_size);
void bk_repo_free(struct bk_repo **r);

/* Read every index; recover: also index packs no index names. */
int bk_repo_load_index(struct bk_repo *r, bool recover);
const struct bk_ientry *bk_repo_lookup(const struct bk_repo *r,
				       const uint8_t id[BK_ID_LEN]);
/* The index of a pack in r->packs, or -1. */
long bk_repo_pack_find(const struct bk_repo *r, const uint8_t id[BK_ID_LEN]);

/* Store a blob unless one with its id exists; id filled. 1: stored,
 * 0: there already. */
int bk_repo_put_blob(struct bk_repo *r, enum bk_blob_kind kind, const void *buf,
		     size_t len, uint8_t id[BK_ID_LEN]);
/* Put the open pack (if any), then an index of this run's packs. */
int bk_repo_commit(struct bk_repo *r);
/* Index a pack that exists (prune keeps it): written by the next commit. */
int bk_repo_adopt_pack(struct bk_repo *r, const uint8_t pack[BK_ID_LEN],
		       const struct bk_pack_entry *e, size_t count);
/* Read and open a blob (-EBADMSG: it fails authentication). */
int bk_repo_read_blob(struct bk_repo *r, enum bk_blob_kind kind,
		      const uint8_t id[BK_ID_LEN], uint8_t **out, size_t *len);

/*
 * Read the data blobs of chunks c[0..count-1] that lie one after another
 * in one pack (at least c[0], at most BK_RUN_MAX bytes) with one ranged
 * read, open each, and hand it to fn (nonzero from fn stops, returned).
 * *done: how many were handed. A remote target then costs one request
 * per run of a file's chunks, not one per chunk.
 */
#define BK_RUN_MAX (8u << 20)
int bk_repo_read_data_run(struct bk_repo *r, const struct bk_chunk_ref *c,
			  size_t count,
			  int (*fn)(void *ctx, const struct bk_chunk_ref *c,
				    const uint8_t *buf, size_t len),
			  void *ctx, size_t *done);
/* Seal and put an object (index, snapshot) under dir/<content id>. */
int bk_repo_put_sealed(struct bk_repo *r, const char *dir, const char *label,
		       const void *buf, size_t len, char *name_out,
		       size_t name_size);
int bk_repo_get_sealed(struct bk_repo *r, const char *name, const char *label,
		       uint8_t **out, size_t *len);

/* Names under a prefix (malloc'ed array of malloc'ed strings). */
int bk_repo_list(struct bk_repo *r, const char *prefix, char ***names,
		 size_t *count);
void bk_names_free(char **names, size_t count);

/*
 * Locks: shared (backup) or exclusive (forget/prune). -EBUSY when a live
 * lock of the other kind (or any, for exclusive) is there: why names it.
 * Expired locks are ignored and removed.
 */
int bk_repo_lock(struct bk_repo *r, bool exclusive);
/* Renew the lease when a third of it has passed. */
int bk_repo_lock_refresh(struct bk_repo *r);
void bk_repo_unlock(struct bk_repo *r);

/* Parse a lock object (hostile bytes): 0 with the fields, or -EBADMSG. */
struct bk_lock_info {
	char holder[64], host[64];
	long long pid, created, expires;
	bool exclusive;
};
int bk_lock_parse(const uint8_t *buf, size_t len, struct bk_lock_info *out);

#endif
