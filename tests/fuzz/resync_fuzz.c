/*
 * resync_fuzz.c - what the primary does with the secondary's description
 * of its copy at the start of a session: ROP_RECORD operations become the
 * peer's record (replicd/track.c replicd_track_entry_of) and ROP_HASHES
 * its manifest (replicd/manifest.c replicd_manifest_add); either then
 * plans and runs the resync against the primary's real files
 * (replicd/resync.c replicd_resync_new, _new_compare, _step). A hostile or
 * broken peer chooses all of it.
 *
 * The input is a sequence of operations, each a u32 big-endian length and
 * the bytes replicd_op_decode takes. The primary's copy is a small tree
 * made once in /tmp. Every operation the plan emits must encode (the peer
 * has to be able to read it).
 */
#include "fuzz.h"
#include "manifest.h"
#include "op.h"
#include "resync.h"
#include "track.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES 64
#define MAX_STEPS   64

static char dir[64];
static int root = -1;

static void put(const char *name, size_t len, char fill)
{
	char path[128], *buf = malloc(len ? len : 1);

	FUZZ_ASSERT(buf);
	memset(buf, fill, len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FUZZ_ASSERT(sky_write_file_atomic(path, buf, len, 0644) == 0);
	free(buf);
}

static void cleanup(void)
{
	static const char *const names[] = {"a", "d/small", "link", "d", ""};
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)remove(path);
	}
}

static void setup(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/skyha-fuzz-resync-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/d", dir);
	FUZZ_ASSERT(sky_mkdir_p(path, 0755) == 0);
	put("a", 3 * REPLICD_ZONE_SIZE / 2, 'a');
	put("d/small", 9, 's');
	snprintf(path, sizeof(path), "%s/link", dir);
	(void)symlink("a", path);
	root = open(dir, O_RDONLY | O_DIRECTORY);
	FUZZ_ASSERT(root >= 0);
	atexit(cleanup);
}

static int emit(void *ctx, struct replicd_op *op)
{
	static uint8_t buf[REPLICD_OP_MAX];
	int n = replicd_op_encode(op, buf, sizeof(buf));

	(void)ctx;
	FUZZ_ASSERT(n > 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replicd_op_store st;
	struct changerec_entry theirs[MAX_ENTRIES];
	struct replicd_manifest *mf = NULL;
	struct replicd_resync *rs = NULL;
	struct replicd_op op;
	size_t n = 0, off = 0;
	bool hashes = false;
	int r = 0;

	if (root < 0)
		setup();
	FUZZ_ASSERT(replicd_manifest_new(&mf) == 0);
	while (size - off >= 4 && n < MAX_ENTRIES) {
		size_t len = (size_t)data[off] << 24 |
			     (size_t)data[off + 1] << 16 |
			     (size_t)data[off + 2] << 8 | data[off + 3];
		off += 4;
		if (len > size - off)
			break;
		r = replicd_op_decode(data + off, len, &op, &st);
		off += len;
		if (r < 0)
			break;
		if (op.type == ROP_RECORD) {
			r = replicd_track_entry_of(&op, 1, &theirs[n]);
			if (r < 0)
				break;
			n++;
		} else if (op.type == ROP_HASHES && op.dir < 1) {
			hashes = true;
			r = replicd_manifest_add(mf, &op);
			if (r < 0 && r != -E2BIG)
				break;
			r = 0;
		}
	}
	if (r == 0) {
		if (hashes)
			r = replicd_resync_new_compare(&rs, mf, 1, &root);
		else
			r = replicd_resync_new(&rs, NULL, 0, theirs, n, false,
					       1, &root);
		for (int i = 0; r == 0 && i < MAX_STEPS; i++)
			if (replicd_resync_step(rs, 65536, emit, NULL) != 1)
				break;
		replicd_resync_free(&rs);
	}
	replicd_manifest_free(&mf);
	for (size_t i = 0; i < n; i++)
		free(theirs[i].path);
	return 0;
}
