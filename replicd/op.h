/*
 * op.h - one replicated file-system operation, and its wire encoding.
 *
 * The primary's FUSE threads describe every write-type operation as a
 * struct replicd_op, apply it to the underlying directory (fs.c), and queue
 * its encoding for the peer; the secondary decodes the same bytes and
 * applies them with the same code. Pure: no I/O, so unit tests and fuzzers
 * drive encode/decode directly.
 *
 * Encoding (docs/protocol.md, "Replication"): big-endian integers, every
 * field written one by one (never a struct copy):
 *
 *   type u8 | seq u64 | dir u8 | type-specific fields
 *
 * paths are u16 length + bytes (relative to the replicated directory, no
 * NUL, no empty/"."/".." component, at most REPLICD_PATH_MAX bytes; the
 * directory itself is the empty path); data is u32 length + bytes.
 */
#ifndef REPLICD_OP_H
#define REPLICD_OP_H

#include "changerec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REPLICD_PATH_MAX 4095
#define REPLICD_NAME_MAX 255	   /* xattr names */
#define REPLICD_DATA_MAX (1 << 20) /* one write or xattr value */
/* A write is sent in pieces of this size (mount_run.c). */
#define REPLICD_PIECE	 (128u << 10)
#define REPLICD_MAX_DIRS 16
/* The largest encoded operation: data plus three paths and headroom. */
#define REPLICD_OP_MAX (REPLICD_DATA_MAX + 3 * (REPLICD_PATH_MAX + 2) + 512)

/* In 11-15, handle 0 goes by path; another handle is the open file of that
 * handle (a file unlinked while open: path ""). */
enum replicd_op_type {
	ROP_WRITE = 1,	      /* handle, path, offset, data */
	ROP_TRUNCATE = 2,     /* handle, path, size (offset) */
	ROP_FALLOCATE = 3,    /* handle, path, mode(flags), offset, length */
	ROP_CREATE = 4,	      /* path, mode, rdev, uid, gid, flags */
	ROP_MKDIR = 5,	      /* path, mode, uid, gid */
	ROP_UNLINK = 6,	      /* path */
	ROP_RMDIR = 7,	      /* path */
	ROP_RENAME = 8,	      /* path, path2, flags */
	ROP_LINK = 9,	      /* path (existing), path2 (new name) */
	ROP_SYMLINK = 10,     /* target, path, uid, gid */
	ROP_CHMOD = 11,	      /* handle, path, mode */
	ROP_CHOWN = 12,	      /* handle, path, uid, gid (UINT32_MAX: same) */
	ROP_UTIMENS = 13,     /* handle, path, atime, mtime */
	ROP_SETXATTR = 14,    /* handle, path, name, data, flags */
	ROP_REMOVEXATTR = 15, /* handle, path, name */
	ROP_FSYNC = 16,	      /* handle, path, flags (bit 0: data only) */
	ROP_RELEASE = 17,     /* handle */
	ROP_PING = 18,	      /* primary -> secondary, no fields */
	ROP_ACK = 19, /* secondary -> primary: every seq <= seq applied */
	/* Phase 2: data state and resync (docs/protocol.md). */
	ROP_SYNC = 20,	     /* primary -> secondary: flags ROP_SYNC_* */
	ROP_RECORD = 21,     /* secondary -> primary: path, offset (first
				  zone), length (zones), flags (TRK_*) */
	ROP_RECORD_END = 22, /* secondary -> primary: flags ROP_REC_* */
	ROP_REMOVE = 23,     /* path: remove it (a tree too); absent is fine */
	ROP_ENSURE_DIR = 24, /* path, mode, uid, gid: a directory there */
	ROP_CLEAR_XATTRS = 25, /* path: remove every extended attribute */
	ROP_FLUSH = 26,	       /* make everything applied durable (syncfs) */
	ROP_HASHES = 27,       /* secondary -> primary: one entry of its copy:
				  path, mode, uid, gid, offset (size), length
				  (first zone), data (see manifest.h) */
	ROP_HASHES_END = 28,   /* secondary -> primary: the manifest is whole */
	/* primary -> secondary: offset = the data generation this copy is
	 * complete at (sent once the peer is in sync, and whenever the
	 * generation changes while it stays in sync). heartbeatd on the
	 * secondary adopts the primary's generation only on this word. */
	ROP_GENERATION = 29,
	/* A resync write whose data is one zstd frame (zframe.h): handle,
	 * path, offset, length (the data's size once decompressed, 1 to
	 * REPLICD_DATA_MAX), data. Sent only to a peer that said in the
	 * handshake it takes them (chan.h, REPLICD_CAP_ZSTD). */
	ROP_WRITE_Z = 30,
	/* primary -> secondary, not sequenced: offset = the epoch this
	 * primary serves in (heartbeatd's desired epoch; with quorum: etcd,
	 * at least the leader key's revision). Sent first in a session and
	 * again whenever it rises, only to a peer that said in the handshake
	 * it takes it (chan.h, REPLICD_CAP_EPOCH). A secondary that knows a
	 * newer epoch refuses the session (epoch.h). */
	ROP_EPOCH = 31,
	ROP_TYPE_MAX = 31,
};
const char *replicd_op_name(uint8_t type);
/* Does it change the secondary's files (writes, namespace, resync)? */
bool replicd_op_changes_data(uint8_t type);
/* May the secondary acknowledge this operation once received, before
 * applying it? Not an fsync nor a flush: their ack says "durable". */
