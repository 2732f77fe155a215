/*
 * chan.h - the secure channel between two replicd: handshake and stream.
 *
 * Pure (no I/O, no clock): the connection code (peer.c) moves the bytes,
 * unit tests drive both ends directly. Every message on the TCP stream is
 * a frame: u32 big-endian length, then that many bytes (peer.c bounds it).
 *
 * Handshake, three frames (docs/protocol.md, "Replication"):
 *
 *   client -> server  HELLO   "SKR1" ver=1 type=1 cluster module node nonce_c
 *   server -> client  HELLO   "SKR1" ver=1 type=2 cluster module node nonce_s
 *                             mac_s = HMAC(Kh, "S" | hello_c | hello_s-so-far)
 *   client -> server  AUTH    "SKR1" ver=1 type=3
 *                             mac_c = HMAC(Kh, "C" | hello_c | hello_s)
 *
 * Names are a length byte + [A-Za-z0-9_.-]{1,32}; nonces are 32 random
 * bytes; Kh = BLAKE2b(key = cluster key, "skyha replicd v1 handshake").
 * Each side checks cluster, module and that the node is its configured
 * peer; the MACs prove both hold the cluster key and bind both fresh
 * nonces, so a recorded handshake cannot be replayed. Session keys, one per
 * direction: BLAKE2b(key = cluster key, "c2s"|"s2c" | hello_c | hello_s).
 *
 * Then each side sends a 12-byte random IV as one frame, and every later
 * frame is one sealed message: AES-256-GCM (OpenSSL: several times faster
 * than the XChaCha20-Poly1305 of libsodium 1.0.18 on CPUs with AES
 * instructions, and replication is bound by it) under the direction's
 * session key, nonce = IV xor the message's 64-bit counter, 16-byte tag.
 * Each side counts messages, so a replayed, reordered, dropped or forged
 * frame fails to open and ends the connection. After REPLICD_REKEY_BYTES
 * of plaintext both sides replace the key with BLAKE2b(key = key,
 * "rekey") and restart the counter, keeping each key far below AES-GCM's
 * usage limits.
 *
 * Capabilities, within version 3 (so a replicd that has none still talks
 * to one that has some): a HELLO's nonce may end with the 6 bytes
 * "SKRCAP" and a u16 big-endian set of REPLICD_CAP_* bits, its first 24
 * bytes staying random. A nonce without that tail (an older replicd's,
 * or one whose chance tail matches: 1 in 2^48) offers none. The nonce is
 * in both MACs, so the capabilities are as authenticated as the rest of
 * the handshake. Each side uses a capability only if the other offered it.
 *
 * REPLICD_CAP_DIRS puts in the nonce, at REPLICD_DIRS_AT (its first 16
 * bytes stay random), the first 8 bytes of BLAKE2b-128(the last component
 * of each of replicd.directories, in order, each ended by a NUL):
 * operations name a directory by its index in that list, so two nodes
 * whose lists differ (another order, one more, another name) would apply
 * one directory's changes to another. Last components only: two nodes
 * sharing one mount namespace (the lab) have .../node1/data and
 * .../node2/data. When both offer it and the digests
 * differ, each side refuses the session once the peer's MAC verified
 * (-ENOTDIR): the client from the server's HELLO (it still sends its AUTH,
 * with dirs_differ set, so that the server verifies and refuses too), the
 * server from the AUTH.
 */
#ifndef REPLICD_CHAN_H
#define REPLICD_CHAN_H

#include "config.h"
#include "op.h"

#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_HS_MAGIC "SKR1"
#define REPLICD_HS_VERSION                                                     \
	3 /* 2: AES-256-GCM; 3: handles in 11-15, ROP_GENERATION */
#define REPLICD_HS_MAX	      256
#define REPLICD_NONCE	      32
#define REPLICD_MAC	      32
#define REPLICD_STREAM_HEADER 12 /* the IV */
#define REPLICD_STREAM_ABYTES 16 /* the GCM tag */
#define REPLICD_REKEY_BYTES   (16ull << 30)

/* Capabilities offered in the HELLO's nonce (see above). */
#define REPLICD_CAP_MAGIC "SKRCAP"
#define REPLICD_CAP_AT	  (REPLICD_NONCE - 8)
#define REPLICD_CAP_ZSTD  0x1 /* takes write-z (zframe.h) */
/* As secondary: fences by epoch (wants op 31 first, epoch.h); as primary:
 * sends it. Offered by every replicd that has it. */
