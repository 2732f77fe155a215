/*
 * chan.c - handshake and sealed stream between two replicd (see chan.h).
 */
#include "chan.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

static const char hs_context[] = "skyha replicd v1 handshake";

void replicd_hs_init(struct replicd_hs *hs, bool client,
		     const uint8_t key[SKY_KEY_BYTES], const char *cluster,
		     const char *module, const char *self, const char *peer,
		     const uint8_t *nonce)
{
	memset(hs, 0, sizeof(*hs));
	hs->client = client;
	memcpy(hs->key, key, SKY_KEY_BYTES);
	sky_strlcpy(hs->cluster, cluster, sizeof(hs->cluster));
	sky_strlcpy(hs->module, module, sizeof(hs->module));
	sky_strlcpy(hs->self, self, sizeof(hs->self));
	sky_strlcpy(hs->peer, peer, sizeof(hs->peer));
	if (nonce)
		memcpy(hs->nonce, nonce, REPLICD_NONCE);
	else
		randombytes_buf(hs->nonce, REPLICD_NONCE);
}

void replicd_hs_wipe(struct replicd_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

static void put_name(uint8_t *out, size_t *len, const char *s)
{
	size_t n = strlen(s);
	out[(*len)++] = (uint8_t)n;
	memcpy(out + *len, s, n);
	*len += n;
}

void replicd_hs_set_dirs(struct replicd_hs *hs, const char (*dirs)[PATH_MAX],
			 size_t n)
{
	crypto_generichash_state st;
	uint8_t h[16];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (size_t i = 0; i < n; i++) {
		/* The last component: the lab's nodes, sharing one mount
		 * namespace, have .../node1/data and .../node2/data. */
		const char *slash = strrchr(dirs[i], '/');
		const char *name = slash ? slash + 1 : dirs[i];
		crypto_generichash_update(&st, (const uint8_t *)name,
					  strlen(name) + 1);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(hs->dirs, h, sizeof(hs->dirs));
	hs->caps |= REPLICD_CAP_DIRS;
}

/* Our capabilities in our nonce's tail, or a random tail without any. */
static void offer_caps(struct replicd_hs *hs)
{
	if (!hs->caps)
		return;
	if (hs->caps & REPLICD_CAP_DIRS)
		memcpy(hs->nonce + REPLICD_DIRS_AT, hs->dirs, sizeof(hs->dirs));
	memcpy(hs->nonce + REPLICD_CAP_AT, REPLICD_CAP_MAGIC, 6);
	hs->nonce[REPLICD_NONCE - 2] = (uint8_t)(hs->caps >> 8);
	hs->nonce[REPLICD_NONCE - 1] = (uint8_t)hs->caps;
}

/* The peer's capabilities from its HELLO's nonce. */
static uint16_t offered_caps(const uint8_t *nonce)
{
	if (memcmp(nonce + REPLICD_CAP_AT, REPLICD_CAP_MAGIC, 6) != 0)
		return 0;
	return (uint16_t)(nonce[REPLICD_NONCE - 2] << 8 |
			  nonce[REPLICD_NONCE - 1]);
}

/* Did both offer REPLICD_CAP_DIRS with digests that differ? */
static bool dirs_differ(const struct replicd_hs *hs, const uint8_t *nonce)
{
	return (hs->caps & REPLICD_CAP_DIRS) &&
	       (hs->peer_caps & REPLICD_CAP_DIRS) &&
	       memcmp(nonce + REPLICD_DIRS_AT, hs->dirs, sizeof(hs->dirs)) != 0;
}

/* magic, version, type, cluster, module, node, nonce (no MAC). */
static size_t build_hello(struct replicd_hs *hs, uint8_t type,
			  uint8_t out[REPLICD_HS_MAX])
{
	size_t len = 0;
	offer_caps(hs);
	memcpy(out, REPLICD_HS_MAGIC, 4);
	len = 4;
	out[len++] = REPLICD_HS_VERSION;
	out[len++] = type;
	put_name(out, &len, hs->cluster);
	put_name(out, &len, hs->module);
	put_name(out, &len, hs->self);
	memcpy(out + len, hs->nonce, REPLICD_NONCE);
	return len + REPLICD_NONCE;
}

static void hs_key(const struct replicd_hs *hs, uint8_t out[32])
{
	crypto_generichash(out, 32, (const uint8_t *)hs_context,
			   sizeof(hs_context) - 1, hs->key, SKY_KEY_BYTES);
}

/* HMAC(Kh, label | hello_c | hello_s[0..s_len)) */
static void transcript_mac(const struct replicd_hs *hs, char label,
			   size_t s_len, uint8_t out[REPLICD_MAC])
{
	crypto_auth_hmacsha256_state st;
	uint8_t kh[32];

	hs_key(hs, kh);
	crypto_auth_hmacsha256_init(&st, kh, sizeof(kh));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)&label, 1);
	crypto_auth_hmacsha256_update(&st, hs->hello_c, hs->hello_c_len);
	crypto_auth_hmacsha256_update(&st, hs->hello_s, s_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(kh, sizeof(kh));
	sodium_memzero(&st, sizeof(st));
}

static void session_keys(struct replicd_hs *hs)
{
	static const char labels[2][4] = {"c2s", "s2c"};
	uint8_t k[2][32];

	for (int i = 0; i < 2; i++) {
		crypto_generichash_state st;
		crypto_generichash_init(&st, hs->key, SKY_KEY_BYTES, 32);
		crypto_generichash_update(&st, (const uint8_t *)labels[i], 3);
		crypto_generichash_update(&st, hs->hello_c, hs->hello_c_len);
		crypto_generichash_update(&st, hs->hello_s, hs->hello_s_len);
		crypto_generichash_final(&st, k[i], 32);
	}
	memcpy(hs->tx_key, k[hs->client ? 0 : 1], 32);
	memcpy(hs->rx_key, k[hs->client ? 1 : 0], 32);
	sodium_memzero(k, sizeof(k));
	hs->done = true;
}

/* Parse a HELLO of the given type; checks names; returns the MAC offset. */
static int parse_hello(const struct replicd_hs *hs, const uint8_t *in,
		       size_t len, uint8_t type, bool with_mac, size_t *mac_at)
{
	size_t at = 6;
	char names[3][SKY_NAME_MAX + 1];

	if (len < 6 || len > REPLICD_HS_MAX ||
	    memcmp(in, REPLICD_HS_MAGIC, 4) || in[4] != REPLICD_HS_VERSION ||
	    in[5] != type)
		return -EBADMSG;
	for (int i = 0; i < 3; i++) {
		if (at >= len)
			return -EBADMSG;
		size_t n = in[at++];
		if (n > len - at || !sky_name_valid((const char *)in + at, n))
			return -EBADMSG;
		memcpy(names[i], in + at, n);
		names[i][n] = '\0';
		at += n;
	}
	if (len - at != REPLICD_NONCE + (with_mac ? REPLICD_MAC : 0))
		return -EBADMSG;
	*mac_at = at + REPLICD_NONCE;
	if (strcmp(names[0], hs->cluster) || strcmp(names[1], hs->module))
		return -EXDEV;
	if (strcmp(names[2], hs->peer) != 0)
		return -ESRCH;
	return 0;
}

int replicd_hs_client_hello(struct replicd_hs *hs, uint8_t *out, size_t size)
{
	if (!hs->client || hs->step != 0 || size < REPLICD_HS_MAX)
		return -EINVAL;
	hs->hello_c_len = build_hello(hs, RHS_CLIENT_HELLO, hs->hello_c);
	memcpy(out, hs->hello_c, hs->hello_c_len);
	hs->step = 1;
	return (int)hs->hello_c_len;
}

int replicd_hs_server_reply(struct replicd_hs *hs, const uint8_t *in,
			    size_t len, uint8_t *out, size_t size)
{
	size_t mac_at;
	int r;

	if (hs->client || hs->step != 0 || size < REPLICD_HS_MAX)
		return -EBADMSG;
	r = parse_hello(hs, in, len, RHS_CLIENT_HELLO, false, &mac_at);
	if (r < 0)
		return r;
	hs->peer_caps = offered_caps(in + mac_at - REPLICD_NONCE);
	/* Not trusted yet: checked again in server_finish. */
	hs->dirs_differ = dirs_differ(hs, in + mac_at - REPLICD_NONCE);
	memcpy(hs->hello_c, in, len);
	hs->hello_c_len = len;
	hs->hello_s_len = build_hello(hs, RHS_SERVER_HELLO, hs->hello_s);
	transcript_mac(hs, 'S', hs->hello_s_len, hs->hello_s + hs->hello_s_len);
	hs->hello_s_len += REPLICD_MAC;
	memcpy(out, hs->hello_s, hs->hello_s_len);
	hs->step = 1;
	return (int)hs->hello_s_len;
}

int replicd_hs_client_finish(struct replicd_hs *hs, const uint8_t *in,
			     size_t len, uint8_t *out, size_t size)
{
	uint8_t mac[REPLICD_MAC];
	size_t mac_at;
	int r;

	if (!hs->client || hs->step != 1 || size < 6 + REPLICD_MAC)
		return -EBADMSG;
	r = parse_hello(hs, in, len, RHS_SERVER_HELLO, true, &mac_at);
	if (r < 0)
		return r;
	memcpy(hs->hello_s, in, len);
	hs->hello_s_len = len;
	transcript_mac(hs, 'S', mac_at, mac);
	if (sodium_memcmp(mac, in + mac_at, REPLICD_MAC) != 0)
		return -EKEYREJECTED;
	hs->peer_caps = offered_caps(in + mac_at - REPLICD_NONCE);
	hs->dirs_differ = dirs_differ(hs, in + mac_at - REPLICD_NONCE);
	memcpy(out, REPLICD_HS_MAGIC, 4);
	out[4] = REPLICD_HS_VERSION;
	out[5] = RHS_CLIENT_AUTH;
	transcript_mac(hs, 'C', hs->hello_s_len, out + 6);
	session_keys(hs);
	hs->step = 2;
	return 6 + REPLICD_MAC;
}

int replicd_hs_server_finish(struct replicd_hs *hs, const uint8_t *in,
			     size_t len)
{
	uint8_t mac[REPLICD_MAC];

	if (hs->client || hs->step != 1)
		return -EBADMSG;
	if (len != 6 + REPLICD_MAC || memcmp(in, REPLICD_HS_MAGIC, 4) ||
	    in[4] != REPLICD_HS_VERSION || in[5] != RHS_CLIENT_AUTH)
		return -EBADMSG;
	transcript_mac(hs, 'C', hs->hello_s_len, mac);
	if (sodium_memcmp(mac, in + 6, REPLICD_MAC) != 0)
		return -EKEYREJECTED;
	/* The client's HELLO, its digest included, is now authenticated. */
	if (hs->dirs_differ)
		return -ENOTDIR;
	session_keys(hs);
	hs->step = 2;
	return 0;
}

/* --- the stream: AES-256-GCM with counter nonces (chan.h) ------------- */

static int dir_key(struct replicd_stream_dir *d, const uint8_t key[32],
		   bool encrypt)
{
	const EVP_CIPHER *aes = EVP_aes_256_gcm();
	if (!d->ctx && !(d->ctx = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	memcpy(d->key, key, sizeof(d->key));
	d->counter = 0;
	d->bytes = 0;
	int ok = encrypt ? EVP_EncryptInit_ex(d->ctx, aes, NULL, key, NULL)
			 : EVP_DecryptInit_ex(d->ctx, aes, NULL, key, NULL);
	return ok == 1 ? 0 : -ENOMEM;
}

/* After each message, on both sides alike: a fresh key now and then. */
static int dir_account(struct replicd_stream_dir *d, size_t len,
		       uint64_t rekey_bytes, bool encrypt)
{
	static const char label[] = "rekey";
	uint8_t next[32];

	d->counter++;
	d->bytes += len;
	if (d->bytes < rekey_bytes)
		return 0;
	crypto_generichash(next, sizeof(next), (const uint8_t *)label,
			   sizeof(label) - 1, d->key, sizeof(d->key));
	int r = dir_key(d, next, encrypt);
	sodium_memzero(next, sizeof(next));
	return r;
}

static void dir_nonce(const struct replicd_stream_dir *d,
		      uint8_t nonce[REPLICD_STREAM_HEADER])
{
	memcpy(nonce, d->iv, REPLICD_STREAM_HEADER);
	for (int i = 0; i < 8; i++)
		nonce[REPLICD_STREAM_HEADER - 1 - i] ^=
			(uint8_t)(d->counter >> (8 * i));
}

static void dir_free(struct replicd_stream_dir *d)
{
	EVP_CIPHER_CTX_free(d->ctx);
	sodium_memzero(d, sizeof(*d));
}

int replicd_stream_tx_init(struct replicd_stream *s, const uint8_t key[32],
			   uint8_t header[REPLICD_STREAM_HEADER])
{
	randombytes_buf(s->tx.iv, sizeof(s->tx.iv));
	memcpy(header, s->tx.iv, REPLICD_STREAM_HEADER);
	if (!s->rekey_bytes)
		s->rekey_bytes = REPLICD_REKEY_BYTES;
	int r = dir_key(&s->tx, key, true);
	s->tx_ready = r == 0;
	return r;
}

int replicd_stream_rx_init(struct replicd_stream *s, const uint8_t key[32],
			   const uint8_t *header, size_t len)
{
	if (len != REPLICD_STREAM_HEADER)
		return -EBADMSG;
	memcpy(s->rx.iv, header, REPLICD_STREAM_HEADER);
	if (!s->rekey_bytes)
		s->rekey_bytes = REPLICD_REKEY_BYTES;
	int r = dir_key(&s->rx, key, false);
	s->rx_ready = r == 0;
	return r;
}

void replicd_stream_free(struct replicd_stream *s)
{
	dir_free(&s->tx);
	dir_free(&s->rx);
	s->tx_ready = s->rx_ready = false;
}

int replicd_stream_seal(struct replicd_stream *s, const uint8_t *pt, size_t len,
			uint8_t *out, size_t size)
{
	uint8_t nonce[REPLICD_STREAM_HEADER];
	int n = 0, f = 0;

	if (!s->tx_ready)
		return -EINVAL;
	if (len > REPLICD_OP_MAX || size < len + REPLICD_STREAM_ABYTES)
		return -EMSGSIZE;
	dir_nonce(&s->tx, nonce);
	if (EVP_EncryptInit_ex(s->tx.ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(s->tx.ctx, out, &n, pt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(s->tx.ctx, out + n, &f) != 1 ||
	    (size_t)(n + f) != len ||
	    EVP_CIPHER_CTX_ctrl(s->tx.ctx, EVP_CTRL_GCM_GET_TAG,
				REPLICD_STREAM_ABYTES, out + len) != 1)
		return -EIO;
	int r = dir_account(&s->tx, len, s->rekey_bytes, true);
	if (r < 0) {
		s->tx_ready = false; /* no key: the connection must end */
		return r;
	}
	return (int)(len + REPLICD_STREAM_ABYTES);
}

int replicd_stream_open(struct replicd_stream *s, const uint8_t *ct, size_t len,
			uint8_t *out, size_t size)
{
	uint8_t nonce[REPLICD_STREAM_HEADER];
	int n = 0, f = 0;

	if (!s->rx_ready || len < REPLICD_STREAM_ABYTES ||
	    len - REPLICD_STREAM_ABYTES > size ||
	    len - REPLICD_STREAM_ABYTES > REPLICD_OP_MAX)
		return -EBADMSG;
	size_t plen = len - REPLICD_STREAM_ABYTES;
	dir_nonce(&s->rx, nonce);
	/* GCM decrypts before it verifies: out is garbage unless this
	 * returns a length. A failed open leaves the counter unchanged
	 * (the caller disconnects). */
	if (EVP_DecryptInit_ex(s->rx.ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(s->rx.ctx, out, &n, ct, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->rx.ctx, EVP_CTRL_GCM_SET_TAG,
				REPLICD_STREAM_ABYTES,
				(void *)(ct + plen)) != 1 ||
	    EVP_DecryptFinal_ex(s->rx.ctx, out + n, &f) != 1 ||
	    (size_t)(n + f) != plen)
		return -EBADMSG;
	if (dir_account(&s->rx, plen, s->rekey_bytes, false) < 0) {
		s->rx_ready = false;
		return -EBADMSG;
	}
	return (int)plen;
}
