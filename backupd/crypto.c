/*
 * crypto.c - keys, ids and sealed blobs of the repository (crypto.h).
 * libsodium for everything cryptographic, zstd for compression.
 */
#include "crypto.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#define KDF_CONTEXT  "skybkup1"
#define KDF_ID_KEY   1
#define KDF_SEAL_KEY 2
#define NONCE_LEN    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN	     crypto_aead_xchacha20poly1305_ietf_ABYTES
#define ZSTD_LEVEL   3
#define SALT_LEN     16
/* A tampered key object must not make us spend a minute or a GiB. */
#define OPSLIMIT_MAX 16ULL
#define MEMLIMIT_MAX (1024ULL << 20)

_Static_assert(BK_SEAL_OVERHEAD == NONCE_LEN + TAG_LEN + 1, "seal overhead");

void bk_keys_derive(struct bk_keys *k)
{
	crypto_kdf_derive_from_key(k->id_key, sizeof(k->id_key), KDF_ID_KEY,
				   KDF_CONTEXT, k->master);
	crypto_kdf_derive_from_key(k->seal_key, sizeof(k->seal_key),
				   KDF_SEAL_KEY, KDF_CONTEXT, k->master);
}

void bk_keys_wipe(struct bk_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

void bk_blob_id(const struct bk_keys *k, const void *buf, size_t len,
		uint8_t id[BK_ID_LEN])
{
	crypto_generichash(id, BK_ID_LEN, buf, len, k->id_key,
			   sizeof(k->id_key));
}

void bk_blob_ad(enum bk_blob_kind kind, const uint8_t id[BK_ID_LEN],
		uint8_t ad[BK_BLOB_AD_LEN])
{
	ad[0] = (uint8_t)kind;
	memcpy(ad + 1, id, BK_ID_LEN);
}

/* nonce | AEAD(flag | payload) under key. */
static int aead_seal(const uint8_t key[32], const void *ad, size_t ad_len,
		     uint8_t flag, const void *payload, size_t len,
		     uint8_t **out, size_t *out_len)
{
	size_t total = NONCE_LEN + 1 + len + TAG_LEN;
	uint8_t *o = malloc(total);
	_cleanup_free_ uint8_t *plain = malloc(len + 1);
	if (!o || !plain) {
		free(o);
		return -ENOMEM;
	}
	plain[0] = flag;
	if (len)
		memcpy(plain + 1, payload, len);
	randombytes_buf(o, NONCE_LEN);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		o + NONCE_LEN, &clen, plain, len + 1, ad, ad_len, NULL, o, key);
	sodium_memzero(plain, len + 1);
	*out = o;
	*out_len = total;
	return 0;
}

/* The flag and payload of a sealed buffer; *plain malloc'ed (+1 NUL). */
static int aead_open(const uint8_t key[32], const void *ad, size_t ad_len,
		     const uint8_t *buf, size_t len, uint8_t **plain,
		     size_t *plain_len)
{
	if (len < NONCE_LEN + TAG_LEN + 1)
		return -EBADMSG;
	uint8_t *p = malloc(len - NONCE_LEN - TAG_LEN + 1);
	if (!p)
		return -ENOMEM;
	unsigned long long plen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    p, &plen, NULL, buf + NONCE_LEN, len - NONCE_LEN, ad,
		    ad_len, buf, key) != 0) {
		free(p);
		return -EBADMSG;
	}
	p[plen] = 0;
	*plain = p;
	*plain_len = (size_t)plen;
	return 0;
}

int bk_seal(const struct bk_keys *k, const void *ad, size_t ad_len,
	    const void *buf, size_t len, bool compress, uint8_t **out,
	    size_t *out_len)
{
	if (compress && len >= 64) {
		size_t bound = ZSTD_compressBound(len);
		_cleanup_free_ uint8_t *z = malloc(bound);
		if (!z)
			return -ENOMEM;
		size_t zlen = ZSTD_compress(z, bound, buf, len, ZSTD_LEVEL);
		if (!ZSTD_isError(zlen) && zlen < len)
			return aead_seal(k->seal_key, ad, ad_len, 1, z, zlen,
					 out, out_len);
	}
	return aead_seal(k->seal_key, ad, ad_len, 0, buf, len, out, out_len);
}

