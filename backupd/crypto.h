/*
 * crypto.h - the repository's keys and sealed blobs (docs/backup.md,
 * "Repository format").
 *
 * One master key (32 random bytes) per repository, kept wrapped in
 * keys/<id> under a key derived from a key file (32 bytes, hex) or a
 * passphrase (Argon2id). From it, crypto_kdf derives the chunk-id key
 * (keyed BLAKE2b-256 of a blob's plaintext: its id) and the sealing key
 * (XChaCha20-Poly1305). A sealed blob is
 *   nonce (24) | AEAD(flag u8 | payload) (payload zstd when flag is 1)
 * with "kind u8 | blob id (32)" as associated data, so a blob cannot be
 * swapped for another or a tree for data. Other encrypted objects (pack
 * headers, index, snapshots) use the same seal with a fixed label as
 * associated data.
 */
#ifndef BACKUPD_CRYPTO_H
#define BACKUPD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_ID_LEN	 32
#define BK_HEX_ID	 (2 * BK_ID_LEN + 1)
#define BK_KEY_LEN	 32
#define BK_SEAL_OVERHEAD (24 + 16 + 1)
/* The largest plaintext anything seals: a tree or an index. */
#define BK_OBJECT_MAX (64u << 20)

enum bk_blob_kind { BK_BLOB_DATA = 0, BK_BLOB_TREE = 1 };

struct bk_keys {
	uint8_t master[BK_KEY_LEN];
	uint8_t id_key[BK_KEY_LEN];
	uint8_t seal_key[BK_KEY_LEN];
};

/* Derive id_key and seal_key from master. */
void bk_keys_derive(struct bk_keys *k);
void bk_keys_wipe(struct bk_keys *k);

/* The id of a blob's plaintext. */
void bk_blob_id(const struct bk_keys *k, const void *buf, size_t len,
		uint8_t id[BK_ID_LEN]);

/*
 * Seal a blob: compressed with zstd when that shrinks it. *out malloc'ed.
 * ad/ad_len: the associated data (bk_blob_ad for blobs).
 */
int bk_seal(const struct bk_keys *k, const void *ad, size_t ad_len,
	    const void *buf, size_t len, bool compress, uint8_t **out,
	    size_t *out_len);
/*
 * Open a sealed buffer: -EBADMSG when it fails authentication (tampered,
 * another key, another id), or its payload does not decompress to at
 * most max bytes. *out malloc'ed (+1 NUL byte, not counted).
 */
int bk_open(const struct bk_keys *k, const void *ad, size_t ad_len,
	    const uint8_t *buf, size_t len, size_t max, uint8_t **out,
	    size_t *out_len);

/* Associated data of a blob: kind | id. */
#define BK_BLOB_AD_LEN (1 + BK_ID_LEN)
void bk_blob_ad(enum bk_blob_kind kind, const uint8_t id[BK_ID_LEN],
		uint8_t ad[BK_BLOB_AD_LEN]);
/* Open a blob and check its id is the keyed hash of what came out. */
int bk_blob_open(const struct bk_keys *k, enum bk_blob_kind kind,
		 const uint8_t id[BK_ID_LEN], const uint8_t *buf, size_t len,
		 uint8_t **out, size_t *out_len);

void bk_hex(const uint8_t *in, size_t len, char *out);
int bk_unhex(const char *hex, uint8_t *out, size_t len);
/* Unkeyed BLAKE2b-256 of an object's stored bytes: its name. */
void bk_content_id(const void *buf, size_t len, char hex[BK_HEX_ID]);

/*
 * The key object keys/<id> (JSON, docs/backup.md): wrap the master key
 * under a key file's bytes or a passphrase (Argon2id with opslimit,
 * memlimit recorded). Unwrap returns -EACCES when the secret is wrong,
 * -EBADMSG when the object is malformed (why says which field).
 */
struct bk_secret {
	bool passphrase;   /* else a 32-byte key file */
	uint8_t key[32];   /* key file */
	char phrase[1024]; /* passphrase */
	size_t phrase_len;
	unsigned long long opslimit; /* 0: libsodium's interactive */
	size_t memlimit;
};
int bk_key_wrap(const struct bk_secret *s, const uint8_t master[BK_KEY_LEN],
		const char *repo_id, char **json_out);
int bk_key_unwrap(const struct bk_secret *s, const uint8_t *buf, size_t len,
		  const char *repo_id, uint8_t master[BK_KEY_LEN], char *why,
		  size_t why_size);

#endif
