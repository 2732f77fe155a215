/*
 * bkhold.h - asking replicd to hold this node's secondary copy still for a
 * backup (docs/replication.md "Backups", docs/protocol.md: the state
 * <module>.backupd.actual with "hold" and "completed").
 *
 * A thread publishes backupd's state every 200 ms on replicd's backup
 * endpoint (ipc://RUN/MODULE/backup) while the main thread works: the
 * socket and the published fields belong to that thread, the main thread
 * changes the fields under the mutex only. replicd answers in its own
 * state file, RUN/MODULE/replicd.json ("backup": hold, held, record,
 * refused, released, failed), which bk_hold_begin and bk_hold_end read.
 */
#ifndef BACKUPD_HOLD_H
#define BACKUPD_HOLD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_HOLD_ID_MAX 64

struct bk_hold;

struct bk_hold_result {
	bool held;	       /* the copy is still: back it up */
	char record[PATH_MAX]; /* replicd's backup-<id>.rec ("" if none) */
	char why[256];	       /* not held: refused, no replicd, timeout */
};

/*
 * Ask for a hold with a new id and wait up to wait_ms for replicd's
 * answer. Returns 0 with *out (go on held or not, as res says), or
 * -errno (the bus could not be opened). Without replicd.json (no replicd
 * on this node) it answers at once, not held.
 */
int bk_hold_begin(const char *run_dir, const char *module, const char *node,
		  int64_t wait_ms, struct bk_hold **out,
		  struct bk_hold_result *res);
/*
 * End it: hold null, completed the id when ok (the backup used the copy
 * and the record: replicd drops the record), else left as it was
 * (replicd merges the record back for the next backup). Waits up to
 * wait_ms for replicd to say the hold is over, then stops publishing and
 * frees *h.
 */
void bk_hold_end(struct bk_hold **h, bool ok, int64_t wait_ms);

#endif
