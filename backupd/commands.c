/*
 * commands.c - one function per backupd command (commands.h): open the
 * target and its repository, do the work, say what happened (stdout for
 * the operator, the log with SKYHA_MODULE= for the journal), and map the
 * outcome to an exit code.
 */
#include "commands.h"
#include "bkbackup.h"
#include "bkhold.h"
#include "forget.h"
#include "log.h"
#include "record.h"
#include "restore.h"
#include "status.h"
#include "util.h"
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int exit_of(int r)
{
	switch (r) {
	case 0:
		return BK_EXIT_OK;
	case -EKEYREJECTED:
		return BK_EXIT_KEY;
	case -EBADMSG:
		return BK_EXIT_DAMAGED;
	case -EBUSY:
		return BK_EXIT_LOCKED;
	default:
		return BK_EXIT_FAILED;
	}
}

struct opened {
	struct bk_store *store;
	struct bk_repo *repo;
	const struct bk_target *target;
};

static void closed(struct opened *o)
{
	bk_repo_free(&o->repo);
	bk_store_close(&o->store);
}

/* The target by name, its store, and (with repo) the repository. */
static int open_target(struct bk_app *a, const char *name, bool repo,
		       struct opened *o, char *why, size_t why_size)
{
	memset(o, 0, sizeof(*o));
	o->target = bk_cfg_target(&a->cfg, name);
	if (!o->target) {
		snprintf(why, why_size, "no target '%s' in %s", name,
			 a->cli.config_path);
		return -ENOENT;
	}
	int r = bk_store_open(&o->target->store, &o->store, why, why_size);
	if (r < 0 || !repo)
		return r;
	struct bk_secret secret;
	r = bk_cfg_secret(&a->cfg, &secret, why, why_size);
	if (r < 0) {
		closed(o);
		return r;
	}
	r = bk_repo_open(o->store, name, &secret, &o->repo, why, why_size);
	sodium_memzero(&secret, sizeof(secret));
	if (r < 0)
		closed(o);
	return r;
}

int bk_cmd_keygen(struct bk_app *a)
{
	if (a->arg_count != 1) {
		fprintf(stderr, "backupd: keygen FILE\n");
		return BK_EXIT_USAGE;
	}
	uint8_t key[32];
	char hex[65];
	randombytes_buf(key, sizeof(key));
	bk_hex(key, sizeof(key), hex);
	hex[64] = '\n';
	int fd =
		open(a->args[0], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, hex, 65) != 65 || fsync(fd) < 0) {
		fprintf(stderr, "backupd: %s: %s\n", a->args[0],
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return BK_EXIT_FAILED;
	}
	close(fd);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	printf("key written to %s (mode 600): keep a copy away from the "
	       "backups\n",
	       a->args[0]);
	return BK_EXIT_OK;
}

int bk_cmd_init(struct bk_app *a)
{
	char why[BK_REASON_MAX];
	struct opened o;
	if (a->arg_count != 1) {
		fprintf(stderr, "backupd: init TARGET\n");
		return BK_EXIT_USAGE;
	}
	int r = open_target(a, a->args[0], false, &o, why, sizeof(why));
	struct bk_secret secret;
	if (r == 0)
		r = bk_cfg_secret(&a->cfg, &secret, why, sizeof(why));
	if (r == 0)
		r = bk_repo_init(o.store, a->args[0], &secret, why,
				 sizeof(why));
	sodium_memzero(&secret, sizeof(secret));
	closed(&o);
	if (r < 0) {
		log_error("init %s: %s", a->args[0], why);
		return r == -EEXIST ? BK_EXIT_FAILED : exit_of(r);
	}
	log_info("init %s: repository created", a->args[0]);
	printf("repository created on target %s\n", a->args[0]);
	return BK_EXIT_OK;
}