int bk_open(const struct bk_keys *k, const void *ad, size_t ad_len,
	    const uint8_t *buf, size_t len, size_t max, uint8_t **out,
	    size_t *out_len)
{
	uint8_t *plain = NULL;
	size_t plen = 0;
	int r = aead_open(k->seal_key, ad, ad_len, buf, len, &plain, &plen);
	if (r < 0)
		return r;
	if (plain[0] == 0) {
		if (plen - 1 > max) {
			free(plain);
			return -EBADMSG;
		}
		memmove(plain, plain + 1, plen - 1);
		plain[plen - 1] = 0;
		*out = plain;
		*out_len = plen - 1;
		return 0;
	}
	if (plain[0] != 1) {
		free(plain);
		return -EBADMSG;
	}
	unsigned long long size = ZSTD_getFrameContentSize(plain + 1, plen - 1);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size == ZSTD_CONTENTSIZE_ERROR || size > max) {
		free(plain);
		return -EBADMSG;
	}
	uint8_t *d = malloc((size_t)size + 1);
	if (!d) {
		free(plain);
		return -ENOMEM;
	}
	size_t dlen = ZSTD_decompress(d, (size_t)size, plain + 1, plen - 1);
	free(plain);
	if (ZSTD_isError(dlen) || dlen != size) {
		free(d);
		return -EBADMSG;
	}
	d[dlen] = 0;
	*out = d;
	*out_len = dlen;
	return 0;
}

int bk_blob_open(const struct bk_keys *k, enum bk_blob_kind kind,
		 const uint8_t id[BK_ID_LEN], const uint8_t *buf, size_t len,
		 uint8_t **out, size_t *out_len)
{
	uint8_t ad[BK_BLOB_AD_LEN], check[BK_ID_LEN];
	bk_blob_ad(kind, id, ad);
	int r = bk_open(k, ad, sizeof(ad), buf, len, BK_OBJECT_MAX, out,
			out_len);
	if (r < 0)
		return r;
	bk_blob_id(k, *out, *out_len, check);
	if (sodium_memcmp(check, id, BK_ID_LEN) != 0) {
		free(*out);
		*out = NULL;
		return -EBADMSG;
	}
	return 0;
}

void bk_hex(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

int bk_unhex(const char *hex, uint8_t *out, size_t len)
{
	if (!hex || strlen(hex) != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < 2 * len; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -EINVAL;
	}
	size_t got = 0;
	if (sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, NULL) != 0 ||
	    got != len)
		return -EINVAL;
	return 0;
}

void bk_content_id(const void *buf, size_t len, char hex[BK_HEX_ID])
{
	uint8_t h[BK_ID_LEN];
	crypto_generichash(h, sizeof(h), buf, len, NULL, 0);
	bk_hex(h, sizeof(h), hex);
}

