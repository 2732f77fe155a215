/*
 * track_op.c - what one operation may change (track_op.h).
 */
#include "track_op.h"
#include "fs.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Beyond this many zones a range is recorded as the whole file. */
#define TRACK_RANGE_MAX 4096

static uint64_t zone_of(uint64_t off)
{
	return off >> REPLICD_ZONE_SHIFT;
}

/* Record a byte range of path (as zones, or the whole entry if huge). */
static int track_range(struct replicd_track *t, uint8_t dir, const char *path,
		       uint64_t from, uint64_t to, bool extents, bool durable)
{
	if (to <= from)
		return 0;
	uint64_t first = zone_of(from), last = zone_of(to - 1);
	if (extents) {
		/* Activity-log extents: fewer syncs while the peer gets
		 * every change anyway. */
		first -= first % REPLICD_AL_ZONES;
		last += REPLICD_AL_ZONES - 1 - last % REPLICD_AL_ZONES;
	}
	if (last - first >= TRACK_RANGE_MAX)
		return replicd_track_mark(t, dir, path, TRK_ENTRY, 0, 0,
					  durable);
	return replicd_track_mark(t, dir, path, TRK_ZONES, first,
				  last - first + 1, durable);
}

static bool is_dir(int root, const char *path)
{
	_cleanup_close_ int dirfd = -1;
	const char *base;
	struct stat st;
	if (!*path)
		return true;
	return replicd_fs_parent(root, path, &dirfd, &base) == 0 &&
	       fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

int replicd_track_op(struct replicd_track *t, int root,
		     const struct replicd_op *op, int fd, bool extents,
		     bool durable)
{
	uint8_t dir = op->dir;
	struct stat st;
	int r;

	if (!t || !replicd_op_changes_data(op->type) || op->type == ROP_FSYNC)
		return 0;
	if (!op->path || (op->handle && !*op->path)) {
		/* Unlinked but open: unreachable by path, unless it has
		 * another name somewhere. */
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_nlink > 0)
			return replicd_track_set_incomplete(t);
		return 0;
	}
	switch (op->type) {
	case ROP_WRITE:
		return track_range(t, dir, op->path, op->offset,
				   op->offset + op->data_len, extents, durable);
	case ROP_WRITE_Z:
		return track_range(t, dir, op->path, op->offset,
				   op->offset + op->length, extents, durable);
	case ROP_TRUNCATE:
	case ROP_FALLOCATE: {
		/* The zones between the old and the new end change too. */
		/* Both ends start at the op's offset, then widen. */
		// cppcheck-suppress duplicateAssignExpression
		uint64_t size = 0, from = op->offset, to = op->offset;
		_cleanup_close_ int own = -1;
		if (fd < 0)
			fd = own = replicd_fs_open(root, op->path,
						   O_RDONLY | O_NOFOLLOW, 0);
		if (fd >= 0 && fstat(fd, &st) == 0)
			size = (uint64_t)st.st_size;
		if (op->type == ROP_FALLOCATE)
			to = op->offset + op->length;
		if (size < from)
			from = size;
		if (size > to)
			to = size;
		r = replicd_track_mark(t, dir, op->path, TRK_META, 0, 0,
				       durable);
		return r < 0 ? r
			     : track_range(t, dir, op->path, from, to, extents,
					   durable);
	}
	case ROP_CREATE:
	case ROP_MKDIR:
	case ROP_UNLINK:
	case ROP_SYMLINK:
	case ROP_ENSURE_DIR:
		return replicd_track_mark(t, dir, op->path, TRK_ENTRY, 0, 0,
					  durable);
	case ROP_RMDIR:
	case ROP_REMOVE:
		return replicd_track_mark(t, dir, op->path, TRK_TREE, 0, 0,
					  durable);
	case ROP_LINK:
		/* Both names: a resync copies one and links the other. */
		r = replicd_track_mark(t, dir, op->path, TRK_ENTRY, 0, 0,
				       durable);
		return r < 0 ? r
			     : replicd_track_mark(t, dir, op->path2, TRK_ENTRY,
						  0, 0, durable);
	case ROP_RENAME: {
		/* A renamed directory moves a whole tree. */
		uint8_t k1 = is_dir(root, op->path) ? TRK_TREE : TRK_ENTRY;
		uint8_t k2 = is_dir(root, op->path2) ? TRK_TREE : TRK_ENTRY;
		if (k1 == TRK_TREE)
			k2 = TRK_TREE;
		r = replicd_track_mark(t, dir, op->path, k1 | k2, 0, 0,
				       durable);
		return r < 0 ? r
			     : replicd_track_mark(t, dir, op->path2, k1 | k2, 0,
						  0, durable);
	}
	default:
		return replicd_track_mark(t, dir, op->path, TRK_META, 0, 0,
					  durable);
	}
}

void replicd_backup_op(struct replicd_track *b, int root,
		       const struct replicd_op *op, int fd)
{
	if (!b)
		return;
	int r = replicd_track_op(b, root, op, fd, false, false);
	if (r < 0 && replicd_track_complete(b)) {
		log_warning("cannot record %s of '%s' for the next backup: %s; "
			    "it reads everything",
			    replicd_op_name(op->type), op->path ? op->path : "",
			    strerror(-r));
		r = replicd_track_set_incomplete(b);
		if (r < 0)
			log_error("cannot mark %s incomplete: %s",
				  replicd_track_path(b), strerror(-r));
	}
}