static int run_hook(const char *path, const char *module, const char *target,
		    const char *result)
{
	if (!path[0])
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setenv("SKYHA_MODULE", module, 1);
		setenv("SKYHA_BACKUP_TARGET", target, 1);
		if (result)
			setenv("SKYHA_BACKUP_RESULT", result, 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_error("hook %s failed (status %d)", path,
			  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return -ECANCELED;
	}
	return 0;
}

/* Before the snapshot is written: was the copy held all along? */
static int still_held(void *ctx, char *why, size_t why_size)
{
	bk_hold_test_gate();
	return bk_hold_still(ctx, why, why_size) ? 0 : -ESTALE;
}

/* hold: replicd holds this copy (no hooks), else NULL (hooks mode) */
static int backup_one(struct bk_app *a, const char *name,
		      const struct bk_changes *changes, struct bk_hold *hold)
{
	char why[BK_REASON_MAX] = "";
	struct opened o;
	struct bk_snapshot snap;
	int64_t wall0 = sky_wall_ms(), t0 = sky_now_ms();
	int r = open_target(a, name, true, &o, why, sizeof(why));
	if (r == 0 && (r = bk_repo_lock(o.repo, false)) < 0)
		sky_strlcpy(why, o.repo->why, sizeof(why));
	if (r == 0 && (r = bk_repo_load_index(o.repo, true)) < 0)
		sky_strlcpy(why, o.repo->why, sizeof(why));
	if (r == 0 && !hold)
		r = run_hook(a->cfg.pre_backup, a->mod.module, name, NULL);
	if (r == -ECANCELED)
		snprintf(why, sizeof(why), "pre_backup hook failed");
	if (r == 0) {
		struct bk_backup_opts bo = {.module = a->mod.module,
					    .host = a->cli.node,
					    .path_count = a->cfg.path_count,
					    .changes = changes,
					    .before_snapshot =
						    hold ? still_held : NULL,
					    .ctx = hold};
		const char *crash = getenv("SKYHA_BACKUP_CRASH_AFTER_PACKS");
		int64_t n;
		if (crash && sky_parse_i64(crash, 1, 1000000, &n) == 0)
			bo.crash_after_packs = (uint64_t)n;
		for (size_t i = 0; i < a->cfg.path_count; i++)
			bo.paths[i] = a->cfg.paths[i];
		r = bk_backup_run(o.repo, &bo, &snap);
		if (r < 0)
			snprintf(why, sizeof(why), "%s",
				 o.repo->why[0] ? o.repo->why : strerror(-r));
		int h = hold ? 0
			     : run_hook(a->cfg.post_backup, a->mod.module, name,
					r == 0 ? "ok" : "failed");
		if (h < 0)
			log_warning("backup %s: post_backup hook failed", name);
	}
	if (o.repo)
		bk_repo_unlock(o.repo);
	int64_t dur = sky_now_ms() - t0;
	json_t *run = bk_run_json(r == 0, wall0, dur, r == 0 ? &snap : NULL,
				  r == 0 ? "" : why);
	if (run) {
		json_object_set_new(run, "target", json_string(name));
		/* the point in time: replicd's hold (its id), or null: as
		 * walked, with the hooks if any */
		json_object_set_new(run, "hold",
				    hold ? json_string(hold->id) : json_null());
		uint64_t max_age = o.target ? o.target->max_age_s : 0;
		int w = bk_status_write(a->state_dir, a->mod.module,
					a->cli.node, name, max_age, run);
		if (w < 0)
			log_warning("backup %s: state file in %s: %s", name,
				    a->state_dir, strerror(-w));
		if (a->json) {
			char *text = json_dumps(run, JSON_SORT_KEYS);
			if (text)
				printf("%s\n", text);
			free(text);
		}
		json_decref(run);
	}
	if (r == 0) {
		log_info("backup %s: snapshot %.16s, %llu files, read %llu "
			 "bytes, %llu new, uploaded %llu, in %lld ms",
			 name, snap.id, (unsigned long long)snap.stats.files,
			 (unsigned long long)snap.stats.bytes_read,
			 (unsigned long long)snap.stats.bytes_new,
			 (unsigned long long)snap.stats.bytes_uploaded,
			 (long long)dur);
		if (!a->json)
			printf("snapshot %s saved on %s\n", snap.id, name);
	} else {
		log_error("backup %s failed: %s", name, why);
	}
	closed(&o);
	return r;
}

/* A run that did not start on this target, in its status. */
static void record_failure(struct bk_app *a, const struct bk_target *t,
			   const char *why)
{
	json_t *run = bk_run_json(false, sky_wall_ms(), 0, NULL, why);
	if (!run)
		return;
	json_object_set_new(run, "target", json_string(t->store.name));
	json_object_set_new(run, "hold", json_null());
	int w = bk_status_write(a->state_dir, a->mod.module, a->cli.node,
				t->store.name, t->max_age_s, run);
	if (w < 0)
		log_warning("backup %s: state file in %s: %s", t->store.name,
			    a->state_dir, strerror(-w));
	if (a->json) {
		char *text = json_dumps(run, JSON_SORT_KEYS);
		if (text)
			printf("%s\n", text);
		free(text);
	}
	json_decref(run);
}

int bk_cmd_backup(struct bk_app *a)
{
	struct bk_changes changes = {0};
	const struct bk_changes *cl = NULL;
	if (a->changes_file) {
		/* The text form, or a record of replicd's itself. */
		char why[256] = "";
		int r = bk_changes_load(a->changes_file, a->cfg.path_count,
					&changes, why, sizeof(why));
		if (r < 0) {
			fprintf(stderr, "backupd: %s: %s\n", a->changes_file,
				why);
			return BK_EXIT_USAGE;
		}
		if (why[0])
			log_warning("backup: %s: %s", a->changes_file, why);
		cl = &changes;
	}
	struct bk_hold hold;
	bool held = false, all = true;
	char why[BK_REASON_MAX] = "";
	int r = bk_backup_hold(a, &hold, &held, &changes, &cl, why,
			       sizeof(why));
	if (r < 0) {
		/* each target's status says why it was not backed up */
		for (size_t i = 0; i < a->cfg.target_count; i++)
			if (a->arg_count
				    ? !strcmp(a->args[0],
					      a->cfg.targets[i].store.name)
				    : bk_target_for_node(&a->cfg.targets[i],
							 a->cli.node))
				record_failure(a, &a->cfg.targets[i], why);
		bk_changes_free(&changes);
		return exit_of(r);
	}
	int worst = 0, ran = 0;
	for (size_t i = 0; i < a->cfg.target_count; i++) {
		const struct bk_target *t = &a->cfg.targets[i];
		if (a->arg_count ? strcmp(a->args[0], t->store.name) != 0
				 : !bk_target_for_node(t, a->cli.node)) {
			all &= !bk_target_for_node(t, a->cli.node);
			continue;
		}
		ran++;
		r = backup_one(a, t->store.name, cl, held ? &hold : NULL);
		if (r < 0 && held && bk_backup_hold_lost(a, &hold, &cl)) {
			/* this node serves now: the copy here is the
			 * module's, the walk goes again with the hooks */
			held = false;
			r = backup_one(a, t->store.name, NULL, NULL);
		}
		if (r < 0 && !worst)
			worst = r;
	}
	if (held)
		bk_hold_end(&hold, worst == 0 && all);
	else if (hold.running)
		bk_hold_end(&hold, false);
	bk_changes_free(&changes);
	if (a->arg_count && !ran) {
		fprintf(stderr, "backupd: no target '%s' in %s\n", a->args[0],
			a->cli.config_path);
		return BK_EXIT_USAGE;
	}
	if (!ran)
		log_info("backup: no target is written by node %s",
			 a->cli.node);
	return exit_of(worst);
}

static void print_size(uint64_t b, char *out, size_t size)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	size_t i = 0;
	while (v >= 1024 && i < 4)
		v /= 1024, i++;
	snprintf(out, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static int list_one(struct bk_app *a, const char *name, json_t *all)
{
	char why[BK_REASON_MAX];
	struct opened o;
	int r = open_target(a, name, true, &o, why, sizeof(why));
	struct bk_snapshot *s = NULL;
	size_t n = 0;
	if (r == 0 && (r = bk_snapshots_load(o.repo, &s, &n)) < 0)
		sky_strlcpy(why, o.repo->why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "backupd: list %s: %s\n", name, why);
		closed(&o);
		return r;
	}
	if (!a->json)
		printf("target %s: %zu snapshot%s\n", name, n,
		       n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		char when[32], rd[32], up[32];
		sky_format_utc(s[i].time_ms, when, sizeof(when));
		if (a->json) {
			json_t *paths = json_array();
			for (size_t p = 0; p < s[i].path_count; p++)
				json_array_append_new(
					paths, json_string(s[i].paths[p]));
			json_array_append_new(
				all,
				json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,"
					  "s:I,s:I}",
					  "target", name, "id", s[i].id, "time",
					  when, "host", s[i].host, "paths",
					  paths, "parent", s[i].parent, "files",
					  (json_int_t)s[i].stats.files,
					  "bytes_read",
					  (json_int_t)s[i].stats.bytes_read,
					  "bytes_uploaded",
					  (json_int_t)s[i].stats.bytes_uploaded,
					  "duration_ms",
					  (json_int_t)s[i].stats.duration_ms));
			continue;
		}
		print_size(s[i].stats.bytes_read, rd, sizeof(rd));
		print_size(s[i].stats.bytes_uploaded, up, sizeof(up));
		printf("  %.16s  %s  %-12s %llu files, read %s, uploaded %s\n",
		       s[i].id, when, s[i].host,
		       (unsigned long long)s[i].stats.files, rd, up);
	}
	free(s);
	closed(&o);
	return 0;
}