bool replicd_op_ack_on_receipt(uint8_t type);

/* Wire flags (never Linux constants on the wire). */
#define ROP_CREATE_EXCL	      0x1
#define ROP_CREATE_TRUNC      0x2
#define ROP_RENAME_NOREPLACE  0x1
#define ROP_RENAME_EXCHANGE   0x2
#define ROP_XATTR_CREATE      0x1
#define ROP_XATTR_REPLACE     0x2
#define ROP_FSYNC_DATASYNC    0x1
#define ROP_FALLOC_KEEP_SIZE  0x1
#define ROP_FALLOC_PUNCH_HOLE 0x2
#define ROP_FALLOC_ZERO_RANGE 0x4
/*
 * What a change record entry says may differ at one path (TRK_*, in
 * changerec.h), also the flags of ROP_RECORD. Zones are 64 KiB.
 */
#define ROP_RECORD_KINDS   TRK_KINDS
#define REPLICD_ZONE_SHIFT CHANGEREC_ZONE_SHIFT
#define REPLICD_ZONE_SIZE  CHANGEREC_ZONE_SIZE

/* ROP_SYNC: what the primary says about the secondary's copy. */
#define ROP_SYNC_INSYNC	  0x1  /* it has every change: up to date */
#define ROP_SYNC_RESYNC	  0x2  /* a resync starts: a mix until INSYNC */
#define ROP_SYNC_DIVERGED 0x4  /* both changed: nothing is sent */
#define ROP_SYNC_FULL	  0x8  /* no usable record: empty the copy first */
#define ROP_SYNC_HASHES	  0x10 /* no usable record: send your manifest */
#define ROP_SYNC_FINAL                                                         \
	0x20 /* stopping: nothing more is acked, and you
				* have everything that was */
/* ROP_RECORD_END: about the secondary's change record. */
#define ROP_REC_COMPLETE 0x1 /* the record lists everything that may differ */
#define ROP_REC_ALONE	 0x2 /* it has changes it acked while alone */
#define ROP_REC_DISCARD	 0x4 /* the operator said: drop those changes */

struct replicd_op {
	uint8_t type;
	uint64_t seq;
	uint8_t dir;
	uint64_t handle;    /* 0: none, the path names the file */
	const char *path;   /* NUL-terminated, relative */
	const char *path2;  /* rename/link target */
	const char *name;   /* xattr name */
	const char *target; /* symlink target (any bytes but NUL) */
	const uint8_t *data;
	size_t data_len;
	uint64_t offset; /* write/fallocate offset; truncate size */
	uint64_t length; /* fallocate length */
	uint32_t mode;	 /* permission and type bits (S_IF* values) */
	uint64_t rdev;
	uint32_t uid, gid;
	uint32_t flags; /* ROP_* wire flags of the type */
	struct timespec atime, mtime;
};

/* Buffers decoded strings live in (the op points into it and the frame). */
struct replicd_op_store {
	char path[REPLICD_PATH_MAX + 1];
	char path2[REPLICD_PATH_MAX + 1];
	char name[REPLICD_NAME_MAX + 1];
	char target[REPLICD_PATH_MAX + 1];
};

/* Bytes replicd_op_encode will need for op. */
size_t replicd_op_size(const struct replicd_op *op);
/* Encode into buf; returns the length or -EMSGSIZE / -EINVAL. */
int replicd_op_encode(const struct replicd_op *op, uint8_t *buf, size_t size);
/*
 * Decode and validate one operation (exactly len bytes: trailing bytes are
 * an error). op->data points into buf; strings are copied into st.
 * Returns 0 or -EBADMSG.
 */
int replicd_op_decode(const uint8_t *buf, size_t len, struct replicd_op *op,
		      struct replicd_op_store *st);
/* A relative path as the protocol allows it (see above). */
bool replicd_path_valid(const char *p, size_t len);

#endif
