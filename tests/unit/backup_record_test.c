/*
 * backup_record_test.c - replicd's backup record read as backupd's change
 * list (backupd/record.h), and replicd's published state as backupd reads
 * it for the hold (backupd/hold.h): kinds map to zones, whole and subtree;
 * an untrusted or damaged record gives an incomplete list; a bad field in
 * replicd's state is refused.
 */
#include "bkhold.h"
#include "record.h"
#include "test.h"

#include <stdlib.h>

static const uint8_t boot[CHANGEREC_BOOT_BYTES] = {1, 2, 3, 4, 5, 6, 7};

struct rec {
	uint8_t buf[4096];
	size_t len;
};

static void header(struct rec *r, bool complete, bool unsynced,
		   const uint8_t *b)
{
	struct changerec_header h = {.complete = complete,
				     .unsynced = unsynced};
	if (b)
		memcpy(h.boot, b, CHANGEREC_BOOT_BYTES);
	changerec_encode_header(&h, r->buf);
	r->len = CHANGEREC_HEADER;
}

static void entry(struct rec *r, uint8_t kinds, uint8_t dir, uint64_t first,
		  uint64_t count, const char *path)
{
	struct changerec_entry e = {.dir = dir,
				    .kinds = kinds,
				    .first = first,
				    .count = count,
				    .path = (char *)path};
	int n = changerec_encode_entry(&e, r->buf + r->len,
				       sizeof(r->buf) - r->len);
	CHECK(n > 0);
	if (n > 0)
		r->len += (size_t)n;
}

static void test_kinds_map_to_zones_whole_and_subtree(void)
{
	struct rec r;
	struct bk_changes c;
	header(&r, true, true, boot);
	entry(&r, TRK_ZONES, 0, 3, 2, "db/table");
	entry(&r, TRK_ZONES, 0, 100, 1, "db/table");
	entry(&r, TRK_META, 0, 0, 0, "etc/conf");
	entry(&r, TRK_ENTRY, 1, 0, 0, "new");
	entry(&r, TRK_TREE, 0, 0, 0, "moved");
	entry(&r, TRK_ZONES | TRK_META, 1, 7, 1, "both");
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(c.complete);
	const struct bk_change *ch = bk_changes_find(&c, 0, "db/table");
	CHECK(ch && !ch->whole && ch->zone_count == 2);
	if (ch && ch->zone_count == 2) {
		CHECK_EQ_INT(ch->zones[0].first + ch->zones[1].first, 103);
		CHECK_EQ_INT(ch->zones[0].count + ch->zones[1].count, 3);
	}
	ch = bk_changes_find(&c, 0, "etc/conf");
	CHECK(ch && ch->whole && !ch->subtree);
	ch = bk_changes_find(&c, 1, "new");
	CHECK(ch && ch->whole);
	ch = bk_changes_find(&c, 1, "both");
	CHECK(ch && ch->whole);
	/* everything under a renamed directory is whole; not beside it */
	ch = bk_changes_find(&c, 0, "moved/a/b");
	CHECK(ch && ch->whole && ch->subtree);
	CHECK(bk_changes_find(&c, 0, "moved2/a") == NULL);
	CHECK(bk_changes_find(&c, 1, "moved/a") == NULL);
	CHECK(bk_changes_find(&c, 0, "db/other") == NULL);
	bk_changes_free(&c);
}

static void test_directory_renamed_is_everything(void)
{
	struct rec r;
	struct bk_changes c;
	header(&r, true, false, NULL);
	entry(&r, TRK_TREE, 2, 0, 0, "");
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(c.complete);
	const struct bk_change *ch = bk_changes_find(&c, 2, "x/y");
	CHECK(ch && ch->whole);
	CHECK(bk_changes_find(&c, 0, "x/y") == NULL);
	bk_changes_free(&c);
}

static void test_untrusted_or_damaged_is_incomplete(void)
{
	struct rec r;
	struct bk_changes c;
	static const uint8_t other[CHANGEREC_BOOT_BYTES] = {9};

	header(&r, false, false, NULL); /* says incomplete */
	entry(&r, TRK_ZONES, 0, 1, 1, "f");
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(!c.complete);
	bk_changes_free(&c);

	header(&r, true, true, other); /* another boot's unsynced entries */
	entry(&r, TRK_ZONES, 0, 1, 1, "f");
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(!c.complete);
	bk_changes_free(&c);

	header(&r, true, true, boot);
	entry(&r, TRK_ZONES, 0, 1, 1, "f");
	r.buf[r.len - 1] ^= 1; /* a torn entry */
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(!c.complete);
	bk_changes_free(&c);

	CHECK(bk_record_parse((const uint8_t *)"junk", 4, boot, &c) == 0);
	CHECK(!c.complete);
	bk_changes_free(&c);

	CHECK(bk_record_load("/nonexistent/backup-x.rec", &c) == -ENOENT);
	CHECK(!c.complete && c.count == 0);
}

static void test_alone_entries_are_ignored(void)
{
	struct rec r;
	struct bk_changes c;
	header(&r, true, false, NULL);
	entry(&r, TRK_ALONE, 0, 0, 0, "");
	CHECK(bk_record_parse(r.buf, r.len, boot, &c) == 0);
	CHECK(c.complete);
	CHECK_EQ_INT(c.count, 0);
	bk_changes_free(&c);
}

static json_t *replicd_state(const char *backup)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"state\": \"secondary\", \"backup\": %s}", backup);
	return json_loads(text, 0, NULL);
}

static void test_replicd_state_parsed(void)
{
	struct bk_replicd_view v;
	char why[256];
	json_t *o = replicd_state(
		"{\"hold\": \"b1\", \"held\": true, \"record\": "
		"\"/var/lib/skyha/app/replicd/backup-b1.rec\", "
		"\"record_complete\": true, \"refused\": null, \"failed\": "
		"null, \"released\": \"b0\", \"holds\": 2}");
	CHECK(bk_hold_parse(o, &v, why, sizeof(why)) == 0);
	CHECK(!strcmp(v.state, "secondary") && !strcmp(v.hold, "b1"));
	CHECK(v.held && v.record_complete && !strcmp(v.released, "b0"));
	CHECK_STR_CONTAINS(v.record, "backup-b1.rec");
	json_decref(o);

	static const char *const bad[] = {
		"{\"hold\": \"b1\", \"held\": \"yes\"}",
		"{\"hold\": 7, \"held\": false}",
		"{\"hold\": \"b1\", \"held\": true, \"record\": \"rel.rec\"}",
		"{\"hold\": \"b1\", \"held\": true}",
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = replicd_state(bad[i]);
		CHECK(o != NULL);
		CHECK(bk_hold_parse(o, &v, why, sizeof(why)) == -EBADMSG);
		json_decref(o);
	}
	o = json_loads("{\"backup\": {\"held\": false}}", 0, NULL);
	CHECK(bk_hold_parse(o, &v, why, sizeof(why)) == -EBADMSG);
	CHECK_STR_CONTAINS(why, "state");
	json_decref(o);
}

TEST_MAIN(TEST(test_kinds_map_to_zones_whole_and_subtree),
	  TEST(test_directory_renamed_is_everything),
	  TEST(test_untrusted_or_damaged_is_incomplete),
	  TEST(test_alone_entries_are_ignored), TEST(test_replicd_state_parsed))