int bk_cmd_list(struct bk_app *a)
{
	json_t *all = json_array();
	int worst = 0;
	for (size_t i = 0; i < a->cfg.target_count; i++) {
		const char *name = a->cfg.targets[i].store.name;
		if (a->arg_count && strcmp(a->args[0], name))
			continue;
		int r = list_one(a, name, all);
		if (r < 0 && !worst)
			worst = r;
	}
	if (a->arg_count && !bk_cfg_target(&a->cfg, a->args[0])) {
		fprintf(stderr, "backupd: no target '%s'\n", a->args[0]);
		json_decref(all);
		return BK_EXIT_USAGE;
	}
	if (a->json) {
		char *t = json_dumps(all, JSON_INDENT(1));
		if (t)
			printf("%s\n", t);
		free(t);
	}
	json_decref(all);
	return exit_of(worst);
}

int bk_cmd_verify(struct bk_app *a)
{
	char why[BK_REASON_MAX];
	struct opened o;
	struct bk_verify_result res;
	if (a->arg_count != 1) {
		fprintf(stderr, "backupd: verify TARGET [--sample PCT]\n");
		return BK_EXIT_USAGE;
	}
	int r = open_target(a, a->args[0], true, &o, why, sizeof(why));
	if (r < 0) {
		log_error("verify %s: %s", a->args[0], why);
		return exit_of(r);
	}
	/* shared: a prune deleting packs under us would look like damage.
	 * Credentials that may only read (an auditor's) verify unlocked. */
	r = bk_repo_lock(o.repo, false);
	if (r == -EACCES || r == -EROFS || r == -EPERM) {
		log_warning(
			"verify %s: no lock (%s): a prune running now would "
			"show as missing objects",
			a->args[0], o.repo->why);
	} else if (r < 0) {
		log_error("verify %s: %s", a->args[0], o.repo->why);
		closed(&o);
		return exit_of(r);
	}
	r = bk_verify(o.repo, a->sample_pct ? a->sample_pct : 100, &res);
	bk_repo_unlock(o.repo);
	if (r < 0 && r != -EBADMSG)
		log_error("verify %s: %s", a->args[0], o.repo->why);
	printf("verify %s: %llu snapshots, %llu trees, %llu of %llu packs "
	       "read (%llu blobs, %llu bytes): %llu bad object%s\n",
	       a->args[0], (unsigned long long)res.snapshots,
	       (unsigned long long)res.trees,
	       (unsigned long long)res.packs_checked,
	       (unsigned long long)res.packs,
	       (unsigned long long)res.blobs_checked,
	       (unsigned long long)res.bytes_read,
	       (unsigned long long)res.bad_objects,
	       res.bad_objects == 1 ? "" : "s");
	closed(&o);
	return exit_of(r);
}