#define REPLICD_CAP_EPOCH 0x2
/* The directories' digest in the nonce (see above). */
#define REPLICD_CAP_DIRS 0x4
#define REPLICD_DIRS_AT	 (REPLICD_CAP_AT - 8)

enum { RHS_CLIENT_HELLO = 1, RHS_SERVER_HELLO = 2, RHS_CLIENT_AUTH = 3 };

struct replicd_hs {
	bool client;
	int step; /* messages handled so far */
	uint8_t key[SKY_KEY_BYTES];
	char cluster[SKY_NAME_MAX + 1];
	char module[SKY_NAME_MAX + 1];
	char self[SKY_NAME_MAX + 1];
	char peer[SKY_NAME_MAX + 1]; /* the only node we accept */
	uint8_t nonce[REPLICD_NONCE];
	uint8_t hello_c[REPLICD_HS_MAX];
	size_t hello_c_len;
	uint8_t hello_s[REPLICD_HS_MAX];
	size_t hello_s_len;
	bool done;
	uint8_t tx_key[32], rx_key[32];
	uint16_t caps;	    /* ours, offered: set after init, before HELLO */
	uint16_t peer_caps; /* the peer's: trust once done */
	uint8_t dirs[8];    /* ours (REPLICD_CAP_DIRS): replicd_hs_set_dirs */
	bool dirs_differ;   /* both offered CAP_DIRS, digests differ */
};

/* nonce NULL: random (tests pass fixed ones). */
void replicd_hs_init(struct replicd_hs *hs, bool client,
		     const uint8_t key[SKY_KEY_BYTES], const char *cluster,
		     const char *module, const char *self, const char *peer,
		     const uint8_t *nonce);
void replicd_hs_wipe(struct replicd_hs *hs);
/* Offer REPLICD_CAP_DIRS with the digest of these directories (in order);
 * after init, before the HELLO. */
void replicd_hs_set_dirs(struct replicd_hs *hs, const char (*dirs)[PATH_MAX],
			 size_t n);

/*
 * Each returns the length of the message to send (or 0 for none) or:
 * -EBADMSG malformed or out of order, -EXDEV another cluster or module,
 * -ESRCH a node that is not our configured peer, -EKEYREJECTED a MAC that
 * does not verify (the peer does not hold our cluster key, or a replay),
 * -ENOTDIR (server_finish) the peer's replicd.directories differ from ours.
 * client_finish returns its AUTH even then, with dirs_differ set: send it,
 * then refuse the session.
 */
int replicd_hs_client_hello(struct replicd_hs *hs, uint8_t *out, size_t size);
int replicd_hs_server_reply(struct replicd_hs *hs, const uint8_t *in,
			    size_t len, uint8_t *out, size_t size);
int replicd_hs_client_finish(struct replicd_hs *hs, const uint8_t *in,
			     size_t len, uint8_t *out, size_t size);
int replicd_hs_server_finish(struct replicd_hs *hs, const uint8_t *in,
			     size_t len);

/* One direction of the stream. */
struct replicd_stream_dir {
	void *ctx; /* EVP_CIPHER_CTX, keyed */
	uint8_t key[32];
	uint8_t iv[REPLICD_STREAM_HEADER];
	uint64_t counter; /* messages under this key */
	uint64_t bytes;	  /* plaintext under this key */
};

struct replicd_stream {
	struct replicd_stream_dir tx, rx;
	bool tx_ready, rx_ready;
	uint64_t rekey_bytes; /* REPLICD_REKEY_BYTES; tests set less */
};
/* Returns 0, or -ENOMEM (no cipher context). */
int replicd_stream_tx_init(struct replicd_stream *s, const uint8_t key[32],
			   uint8_t header[REPLICD_STREAM_HEADER]);
int replicd_stream_rx_init(struct replicd_stream *s, const uint8_t key[32],
			   const uint8_t *header, size_t len);
/* Free the contexts and wipe the keys (a zeroed stream is fine too). */
void replicd_stream_free(struct replicd_stream *s);
/* Returns the sealed length (len + ABYTES) or -EMSGSIZE. */
int replicd_stream_seal(struct replicd_stream *s, const uint8_t *pt, size_t len,
			uint8_t *out, size_t size);
/* Returns the plaintext length or -EBADMSG (forged, replayed, reordered). */
int replicd_stream_open(struct replicd_stream *s, const uint8_t *ct, size_t len,
			uint8_t *out, size_t size);

#endif
