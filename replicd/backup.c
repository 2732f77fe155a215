/*
 * backup.c - holding the secondary's copy still for backupd (backup.h).
 */
#include "daemon.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zmq.h>

/* Free space is looked at every this many journal bytes. */
#define SPACE_CHECK_BYTES (16ull << 20)
/* Low: below this, or below 1/20 of the file system if that is less. */
#define SPACE_LOW_BYTES (256ull << 20)

static int id_field(const json_t *msg, const char *key, char *out, char *err,
		    size_t err_size)
{
	const json_t *v = json_object_get(msg, key);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    !replicd_hold_id_valid(json_string_value(v),
				   json_string_length(v))) {
		snprintf(err, err_size,
			 "'%s' must be null or a backup id ([A-Za-z0-9._-], "
			 "1 to %d bytes)",
			 key, REPLICD_HOLD_ID_MAX);
		return -EINVAL;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int replicd_backup_parse(const json_t *msg, const char *node, char *hold,
			 char *completed, char *err, size_t err_size)
{
	const json_t *n = json_object_get(msg, "node");
	if (!json_is_object(msg)) {
		snprintf(err, err_size, "not a JSON object");
		return -EINVAL;
	}
	if (n && (!json_is_string(n) || strcmp(json_string_value(n), node))) {
		snprintf(err, err_size, "'node' is not this node (%s)", node);
		return -EINVAL;
	}
	int r = id_field(msg, "hold", hold, err, err_size);
	if (r == 0)
		r = id_field(msg, "completed", completed, err, err_size);
	return r;
}

/* --- replay -------------------------------------------------------------*/

static int replay_apply(void *ctx, const struct replicd_op *op)
{
	struct replicd *d = ctx;
	int r = replicd_apply_replayed(d, op);
	if (r < 0 && !replicd_apply_err_is_local(r)) {
		/* A path a resync had not reached yet when the operation
		 * came, as when it was received: counted. */
		d->bk.replay_errors++;
		r = 0;
	}
	return r;
}

static int replay_sync(void *ctx)
{
	struct replicd *d = ctx;
	for (size_t i = 0; i < d->mount_count; i++)
		if (d->mounts[i].root >= 0 && syncfs(d->mounts[i].root) < 0)
			return -errno;
	return 0;
}

static uint64_t replay_inode(void *ctx, const struct replicd_op *op)
{
	struct replicd *d = ctx;
	_cleanup_close_ int dirfd = -1;
	const char *base;
	struct stat st;
	if (op->dir >= d->mount_count || !op->path || !*op->path ||
	    replicd_fs_parent(d->mounts[op->dir].root, op->path, &dirfd,
			      &base) < 0 ||
	    fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

/*
 * Apply the journal, if any. A failure leaves a copy that misses changes
 * acknowledged to the primary: the change record is made incomplete and
 * the session dropped, so the next resync compares everything.
 */
static int replay(struct replicd *d, const char *when)
{
	struct replicd_replay_ops ops = {.ctx = d,
					 .apply = replay_apply,
					 .sync = replay_sync,
					 .inode = replay_inode};
	struct replicd_replay_result res;
	int64_t t0 = sky_now_ms();

	replicd_applier_drain(&d->applier);
	int r = replicd_hold_replay(d->state_dir, &ops, &res);
	if (r == -ENOENT)
		return 0;
	if (res.id[0])
		sky_strlcpy(d->bk.done, res.id, sizeof(d->bk.done));
	if (r == 0) {
		log_notice("%s: applied the %llu operations held for backup "
			   "%s (%llu journal bytes, %.3f s)",
			   when, (unsigned long long)res.applied, res.id,
			   (unsigned long long)res.bytes,
			   (double)(sky_now_ms() - t0) / 1000.0);
		return 0;
	}
	log_error("%s: cannot apply the operations held for backup %s: %s; "
		  "this copy misses changes: the next resync compares "
		  "everything",
		  when, res.id[0] ? res.id : "?", strerror(-r));
	/* Never leave a journal behind a copy that moves on without it. */
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/hold.journal", d->state_dir);
	unlink(path);
	int s = replicd_track_set_incomplete(d->track);
	if (s < 0)
		log_error("cannot mark the change record incomplete: %s",
			  strerror(-s));
	d->data = SKY_REPLICA_INCONSISTENT;
	/* Dropped from the main loop (replicd_backup_tick): this may run
	 * while a frame of that connection is being handled. */
	d->bk.drop_session = true;
	d->changed = true;
	return r;
}

/* --- records ------------------------------------------------------------ */

static void record_name(char *out, size_t size, const char *id)
{
	snprintf(out, size, "backup-%s.rec", id);
}

/* The backup's record after its end: gone if it completed, else merged. */
static void settle_record(struct replicd *d, const char *id, bool completed)
{
	char name[REPLICD_HOLD_ID_MAX + 16], path[PATH_MAX + 96];
	int r;
	record_name(name, sizeof(name), id);
	snprintf(path, sizeof(path), "%s/%s", d->state_dir, name);
	if (completed) {
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	} else {
		r = replicd_track_merge(d->backup, name);
	}
	if (r < 0) {
		log_error("cannot %s %s: %s; the next backup reads everything",
			  completed ? "remove" : "merge back", path,
			  strerror(-r));
		r = replicd_track_set_incomplete(d->backup);
		if (r < 0)
			log_error("cannot mark the backup record incomplete: "
				  "%s",
				  strerror(-r));
	}
}

/* At start: records of backups that did not end while replicd ran. */
static void merge_leftovers(struct replicd *d)
{
	DIR *dir = opendir(d->state_dir);
	struct dirent *e;
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		if (n < 12 || strncmp(e->d_name, "backup-", 7) != 0 ||
		    strcmp(e->d_name + n - 4, ".rec") != 0 ||
		    !replicd_hold_id_valid(e->d_name + 7, n - 11))
			continue;
		char id[REPLICD_HOLD_ID_MAX + 1];
		memcpy(id, e->d_name + 7, n - 11);
		id[n - 11] = '\0';
		log_notice("backup %s did not end while replicd ran: its "
			   "changes go to the next backup",
			   id);
		settle_record(d, id, false);
	}
	closedir(dir);
}

int replicd_backup_open(struct replicd *d, const char *run_dir)
{
	char ep[PATH_MAX + 32];
	int r;

	d->bk.journal.fd = -1;
	/* Before anything else: the copy as the primary acknowledged it.
	 * A failure is handled there (the journal dropped, the change record
	 * incomplete): this replicd starts, and the resync repairs. */
	(void)replay(d, "start");
	merge_leftovers(d);
	if (d->standalone || !d->sub)
		return 0;
	/* As heartbeatd makes it: replicd may start first. */
	snprintf(ep, sizeof(ep), "%s/%s", run_dir, d->cfg->module);
	r = sky_mkdir_p(ep, 0755);
	if (r == 0)
		r = sky_bus_endpoint(ep, sizeof(ep), run_dir, d->cfg->module,
				     SKY_EP_BACKUP);
	if (r == 0)
		r = sky_bus_open(ZMQ_SUB, ep, true, &d->bk.sub);
	if (r < 0)
		log_error("cannot bind %s for backupd's state: %s", ep,
			  strerror(-r));
	return r;
}

void replicd_backup_close(struct replicd *d)
{
	/* A hold in force stays: its journal is applied at the next start. */
	replicd_hold_journal_close(&d->bk.journal);
	sky_bus_close(&d->bk.sub);
}

void replicd_backup_input(struct replicd *d)
{
	char topic[SKY_TOPIC_MAX], want[SKY_TOPIC_MAX];
	json_t *msg;

	if (!d->bk.sub)
		return;
	sky_bus_topic(want, sizeof(want), d->cfg->module, "backupd",
		      SKY_KIND_ACTUAL);
	for (int budget = 64; budget > 0; budget--) {
		int r = sky_bus_recv(d->bk.sub, topic, sizeof(topic),
				     SKY_BUS_MSG_MAX, &msg);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			d->bk.rejected++;
			continue;
		}
		char hold[REPLICD_HOLD_ID_MAX + 1],
			done[REPLICD_HOLD_ID_MAX + 1];
		char why[160];
		if (strcmp(topic, want) != 0) {
			json_decref(msg);
			continue;
		}
		if (replicd_backup_parse(msg, d->self->name, hold, done, why,
					 sizeof(why)) < 0) {
			d->bk.rejected++;
			sky_log_ratelimited(&d->bk.rl, LOG_WARNING,
					    "dropped backupd's state: %s", why);
		} else {
			d->bk.heard = true;
			d->bk.heard_ms = sky_now_ms();
			memcpy(d->bk.want, hold, sizeof(hold));
			memcpy(d->bk.completed, done, sizeof(done));
		}
		json_decref(msg);
	}
}

/* --- holding -------------------------------------------------------------*/

static void end_hold(struct replicd *d, const char *failed)
{
	char id[REPLICD_HOLD_ID_MAX + 1];
	sky_strlcpy(id, d->bk.id, sizeof(id));
	replicd_hold_journal_close(&d->bk.journal);
	d->bk.held = false;
	sky_strlcpy(d->bk.done, id, sizeof(d->bk.done));
	sky_strlcpy(d->bk.failed, failed ? failed : "", sizeof(d->bk.failed));
	if (failed) {
		d->bk.failures++;
		log_warning("backup %s: hold released, failed: %s", id, failed);
	} else {
		log_notice("backup %s completed: applying what was held", id);
	}
	replay(d, "hold released");
	settle_record(d, id, !failed && strcmp(d->bk.completed, id) == 0);
	d->changed = true;
}

void replicd_backup_release(struct replicd *d, const char *why)
{
	if (d->bk.held)
		end_hold(d, why);
}

/* Why this node cannot hold its copy now ("" if it can). */
static void why_not(struct replicd *d, char *out, size_t size)
{
	out[0] = '\0';
	if (d->target != RT_SECONDARY)
		snprintf(out, size,
			 "this node is %s: only a secondary holds its copy "
			 "(backupd uses the pre_backup/post_backup hooks on "
			 "a primary)",
			 replicd_target_name(d->target));
	else if (d->data != SKY_REPLICA_UPTODATE || d->sec_resyncing ||
		 d->diverged)
		snprintf(out, size,
			 "this copy is %s%s: not one point of the primary's "
			 "history",
			 sky_replica_name(d->data),
			 d->sec_resyncing ? " (resyncing)" : "");
}

static bool space_low(struct replicd *d, char *why, size_t size)
{
	struct statvfs st;
	if (statvfs(d->state_dir, &st) < 0)
		return false;
	uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
	uint64_t total = (uint64_t)st.f_blocks * st.f_frsize;
	uint64_t low =
		total / 20 < SPACE_LOW_BYTES ? total / 20 : SPACE_LOW_BYTES;
	if (avail >= low)
		return false;
	snprintf(why, size,
		 "free space low in %s (%llu bytes left, under %llu)",
		 d->state_dir, (unsigned long long)avail,
		 (unsigned long long)low);
	return true;
}

static void start_hold(struct replicd *d)
{
	char name[REPLICD_HOLD_ID_MAX + 16], why[224];
	bool complete = false;
	int r;

	/* The copy on disk is what the primary acked so far. */
	replicd_applier_drain(&d->applier);
	if (replicd_applier_failed(d) < 0) {
		/* As secondary_checks would have: a resync repairs it. */
		d->data = SKY_REPLICA_INCONSISTENT;
		d->bk.drop_session = true;
		return; /* why_not says so from now on */
	}
	if (space_low(d, why, sizeof(why))) {
		snprintf(d->bk.refused, sizeof(d->bk.refused), "%s", why);
		return;
	}
	record_name(name, sizeof(name), d->bk.id);
	r = replicd_track_rotate(d->backup, name, &complete);
	if (r == 0) {
		r = replicd_hold_journal_create(&d->bk.journal, d->state_dir,
						d->bk.id);
		if (r < 0)
			settle_record(d, d->bk.id, false);
	}
	if (r < 0) {
		snprintf(d->bk.refused, sizeof(d->bk.refused),
			 "cannot start the hold: %s", strerror(-r));
		log_error("backup %s: %s", d->bk.id, d->bk.refused);
		sky_strlcpy(d->bk.done, d->bk.id, sizeof(d->bk.done));
		return;
	}
	d->bk.held = true;
	d->bk.holds++;
	d->bk.session = d->conn;
	d->bk.session_started_ms = d->conn ? d->conn->started_ms : 0;
	d->bk.refused[0] = d->bk.failed[0] = '\0';
	d->bk.record_complete = complete;
	d->bk.space_checked_at = d->bk.journal.length;
	snprintf(d->bk.record, sizeof(d->bk.record), "%s/%s", d->state_dir,
		 name);
	log_notice("backup %s: this copy is held still; operations are "
		   "acknowledged and journaled until it ends (record %s, %s)",
		   d->bk.id, d->bk.record,
		   complete ? "complete" : "incomplete: read everything");
	d->changed = true;
}

void replicd_backup_tick(struct replicd *d, int64_t now)
{
	char why[224];

	if (d->bk.drop_session) {
		d->bk.drop_session = false;
		replicd_drop_conn(d, &d->conn,
				  "held operations failed to apply: resync");
	}
	bool heard = d->bk.heard &&
		     now - d->bk.heard_ms <=
			     (int64_t)d->set->backup_hold_lost_after_ms;

	if (d->bk.held) {
		bool new_session =
			replicd_peer_up(d) &&
			((const void *)d->conn != d->bk.session ||
			 d->conn->started_ms != d->bk.session_started_ms);
		if (new_session) {
			end_hold(d, "a new session with the primary began: its "
				    "resync must find this copy as it is");
		} else if (!heard) {
			snprintf(why, sizeof(why),
				 "nothing from backupd for %u ms "
				 "(replicd.backup_hold_lost_after_ms)",
				 d->set->backup_hold_lost_after_ms);
			end_hold(d, why);
		} else if (strcmp(d->bk.want, d->bk.id) != 0) {
			end_hold(d, strcmp(d->bk.completed, d->bk.id) == 0
					    ? NULL
					    : "backupd ended the hold without "
					      "completing the backup");
		}
		return;
	}
	if (!heard || !d->bk.want[0] || strcmp(d->bk.want, d->bk.done) == 0) {
		if (d->bk.id[0] && strcmp(d->bk.id, d->bk.done) != 0) {
			d->bk.id[0] = d->bk.refused[0] = '\0';
			d->changed = true;
		}
		return;
	}
	if (strcmp(d->bk.want, d->bk.id) != 0) {
		sky_strlcpy(d->bk.id, d->bk.want, sizeof(d->bk.id));
		d->bk.refused[0] = d->bk.failed[0] = '\0';
		d->changed = true;
	}
	why_not(d, why, sizeof(why));
	if (why[0]) {
		if (strcmp(why, d->bk.refused) != 0) {
			log_notice("backup %s: not holding this copy: %s",
				   d->bk.id, why);
			sky_strlcpy(d->bk.refused, why, sizeof(d->bk.refused));
			d->changed = true;
		}
		return;
	}
	start_hold(d);
}

int replicd_backup_take(struct replicd *d, const struct replicd_op *op)
{
	char why[224];
	int r;

	if (!d->bk.held)
		return 0;
	if (op->type == ROP_FSYNC || op->type == ROP_FLUSH) {
		/* Acked as durable: everything before it must be. */
		r = replicd_hold_journal_sync(&d->bk.journal);
		if (r == 0)
			return 1;
		snprintf(why, sizeof(why), "cannot sync the hold journal: %s",
			 strerror(-r));
		end_hold(d, why);
		return 0; /* applied now, as without a hold */
	}
	if (!replicd_op_changes_data(op->type) && op->type != ROP_RELEASE)
		return 0;
	r = replicd_hold_journal_append(&d->bk.journal, op,
					d->set->backup_hold_max_bytes);
	if (r == -EFBIG)
		snprintf(why, sizeof(why),
			 "the hold journal would pass %llu bytes "
			 "(replicd.backup_hold_max_bytes)",
			 (unsigned long long)d->set->backup_hold_max_bytes);
	else if (r < 0)
		snprintf(why, sizeof(why), "cannot write the hold journal: %s",
			 strerror(-r));
	else if (d->bk.journal.length - d->bk.space_checked_at >=
		 SPACE_CHECK_BYTES) {
		d->bk.space_checked_at = d->bk.journal.length;
		if (!space_low(d, why, sizeof(why)))
			return 1;
		end_hold(d, why);
		return 1; /* journaled, so applied by the release */
	} else {
		return 1;
	}
	end_hold(d, why);
	return 0;
}

json_t *replicd_backup_json(struct replicd *d)
{
	bool any = d->bk.id[0];
	return json_pack(
		"{s:o,s:b,s:o,s:b,s:I,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "hold",
		any ? json_string(d->bk.id) : json_null(), "held", d->bk.held,
		"record", d->bk.held ? json_string(d->bk.record) : json_null(),
		"record_complete", d->bk.held && d->bk.record_complete,
		"journal_bytes",
		(json_int_t)(d->bk.held ? d->bk.journal.length : 0), "refused",
		any && !d->bk.held && d->bk.refused[0]
			? json_string(d->bk.refused)
			: json_null(),
		"failed",
		d->bk.failed[0] ? json_string(d->bk.failed) : json_null(),
		"released",
		d->bk.done[0] ? json_string(d->bk.done) : json_null(), "holds",
		(json_int_t)d->bk.holds, "failures", (json_int_t)d->bk.failures,
		"replay_errors", (json_int_t)d->bk.replay_errors,
		"rejected_messages", (json_int_t)d->bk.rejected);
}
