/*
 * replicd_verify_test.c - skyctl verify's comparison (verify_diff.h) over
 * two real copies: each kind of difference is named with its path and
 * zones, nothing is changed, excluded paths are not compared, and
 * findings at paths changed during the verify are counted apart.
 */
#include "exclude.h"
#include "fs.h"
#include "manifest.h"
#include "resync.h"
#include "test.h"
#include "verify_diff.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static char a_path[64], b_path[64];
static int a_root = -1, b_root = -1;
static struct replicd_manifest *mf;
static struct replicd_vdiff *vd;
static struct replicd_resync *rs;

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
	umask(0);
	snprintf(a_path, sizeof(a_path), "/tmp/replicd-vf-a.XXXXXX");
	snprintf(b_path, sizeof(b_path), "/tmp/replicd-vf-b.XXXXXX");
	CHECK(mkdtemp(a_path) && mkdtemp(b_path));
	a_root = open(a_path, O_RDONLY | O_DIRECTORY);
	b_root = open(b_path, O_RDONLY | O_DIRECTORY);
	static char big[1 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 4096);
	for (int k = 0; k < 2; k++) {
		int root = k ? b_root : a_root;
		CHECK(mkdirat(root, "d", 0755) == 0);
		CHECK(mkdirat(root, "tmp", 0755) == 0);
		put(root, "big", big, sizeof(big), 0);
		put(root, "d/small", "hello", 5, 0);
		CHECK(symlinkat("big", root, "link") == 0);
	}
}

/* The secondary (b) describes its copy; the primary (a) compares. */
static void compare(const struct replicd_exclude *ex, bool finish)
{
	struct replicd_manifest_walk *w = NULL;
	int r;
	CHECK_EQ_INT(replicd_manifest_new(&mf), 0);
	CHECK_EQ_INT(replicd_manifest_walk_new(&w, &b_root, 1), 0);
	replicd_manifest_walk_set_exclude(w, ex);
	while ((r = replicd_manifest_walk_step(
			w, 65536, (replicd_emit_fn)replicd_manifest_add, mf)) ==
	       1) {
	}
	CHECK_EQ_INT(r, 0);
	replicd_manifest_walk_free(&w);
	CHECK_EQ_INT(replicd_vdiff_new(&vd, mf), 0);
	CHECK_EQ_INT(replicd_resync_new_compare(&rs, mf, 1, &a_root), 0);
	replicd_resync_set_exclude(rs, ex);
	replicd_resync_set_verify(rs);
	int guard = 0;
	while ((r = replicd_resync_step(rs, 65536, replicd_vdiff_emit, vd)) ==
		       1 &&
	       guard++ < 100000) {
	}
	CHECK_EQ_INT(r, 0);
	if (finish)
		replicd_vdiff_finish(vd);
}

