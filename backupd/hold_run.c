/*
 * hold_run.c - a backup run with replicd's hold and record (hold.h;
 * docs/backup.md, "Point in time").
 */
#include "bkhold.h"
#include "commands.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <string.h>

int bk_backup_hold(struct bk_app *a, struct bk_hold *h, bool *held,
		   struct bk_changes *changes, const struct bk_changes **cl,
		   char *out, size_t out_size)
{
	char why[512] = "";
	struct bk_replicd_view v;
	memset(h, 0, sizeof(*h));
	*held = false;
	if (a->mod.type != SKY_MODULE_MIRROR)
		return 0;
	int r = bk_hold_begin(h, a->cli.run_dir, a->mod.module, a->cli.node,
			      why, sizeof(why));
	if (r < 0) {
		snprintf(out, out_size, "cannot hold this copy: %s", why);
		log_error("backup: %s", out);
		return r;
	}
	if (r == 0) {
		char now[256];
		if (bk_hold_read(h->state_file, &v, now, sizeof(now)) == 0 &&
		    !strcmp(v.state, "secondary")) {
			snprintf(out, out_size,
				 "not backed up: this node is a secondary "
				 "and its copy is not held (%s)",
				 why);
			log_error("backup: %s; the next run tries again", out);
			return -EAGAIN;
		}
		log_notice("backup: not held (%s): point in time from the "
			   "pre_backup/post_backup hooks%s",
			   why,
			   a->cfg.pre_backup[0] ? "" : " (none configured)");
		return 0;
	}
	*held = true;
	if (a->changes_file)
		return 0; /* the operator's list wins */
	if (!a->cfg.paths_are_replicd) {
		log_notice("backup %s: backup.paths are not "
			   "replicd.directories: replicd's record is not "
			   "used, everything is read",
			   h->id);
		return 0;
	}
	r = bk_record_load(h->at_start.record, changes);
	if (r < 0) {
		log_warning("backup %s: replicd's record %s: %s: everything "
			    "is read",
			    h->id, h->at_start.record, strerror(-r));
		bk_changes_free(changes);
		return 0;
	}
	if (!h->at_start.record_complete)
		changes->complete = false;
	log_info("backup %s: replicd's record lists %zu paths%s", h->id,
		 changes->count,
		 changes->complete ? ""
				   : " and is incomplete: everything is "
				     "read");
	*cl = changes;
	return 0;
}

bool bk_backup_hold_lost(struct bk_app *a, struct bk_hold *h,
			 const struct bk_changes **cl)
{
	char why[512];
	struct bk_replicd_view v;
	(void)a;
	if (bk_hold_still(h, why, sizeof(why)))
		return false;
	if (bk_hold_read(h->state_file, &v, why, sizeof(why)) < 0 ||
	    strcmp(v.state, "primary") != 0)
		return false;
	log_notice("backup %s: this node became primary during the backup "
		   "(%s): backing up again here with the hooks, reading "
		   "everything",
		   h->id, v.failed[0] ? v.failed : "hold released");
	*cl = NULL;
	return true;
}
