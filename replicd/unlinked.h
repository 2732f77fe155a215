/*
 * unlinked.h - files unlinked (or renamed over) while open, seen through
 * libfuse's high-level API.
 *
 * With hard_remove, libfuse forgets the path of such a file, and then
 * answers fstat, fchmod, fchown and futimens on it with ESTALE before we
 * see the call (the kernel sends those without the open handle). Without
 * it, libfuse "hides" the open file instead: it renames it to
 * ".fuse_hidden<16 hex digits>" in the same directory, calls every later
 * operation on the file with that path, and unlinks that path once the
 * last handle is released. replicd takes those renames apart:
 *
 * - inside an unlink request, the hiding rename is the unlink: the file is
 *   really unlinked (both nodes), and its descriptor is kept here under
 *   the hidden name;
 * - inside a rename request over an open file, the hiding rename does
 *   nothing on disk (the rename that follows replaces the file atomically,
 *   as on ext4), and the old file's descriptor is kept here;
 * - an application's own rename to such a name is an ordinary rename.
 *
 * The hidden name never exists on disk: readdir does not list it. To know
 * which request a FUSE thread serves, the session reads /dev/fuse through
 * replicd_unlinked_hook's read function, which notes the opcode (and a
 * rename's new name) in the thread; libfuse serves each request in the
 * thread that read it.
 *
 * Each kept file has a handle id the peer knows (the peer opened it by
 * path before the unlink): later changes reach the peer's open file by that
 * handle, which matters when the file has other links.
 */
#ifndef REPLICD_UNLINKED_H
#define REPLICD_UNLINKED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fuse;

/* FUSE opcodes (linux/fuse.h, a stable ABI) that matter here. */
#define REPLICD_FUSE_UNLINK  10
#define REPLICD_FUSE_RENAME  12
#define REPLICD_FUSE_RELEASE 18
#define REPLICD_FUSE_RENAME2 45

struct replicd_unlinked {
	char name[32];	 /* ".fuse_hidden" + 16 hex digits */
	int fd;		 /* O_PATH descriptor of the file */
	uint64_t handle; /* the peer's handle of it */
	dev_t dev;
	ino_t ino;
	struct replicd_unlinked *next;
};

/* One open file of the mount (in mount.c's struct rfile). */
struct replicd_open {
	dev_t dev;
	ino_t ino;
	struct replicd_open *prev, *next;
};

struct replicd_unlinked_set {
	pthread_mutex_t lock;
	struct replicd_unlinked *head;
	struct replicd_open *opens;
};

/* Read /dev/fuse through our read function (before the loop starts). */
int replicd_unlinked_hook(struct fuse *f);
/* Note the request just read (n bytes) as the one this thread serves. */
void replicd_req_note(const void *request, size_t n);
/* The opcode of the request this thread serves (0: unknown). */
uint32_t replicd_req_opcode(void);
/* Is this thread serving a rename whose new name is base? */
bool replicd_req_renames_to(const char *base);

/* Is base (the last component of a path) shaped like libfuse's names? */
bool replicd_hidden_name(const char *base);

void replicd_unlinked_init(struct replicd_unlinked_set *s);
/* Close every kept descriptor. */
void replicd_unlinked_clear(struct replicd_unlinked_set *s);
/* Keep fd (consumed) and handle under name. 0 or -ENOMEM. */
int replicd_unlinked_add(struct replicd_unlinked_set *s, const char *name,
			 int fd, uint64_t handle);
/*
 * The kept file whose hidden name ends path (NULL, "" or another name:
 * -ENOENT): a new descriptor of it (the caller closes it) and its handle.
 */
int replicd_unlinked_get(struct replicd_unlinked_set *s, const char *path,
			 int *fd, uint64_t *handle);
/* Forget the kept file of path; its handle in *handle. 0 or -ENOENT. */
int replicd_unlinked_drop(struct replicd_unlinked_set *s, const char *path,
			  uint64_t *handle);

/* A file was opened as fd (0 or -errno). */
int replicd_unlinked_opened(struct replicd_unlinked_set *s,
			    struct replicd_open *o, int fd);
/*
 * It was released. With pathless (libfuse had no path left for it: its
 * directory was removed too, so libfuse will not unlink the hidden name),
 * forget the kept files of its inode once no other open file has it: they
 * are returned (descriptors closed), for the caller to release their
 * handles on the peer and free.
 */
struct replicd_unlinked *replicd_unlinked_closed(struct replicd_unlinked_set *s,
						 struct replicd_open *o,
						 bool pathless);

#endif
