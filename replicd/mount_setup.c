/*
 * mount_setup.c - mounting and unmounting one replicated directory
 * (mount.h): a stale mount of a crashed replicd detached, the real
 * directory opened before it is hidden, libfuse's loop in its own thread.
 */
#define FUSE_USE_VERSION 35

#include "log.h"
#include "mount.h"
#include "mount_run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Is path a mount point of ours (per /proc/self/mountinfo)? */
static bool our_mount(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint opts ... - type src */
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		char *mp = NULL;
		for (int i = 0; tok && i < 4; i++) {
			tok = strtok_r(NULL, " ", &save);
			if (i == 3)
				mp = tok;
		}
		char *dash = save ? strstr(save, " - ") : NULL;
		/* Octal escapes (\040) in mountinfo: a path with spaces
		 * simply does not match here, and mounting then fails
		 * loudly rather than silently stacking. */
		if (mp && dash && strcmp(mp, path) == 0 &&
		    strncmp(dash + 3, "fuse." REPLICD_FSNAME " ",
			    strlen("fuse." REPLICD_FSNAME " ")) == 0)
			found = true;
	}
	return found;
}

int replicd_mount_prepare(struct replicd_mount *m)
{
	struct stat st;

	m->root = -1;
	replicd_unlinked_init(&m->unlinked);
	for (int tries = 0; our_mount(m->path); tries++) {
		if (stat(m->path, &st) == 0 || errno != ENOTCONN) {
			log_error("%s: still served by another replicd "
				  "(a live skyha-replicd mount)",
				  m->path);
			return -EBUSY;
		}
		if (tries >= 8 || umount2(m->path, MNT_DETACH) < 0) {
			int e = tries >= 8 ? EBUSY : errno;
			log_error("%s: cannot detach the stale mount of a "
				  "crashed replicd: %s",
				  m->path, strerror(e));
			return -e;
		}
		log_notice("%s: detached the stale mount of a crashed replicd",
			   m->path);
	}
	m->root = open(m->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->root < 0) {
		int e = errno;
		log_error("%s: %s", m->path, strerror(e));
		return -e;
	}
	return 0;
}

static void *loop_thread(void *arg)
{
	struct replicd_mount *m = arg;
	struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 16};
	int r = fuse_loop_mt(m->fuse, &cfg);
	if (r != 0)
		log_warning("%s: FUSE loop ended with %d", m->path, r);
	return NULL;
}

int replicd_mount_start(struct replicd_mount *m)
{
	char fsname[PATH_MAX + 64];
	char opts[PATH_MAX + 160];
	sigset_t all, old;

	/* fsname goes into a comma-separated option list. */
	if (strchr(m->path, ',') || strchr(m->module, ','))
		return -EINVAL;
	snprintf(fsname, sizeof(fsname), "%s:%s", m->module, m->path);
	/* Device files and setuid programs work as they do in the real
	 * directory (libfuse's default is nodev,nosuid). */
	struct statvfs vfs;
	bool root = geteuid() == 0;
	bool dev = root && fstatvfs(m->root, &vfs) == 0 &&
		   !(vfs.f_flag & ST_NODEV);
	bool suid = root && fstatvfs(m->root, &vfs) == 0 &&
		    !(vfs.f_flag & ST_NOSUID);
	snprintf(opts, sizeof(opts),
		 "default_permissions,subtype=" REPLICD_FSNAME
		 ",fsname=%s%s%s%s",
		 fsname, root ? ",allow_other" : "", dev ? ",dev" : "",
		 suid ? ",suid" : "");
	char *argv[] = {"replicd", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	m->fuse = fuse_new(&args, &replicd_mount_ops, sizeof(replicd_mount_ops),
			   m);
	fuse_opt_free_args(&args);
	if (!m->fuse) {
		log_error("%s: fuse_new failed", m->path);
		return -EIO;
	}
	if (fuse_mount(m->fuse, m->path) != 0) {
		log_error("%s: cannot mount the FUSE file system (needs "
			  "CAP_SYS_ADMIN and /dev/fuse)",
			  m->path);
		fuse_destroy(m->fuse);
		m->fuse = NULL;
		return -EIO;
	}
	m->mounted = true;
	if (replicd_unlinked_hook(m->fuse) != 0) {
		log_error("%s: cannot watch the FUSE requests", m->path);
		replicd_mount_stop(m);
		return -EIO;
	}
	/* Signals belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&m->thread, NULL, loop_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		replicd_mount_stop(m);
		return -r;
	}
	m->thread_running = true;
	return 0;
}

void replicd_mount_stop(struct replicd_mount *m)
{
	if (m->fuse) {
		fuse_exit(m->fuse);
		if (m->mounted)
			fuse_unmount(m->fuse); /* root: lazy umount2 */
		m->mounted = false;
		bool joined = true;
		if (m->thread_running) {
			/* With files still open the lazily detached
			 * connection lives on and the loop keeps reading:
			 * then leave it to process exit, which ends it. */
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 2;
			joined = pthread_timedjoin_np(m->thread, NULL, &t) == 0;
			if (!joined)
				log_warning("%s: files still open; the mount "
					    "ends with the process",
					    m->path);
		}
		m->thread_running = false;
		if (joined) {
			fuse_destroy(m->fuse);
			replicd_unlinked_clear(&m->unlinked);
		}
		m->fuse = NULL;
	}
	if (m->root >= 0)
		close(m->root);
	m->root = -1;
}
