/*
 * hold.h - backupd's side of replicd's hold (docs/backup.md, "Point in
 * time"; docs/replication.md, "Backups").
 *
 * backupd publishes its state, MODULE.backupd.actual {hold, completed}, on
 * change and every 500 ms from a thread of its own, through one PUB
 * connected to replicd's backup endpoint (ipc://RUN/MODULE/backup) and to
 * heartbeatd's actual endpoint (ipc://RUN/MODULE/actual). replicd's
 * answer is read from RUN/MODULE/replicd.json, the whole actual state
 * replicd writes (atomically) each time it publishes, on change and every
 * second: its "backup" object says whether this hold is held, refused
 * (why), or released (and whether it failed). A file older than
 * BK_HOLD_STALE_MS means replicd is not running: nothing is held.
 */
#ifndef BACKUPD_HOLD_H
#define BACKUPD_HOLD_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define BK_HOLD_ID_MAX	  64
#define BK_HOLD_PERIOD_MS 500
#define BK_HOLD_STALE_MS  5000
#define BK_HOLD_ANSWER_MS 20000 /* replicd answers a hold or a release */

/* replicd's state as its replicd.json says (pure parse: bk_hold_read). */
struct bk_replicd_view {
	char state[16]; /* primary, secondary, stopped */
	char hold[BK_HOLD_ID_MAX + 1], released[BK_HOLD_ID_MAX + 1];
	bool held, record_complete;
	char record[PATH_MAX];
	char refused[256], failed[256];
};

/* Fill *v from replicd's published object (hostile: every field is
 * checked). 0, or -EBADMSG with why. */
int bk_hold_parse(const json_t *obj, struct bk_replicd_view *v, char *why,
		  size_t why_size);

struct bk_hold {
	char id[BK_HOLD_ID_MAX + 1];
	char module[64], node[64];
	char ep_backup[PATH_MAX + 32], ep_actual[PATH_MAX + 32];
	char state_file[PATH_MAX + 32];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running;
	/* published, under lock */
	char pub_hold[BK_HOLD_ID_MAX + 1], pub_completed[BK_HOLD_ID_MAX + 1];
	bool dirty;
	/* replicd's answer when held */
	struct bk_replicd_view at_start;
};

/*
 * Read RUN/MODULE/replicd.json. -ENOENT: replicd is not running here (no
 * file, or older than BK_HOLD_STALE_MS), -EBADMSG: unreadable.
 */
int bk_hold_read(const char *state_file, struct bk_replicd_view *v, char *why,
		 size_t why_size);

/*
 * Ask replicd to hold this node's copy for a new backup id, and wait for
 * its answer: 1 held (h->at_start names the record), 0 not held (why:
 * replicd's refusal, or that there is no replicd; the publisher is
 * stopped), < 0 an error (why).
 */
int bk_hold_begin(struct bk_hold *h, const char *run_dir, const char *module,
		  const char *node, char *why, size_t why_size);
/* Is the copy still held for this backup? false: why says what ended it. */
bool bk_hold_still(struct bk_hold *h, char *why, size_t why_size);
/*
 * Test hook: with SKYHA_BACKUP_TEST_GATE=PATH in the environment, wait
 * (at most 120 s) while PATH exists: a cluster test holds a backup between
 * its walk and its snapshot to fail a node or kill backupd there.
 */
void bk_hold_test_gate(void);
/*
 * End the hold: completed true says the backup finished (replicd drops its
 * record), false that it failed (merged back for the next one). Waits for
 * replicd to release it (at most BK_HOLD_ANSWER_MS), then stops publishing.
 */
void bk_hold_end(struct bk_hold *h, bool completed);

/* --- a backup run's use of it (hold_run.c) ------------------------------ */

struct bk_app;
struct bk_changes;

/*
 * Before a backup's targets: on a mirror module's secondary, hold the copy
 * (*held true) and, without --changes and with backup.paths being
 * replicd.directories, load replicd's record of the backup into *changes
 * (*cl = changes). On a primary, a stopped module, or without replicd:
 * nothing held, the hooks are used. A secondary that refuses (its copy is
 * not up to date) or does not answer: -EAGAIN, nothing is backed up (why
 * says so, for each target's status).
 */
int bk_backup_hold(struct bk_app *a, struct bk_hold *h, bool *held,
		   struct bk_changes *changes, const struct bk_changes **cl,
		   char *why, size_t why_size);
/*
 * After a target failed while held: true if the hold ended because this
 * node became primary (a failover during the backup): the caller backs up
 * again at once in hooks mode, without a change list (*cl = NULL).
 */
bool bk_backup_hold_lost(struct bk_app *a, struct bk_hold *h,
			 const struct bk_changes **cl);

#endif
