/*
 * op.c - encode/decode replicated operations (see op.h).
 *
 * Each type lists the fields it carries in one table, read by both the
 * encoder and the decoder, so the two cannot disagree. The reader is a
 * cursor with a remaining length: every read checks that the bytes exist
 * first, so truncated input fails cleanly wherever it ends.
 */
#include "op.h"
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

enum {
	F_HANDLE = 1 << 0,
	F_PATH = 1 << 1,
	F_PATH2 = 1 << 2,
	F_TARGET = 1 << 3,
	F_NAME = 1 << 4,
	F_OFFSET = 1 << 5,
	F_LENGTH = 1 << 6,
	F_MODE = 1 << 7,
	F_RDEV = 1 << 8,
	F_OWNER = 1 << 9,
	F_FLAGS = 1 << 10,
	F_TIMES = 1 << 11,
	F_DATA = 1 << 12,
	F_NO_DIR = 1 << 13, /* ACK: not about one directory */
};

#define TIME_OMIT_WIRE 0xFFFFFFFFu

static const struct {
	const char *name;
	unsigned fields;
	uint32_t flags_allowed;
} types[ROP_TYPE_MAX + 1] = {
	[ROP_WRITE] = {"write", F_HANDLE | F_PATH | F_OFFSET | F_DATA, 0},
	[ROP_TRUNCATE] = {"truncate", F_HANDLE | F_PATH | F_OFFSET, 0},
	[ROP_FALLOCATE] = {"fallocate",
			   F_HANDLE | F_PATH | F_FLAGS | F_OFFSET | F_LENGTH,
			   ROP_FALLOC_KEEP_SIZE | ROP_FALLOC_PUNCH_HOLE |
				   ROP_FALLOC_ZERO_RANGE},
	[ROP_CREATE] = {"create", F_PATH | F_MODE | F_RDEV | F_OWNER | F_FLAGS,
			ROP_CREATE_EXCL | ROP_CREATE_TRUNC},
	[ROP_MKDIR] = {"mkdir", F_PATH | F_MODE | F_OWNER, 0},
	[ROP_UNLINK] = {"unlink", F_PATH, 0},
	[ROP_RMDIR] = {"rmdir", F_PATH, 0},
	[ROP_RENAME] = {"rename", F_PATH | F_PATH2 | F_FLAGS,
			ROP_RENAME_NOREPLACE | ROP_RENAME_EXCHANGE},
	[ROP_LINK] = {"link", F_PATH | F_PATH2, 0},
	[ROP_SYMLINK] = {"symlink", F_TARGET | F_PATH | F_OWNER, 0},
	[ROP_CHMOD] = {"chmod", F_HANDLE | F_PATH | F_MODE, 0},
	[ROP_CHOWN] = {"chown", F_HANDLE | F_PATH | F_OWNER, 0},
	[ROP_UTIMENS] = {"utimens", F_HANDLE | F_PATH | F_TIMES, 0},
	[ROP_SETXATTR] = {"setxattr",
			  F_HANDLE | F_PATH | F_NAME | F_FLAGS | F_DATA,
			  ROP_XATTR_CREATE | ROP_XATTR_REPLACE},
	[ROP_REMOVEXATTR] = {"removexattr", F_HANDLE | F_PATH | F_NAME, 0},
	[ROP_FSYNC] = {"fsync", F_HANDLE | F_PATH | F_FLAGS,
		       ROP_FSYNC_DATASYNC},
	[ROP_RELEASE] = {"release", F_HANDLE, 0},
	[ROP_PING] = {"ping", 0, 0},
	[ROP_ACK] = {"ack", F_NO_DIR, 0},
	[ROP_SYNC] = {"sync", F_NO_DIR | F_OFFSET | F_LENGTH | F_FLAGS,
		      ROP_SYNC_INSYNC | ROP_SYNC_RESYNC | ROP_SYNC_DIVERGED |
			      ROP_SYNC_FULL | ROP_SYNC_HASHES | ROP_SYNC_FINAL},
	[ROP_RECORD] = {"record", F_PATH | F_OFFSET | F_LENGTH | F_FLAGS,
			ROP_RECORD_KINDS},
	[ROP_RECORD_END] = {"record-end",
			    F_NO_DIR | F_OFFSET | F_LENGTH | F_FLAGS,
			    ROP_REC_COMPLETE | ROP_REC_ALONE | ROP_REC_DISCARD},
	[ROP_REMOVE] = {"remove", F_PATH, 0},
	[ROP_ENSURE_DIR] = {"ensure-dir", F_PATH | F_MODE | F_OWNER, 0},
	[ROP_CLEAR_XATTRS] = {"clear-xattrs", F_PATH, 0},
	[ROP_FLUSH] = {"flush", 0, 0},
	[ROP_HASHES] = {"hashes",
			F_PATH | F_OFFSET | F_LENGTH | F_MODE | F_OWNER |
				F_DATA,
			0},
	[ROP_HASHES_END] = {"hashes-end", F_NO_DIR, 0},
	[ROP_GENERATION] = {"generation", F_NO_DIR | F_OFFSET, 0},
	[ROP_WRITE_Z] = {"write-z",
			 F_HANDLE | F_PATH | F_OFFSET | F_LENGTH | F_DATA, 0},
	[ROP_EPOCH] = {"epoch", F_NO_DIR | F_OFFSET, 0},
};

