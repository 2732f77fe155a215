/*
 * backup_tree_test.c - the repository's binary objects (backupd/tree.h,
 * pack.h, snapshot.h, changes.h): each encodes and parses back to the
 * same fields, and each way a tampered one can be wrong (lengths, order,
 * names, counts) is refused before anything is used.
 */
#include "changerec.h"
#include "changes.h"
#include "pack.h"
#include "repo.h"
#include "snapshot.h"
#include "test.h"
#include "tree.h"
#include "util.h"

#include <stdlib.h>

static char why[256];

static void add(struct bk_tree *t, const char *name, uint8_t type)
{
	struct bk_entry e = {0};
	e.name = strdup(name);
	e.type = type;
	e.mode = 0640;
	e.uid = 1000;
	e.gid = 100;
	e.atime_ns = 1500000000123456789LL;
	e.mtime_ns = -5; /* before 1970: still a time */
	if (type == BK_SYMLINK || type == BK_HARDLINK)
		e.target = strdup(type == BK_SYMLINK ? "../x" : "0/a/b");
	if (type == BK_DIR)
		memset(e.subtree, 0x5A, BK_ID_LEN);
	if (type == BK_CHARDEV)
		e.rdev = 0x0103;
	if (type == BK_FILE) {
		e.size = 10u << 20;
		e.chunk_count = 2;
		e.chunks = calloc(2, sizeof(*e.chunks));
		e.chunks[0] = (struct bk_chunk_ref){0, 65536, {1}};
		e.chunks[1] =
			(struct bk_chunk_ref){5u << 20, 100, {2}}; /* hole */
		e.xattr_count = 1;
		e.xattrs = calloc(1, sizeof(*e.xattrs));
		e.xattrs[0].name = strdup("user.k");
		e.xattrs[0].value = (uint8_t *)strdup("v\x01");
		e.xattrs[0].len = 2;
	}
	CHECK(bk_tree_add(t, &e) == 0);
}

static struct bk_tree sample(void)
{
	struct bk_tree t = {0};
	add(&t, "z-file", BK_FILE);
	add(&t, "a-dir", BK_DIR);
	add(&t, "link", BK_SYMLINK);
	add(&t, "hard", BK_HARDLINK);
	add(&t, "fifo", BK_FIFO);
	add(&t, "tty", BK_CHARDEV);
	bk_tree_sort(&t);
	return t;
}

static void test_tree_round_trip_keeps_every_field(void)
{
	struct bk_tree t = sample(), back;
	uint8_t *buf;
	size_t len;
	CHECK(bk_tree_encode(&t, &buf, &len) == 0);
	CHECK(bk_tree_parse(buf, len, &back, why, sizeof(why)) == 0);
	CHECK_EQ_INT(back.count, t.count);
	for (size_t i = 0; i < t.count && i < back.count; i++) {
		const struct bk_entry *a = &t.entries[i], *b = &back.entries[i];
		CHECK(!strcmp(a->name, b->name) && a->type == b->type);
		CHECK(a->mode == b->mode && a->uid == b->uid &&
		      a->gid == b->gid && a->atime_ns == b->atime_ns &&
		      a->mtime_ns == b->mtime_ns && a->size == b->size &&
		      a->rdev == b->rdev);
		CHECK((!a->target && !b->target) ||
		      !strcmp(a->target, b->target));
		CHECK(!memcmp(a->subtree, b->subtree, BK_ID_LEN));
		CHECK(a->chunk_count == b->chunk_count &&
		      (!a->chunk_count ||
		       !memcmp(a->chunks, b->chunks,
			       a->chunk_count * sizeof(*a->chunks))));
		CHECK(a->xattr_count == b->xattr_count);
		if (a->xattr_count && b->xattr_count)
			CHECK(!strcmp(a->xattrs[0].name, b->xattrs[0].name) &&
			      b->xattrs[0].len == 2 &&
			      !memcmp(b->xattrs[0].value, "v\x01", 2));
	}
	CHECK(bk_tree_find(&back, "link") != NULL);
	CHECK(bk_tree_find(&back, "nope") == NULL);
	/* every truncation is refused, never read past */
	for (size_t cut = 0; cut < len; cut++) {
		struct bk_tree x;
		CHECK(bk_tree_parse(buf, cut, &x, why, sizeof(why)) ==
		      -EBADMSG);
	}
	free(buf);
	bk_tree_free(&back);
	bk_tree_free(&t);
}

