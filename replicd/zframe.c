/*
 * zframe.c - zstd compression of the resync's file data (see zframe.h).
 */
#include "zframe.h"

#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

/* The largest window a frame may ask for: a frame holds at most 1 MiB. */
#define ZFRAME_WINDOW_LOG_MAX 20

struct replicd_zstd {
	ZSTD_CCtx *cctx; /* created at the first pack */
	ZSTD_DCtx *dctx; /* created at the first unpack */
	int level;
	uint8_t out[REPLICD_DATA_MAX];
};

int replicd_zstd_new(struct replicd_zstd **out, int level)
{
	if (level < 1 || level > REPLICD_ZSTD_LEVEL_MAX)
		return -EINVAL;
	struct replicd_zstd *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->level = level;
	*out = z;
	return 0;
}

void replicd_zstd_free(struct replicd_zstd **z)
{
	if (!*z)
		return;
	ZSTD_freeCCtx((*z)->cctx);
	ZSTD_freeDCtx((*z)->dctx);
	free(*z);
	*z = NULL;
}

int replicd_zstd_pack(struct replicd_zstd *z, struct replicd_op *op)
{
	if (op->type != ROP_WRITE || op->data_len < REPLICD_ZSTD_MIN ||
	    op->data_len > REPLICD_DATA_MAX)
		return 0;
	if (!z->cctx) {
		z->cctx = ZSTD_createCCtx();
		if (!z->cctx)
			return -ENOMEM;
		if (ZSTD_isError(ZSTD_CCtx_setParameter(
			    z->cctx, ZSTD_c_compressionLevel, z->level)) ||
		    ZSTD_isError(
			    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog,
						   ZFRAME_WINDOW_LOG_MAX)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			    z->cctx, ZSTD_c_contentSizeFlag, 1)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx,
							ZSTD_c_checksumFlag,
							0))) { /* GCM checks */
			ZSTD_freeCCtx(z->cctx);
			z->cctx = NULL;
			return -EINVAL;
		}
	}
	/* Room for 15/16 of the data: anything larger is not worth it, and
	 * zstd says so by running out of room. */
	size_t room = op->data_len - op->data_len / 16;
	size_t n =
		ZSTD_compress2(z->cctx, z->out, room, op->data, op->data_len);
	if (ZSTD_isError(n) || n == 0 || n >= room)
		return 0;
	op->type = ROP_WRITE_Z;
	op->length = op->data_len;
	op->data = z->out;
	op->data_len = n;
	return 1;
}

int replicd_zstd_unpack(struct replicd_zstd *z, const struct replicd_op *op,
			uint8_t *out, size_t cap)
{
	if (op->type != ROP_WRITE_Z || op->length == 0 ||
	    op->length > REPLICD_DATA_MAX || op->length > cap ||
	    op->data_len == 0 || op->data_len >= op->length || !op->data)
		return -EBADMSG;
	/* The frame says its size, and says the same as the operation. */
	unsigned long long size =
		ZSTD_getFrameContentSize(op->data, op->data_len);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size == ZSTD_CONTENTSIZE_ERROR || size != op->length)
		return -EBADMSG;
	/* Exactly one frame: nothing before or after it. */
	size_t whole = ZSTD_findFrameCompressedSize(op->data, op->data_len);
	if (ZSTD_isError(whole) || whole != op->data_len)
		return -EBADMSG;
	if (!z->dctx) {
		z->dctx = ZSTD_createDCtx();
		if (!z->dctx)
			return -ENOMEM;
		if (ZSTD_isError(
			    ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
						   ZFRAME_WINDOW_LOG_MAX))) {
			ZSTD_freeDCtx(z->dctx);
			z->dctx = NULL;
			return -ENOMEM;
		}
	}
	/* Never more room than declared: a frame that would write more is
	 * an error, not a bigger buffer. */
	size_t n = ZSTD_decompressDCtx(z->dctx, out, (size_t)op->length,
				       op->data, op->data_len);
	if (ZSTD_isError(n) || n != op->length) {
		/* A failed frame may leave the context mid-way. */
		ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
		return -EBADMSG;
	}
	return (int)n;
}
