/*
 * replicd_resync_test.c - resync plans applied to a real second copy: from
 * change records, and from a hash manifest; both copies end identical and
 * only what differs is sent. The manifest store refuses hostile input.
 */
#include "fs.h"
#include "manifest.h"
#include "resync.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static char a_path[64], b_path[64];
static int a_root = -1, b_root = -1;

struct applier {
	int root;
	uint64_t data_bytes;
	int errors;
};

static int apply_op(void *ctx, struct replicd_op *op)
{
	struct applier *ap = ctx;
	int r = replicd_fs_apply(ap->root, op, -1, 0, NULL);
	if (op->type == ROP_WRITE)
		ap->data_bytes += op->data_len;
	if (r < 0) {
		fprintf(stderr, "  apply %s '%s': %s\n",
			replicd_op_name(op->type), op->path ? op->path : "",
			strerror(-r));
		ap->errors++;
	}
	return 0;
}

static void put(int root, const char *rel, const char *data, size_t len,
		uint64_t off)
{
	int fd = replicd_fs_open(root, rel, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(pwrite(fd, data, len, (off_t)off) == (ssize_t)len);
	close(fd);
}

static void setup(void)
{
	char cmd[200];
	umask(0);
	snprintf(a_path, sizeof(a_path), "/tmp/replicd-rs-a.XXXXXX");
	snprintf(b_path, sizeof(b_path), "/tmp/replicd-rs-b.XXXXXX");
	CHECK(mkdtemp(a_path) && mkdtemp(b_path));
	a_root = open(a_path, O_RDONLY | O_DIRECTORY);
	b_root = open(b_path, O_RDONLY | O_DIRECTORY);
	CHECK(a_root >= 0 && b_root >= 0);
	/* The same start on both: a 1 MiB file, a directory, a link. */
	static char big[1 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 4096);
	for (int k = 0; k < 2; k++) {
		int root = k ? b_root : a_root;
		CHECK(mkdirat(root, "d", 0755) == 0);
		put(root, "big", big, sizeof(big), 0);
		put(root, "d/small", "hello", 5, 0);
		CHECK(symlinkat("big", root, "link") == 0);
	}
	(void)cmd;
}

static void teardown(void)
{
	char cmd[200];
	close(a_root);
	close(b_root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", a_path, b_path);
	CHECK(system(cmd) == 0);
}

/* "diff -r" plus types, modes, owners, sizes and symlink targets. */
static bool same_trees(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && find . -printf '%%p %%y %%m %%U %%G %%s %%l\\n' | "
		 "sort > /tmp/replicd-rs-a.lst; cd %s && find . -printf "
		 "'%%p %%y %%m %%U %%G %%s %%l\\n' | sort > "
		 "/tmp/replicd-rs-b.lst; diff -r %s %s >/dev/null && cmp -s "
		 "/tmp/replicd-rs-a.lst /tmp/replicd-rs-b.lst",
		 a_path, b_path, a_path, b_path);
	return system(cmd) == 0;
}

static bool same_xattr(const char *rel, const char *name)
{
	char pa[128], pb[128], va[64] = "", vb[64] = "";
	snprintf(pa, sizeof(pa), "%s/%s", a_path, rel);
	snprintf(pb, sizeof(pb), "%s/%s", b_path, rel);
	ssize_t na = getxattr(pa, name, va, sizeof(va));
	ssize_t nb = getxattr(pb, name, vb, sizeof(vb));
	return na == nb && (na < 0 || memcmp(va, vb, (size_t)na) == 0);
}

static void run_plan(struct replicd_resync *rs, struct applier *ap)
{
	int r, guard = 0;
	while ((r = replicd_resync_step(rs, 1 << 20, apply_op, ap)) == 1 &&
	       guard++ < 10000) {
	}
	CHECK_EQ_INT(r, 0);
}

static void test_record_resync_sends_the_recorded_zones_and_paths(void)
{
	setup();
	/* While the peer was away: zone 3 of big, a new file, a removed
	 * one, a chmod. */
	put(a_root, "big", "XXXX", 4, 3 * 65536 + 10);
	put(a_root, "d/new", "new file", 8, 0);
	CHECK(unlinkat(a_root, "d/small", 0) == 0);
	CHECK(fchmodat(a_root, "big", 0600, 0) == 0);
	struct changerec_entry e[] = {
		{.dir = 0,
		 .kinds = TRK_ZONES,
		 .first = 3,
		 .count = 1,
		 .path = "big"},
		{.dir = 0, .kinds = TRK_META, .path = "big"},
		{.dir = 0, .kinds = TRK_ENTRY, .path = "d/new"},
		{.dir = 0, .kinds = TRK_ENTRY, .path = "d/small"},
	};
	struct replicd_resync *rs = NULL;
	struct applier ap = {.root = b_root};
	CHECK_EQ_INT(replicd_resync_new(&rs, e, 2, e + 2, 2, false, 1, &a_root),
		     0);
	run_plan(rs, &ap);
	replicd_resync_free(&rs);
	CHECK(rs == NULL);
	CHECK_EQ_INT(ap.errors, 0);
	CHECK_EQ_INT(ap.data_bytes, 65536 + 8);
	CHECK(same_trees());
	teardown();
}

/*
 * resync.bytes_total is what the plan sends: a file created and written
 * while the peer was away (recorded as an entry and as zones) counts once,
 * by its size, and a zone-only change counts its zones.
 */
static void test_record_resync_counts_a_new_file_once_in_bytes_total(void)
{
	static char data[300000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13);
	setup();
	put(a_root, "d/created", data, sizeof(data), 0);
	put(a_root, "big", "XXXX", 4, 5 * 65536 + 10);
	struct changerec_entry e[] = {
		{.dir = 0, .kinds = TRK_ENTRY, .path = "d/created"},
		{.dir = 0,
		 .kinds = TRK_ZONES,
		 .first = 0,
		 .count = 5, /* 300000 bytes: zones 0..4 */
		 .path = "d/created"},
		{.dir = 0,
		 .kinds = TRK_ZONES,
		 .first = 5,
		 .count = 1,
		 .path = "big"},
	};
	struct replicd_resync *rs = NULL;
	struct replicd_resync_stats st;
	struct applier ap = {.root = b_root};
	CHECK_EQ_INT(replicd_resync_new(&rs, e, 3, NULL, 0, false, 1, &a_root),
		     0);
	run_plan(rs, &ap);
	replicd_resync_stats(rs, &st);
	replicd_resync_free(&rs);
	CHECK_EQ_INT(ap.errors, 0);
	CHECK_EQ_INT(ap.data_bytes, sizeof(data) + 65536);
	CHECK_EQ_INT(st.bytes_done, sizeof(data) + 65536);
	CHECK_EQ_INT(st.bytes_total, sizeof(data) + 65536);
	CHECK(same_trees());
	teardown();
}

static void test_hash_resync_sends_only_what_differs(void)
{
	setup();
	/* The copies drifted apart with no record of it. */
	put(a_root, "big", "YY", 2, 5 * 65536);
	put(a_root, "big", "ZZ", 2, 15 * 65536 + 65535 - 1);
	put(b_root, "only-on-b", "stale", 5, 0);
	CHECK(mkdirat(b_root, "dir-only-on-b", 0700) == 0);
	put(b_root, "dir-only-on-b/x", "x", 1, 0);
	CHECK(unlinkat(a_root, "link", 0) == 0);
	CHECK(symlinkat("d/small", a_root, "link") == 0);
	CHECK(fchmodat(a_root, "d", 0700, 0) == 0);
	char p[128];
	snprintf(p, sizeof(p), "%s/d/small", a_path);
	CHECK(setxattr(p, "user.k", "v", 1, 0) == 0);
	put(a_root, "d/new", "brand new", 9, 0);

	struct replicd_manifest *mf = NULL;
	struct replicd_manifest_walk *w = NULL;
	CHECK_EQ_INT(replicd_manifest_new(&mf), 0);
	CHECK_EQ_INT(replicd_manifest_walk_new(&w, &b_root, 1), 0);
	int r;
	while ((r = replicd_manifest_walk_step(
			w, 65536, (replicd_emit_fn)replicd_manifest_add, mf)) ==
	       1) {
	}
	CHECK_EQ_INT(r, 0);
	replicd_manifest_walk_free(&w);
	CHECK(replicd_manifest_find(mf, 0, "big") != NULL);
	CHECK_EQ_INT(replicd_manifest_find(mf, 0, "big")->nzones, 16);

	struct replicd_resync *rs = NULL;
	struct applier ap = {.root = b_root};
	CHECK_EQ_INT(replicd_resync_new_compare(&rs, mf, 1, &a_root), 0);
	run_plan(rs, &ap);
	replicd_resync_free(&rs);
	replicd_manifest_free(&mf);
	CHECK_EQ_INT(ap.errors, 0);
	/* Two zones of big and the new file, nothing else. */
	CHECK_EQ_INT(ap.data_bytes, 2 * 65536 + 9);
	CHECK(same_trees());
	CHECK(same_xattr("d/small", "user.k"));
	teardown();
}

static void test_manifest_refuses_inconsistent_hashes(void)
{
	struct replicd_manifest *mf = NULL;
	uint8_t data[32 * 4] = {0};
	CHECK_EQ_INT(replicd_manifest_new(&mf), 0);
	struct replicd_op op = {.type = ROP_HASHES,
				.path = "f",
				.mode = S_IFREG | 0644,
				.offset = 2 * 65536,
				.data = data,
				.data_len = 31};
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), -EPROTO); /* not 32*n */
	op.data_len = 32 * 4; /* 3 zones for a 2-zone file */
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), -EPROTO);
	op.data_len = 32 * 2;
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), 0);
	op.length = 5; /* a chunk out of order */
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), -EPROTO);
	op.length = 1;
	op.mode = S_IFDIR | 0755; /* the same path, another type */
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), -EPROTO);
	op = (struct replicd_op){.type = ROP_HASHES,
				 .path = "g",
				 .mode = S_IFREG | 0644,
				 .length = 1,
				 .data = data,
				 .data_len = 64};
	CHECK_EQ_INT(replicd_manifest_add(mf, &op), -EPROTO); /* no start */
	replicd_manifest_free(&mf);
	CHECK(mf == NULL);
}

TEST_MAIN(TEST(test_record_resync_sends_the_recorded_zones_and_paths),
	  TEST(test_record_resync_counts_a_new_file_once_in_bytes_total),
	  TEST(test_hash_resync_sends_only_what_differs),
	  TEST(test_manifest_refuses_inconsistent_hashes))
