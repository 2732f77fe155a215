/*
 * hold.h - the hold journal: operations a held secondary received and
 * acknowledged but has not applied (docs/replication.md, "Backups").
 *
 * While backupd reads the secondary's copy, replicd keeps it still: each
 * operation received is appended here instead of being applied, and is
 * acknowledged exactly as it would have been (a write on receipt; an
 * fsync or a flush once the journal is fdatasync'ed, where the apply path
 * would have made the file or the whole copy durable). When the hold ends
 * the journal is applied in order, then removed.
 *
 * File <state>/hold.journal, big-endian:
 *
 *   header, 104 bytes:
 *     "SKYHLD1\n" | applied_to u64 | exchange_ino u64 | synced_to u64 |
 *     id length u8 | backup id (64 bytes, zero-padded) | 7 zero bytes
 *   entries:
 *     length u32 (1..REPLICD_OP_MAX) | the operation (op.h encoding) |
 *     SipHash-2-4 of length and operation under a fixed key, 8 bytes
 *
 * applied_to: entries before this offset are applied (replay resumes
 * there; 0: none). synced_to: every entry before it was made durable and
 * acknowledged as such: a journal whose good entries end before it is
 * damaged. exchange_ino: while applied_to points at a RENAME_EXCHANGE,
 * the inode its first path had before it (a power cut during the swap:
 * the path's inode says whether it happened). The id says which backup
 * held the copy.
 *
 * Replay is idempotent between sync points: operations of one run applied
 * again from its start, in order, end in the same state, except those
 * that move an existing name (rename, link), so each of them is its own
 * run: the copy is made durable (syncfs) and applied_to recorded before
 * and after it.
 */
#ifndef REPLICD_HOLD_H
#define REPLICD_HOLD_H

#include "op.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_HOLD_HEADER	    104
#define REPLICD_HOLD_ID_MAX	    64
#define REPLICD_HOLD_ENTRY_OVERHEAD (4 + 8)

struct replicd_hold_header {
	uint64_t applied_to, exchange_ino, synced_to;
	char id[REPLICD_HOLD_ID_MAX + 1];
};

/* A backup id: [A-Za-z0-9._-], 1..REPLICD_HOLD_ID_MAX bytes, not "." or
 * ".." (it names backup-<id>.rec). */
bool replicd_hold_id_valid(const char *id, size_t len);

/* Encode the header into out (REPLICD_HOLD_HEADER bytes); -EINVAL for a
 * bad id. */
int replicd_hold_header_encode(const struct replicd_hold_header *h,
			       uint8_t *out);
/* Decode and check a header (pure); 0 or -EBADMSG. */
int replicd_hold_header_decode(const uint8_t *buf, size_t len,
			       struct replicd_hold_header *h);

/*
 * One entry at buf (pure): 0 with *size its bytes and *op decoded into
 * st, -EAGAIN if buf ends inside it (a torn tail), -EBADMSG if damaged.
 */
int replicd_hold_entry_decode(const uint8_t *buf, size_t len, size_t *size,
			      struct replicd_op *op,
			      struct replicd_op_store *st);

/*
 * A whole journal's bytes (pure, for tests and fuzzers): calls fn for each
 * good entry with its offset; *good: where the good entries end. 0 (a torn
 * or damaged tail ends them: *good < len), -EBADMSG for a bad header, or
 * fn's negative return.
 */
int replicd_hold_parse(const uint8_t *buf, size_t len,
		       struct replicd_hold_header *h, size_t *good,
		       int (*fn)(void *ctx, uint64_t off,
				 const struct replicd_op *op),
		       void *ctx);

/* The journal being written (main thread only). */
struct replicd_hold_journal {
	int fd;
	char path[PATH_MAX];
	uint64_t length;   /* bytes, header included */
	uint64_t synced;   /* synced_to written */
	uint64_t appended; /* entries */
	uint8_t *buf;	   /* one encoded entry */
};

/* Create dir/hold.journal for the backup id (durably, replacing any). */
int replicd_hold_journal_create(struct replicd_hold_journal *j, const char *dir,
				const char *id);
/*
 * Append op (one write, not synced). -EFBIG if the journal would pass
 * max bytes; on a failed write the journal is cut back to its last whole
 * entry. 0 or -errno.
 */
int replicd_hold_journal_append(struct replicd_hold_journal *j,
				const struct replicd_op *op, uint64_t max);
/* Make every entry durable (and say so in synced_to). */
int replicd_hold_journal_sync(struct replicd_hold_journal *j);
void replicd_hold_journal_close(struct replicd_hold_journal *j);

/* What replay needs from the daemon. */
struct replicd_replay_ops {
	void *ctx;
	/* Apply one operation; -errno only when this node's storage
	 * failed (replay stops), else 0 (an expected failure is counted). */
	int (*apply)(void *ctx, const struct replicd_op *op);
	/* Make everything applied durable (syncfs of every directory). */
	int (*sync)(void *ctx);
	/* The inode of op->path (0: none). */
	uint64_t (*inode)(void *ctx, const struct replicd_op *op);
};

struct replicd_replay_result {
	char id[REPLICD_HOLD_ID_MAX + 1];
	uint64_t applied; /* entries applied now */
	uint64_t bytes;	  /* the journal's */
	bool damaged;	  /* good entries ended before synced_to */
};

/*
 * Apply dir/hold.journal from where a previous replay stopped, then remove
 * it. -ENOENT: no journal. -EBADMSG: a damaged header or acknowledged
 * entries lost (what could be applied was; the journal is removed: the
 * copy now misses changes and must be resynced). Another -errno: apply or
 * sync failed; the journal is kept (applied_to says where it stopped).
 */
int replicd_hold_replay(const char *dir, const struct replicd_replay_ops *ops,
			struct replicd_replay_result *res);

#endif
