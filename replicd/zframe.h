/*
 * zframe.h - zstd compression of the resync's file data.
 *
 * A resync sends file content as `write` operations of up to 1 MiB. Over a
 * WAN, the primary may send such a write as a `write-z` (op.h, ROP_WRITE_Z)
 * instead: the same handle, path and offset, `length` the size of the data,
 * and the data one zstd frame that decompresses to exactly that many bytes.
 * Only when the peer said in the handshake that it takes them (chan.h,
 * REPLICD_CAP_ZSTD), and only frame by frame: data that does not shrink by
 * at least 1/16 goes raw, as a plain `write` (so random or already
 * compressed data costs one attempt, not bytes on the wire).
 *
 * The secondary's side reads hostile input: the declared size is bounded
 * (REPLICD_DATA_MAX) and must equal the frame's own content size (which
 * must be present), the frame must be exactly one zstd frame with nothing
 * after it, the decompression window is bounded, and the output buffer is
 * exactly the declared size, so a "bomb" cannot make it write or allocate
 * more. Pure (no I/O): unit tests and the fuzzer drive it directly.
 */
#ifndef REPLICD_ZFRAME_H
#define REPLICD_ZFRAME_H

#include "op.h"

#include <stddef.h>
#include <stdint.h>

/* Writes smaller than this go raw: not worth a compression attempt. */
#define REPLICD_ZSTD_MIN	   4096
#define REPLICD_ZSTD_LEVEL_MAX	   19
#define REPLICD_ZSTD_LEVEL_DEFAULT 3

struct replicd_zstd;

/* level: 1..REPLICD_ZSTD_LEVEL_MAX. -ENOMEM or -EINVAL. */
int replicd_zstd_new(struct replicd_zstd **out, int level);
void replicd_zstd_free(struct replicd_zstd **z);

/*
 * Primary: op is a ROP_WRITE. If its data shrinks enough, turn *op into a
 * ROP_WRITE_Z whose data points into z (valid until the next call) and
 * return 1; otherwise leave it as it is and return 0.
 */
int replicd_zstd_pack(struct replicd_zstd *z, struct replicd_op *op);
/*
 * Secondary: op is a decoded ROP_WRITE_Z. Decompress its data into out
 * (cap bytes); returns op->length, or -EBADMSG for anything but one zstd
 * frame of exactly op->length bytes (bounded by cap and REPLICD_DATA_MAX).
 */
int replicd_zstd_unpack(struct replicd_zstd *z, const struct replicd_op *op,
			uint8_t *out, size_t cap);

#endif
