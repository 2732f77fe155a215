/*
 * record.c - replicd's backup record as a change list (record.h).
 */
#include "record.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int add_entry(void *ctx, const struct changerec_entry *e)
{
	struct bk_changes *c = ctx;
	if (e->kinds & TRK_ALONE)
		return 0;
	if (e->dir >= CHANGEREC_MAX_DIRS)
		return -EINVAL;
	bool tree = e->kinds & TRK_TREE;
	bool whole = tree || (e->kinds & (TRK_META | TRK_ENTRY));
	if (whole || (e->kinds & TRK_ZONES))
		return bk_changes_add_kind(
			c, e->dir, e->path, whole, tree, e->first,
			(e->kinds & TRK_ZONES) ? e->count : 0);
	return 0;
}

int bk_record_parse(const uint8_t *buf, size_t len,
		    const uint8_t boot[CHANGEREC_BOOT_BYTES],
		    struct bk_changes *out)
{
	struct changerec_header h = {0};
	memset(out, 0, sizeof(*out));
	int r = changerec_parse(buf, len, &h, add_entry, out);
	if (r == -ENOMEM) {
		bk_changes_free(out);
		return r;
	}
	/* a bad entry (-EBADMSG, -EINVAL): what came before is kept, but
	 * the list no longer says it is every change */
	out->complete = r == 0 && changerec_trusted(&h, boot);
	bk_changes_finish(out);
	return 0;
}

int bk_record_load(const char *path, struct bk_changes *out)
{
	char *text = NULL;
	size_t len = 0;
	uint8_t boot[CHANGEREC_BOOT_BYTES];
	memset(out, 0, sizeof(*out));
	int r = sky_read_file(path, CHANGEREC_FILE_MAX, &text, &len);
	if (r < 0)
		return r;
	changerec_boot_id(boot);
	r = bk_record_parse((const uint8_t *)text, len, boot, out);
	free(text);
	return r;
}