/* Encode t, let mutate change it, expect a refusal naming want. */
static void refused(void (*mutate)(struct bk_tree *), const char *want)
{
	struct bk_tree t = sample(), x;
	uint8_t *buf;
	size_t len;
	mutate(&t);
	int r = bk_tree_encode(&t, &buf, &len);
	if (r == 0) {
		CHECK(bk_tree_parse(buf, len, &x, why, sizeof(why)) ==
		      -EBADMSG);
		CHECK_STR_CONTAINS(why, want);
		free(buf);
	}
	bk_tree_free(&t);
}

static void dup_name(struct bk_tree *t)
{
	free(t->entries[1].name);
	t->entries[1].name = strdup(t->entries[0].name);
}
static void slash_name(struct bk_tree *t)
{
	free(t->entries[0].name);
	t->entries[0].name = strdup("a/b");
}
static void dotdot_name(struct bk_tree *t)
{
	free(t->entries[0].name);
	t->entries[0].name = strdup("..");
}
static void overlapping_chunks(struct bk_tree *t)
{
	struct bk_entry *e = &t->entries[t->count - 1];
	e->chunks[1].off = 100;
}
static void chunk_past_end(struct bk_tree *t)
{
	struct bk_entry *e = &t->entries[t->count - 1];
	e->size = 65536 + 10;
}
static void symlink_without_target(struct bk_tree *t)
{
	for (size_t i = 0; i < t->count; i++)
		if (t->entries[i].type == BK_SYMLINK) {
			free(t->entries[i].target);
			t->entries[i].target = NULL;
		}
}

static void test_tampered_trees_are_refused_with_a_reason(void)
{
	refused(dup_name, "out of order");
	refused(slash_name, "name");
	refused(dotdot_name, "name");
	refused(overlapping_chunks, "chunk");
	refused(chunk_past_end, "chunk");
	refused(symlink_without_target, "target");
	/* a count larger than the bytes could hold */
	uint8_t huge[] = {'S', 'K', 'T', 'R', 1, 0xff, 0xff, 0xff, 0x7f};
	struct bk_tree x;
	CHECK(bk_tree_parse(huge, sizeof(huge), &x, why, sizeof(why)) ==
	      -EBADMSG);
}

static bool same_entry(const struct bk_pack_entry *a,
		       const struct bk_pack_entry *b)
{
	return a->kind == b->kind && !memcmp(a->id, b->id, BK_ID_LEN) &&
	       a->off == b->off && a->len == b->len;
}

static void test_pack_header_and_index_round_trip_and_bounds(void)
{
	struct bk_pack_entry e[3] = {
		{BK_BLOB_DATA, {1}, 0, 100},
		{BK_BLOB_TREE, {2}, 100, 50},
		{BK_BLOB_DATA, {3}, 150, 1000},
	};
	uint8_t *buf;
	size_t len, n;
	struct bk_pack_entry *back;
	CHECK(bk_packhdr_encode(e, 3, &buf, &len) == 0);
	CHECK(bk_packhdr_parse(buf, len, 1150, &back, &n) == 0);
	CHECK(n == 3);
	for (size_t i = 0; i < 3 && n == 3; i++)
		CHECK(same_entry(&back[i], &e[i]));
	free(back);
	/* a blob past where the header starts */
	CHECK(bk_packhdr_parse(buf, len, 1149, &back, &n) == -EBADMSG);
	for (size_t cut = 0; cut < len; cut++)
		CHECK(bk_packhdr_parse(buf, cut, 1150, &back, &n) == -EBADMSG);
	free(buf);
	/* overlapping blobs */
	e[1].off = 90;
	CHECK(bk_packhdr_encode(e, 3, &buf, &len) == 0);
	CHECK(bk_packhdr_parse(buf, len, 1150, &back, &n) == -EBADMSG);
	free(buf);
	e[1].off = 100;

	struct bk_index_pack p[2] = {{{9}, e, 2}, {{8}, e + 2, 1}}, *ib;
	CHECK(bk_index_encode(p, 2, &buf, &len) == 0);
	CHECK(bk_index_parse(buf, len, &ib, &n) == 0);
	CHECK(n == 2 && ib[0].count == 2 && ib[1].count == 1 &&
	      ib[1].pack[0] == 8 && same_entry(ib[1].entries, e + 2));
	bk_index_free(ib, n);
	for (size_t cut = 0; cut < len; cut++)
		CHECK(bk_index_parse(buf, cut, &ib, &n) == -EBADMSG);
	free(buf);
}