static void done(void)
{
	char cmd[200];
	replicd_resync_free(&rs);
	replicd_vdiff_free(&vd);
	replicd_manifest_free(&mf);
	close(a_root);
	close(b_root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", a_path, b_path);
	CHECK(system(cmd) == 0);
}

static const struct replicd_vdiff_entry *
find(const struct replicd_vdiff_result *res, const char *path)
{
	for (size_t i = 0; i < res->listed; i++)
		if (strcmp(res->list[i].path, path) == 0)
			return &res->list[i];
	return NULL;
}

static void test_identical_copies_have_no_difference(void)
{
	setup();
	compare(NULL, true);
	struct replicd_vdiff_result res;
	replicd_vdiff_result(vd, &res);
	CHECK_EQ_INT(res.differences, 0);
	CHECK_EQ_INT(res.changed, 0);
	done();
}

static void test_each_difference_is_named_and_nothing_changes(void)
{
	setup();
	put(b_root, "big", "X", 1, 3 * 65536 + 5); /* zone 3 */
	put(b_root, "big", "X", 1, 4 * 65536);	   /* zone 4: one range */
	put(b_root, "big", "X", 1, 9 * 65536);	   /* zone 9 */
	put(a_root, "d/new", "only here", 9, 0);
	CHECK(mkdirat(a_root, "newdir", 0755) == 0);
	put(a_root, "newdir/inside", "x", 1, 0);
	put(b_root, "stale", "only there", 10, 0);
	CHECK(fchmodat(b_root, "d/small", 0600, 0) == 0);
	CHECK(ftruncate(replicd_fs_open(b_root, "d/small", O_WRONLY, 0), 3) ==
	      0);
	char p[128];
	snprintf(p, sizeof(p), "%s/d", a_path);
	CHECK(setxattr(p, "user.k", "v", 1, 0) == 0);
	CHECK(unlinkat(b_root, "link", 0) == 0);
	CHECK(symlinkat("d/small", b_root, "link") == 0);
	/* the secondary's own, in an excluded directory: not compared */
	put(b_root, "tmp/mine", "mine", 4, 0);
	put(a_root, "tmp/other", "other", 5, 0);
	struct replicd_exclude ex = {0};
	const char *why;
	size_t at;
	CHECK_EQ_INT(replicd_exclude_compile("tmp/", 4, &ex.pat[0], &why, &at),
		     0);
	ex.count = 1;
	struct stat before;
	CHECK(fstatat(b_root, "big", &before, 0) == 0);
	compare(&ex, true);

	struct replicd_vdiff_result res;
	replicd_vdiff_result(vd, &res);
	const struct replicd_vdiff_entry *e = find(&res, "big");
	CHECK(e && e->what == VD_CONTENT);
	CHECK(e && e->nranges == 2 && e->first[0] == 3 && e->count[0] == 2 &&
	      e->first[1] == 9 && e->count[1] == 1);
	e = find(&res, "d/new");
	CHECK(e && e->what == VD_ONLY_PRIMARY);
	e = find(&res, "newdir");
	CHECK(e && e->what == VD_ONLY_PRIMARY);
	CHECK(find(&res, "newdir/inside") == NULL); /* part of newdir */
	e = find(&res, "stale");
	CHECK(e && e->what == VD_ONLY_SECONDARY);
	e = find(&res, "d/small");
	CHECK(e && (e->what & VD_SIZE) && (e->what & VD_CONTENT) &&
	      (e->what & VD_OWNER));
	e = find(&res, "d");
	CHECK(e && e->what == VD_XATTRS);
	e = find(&res, "link");
	CHECK(e && e->what == VD_TARGET);
	CHECK(find(&res, "tmp/mine") == NULL &&
	      find(&res, "tmp/other") == NULL);
	CHECK_EQ_INT(res.differences, 7);
	CHECK_EQ_INT(res.changed, 0);
	/* Nothing changed on either side. */
	struct stat after;
	CHECK(fstatat(b_root, "big", &after, 0) == 0);
	CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec &&
	      after.st_mtim.tv_sec == before.st_mtim.tv_sec);
	CHECK(faccessat(b_root, "stale", F_OK, 0) == 0);
	CHECK(faccessat(b_root, "d/new", F_OK, 0) != 0);
	char what[160];
	CHECK(strcmp(replicd_vdiff_what_text(VD_CONTENT | VD_SIZE, what,
					     sizeof(what)),
		     "content,size") == 0);
	done();
}

/* A live write noted during the verify: its zones are not differences,
 * other zones of the file still are; a renamed parent covers its tree. */
static void test_live_changes_are_counted_apart(void)
{
	setup();
	put(b_root, "big", "X", 1, 2 * 65536);
	put(b_root, "big", "X", 1, 7 * 65536);
	put(b_root, "d/small", "J", 1, 0);
	compare(NULL, false);
	struct replicd_op w = {.type = ROP_WRITE,
			       .path = "big",
			       .offset = 7 * 65536 + 10,
			       .data_len = 100};
	replicd_vdiff_note(vd, &w);
	struct replicd_op ren = {.type = ROP_RENAME, .path = "d", .path2 = "e"};
	replicd_vdiff_note(vd, &ren);
	struct replicd_op fsync_op = {.type = ROP_FSYNC, .path = "big"};
	replicd_vdiff_note(vd, &fsync_op); /* changes nothing */
	replicd_vdiff_finish(vd);
	struct replicd_vdiff_result res;
	replicd_vdiff_result(vd, &res);
	const struct replicd_vdiff_entry *e = find(&res, "big");
	CHECK_EQ_INT(res.differences, 1);
	CHECK_EQ_INT(res.changed, 1); /* d/small, under the renamed d */
	/* big: zone 7 was written live, zone 2 is a difference */
	CHECK(e && e->what == VD_CONTENT && e->nranges == 1 &&
	      e->first[0] == 2 && e->count[0] == 1);
	done();
}

