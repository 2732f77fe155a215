/*
 * mount.h - one replicated directory, over-mounted in place with FUSE.
 *
 * replicd opens the real directory first, then mounts its FUSE file system
 * on the same path: applications keep their paths, and replicd reaches the
 * hidden files through the saved descriptor (fs.c). libfuse's high-level
 * API is used: it hands us paths, which is what the replication protocol
 * carries (the secondary resolves them under its own descriptor), and it
 * tracks renames of open files for us. Each mount runs libfuse's
 * multi-threaded loop in its own thread; see repl.h for which thread owns
 * what.
 */
#ifndef REPLICD_MOUNT_H
#define REPLICD_MOUNT_H

#include "fence.h"
#include "repl.h"
#include "unlinked.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct replicd_exclude;

#define REPLICD_FSNAME "skyha-replicd"

struct fuse;

struct replicd_mount {
	char path[PATH_MAX];
	char module[64];
	uint8_t index; /* position in replicd.directories: the wire's dir */
	int root;      /* the real directory, opened before mounting */
	struct replicd_repl *repl;
	struct replicd_fence *fence; /* heartbeatd's word (fence.h) */
	const struct replicd_exclude *exclude;
	struct fuse *fuse;
	pthread_t thread;
	bool thread_running;
	bool mounted;
	struct replicd_unlinked_set unlinked; /* open files without a name */
};

/*
 * Detach a stale skyha-replicd mount left on path by a crashed replicd
 * (its FUSE connection is dead: ENOTCONN), then open the real directory.
 * -EBUSY if a live replicd still serves path.
 */
int replicd_mount_prepare(struct replicd_mount *m);
/* Mount (default_permissions, allow_other when root) and start serving. */
int replicd_mount_start(struct replicd_mount *m);
/* Unmount (lazily if busy), stop the loop thread, close the directory. */
void replicd_mount_stop(struct replicd_mount *m);

#endif
