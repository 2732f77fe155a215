/*
 * seed_backupd.c - seeds for backupd: the object stores' list pages and
 * error replies (S3 XML, Azure XML), and each object of the repository
 * (tree, pack header, index, snapshot, lock, changes, key, sealed blob)
 * made by the real encoders and tagged by its first byte as
 * backup_objects_fuzz.c routes them.
 */
#include "pack.h"
#include "seed.h"
#include "snapshot.h"
#include "tree.h"
#include "xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- backupd's object stores: list pages and errors ---- */

static int count_entry(void *ctx, const char *key, uint64_t size)
{
	(void)key, (void)size;
	++*(int *)ctx;
	return 0;
}

void seed_object_stores(void)
{
	static const char s3_page[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
		"2006-03-01/\"><Name>skyha-bk</Name><Prefix>bk/data/</Prefix>"
		"<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
		"<IsTruncated>true</IsTruncated><Contents><Key>bk/data/aa/"
		"obj-0001</Key><LastModified>2026-12-07T03:00:00.000Z"
		"</LastModified><ETag>&quot;d41d8&quot;</ETag><Size>11</Size>"
		"<StorageClass>STANDARD</StorageClass></Contents><Contents>"
		"<Key>bk/data/a&amp;b</Key><Size>20971520</Size></Contents>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4"
		"vbOwM=</NextContinuationToken></ListBucketResult>";
	static const char blob_page[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
		"ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
		"ContainerName=\"skyha-bk\"><Prefix>bk/</Prefix><Blobs><Blob>"
		"<Name>bk/config</Name><Properties><Content-Length>77"
		"</Content-Length><BlobType>BlockBlob</BlobType></Properties>"
		"</Blob><Blob><Name>bk/keys/x</Name><Properties>"
		"<Content-Length>0</Content-Length></Properties></Blob></Blobs>"
		"<NextMarker>2!80!MDAwMDE2IWJrL2tleXMveCEwMDAwMjgh</NextMarker>"
		"</EnumerationResults>";
	static const char s3_error[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
		"SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match the signature you provided."
		"</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char upload[] =
		"<InitiateMultipartUploadResult><Bucket>skyha-bk</Bucket>"
		"<Key>bk/data/02/large</"
		"Key><UploadId>VXBsb2FkIElEIGZvciA2aWWpbm"
		"cncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
		"</InitiateMultipartUploadResult>";
	static const char blob_error[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
		"AuthorizationFailure</Code><Message>Server failed to "
		"authenticate the request.\nRequestId:e2b0094c\nTime:2026-12-"
		"07T03:00:00.000Z</Message></Error>";
	char next[256];
	int n = 0;

	if (bk_xml_s3_list(s3_page, sizeof(s3_page) - 1, count_entry, &n, next,
			   sizeof(next)) == 0 &&
	    n == 2)
		seed_put_text("s3list", "page", s3_page);
	else
		seed_refused("s3list", "page");
	seed_put_text("s3list", "error", s3_error);
	seed_put_text("s3list", "upload", upload);
	n = 0;
	if (bk_xml_blob_list(blob_page, sizeof(blob_page) - 1, count_entry, &n,
			     next, sizeof(next)) == 0 &&
	    n == 2)
		seed_put_text("bloblist", "page", blob_page);
	else
		seed_refused("bloblist", "page");
	seed_put_text("bloblist", "error", blob_error);
}

/* backupd: a tree, and each object backup_objects_fuzz.c routes by its
 * first byte, made by the real encoders. */
static void put_tagged(const char *name, uint8_t tag, const void *p, size_t len)
{
	uint8_t *b = malloc(len + 1);
	b[0] = tag;
	memcpy(b + 1, p, len);
	seed_put("backup_objects", name, b, len + 1);
	free(b);
}

void seed_backup_objects(void)
{
	struct bk_tree t = {0};
	const char *names[] = {"dir", "file", "link"};
	const uint8_t types[] = {BK_DIR, BK_FILE, BK_SYMLINK};
	for (int i = 0; i < 3; i++) {
		struct bk_entry e = {0};
		e.name = strdup(names[i]);
		e.type = types[i];
		e.mode = 0644;
		e.mtime_ns = 1700000000000000000LL;
		if (types[i] == BK_SYMLINK)
			e.target = strdup("file");
		if (types[i] == BK_FILE) {
			e.size = 200000;
			e.chunk_count = 1;
			e.chunks = calloc(1, sizeof(*e.chunks));
			e.chunks[0].off = 4096;
			e.chunks[0].len = 65536;
			e.xattr_count = 1;
			e.xattrs = calloc(1, sizeof(*e.xattrs));
			e.xattrs[0].name = strdup("user.a");
			e.xattrs[0].value = (uint8_t *)strdup("1");
			e.xattrs[0].len = 1;
		}
		bk_tree_add(&t, &e);
	}
	uint8_t *buf;
	size_t len;
	struct bk_tree back;
	char why[200];
	if (bk_tree_encode(&t, &buf, &len) == 0 &&
	    bk_tree_parse(buf, len, &back, why, sizeof(why)) == 0) {
		seed_put("backup_tree", "tree", buf, len);
		bk_tree_free(&back);
		free(buf);
	} else {
		seed_refused("backup_tree", "tree");
	}
	bk_tree_free(&t);

	struct bk_pack_entry e[2] = {{BK_BLOB_DATA, {1}, 0, 1000},
				     {BK_BLOB_TREE, {2}, 1000, 300}};
	if (bk_packhdr_encode(e, 2, &buf, &len) == 0) {
		put_tagged("packhdr", 0, buf, len);
		free(buf);
	}
	struct bk_index_pack ip = {{7}, e, 2};
	if (bk_index_encode(&ip, 1, &buf, &len) == 0) {
		put_tagged("index", 1, buf, len);
		free(buf);
	}
	struct bk_snapshot s = {.time_ms = 1700000000000, .path_count = 1};
	char *json;
	snprintf(s.host, sizeof(s.host), "node1");
	snprintf(s.paths[0], sizeof(s.paths[0]), "/srv/data");
	if (bk_snapshot_encode(&s, &json) == 0) {
		put_tagged("snapshot", 2, json, strlen(json));
		free(json);
	}
	const char *lock = "{\"created\":1,\"exclusive\":false,\"expires\":121,"
			   "\"holder\":\"backup\",\"host\":\"n\",\"pid\":3}";
	put_tagged("lock", 3, lock, strlen(lock));
	const char *changes =
		"complete\n0 zones 1+2,9+1 db/file\n1 whole etc\n";
	put_tagged("changes", 4, changes, strlen(changes));
	struct bk_secret sec = {0};
	uint8_t master[32] = {1};
	memset(sec.key, 0x42, sizeof(sec.key));
	if (bk_key_wrap(&sec, master, "fuzz", &json) == 0) {
		put_tagged("key", 5, json, strlen(json));
		free(json);
	}
	struct bk_keys k;
	uint8_t id[BK_ID_LEN] = {0}, ad[BK_BLOB_AD_LEN], *sealed;
	static uint8_t text[4000];
	memset(text, 'a', sizeof(text));
	memset(k.master, 0x42, sizeof(k.master));
	bk_keys_derive(&k);
	/* sealed under the zero id the target opens with (the id check
	 * after it fails: the AEAD and zstd are what is fuzzed) */
	bk_blob_ad(BK_BLOB_DATA, id, ad);
	if (bk_seal(&k, ad, sizeof(ad), text, sizeof(text), true, &sealed,
		    &len) == 0) {
		put_tagged("blob", 6, sealed, len);
		free(sealed);
	}
}