static void test_snapshot_round_trip_and_refusals(void)
{
	struct bk_snapshot s = {0}, b;
	char *json;
	s.time_ms = 1796000000000;
	sky_strlcpy(s.host, "node1", sizeof(s.host));
	sky_strlcpy(s.module, "app", sizeof(s.module));
	sky_strlcpy(s.target, "local", sizeof(s.target));
	sky_strlcpy(s.paths[0], "/srv/data", sizeof(s.paths[0]));
	s.path_count = 1;
	memset(s.tree, 0xCD, BK_ID_LEN);
	s.stats.files = 3;
	s.stats.bytes_read = 1 << 20;
	CHECK(bk_snapshot_encode(&s, &json) == 0);
	CHECK(bk_snapshot_parse((uint8_t *)json, strlen(json), &b, why,
				sizeof(why)) == 0);
	CHECK(b.time_ms == s.time_ms && !strcmp(b.host, "node1") &&
	      !strcmp(b.paths[0], "/srv/data") && b.path_count == 1 &&
	      !memcmp(b.tree, s.tree, BK_ID_LEN) && b.stats.files == 3 &&
	      b.stats.bytes_read == 1 << 20 && b.parent[0] == 0);
	free(json);
	const char *bad[] = {
		"[]",
		"{\"version\":2}",
		"{\"version\":1,\"time_ms\":1,\"host\":\"h\",\"module\":\"m\","
		"\"target\":\"t\",\"tree\":\"zz\",\"parent\":\"\",\"paths\":"
		"[\"/a\"],\"stats\":{}}",
		"{\"version\":1,\"time_ms\":1,\"host\":\"h\",\"module\":\"m\","
		"\"target\":\"t\",\"tree\":\"" /* relative path */
		"00000000000000000000000000000000000000000000000000000000000000"
		"00"
		"\",\"parent\":\"\",\"paths\":[\"a\"],\"stats\":{}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(bk_snapshot_parse((const uint8_t *)bad[i], strlen(bad[i]),
					&b, why, sizeof(why)) == -EBADMSG);
}

static void test_change_list_parses_merges_and_refuses(void)
{
	struct bk_changes c;
	const char *text = "complete\n0 zones 3+2,10+1 db/file one\n"
			   "1 whole etc/conf\n0 zones 20+1 db/file one\n"
			   "0 tree moved\n";
	CHECK(bk_changes_parse(text, strlen(text), &c, why, sizeof(why)) == 0);
	CHECK(c.complete && c.count == 3);
	const struct bk_change *moved = bk_changes_find(&c, 0, "moved");
	CHECK(moved && moved->subtree && moved->whole);
	const struct bk_change *ch = bk_changes_find(&c, 0, "db/file one");
	CHECK(ch && !ch->whole && ch->zone_count == 3);
	ch = bk_changes_find(&c, 1, "etc/conf");
	CHECK(ch && ch->whole);
	CHECK(bk_changes_find(&c, 0, "etc/conf") == NULL);
	bk_changes_free(&c);
	const char *bad[] = {"",
			     "maybe\n",
			     "complete\n16 whole x\n",
			     "complete\n0 zones 3 x\n",
			     "complete\n0 whole /abs\n",
			     "complete\n0 zones 1+0 x\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(bk_changes_parse(bad[i], strlen(bad[i]), &c, why,
				       sizeof(why)) < 0);
}