/* A live write to other zones of the file hides nothing; a live chmod
 * hides no content difference. */
static void test_a_write_elsewhere_in_the_file_does_not_hide_a_difference(void)
{
	setup();
	put(b_root, "big", "X", 1, 2 * 65536);
	compare(NULL, false);
	struct replicd_op w = {.type = ROP_WRITE,
			       .path = "big",
			       .offset = 12 * 65536,
			       .data_len = 10};
	replicd_vdiff_note(vd, &w);
	struct replicd_op ch = {.type = ROP_CHMOD, .path = "big", .mode = 0600};
	replicd_vdiff_note(vd, &ch);
	replicd_vdiff_finish(vd);
	struct replicd_vdiff_result res;
	replicd_vdiff_result(vd, &res);
	CHECK_EQ_INT(res.differences, 1);
	CHECK_EQ_INT(res.changed, 0);
	CHECK(res.listed == 1 && res.list[0].first[0] == 2);
	done();
}

static int apply_to_b(void *ctx, struct replicd_op *op)
{
	(void)ctx;
	CHECK(replicd_fs_apply(b_root, op, -1, 0, NULL) >= 0);
	return 0;
}

/* A resync from records leaves excluded paths alone on both sides, even
 * when the record names them (made before they were excluded), and a
 * copied tree skips them. */
static void test_resync_leaves_excluded_paths_alone(void)
{
	setup();
	put(a_root, "tmp/x", "primary's", 9, 0);
	put(b_root, "tmp/x", "mine", 4, 0);
	put(b_root, "tmp/y", "mine too", 8, 0);
	put(a_root, "keep", "replicated", 10, 0);
	CHECK(mkdirat(a_root, "tree", 0755) == 0);
	put(a_root, "tree/f", "f", 1, 0);
	put(a_root, "tree/z.swp", "swap", 4, 0);
	struct replicd_exclude ex = {0};
	const char *why;
	size_t at;
	CHECK_EQ_INT(replicd_exclude_compile("tmp/", 4, &ex.pat[0], &why, &at),
		     0);
	CHECK_EQ_INT(replicd_exclude_compile("*.swp", 5, &ex.pat[1], &why, &at),
		     0);
	ex.count = 2;
	struct changerec_entry rec[] = {
		{.kinds = TRK_ENTRY, .path = "tmp/x"},
		{.kinds = TRK_ENTRY, .path = "tmp/y"},
		{.kinds = TRK_ENTRY, .path = "keep"},
		{.kinds = TRK_TREE, .path = "tree"},
	};
	CHECK_EQ_INT(
		replicd_resync_new(&rs, rec, 4, NULL, 0, false, 1, &a_root), 0);
	replicd_resync_set_exclude(rs, &ex);
	int r, guard = 0;
	while ((r = replicd_resync_step(rs, 1 << 20, apply_to_b, NULL)) == 1 &&
	       guard++ < 1000) {
	}
	CHECK_EQ_INT(r, 0);
	char buf[16] = "";
	int fd = replicd_fs_open(b_root, "tmp/x", O_RDONLY, 0);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 4);
	if (fd >= 0)
		close(fd);
	CHECK(memcmp(buf, "mine", 4) == 0);
	CHECK(faccessat(b_root, "tmp/y", F_OK, 0) == 0);
	CHECK(faccessat(b_root, "keep", F_OK, 0) == 0);
	CHECK(faccessat(b_root, "tree/f", F_OK, 0) == 0);
	CHECK(faccessat(b_root, "tree/z.swp", F_OK, 0) != 0);
	done();
}

TEST_MAIN(TEST(test_resync_leaves_excluded_paths_alone),
	  TEST(test_identical_copies_have_no_difference),
	  TEST(test_each_difference_is_named_and_nothing_changes),
	  TEST(test_live_changes_are_counted_apart),
	  TEST(test_a_write_elsewhere_in_the_file_does_not_hide_a_difference))