int bk_cmd_restore(struct bk_app *a)
{
	char why[BK_REASON_MAX];
	struct opened o;
	struct bk_snapshot snap;
	struct bk_restore_result res;
	if (a->arg_count < 3) {
		fprintf(stderr,
			"backupd: restore TARGET SNAPSHOT DEST [PATH...]\n");
		return BK_EXIT_USAGE;
	}
	const char *dest = a->args[2];
	if (dest[0] != '/') {
		fprintf(stderr, "backupd: restore: DEST must be absolute\n");
		return BK_EXIT_USAGE;
	}
	int r = open_target(a, a->args[0], true, &o, why, sizeof(why));
	if (r < 0) {
		log_error("restore %s: %s", a->args[0], why);
		return exit_of(r);
	}
	if ((r = bk_repo_load_index(o.repo, false)) < 0 ||
	    (r = bk_snapshot_find(o.repo, a->args[1], &snap)) < 0) {
		log_error("restore %s: %s", a->args[0], o.repo->why);
		closed(&o);
		return r == -ENOENT || r == -EINVAL ? BK_EXIT_USAGE
						    : exit_of(r);
	}
	/* DEST without its trailing '/': paths are appended to it */
	char d[PATH_MAX];
	sky_strlcpy(d, dest, sizeof(d));
	for (size_t l = strlen(d); l > 1 && d[l - 1] == '/'; l--)
		d[l - 1] = 0;
	if (!strcmp(d, "/"))
		d[0] = 0;
	r = bk_restore(o.repo, &snap, d, (const char *const *)a->args + 3,
		       (size_t)a->arg_count - 3, &res);
	if (r == 0)
		printf("restored snapshot %.16s into %s: %llu files, %llu "
		       "bytes\n",
		       snap.id, dest, (unsigned long long)res.files,
		       (unsigned long long)res.bytes);
	else if (r == -EIO)
		fprintf(stderr,
			"backupd: restore %.16s: %llu entries NOT restored "
			"(see the log): the repository is damaged\n",
			snap.id, (unsigned long long)res.errors);
	else
		log_error("restore %s: %s", a->args[0],
			  o.repo->why[0] ? o.repo->why : strerror(-r));
	closed(&o);
	return r == -EIO ? BK_EXIT_DAMAGED : exit_of(r);
}