const char *replicd_op_name(uint8_t type)
{
	if (type == 0 || type > ROP_TYPE_MAX || !types[type].name)
		return "unknown";
	return types[type].name;
}

bool replicd_op_changes_data(uint8_t type)
{
	return (type >= ROP_WRITE && type <= ROP_FSYNC) ||
	       (type >= ROP_REMOVE && type <= ROP_CLEAR_XATTRS) ||
	       type == ROP_WRITE_Z;
}

bool replicd_op_ack_on_receipt(uint8_t type)
{
	return type != ROP_FSYNC && type != ROP_FLUSH;
}

bool replicd_path_valid(const char *p, size_t len)
{
	return changerec_path_valid(p, len);
}

/* --- writer ------------------------------------------------------------ */

static void put_str(struct sky_writer *w, const char *s, size_t max, bool path)
{
	size_t n = s ? strlen(s) : 0;
	if (n > max || (path && !replicd_path_valid(s ? s : "", n)) ||
	    (!path && n == 0)) {
		w->invalid = true;
		return;
	}
	sky_put_u16(w, (uint16_t)n);
	sky_put_bytes(w, s, n);
}

static void put_time(struct sky_writer *w, const struct timespec *t)
{
	sky_put_u64(w, (uint64_t)t->tv_sec);
	if (t->tv_nsec == UTIME_OMIT)
		sky_put_u32(w, TIME_OMIT_WIRE);
	else if (t->tv_nsec >= 0 && t->tv_nsec < 1000000000L)
		sky_put_u32(w, (uint32_t)t->tv_nsec);
	else
		w->invalid =
			true; /* UTIME_NOW must be resolved by the sender */
}

size_t replicd_op_size(const struct replicd_op *op)
{
	size_t n = 64;
	if (op->path)
		n += strlen(op->path);
	if (op->path2)
		n += strlen(op->path2);
	if (op->name)
		n += strlen(op->name);
	if (op->target)
		n += strlen(op->target);
	return n + 5 * 2 + op->data_len + 4;
}

int replicd_op_encode(const struct replicd_op *op, uint8_t *buf, size_t size)
{
	struct sky_writer w = {.buf = buf, .size = size};
	unsigned f;

	if (op->type == 0 || op->type > ROP_TYPE_MAX || !types[op->type].name)
		return -EINVAL;
	f = types[op->type].fields;
	if ((op->flags & ~types[op->type].flags_allowed) != 0)
		return -EINVAL;
	if (op->dir >= REPLICD_MAX_DIRS)
		return -EINVAL;
	sky_put_u8(&w, op->type);
	sky_put_u64(&w, op->seq);
	if (!(f & F_NO_DIR))
		sky_put_u8(&w, op->dir);
	if (f & F_HANDLE)
		sky_put_u64(&w, op->handle);
	if (f & F_PATH)
		put_str(&w, op->path, REPLICD_PATH_MAX, true);
	if (f & F_PATH2)
		put_str(&w, op->path2, REPLICD_PATH_MAX, true);
	if (f & F_TARGET)
		put_str(&w, op->target, REPLICD_PATH_MAX, false);
	if (f & F_NAME)
		put_str(&w, op->name, REPLICD_NAME_MAX, false);
	if (f & F_OFFSET)
		sky_put_u64(&w, op->offset);
	if (f & F_LENGTH)
		sky_put_u64(&w, op->length);
	if (f & F_MODE)
		sky_put_u32(&w, op->mode);
	if (f & F_RDEV)
		sky_put_u64(&w, op->rdev);
	if (f & F_OWNER) {
		sky_put_u32(&w, op->uid);
		sky_put_u32(&w, op->gid);
	}
	if (f & F_FLAGS)
		sky_put_u32(&w, op->flags);
	if (f & F_TIMES) {
		put_time(&w, &op->atime);
		put_time(&w, &op->mtime);
	}
	if (f & F_DATA) {
		if (op->data_len > REPLICD_DATA_MAX ||
		    (op->data_len && !op->data))
			return -EINVAL;
		sky_put_u32(&w, (uint32_t)op->data_len);
		sky_put_bytes(&w, op->data, op->data_len);
	}
	if (w.invalid)
		return -EINVAL;
	if (w.overflow)
		return -EMSGSIZE;
	return (int)w.len;
}