/* A record as replicd writes it (shared/changerec.h). */
static size_t record(uint8_t *buf, bool complete,
		     const struct changerec_entry *e, size_t n)
{
	struct changerec_header h = {.complete = complete};
	changerec_encode_header(&h, buf);
	size_t len = CHANGEREC_HEADER;
	for (size_t i = 0; i < n; i++) {
		int w = changerec_encode_entry(&e[i], buf + len, 4096);
		CHECK(w > 0);
		len += (size_t)(w > 0 ? w : 0);
	}
	return len;
}

static void test_replicd_record_becomes_a_change_list(void)
{
	static uint8_t buf[16384];
	struct changerec_entry e[] = {
		{0, TRK_ZONES, 3, 2, "db/file"},
		{0, TRK_ZONES, 9, 1, "db/file"},
		{1, TRK_META, 0, 0, "etc/conf"},
		{0, TRK_TREE | TRK_ENTRY, 0, 0, "moved"},
		{0, TRK_ALONE, 0, 0, ""},
	};
	struct bk_changes c;
	size_t len = record(buf, true, e, 5);
	CHECK(bk_changes_from_record(buf, len, 2, &c, why, sizeof(why)) == 0);
	CHECK(c.complete && c.count == 3);
	const struct bk_change *ch = bk_changes_find(&c, 0, "db/file");
	CHECK(ch && !ch->whole && ch->zone_count == 2);
	ch = bk_changes_find(&c, 1, "etc/conf");
	CHECK(ch && ch->whole && !ch->subtree);
	ch = bk_changes_find(&c, 0, "moved");
	CHECK(ch && ch->subtree);
	bk_changes_free(&c);
	/* a directory we do not back up: the list cannot be trusted */
	CHECK(bk_changes_from_record(buf, len, 1, &c, why, sizeof(why)) == 0);
	CHECK(!c.complete);
	CHECK_STR_CONTAINS(why, "past backup.paths");
	bk_changes_free(&c);
	/* a record that says incomplete, a damaged one */
	len = record(buf, false, e, 2);
	CHECK(bk_changes_from_record(buf, len, 2, &c, why, sizeof(why)) == 0);
	CHECK(!c.complete);
	bk_changes_free(&c);
	len = record(buf, true, e, 2);
	buf[len - 3] ^= 1;
	CHECK(bk_changes_from_record(buf, len, 2, &c, why, sizeof(why)) == 0);
	CHECK(!c.complete);
	CHECK_STR_CONTAINS(why, "damaged");
	bk_changes_free(&c);
}

static void test_lock_objects_parse_or_are_refused(void)
{
	struct bk_lock_info li;
	const char *good =
		"{\"holder\":\"backup\",\"host\":\"n1\",\"pid\":4,"
		"\"created\":10,\"expires\":130,\"exclusive\":false}";
	CHECK(bk_lock_parse((const uint8_t *)good, strlen(good), &li) == 0);
	CHECK(li.expires == 130 && !li.exclusive && !strcmp(li.host, "n1"));
	const char *bad = "{\"holder\":\"backup\",\"host\":\"n1\"}";
	CHECK(bk_lock_parse((const uint8_t *)bad, strlen(bad), &li) ==
	      -EBADMSG);
}

TEST_MAIN(TEST(test_tree_round_trip_keeps_every_field),
	  TEST(test_tampered_trees_are_refused_with_a_reason),
	  TEST(test_pack_header_and_index_round_trip_and_bounds),
	  TEST(test_snapshot_round_trip_and_refusals),
	  TEST(test_change_list_parses_merges_and_refuses),
	  TEST(test_replicd_record_becomes_a_change_list),
	  TEST(test_lock_objects_parse_or_are_refused))