int bk_cmd_forget(struct bk_app *a)
{
	char why[BK_REASON_MAX];
	struct opened o;
	struct bk_forget_result res = {0};
	if (a->arg_count != 1) {
		fprintf(stderr, "backupd: forget TARGET [--keep-last N ...] "
				"[--prune]\n");
		return BK_EXIT_USAGE;
	}
	int r = open_target(a, a->args[0], true, &o, why, sizeof(why));
	if (r < 0) {
		log_error("forget %s: %s", a->args[0], why);
		return exit_of(r);
	}
	struct bk_keep keep = a->keep_given ? a->keep : o.target->keep;
	if (!keep.last && !keep.daily && !keep.weekly && !keep.monthly &&
	    !a->prune) {
		fprintf(stderr,
			"backupd: forget %s: no keep_* policy (in the "
			"target or --keep-*): nothing would be kept\n",
			a->args[0]);
		closed(&o);
		return BK_EXIT_USAGE;
	}
	bool any_keep = keep.last || keep.daily || keep.weekly || keep.monthly;
	if (!a->dry_run && (r = bk_repo_lock(o.repo, true)) < 0) {
		log_error("forget %s: %s", a->args[0], o.repo->why);
		closed(&o);
		return exit_of(r);
	}
	if (any_keep)
		r = bk_forget(o.repo, &keep, a->dry_run, &res);
	if (r == 0 && a->prune && !a->dry_run) {
		r = bk_repo_load_index(o.repo, false);
		if (r == 0)
			r = bk_prune(o.repo, &res);
	}
	if (r < 0)
		log_error("forget %s: %s", a->args[0], o.repo->why);
	else
		printf("forget %s: %llu kept, %llu forgotten%s; prune: %llu "
		       "packs deleted, %llu repacked, %llu blobs dropped\n",
		       a->args[0], (unsigned long long)res.kept,
		       (unsigned long long)res.forgotten,
		       a->dry_run ? " (dry run)" : "",
		       (unsigned long long)res.packs_deleted,
		       (unsigned long long)res.packs_repacked,
		       (unsigned long long)res.blobs_dropped);
	closed(&o);
	return exit_of(r);
}