/* --- reader ------------------------------------------------------------ */

static const char *get_str(struct sky_reader *r, char *out, size_t max,
			   bool path)
{
	uint16_t n = sky_get_u16(r);
	const uint8_t *s;

	out[0] = '\0';
	if (r->bad)
		return out;
	if (n > max || (!path && n == 0)) {
		r->bad = true;
		return out;
	}
	s = sky_take(r, n);
	if (!s || memchr(s, '\0', n) ||
	    (path && !replicd_path_valid((const char *)s, n))) {
		r->bad = true;
		return out;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static void get_time(struct sky_reader *r, struct timespec *t)
{
	uint64_t sec = sky_get_u64(r);
	uint32_t nsec = sky_get_u32(r);
	t->tv_sec = (time_t)sec;
	if (nsec == TIME_OMIT_WIRE)
		t->tv_nsec = UTIME_OMIT;
	else if (nsec < 1000000000u)
		t->tv_nsec = nsec;
	else
		r->bad = true;
}

int replicd_op_decode(const uint8_t *buf, size_t len, struct replicd_op *op,
		      struct replicd_op_store *st)
{
	struct sky_reader r = {.p = buf, .left = len};
	struct replicd_op o;
	unsigned f;

	memset(&o, 0, sizeof(o));
	if (len > REPLICD_OP_MAX)
		return -EBADMSG;
	o.type = sky_get_u8(&r);
	if (r.bad || o.type == 0 || o.type > ROP_TYPE_MAX ||
	    !types[o.type].name)
		return -EBADMSG;
	f = types[o.type].fields;
	o.seq = sky_get_u64(&r);
	if (!(f & F_NO_DIR)) {
		o.dir = sky_get_u8(&r);
		if (o.dir >= REPLICD_MAX_DIRS)
			r.bad = true;
	}
	if (f & F_HANDLE)
		o.handle = sky_get_u64(&r);
	if (f & F_PATH)
		o.path = get_str(&r, st->path, REPLICD_PATH_MAX, true);
	if (f & F_PATH2)
		o.path2 = get_str(&r, st->path2, REPLICD_PATH_MAX, true);
	if (f & F_TARGET)
		o.target = get_str(&r, st->target, REPLICD_PATH_MAX, false);
	if (f & F_NAME)
		o.name = get_str(&r, st->name, REPLICD_NAME_MAX, false);
	if (f & F_OFFSET)
		o.offset = sky_get_u64(&r);
	if (f & F_LENGTH)
		o.length = sky_get_u64(&r);
	if (f & F_MODE)
		o.mode = sky_get_u32(&r);
	if (f & F_RDEV)
		o.rdev = sky_get_u64(&r);
	if (f & F_OWNER) {
		o.uid = sky_get_u32(&r);
		o.gid = sky_get_u32(&r);
	}
	if (f & F_FLAGS) {
		o.flags = sky_get_u32(&r);
		if (o.flags & ~types[o.type].flags_allowed)
			r.bad = true;
	}
	if (f & F_TIMES) {
		get_time(&r, &o.atime);
		get_time(&r, &o.mtime);
	}
	if (f & F_DATA) {
		uint32_t n = sky_get_u32(&r);
		if (n > REPLICD_DATA_MAX)
			r.bad = true;
		o.data = sky_take(&r, r.bad ? 0 : n);
		o.data_len = n;
	}
	/* Offsets must fit an off_t. */
	if ((o.offset | o.length) >> 63)
		r.bad = true;
	/* A compressed write says its size: bounded like any write's. */
	if (o.type == ROP_WRITE_Z &&
	    (o.length == 0 || o.length > REPLICD_DATA_MAX))
		r.bad = true;
	/* Trailing bytes are as suspicious as missing ones. */
	if (r.bad || r.left != 0)
		return -EBADMSG;
	*op = o;
	return 0;
}
