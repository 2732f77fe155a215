/*
 * hold.c - the hold journal (hold.h): its codec, its writer and replay.
 */
#include "hold.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC	     "SKYHLD1\n"
#define OFF_APPLIED  8
#define OFF_EXCHANGE 16
#define OFF_SYNCED   24
#define OFF_IDLEN    32
#define OFF_ID	     33
#define ENTRY_MAC    8
#define ENTRY_MAX    (REPLICD_OP_MAX + REPLICD_HOLD_ENTRY_OVERHEAD)

/* A fixed key: the hash catches torn or damaged bytes, not forgers (the
 * state directory is root's). */
static const uint8_t mac_key[crypto_shorthash_KEYBYTES] = "skyha hold v1!!";

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

bool replicd_hold_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > REPLICD_HOLD_ID_MAX ||
	    (len == 1 && id[0] == '.') ||
	    (len == 2 && id[0] == '.' && id[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

int replicd_hold_header_encode(const struct replicd_hold_header *h,
			       uint8_t *out)
{
	size_t n = strnlen(h->id, sizeof(h->id));
	if (!replicd_hold_id_valid(h->id, n))
		return -EINVAL;
	memset(out, 0, REPLICD_HOLD_HEADER);
	memcpy(out, MAGIC, 8);
	be64(out + OFF_APPLIED, h->applied_to);
	be64(out + OFF_EXCHANGE, h->exchange_ino);
	be64(out + OFF_SYNCED, h->synced_to);
	out[OFF_IDLEN] = (uint8_t)n;
	memcpy(out + OFF_ID, h->id, n);
	return 0;
}

int replicd_hold_header_decode(const uint8_t *buf, size_t len,
			       struct replicd_hold_header *h)
{
	memset(h, 0, sizeof(*h));
	if (len < REPLICD_HOLD_HEADER || memcmp(buf, MAGIC, 8) != 0)
		return -EBADMSG;
	size_t n = buf[OFF_IDLEN];
	if (!replicd_hold_id_valid((const char *)buf + OFF_ID,
				   n <= REPLICD_HOLD_ID_MAX ? n : 0))
		return -EBADMSG;
	for (size_t i = OFF_ID + n; i < REPLICD_HOLD_HEADER; i++)
		if (buf[i])
			return -EBADMSG;
	memcpy(h->id, buf + OFF_ID, n);
	h->applied_to = get_be64(buf + OFF_APPLIED);
	h->exchange_ino = get_be64(buf + OFF_EXCHANGE);
	h->synced_to = get_be64(buf + OFF_SYNCED);
	if ((h->applied_to && h->applied_to < REPLICD_HOLD_HEADER) ||
	    (h->synced_to && h->synced_to < REPLICD_HOLD_HEADER) ||
	    (h->exchange_ino && !h->applied_to))
		return -EBADMSG;
	return 0;
}

int replicd_hold_entry_decode(const uint8_t *buf, size_t len, size_t *size,
			      struct replicd_op *op,
			      struct replicd_op_store *st)
{
	uint8_t mac[ENTRY_MAC];
	if (len < 4)
		return -EAGAIN;
	size_t n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
		   (size_t)buf[2] << 8 | buf[3];
	if (n == 0 || n > REPLICD_OP_MAX)
		return -EBADMSG;
	if (len - 4 < n + ENTRY_MAC)
		return -EAGAIN;
	crypto_shorthash(mac, buf, 4 + n, mac_key);
	if (sodium_memcmp(mac, buf + 4 + n, ENTRY_MAC) != 0 ||
	    replicd_op_decode(buf + 4, n, op, st) < 0 ||
	    (!replicd_op_changes_data(op->type) && op->type != ROP_RELEASE) ||
	    op->type == ROP_FSYNC || op->dir >= REPLICD_MAX_DIRS)
		return -EBADMSG;
	*size = 4 + n + ENTRY_MAC;
	return 0;
}

int replicd_hold_parse(const uint8_t *buf, size_t len,
		       struct replicd_hold_header *h, size_t *good,
		       int (*fn)(void *ctx, uint64_t off,
				 const struct replicd_op *op),
		       void *ctx)
{
	struct replicd_op_store *st = malloc(sizeof(*st));
	size_t off = REPLICD_HOLD_HEADER, size;
	struct replicd_op op;
	int r;

	*good = 0;
	if (!st)
		return -ENOMEM;
	r = replicd_hold_header_decode(buf, len, h);
	while (r == 0 && off < len) {
		if (replicd_hold_entry_decode(buf + off, len - off, &size, &op,
					      st) < 0)
			break; /* the tail: torn or damaged */
		r = fn(ctx, off, &op);
		off += size;
	}
	if (r == 0)
		*good = off;
	free(st);
	return r;
}

/* --- the writer -------------------------------------------------------- */

static int put_u64(int fd, uint64_t v, off_t at)
{
	uint8_t b[8];
	be64(b, v);
	return pwrite(fd, b, sizeof(b), at) == (ssize_t)sizeof(b) ? 0
	       : errno						  ? -errno
								  : -EIO;
}

int replicd_hold_journal_create(struct replicd_hold_journal *j, const char *dir,
				const char *id)
{
	struct replicd_hold_header h = {0};
	uint8_t hdr[REPLICD_HOLD_HEADER];
	int r;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if (sky_strlcpy(h.id, id, sizeof(h.id)) < 0 ||
	    replicd_hold_header_encode(&h, hdr) < 0)
		return -EINVAL;
	r = snprintf(j->path, sizeof(j->path), "%s/hold.journal", dir);
	if (r < 0 || (size_t)r >= sizeof(j->path))
		return -ENAMETOOLONG;
	j->buf = malloc(ENTRY_MAX);
	if (!j->buf)
		return -ENOMEM;
	r = sky_write_file_atomic(j->path, hdr, sizeof(hdr), 0600);
	if (r == 0) {
		j->fd = open(j->path, O_WRONLY | O_CLOEXEC);
		if (j->fd < 0)
			r = -errno;
	}
	if (r < 0) {
		replicd_hold_journal_close(j);
		return r;
	}
	j->length = j->synced = REPLICD_HOLD_HEADER;
	return 0;
}

int replicd_hold_journal_append(struct replicd_hold_journal *j,
				const struct replicd_op *op, uint64_t max)
{
	size_t need = replicd_op_size(op);
	if (need > REPLICD_OP_MAX)
		need = REPLICD_OP_MAX;
	int n = replicd_op_encode(op, j->buf + 4, need);
	if (n <= 0)
		return n < 0 ? n : -EINVAL;
	if (j->length + (uint64_t)n + REPLICD_HOLD_ENTRY_OVERHEAD > max)
		return -EFBIG;
	j->buf[0] = (uint8_t)(n >> 24);
	j->buf[1] = (uint8_t)(n >> 16);
	j->buf[2] = (uint8_t)(n >> 8);
	j->buf[3] = (uint8_t)n;
	crypto_shorthash(j->buf + 4 + n, j->buf, 4 + (size_t)n, mac_key);
	size_t total = 4 + (size_t)n + ENTRY_MAC;
	ssize_t w = pwrite(j->fd, j->buf, total, (off_t)j->length);
	if (w != (ssize_t)total) {
		int e = w < 0 ? -errno : -ENOSPC;
		/* Never leave half an entry: the next one would follow it. */
		if (ftruncate(j->fd, (off_t)j->length) < 0) {
		}
		return e;
	}
	j->length += total;
	j->appended++;
	return 0;
}

int replicd_hold_journal_sync(struct replicd_hold_journal *j)
{
	if (j->synced == j->length)
		return 0;
	/* synced_to goes with the entries: if only the header reached the
	 * disk, replay finds entries missing before it and calls the
	 * journal damaged (a resync), never silently short. */
	int r = put_u64(j->fd, j->length, OFF_SYNCED);
	if (r == 0 && fdatasync(j->fd) < 0)
		r = -errno;
	if (r == 0)
		j->synced = j->length;
	return r;
}

void replicd_hold_journal_close(struct replicd_hold_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	free(j->buf);
	j->buf = NULL;
}

/* --- replay ------------------------------------------------------------ */

/* Record where replay stands, durably (after the copy is: ops->sync). */
static int save_position(int fd, const struct replicd_replay_ops *ops,
			 uint64_t at, uint64_t exchange_ino)
{
	int r = ops->sync(ops->ctx);
	if (r == 0)
		r = put_u64(fd, exchange_ino, OFF_EXCHANGE);
	if (r == 0)
		r = put_u64(fd, at, OFF_APPLIED);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	return r;
}

/* Does op move an existing name (not idempotent when replayed)? */
static bool moves_a_name(const struct replicd_op *op)
{
	return op->type == ROP_RENAME || op->type == ROP_LINK;
}

/* Read the entry at off into buf; as replicd_hold_entry_decode. */
static int read_entry(int fd, uint64_t off, uint64_t end, uint8_t *buf,
		      size_t *size, struct replicd_op *op,
		      struct replicd_op_store *st)
{
	size_t avail = end - off < ENTRY_MAX ? (size_t)(end - off) : ENTRY_MAX;
	if (avail < 4)
		return -EAGAIN;
	if (pread(fd, buf, 4, (off_t)off) != 4)
		return -EIO;
	size_t n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
		   (size_t)buf[2] << 8 | buf[3];
	if (n == 0 || n > REPLICD_OP_MAX)
		return -EBADMSG;
	size_t want = 4 + n + ENTRY_MAC;
	if (want > avail)
		return -EAGAIN;
	if (pread(fd, buf + 4, want - 4, (off_t)off + 4) != (ssize_t)(want - 4))
		return -EIO;
	return replicd_hold_entry_decode(buf, want, size, op, st);
}

int replicd_hold_replay(const char *dir, const struct replicd_replay_ops *ops,
			struct replicd_replay_result *res)
{
	char path[PATH_MAX];
	uint8_t hdr[REPLICD_HOLD_HEADER];
	struct replicd_hold_header h;
	struct replicd_op op;
	struct stat stb;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct replicd_op_store *st = NULL;
	int r = snprintf(path, sizeof(path), "%s/hold.journal", dir);

	memset(res, 0, sizeof(*res));
	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stb) < 0)
		return -errno;
	uint64_t end = (uint64_t)stb.st_size;
	res->bytes = end;
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    replicd_hold_header_decode(hdr, sizeof(hdr), &h) < 0) {
		log_error("%s: damaged header: its operations are lost; this "
			  "copy must be resynced",
			  path);
		res->damaged = true;
		r = -EBADMSG;
		goto remove;
	}
	sky_strlcpy(res->id, h.id, sizeof(res->id));
	buf = malloc(ENTRY_MAX);
	st = malloc(sizeof(*st));
	if (!buf || !st)
		return -ENOMEM;
	uint64_t off = h.applied_to ? h.applied_to : REPLICD_HOLD_HEADER;
	uint64_t pending_ino = h.exchange_ino;
	size_t size = 0;
	while (off < end) {
		r = read_entry(fd, off, end, buf, &size, &op, st);
		if (r == -EIO)
			return r;
		if (r < 0)
			break; /* torn or damaged: the tail ends here */
		bool exchange = op.type == ROP_RENAME &&
				(op.flags & ROP_RENAME_EXCHANGE);
		if (pending_ino && exchange) {
			/* Interrupted at this swap: done if the first path
			 * no longer has the inode it had. */
			uint64_t now = ops->inode(ops->ctx, &op);
			pending_ino = 0;
			if (now && now != h.exchange_ino) {
				off += size;
				r = save_position(fd, ops, off, 0);
				if (r < 0)
					return r;
				continue;
			}
		}
		pending_ino = 0;
		if (moves_a_name(&op)) {
			uint64_t ino = exchange ? ops->inode(ops->ctx, &op) : 0;
			r = save_position(fd, ops, off, ino);
			if (r < 0)
				return r;
		}
		r = ops->apply(ops->ctx, &op);
		if (r < 0) {
			/* This node's storage failed: stop where we are. */
			int s = save_position(fd, ops, off, 0);
			(void)s;
			return r;
		}
		res->applied++;
		off += size;
		if (moves_a_name(&op)) {
			r = save_position(fd, ops, off, 0);
			if (r < 0)
				return r;
		}
	}
	r = ops->sync(ops->ctx);
	if (r < 0)
		return r;
	if (off < h.synced_to) {
		log_error("%s: acknowledged operations after byte %llu are "
			  "damaged or missing (synced to %llu): this copy "
			  "must be resynced",
			  path, (unsigned long long)off,
			  (unsigned long long)h.synced_to);
		res->damaged = true;
		r = -EBADMSG;
	} else {
		r = 0;
	}
remove:
	if (unlink(path) < 0)
		return -errno;
	int s = sky_fsync_parent_dir(path);
	return r < 0 ? r : s;
}