static int wrapping_key(const struct bk_secret *s, const uint8_t *salt,
			unsigned long long ops, size_t mem, uint8_t out[32])
{
	if (!s->passphrase) {
		crypto_generichash(out, 32, salt, SALT_LEN, s->key,
				   sizeof(s->key));
		return 0;
	}
	if (crypto_pwhash(out, 32, s->phrase, s->phrase_len, salt, ops, mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

static void key_ad(const char *repo_id, char *ad, size_t size)
{
	snprintf(ad, size, "skyha-backup key v1 %s", repo_id);
}

int bk_key_wrap(const struct bk_secret *s, const uint8_t master[BK_KEY_LEN],
		const char *repo_id, char **json_out)
{
	uint8_t salt[SALT_LEN], wk[32];
	unsigned long long ops =
		s->opslimit ? s->opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem =
		s->memlimit ? s->memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	randombytes_buf(salt, sizeof(salt));
	int r = wrapping_key(s, salt, ops, mem, wk);
	if (r < 0)
		return r;
	char ad[128];
	key_ad(repo_id, ad, sizeof(ad));
	_cleanup_free_ uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	r = aead_seal(wk, ad, strlen(ad), 0, master, BK_KEY_LEN, &sealed,
		      &sealed_len);
	sodium_memzero(wk, sizeof(wk));
	if (r < 0)
		return r;
	char salt_hex[2 * SALT_LEN + 1];
	_cleanup_free_ char *wrapped = malloc(2 * sealed_len + 1);
	if (!wrapped)
		return -ENOMEM;
	bk_hex(salt, sizeof(salt), salt_hex);
	bk_hex(sealed, sealed_len, wrapped);
	json_t *j = json_pack("{s:i,s:s,s:s,s:I,s:I,s:s,s:s}", "version", 1,
			      "repository", repo_id, "kdf",
			      s->passphrase ? "argon2id" : "keyfile",
			      "opslimit", (json_int_t)(s->passphrase ? ops : 0),
			      "memlimit", (json_int_t)(s->passphrase ? mem : 0),
			      "salt", salt_hex, "wrapped", wrapped);
	if (!j)
		return -ENOMEM;
	*json_out = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(j);
	return *json_out ? 0 : -ENOMEM;
}

int bk_key_unwrap(const struct bk_secret *s, const uint8_t *buf, size_t len,
		  const char *repo_id, uint8_t master[BK_KEY_LEN], char *why,
		  size_t why_size)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			       &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return sky_refuse(why, why_size, "key object: not JSON"),
		       -EBADMSG;
	}
	int r = -EBADMSG;
	const char *kdf = json_string_value(json_object_get(j, "kdf"));
	const char *salt_hex = json_string_value(json_object_get(j, "salt"));
	const char *wrapped = json_string_value(json_object_get(j, "wrapped"));
	const char *repo = json_string_value(json_object_get(j, "repository"));
	json_t *ops = json_object_get(j, "opslimit");
	json_t *mem = json_object_get(j, "memlimit");
	uint8_t salt[SALT_LEN], sealed[NONCE_LEN + 1 + BK_KEY_LEN + TAG_LEN],
		wk[32];
	if (json_integer_value(json_object_get(j, "version")) != 1) {
		sky_refuse(why, why_size, "key object: version not 1");
		goto out;
	}
	if (!kdf || (strcmp(kdf, "keyfile") && strcmp(kdf, "argon2id"))) {
		sky_refuse(why, why_size, "key object: kdf unknown");
		goto out;
	}
	if (!repo || strcmp(repo, repo_id)) {
		sky_refuse(why, why_size, "key object: for another repository");
		goto out;
	}
	if (bk_unhex(salt_hex, salt, sizeof(salt)) < 0 ||
	    bk_unhex(wrapped, sealed, sizeof(sealed)) < 0) {
		sky_refuse(why, why_size, "key object: salt or wrapped bad");
		goto out;
	}
	bool is_phrase = strcmp(kdf, "argon2id") == 0;
	if (is_phrase != s->passphrase) {
		r = -EACCES;
		sky_refuse(why, why_size,
			   "the repository's key is for a %s, the "
			   "configuration gives a %s",
			   is_phrase ? "passphrase" : "key file",
			   s->passphrase ? "passphrase" : "key file");
		goto out;
	}
	json_int_t o = json_integer_value(ops), m = json_integer_value(mem);
	if (is_phrase && (o < (json_int_t)crypto_pwhash_OPSLIMIT_MIN ||
			  (unsigned long long)o > OPSLIMIT_MAX ||
			  m < (json_int_t)crypto_pwhash_MEMLIMIT_MIN ||
			  (unsigned long long)m > MEMLIMIT_MAX)) {
		sky_refuse(why, why_size,
			   "key object: opslimit or memlimit out of range");
		goto out;
	}
	r = wrapping_key(s, salt, (unsigned long long)o, (size_t)m, wk);
	if (r < 0) {
		sky_refuse(why, why_size, "key derivation failed");
		goto out;
	}
	char ad[128];
	key_ad(repo_id, ad, sizeof(ad));
	uint8_t *plain = NULL;
	size_t plen = 0;
	r = aead_open(wk, ad, strlen(ad), sealed, sizeof(sealed), &plain,
		      &plen);
	sodium_memzero(wk, sizeof(wk));
	if (r < 0 || plen != BK_KEY_LEN + 1 || plain[0] != 0) {
		if (plain)
			sodium_memzero(plain, plen);
		free(plain);
		r = -EACCES;
		sky_refuse(why, why_size, "wrong %s for this repository",
			   s->passphrase ? "passphrase" : "key file");
		goto out;
	}
	memcpy(master, plain + 1, BK_KEY_LEN);
	sodium_memzero(plain, plen);
	free(plain);
	r = 0;
out:
	json_decref(j);
	return r;
}
