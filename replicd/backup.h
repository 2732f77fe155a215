/*
 * backup.h - replicd's side of backups: holding the secondary's copy
 * still while backupd reads it (docs/replication.md, "Backups").
 *
 * backupd publishes its state, MODULE.backupd.actual, with "hold": the id
 * of the backup that wants this copy still (null: none) and "completed":
 * the last backup that finished (bus.h). replicd binds a SUB socket for it
 * (ipc://RUN/MODULE/backup, SKY_EP_BACKUP) and acts on the state, never on
 * one message:
 *
 *   - a new hold id on an in-sync secondary: the applier drained, the
 *     backup record is rotated (backup.rec -> backup-<id>.rec: what this
 *     backup reads) and a hold journal started (hold.h); from then on every
 *     operation received is acknowledged as usual and journaled, not
 *     applied;
 *   - the id gone: the journal applied in order, then removed;
 *     backup-<id>.rec removed if "completed" names the backup, else merged
 *     back into backup.rec (the next backup reads those changes too);
 *   - released early, as failed, when backupd is silent for
 *     replicd.backup_hold_lost_after_ms, when the journal would pass
 *     replicd.backup_hold_max_bytes or the state directory's free space is
 *     low, or when this node is promoted (the journal is applied before
 *     replicd reports the primary role: a promotion never serves a stale
 *     copy). A backup never stops acknowledgements.
 *   - released as failed when a new session with the primary comes up:
 *     its resync (a hash resync above all) must find the copy it
 *     describes, not one with changes waiting in a journal;
 *   - refused with a reason on a primary (backupd then uses its hooks) and
 *     on a copy that is not up to date.
 *
 * At start, a journal left by a stopped or crashed replicd is applied
 * before anything else, and a leftover backup-<id>.rec merged back.
 */
#ifndef REPLICD_BACKUP_H
#define REPLICD_BACKUP_H

#include "hold.h"
#include "log.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct replicd;

/* The backup record lists at most this many zones and paths (16 GiB of
 * 64 KiB zones); past it, the next backup reads everything. */
#define REPLICD_BACKUP_RECORD_MAX (256u << 10)

struct replicd_backup {
	void *sub; /* backupd's publications (not with --standalone) */
	bool heard;
	int64_t heard_ms;
	/* backupd's state, as last heard ("" for null) */
	char want[REPLICD_HOLD_ID_MAX + 1];
	char completed[REPLICD_HOLD_ID_MAX + 1];
	/* the hold this node holds, or considers ("": none) */
	char id[REPLICD_HOLD_ID_MAX + 1];
	/* the last hold released: never held again */
	char done[REPLICD_HOLD_ID_MAX + 1];
	bool held;
	bool record_complete;
	bool drop_session; /* a replay failed: end the session (a resync) */
	char record[PATH_MAX];
	char refused[224]; /* why id is not held */
	char failed[224];  /* why the last hold ended early */
	struct replicd_hold_journal journal;
	/* the session with the primary when the hold began (NULL: none) */
	const void *session;
	int64_t session_started_ms;
	uint64_t space_checked_at; /* journal length at the last check */
	/* counters */
	uint64_t rejected; /* malformed publications dropped */
	uint64_t holds, failures;
	uint64_t replay_errors; /* operations a replay could not apply */
	struct sky_ratelimit rl;
};

/*
 * backupd's state message (pure): hold and completed ids ("" for null or
 * absent). A node field, when present, must name this node. 0, or -EINVAL
 * with the reason in err.
 */
int replicd_backup_parse(const json_t *msg, const char *node, char *hold,
			 char *completed, char *err, size_t err_size);

/* At open, after the mounts: apply a leftover journal, merge leftover
 * records, bind the socket (with a bus). */
int replicd_backup_open(struct replicd *d, const char *run_dir);
void replicd_backup_close(struct replicd *d);
/* Read backupd's publications (main loop). */
void replicd_backup_input(struct replicd *d);
/* Start, end or refuse holds from the state heard (main loop). */
void replicd_backup_tick(struct replicd *d, int64_t now);
/*
 * An operation received while held: 1 if it was journaled (or, for an
 * fsync or a flush, the journal made durable), 0 if the hold had to end
 * (then applied as usual; what was journaled is applied already).
 */
int replicd_backup_take(struct replicd *d, const struct replicd_op *op);
/* End a hold now, as failed for why (the node is promoted). */
void replicd_backup_release(struct replicd *d, const char *why);
/* "backup" of the actual state. */
json_t *replicd_backup_json(struct replicd *d);

#endif
