/*
 * backup_blob_test.c - sealed blobs and wrapped keys (backupd/crypto.h):
 * a blob opens only with its key, its kind and its id; any flipped byte is
 * refused; compression is used only when it shrinks; a key object opens
 * with its key file or passphrase and says "wrong" otherwise.
 */
#include "crypto.h"
#include "test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static struct bk_keys keys(uint8_t fill)
{
	struct bk_keys k;
	memset(k.master, fill, sizeof(k.master));
	bk_keys_derive(&k);
	return k;
}

static void test_blob_round_trip_compressed_and_raw(void)
{
	struct bk_keys k = keys(1);
	static uint8_t text[100000], noise[100000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "backup "[i % 7];
	randombytes_buf(noise, sizeof(noise));
	const uint8_t *bufs[] = {text, noise};
	for (int i = 0; i < 2; i++) {
		uint8_t id[BK_ID_LEN], ad[BK_BLOB_AD_LEN], *sealed, *out;
		size_t slen, olen;
		bk_blob_id(&k, bufs[i], sizeof(text), id);
		bk_blob_ad(BK_BLOB_DATA, id, ad);
		CHECK(bk_seal(&k, ad, sizeof(ad), bufs[i], sizeof(text), true,
			      &sealed, &slen) == 0);
		if (i == 0)
			CHECK(slen < sizeof(text) / 10); /* compressed */
		else
			CHECK(slen == sizeof(text) + BK_SEAL_OVERHEAD);
		CHECK(bk_blob_open(&k, BK_BLOB_DATA, id, sealed, slen, &out,
				   &olen) == 0);
		CHECK(olen == sizeof(text) && !memcmp(out, bufs[i], olen));
		free(out);
		free(sealed);
	}
}

static void test_tampered_swapped_or_foreign_blobs_are_refused(void)
{
	struct bk_keys k = keys(2), other = keys(3);
	uint8_t data[5000], id[BK_ID_LEN], id2[BK_ID_LEN], ad[BK_BLOB_AD_LEN];
	uint8_t *sealed, *out = NULL;
	size_t slen, olen;
	randombytes_buf(data, sizeof(data));
	bk_blob_id(&k, data, sizeof(data), id);
	bk_blob_ad(BK_BLOB_DATA, id, ad);
	CHECK(bk_seal(&k, ad, sizeof(ad), data, sizeof(data), true, &sealed,
		      &slen) == 0);
	/* every single flipped byte */
	for (size_t i = 0; i < slen; i += 97) {
		sealed[i] ^= 0x01;
		CHECK(bk_blob_open(&k, BK_BLOB_DATA, id, sealed, slen, &out,
				   &olen) == -EBADMSG);
		sealed[i] ^= 0x01;
	}
	/* another id, another kind, another key, truncated */
	memcpy(id2, id, sizeof(id2));
	id2[0] ^= 1;
	CHECK(bk_blob_open(&k, BK_BLOB_DATA, id2, sealed, slen, &out, &olen) ==
	      -EBADMSG);
	CHECK(bk_blob_open(&k, BK_BLOB_TREE, id, sealed, slen, &out, &olen) ==
	      -EBADMSG);
	CHECK(bk_blob_open(&other, BK_BLOB_DATA, id, sealed, slen, &out,
			   &olen) == -EBADMSG);
	CHECK(bk_blob_open(&k, BK_BLOB_DATA, id, sealed, 30, &out, &olen) ==
	      -EBADMSG);
	CHECK(out == NULL);
	/* ids are keyed: another repository's id of the same data differs */
	bk_blob_id(&other, data, sizeof(data), id2);
	CHECK(memcmp(id, id2, BK_ID_LEN) != 0);
	free(sealed);
}

static void test_key_object_opens_with_its_secret_only(void)
{
	struct bk_secret file = {0}, wrong = {0}, phrase = {0};
	uint8_t master[BK_KEY_LEN], got[BK_KEY_LEN];
	char *json = NULL, why[200];
	const char *repo = "ab";
	randombytes_buf(master, sizeof(master));
	memset(file.key, 7, sizeof(file.key));
	memset(wrong.key, 8, sizeof(wrong.key));
	CHECK(bk_key_wrap(&file, master, repo, &json) == 0);
	CHECK(bk_key_unwrap(&file, (uint8_t *)json, strlen(json), repo, got,
			    why, sizeof(why)) == 0);
	CHECK(!memcmp(got, master, sizeof(got)));
	CHECK(bk_key_unwrap(&wrong, (uint8_t *)json, strlen(json), repo, got,
			    why, sizeof(why)) == -EACCES);
	CHECK_STR_CONTAINS(why, "wrong key file");
	CHECK(bk_key_unwrap(&file, (uint8_t *)json, strlen(json), "cd", got,
			    why, sizeof(why)) == -EBADMSG);
	free(json);

	phrase.passphrase = true;
	memcpy(phrase.phrase, "correct horse", 13);
	phrase.phrase_len = 13;
	phrase.opslimit = crypto_pwhash_OPSLIMIT_MIN;
	phrase.memlimit = crypto_pwhash_MEMLIMIT_MIN;
	CHECK(bk_key_wrap(&phrase, master, repo, &json) == 0);
	CHECK_STR_CONTAINS(json, "argon2id");
	CHECK(bk_key_unwrap(&phrase, (uint8_t *)json, strlen(json), repo, got,
			    why, sizeof(why)) == 0);
	CHECK(!memcmp(got, master, sizeof(got)));
	phrase.phrase[0] = 'C';
	CHECK(bk_key_unwrap(&phrase, (uint8_t *)json, strlen(json), repo, got,
			    why, sizeof(why)) == -EACCES);
	CHECK_STR_CONTAINS(why, "wrong passphrase");
	free(json);
	/* a key object asking for a huge memlimit is refused, not obeyed */
	char greedy[512], zeros[147];
	memset(zeros, '0', 146);
	zeros[146] = 0;
	snprintf(greedy, sizeof(greedy),
		 "{\"version\":1,\"repository\":\"ab\",\"kdf\":"
		 "\"argon2id\",\"opslimit\":3,\"memlimit\":109951162777600,"
		 "\"salt\":\"00000000000000000000000000000000\",\"wrapped\":"
		 "\"%s\"}",
		 zeros);
	CHECK(bk_key_unwrap(&phrase, (const uint8_t *)greedy, strlen(greedy),
			    repo, got, why, sizeof(why)) == -EBADMSG);
	CHECK_STR_CONTAINS(why, "memlimit out of range");
}

int main(int argc, char **argv);
static void init(void) __attribute__((constructor));
static void init(void)
{
	if (sodium_init() < 0)
		abort();
}

TEST_MAIN(TEST(test_blob_round_trip_compressed_and_raw),
	  TEST(test_tampered_swapped_or_foreign_blobs_are_refused),
	  TEST(test_key_object_opens_with_its_secret_only))
