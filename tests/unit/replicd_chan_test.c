/*
 * replicd_chan_test.c - the replication channel: a handshake succeeds only
 * between the two configured nodes holding the cluster key; recorded
 * handshakes and frames cannot be replayed; sealed frames that are forged,
 * replayed, reordered or truncated do not open.
 */
#include "chan.h"
#include "test.h"

static const uint8_t key[SKY_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t nonce_a[REPLICD_NONCE] = {0xa};
static const uint8_t nonce_b[REPLICD_NONCE] = {0xb};
static const uint8_t nonce_c[REPLICD_NONCE] = {0xc};

struct pair {
	struct replicd_hs c, s;
	uint8_t m1[REPLICD_HS_MAX], m2[REPLICD_HS_MAX], m3[REPLICD_HS_MAX];
	int n1, n2, n3;
};

/* Run a handshake; returns the first error (or 0). */
static int shake(struct pair *p, const uint8_t *ckey, const char *cnode,
		 const uint8_t *cn, const uint8_t *sn)
{
	replicd_hs_init(&p->c, true, ckey, "demo", "app", cnode, "node2", cn);
	replicd_hs_init(&p->s, false, key, "demo", "app", "node2", "node1", sn);
	p->n1 = replicd_hs_client_hello(&p->c, p->m1, sizeof(p->m1));
	if (p->n1 < 0)
		return p->n1;
	p->n2 = replicd_hs_server_reply(&p->s, p->m1, (size_t)p->n1, p->m2,
					sizeof(p->m2));
	if (p->n2 < 0)
		return p->n2;
	p->n3 = replicd_hs_client_finish(&p->c, p->m2, (size_t)p->n2, p->m3,
					 sizeof(p->m3));
	if (p->n3 < 0)
		return p->n3;
	return replicd_hs_server_finish(&p->s, p->m3, (size_t)p->n3);
}

static void test_handshake_between_configured_peers_agrees_on_keys(void)
{
	struct pair p;
	CHECK_EQ_INT(shake(&p, key, "node1", nonce_a, nonce_b), 0);
	CHECK(p.c.done && p.s.done);
	CHECK(memcmp(p.c.tx_key, p.s.rx_key, 32) == 0);
	CHECK(memcmp(p.c.rx_key, p.s.tx_key, 32) == 0);
	CHECK(memcmp(p.c.tx_key, p.c.rx_key, 32) != 0);
}

static void test_fresh_nonces_give_fresh_session_keys(void)
{
	struct pair p, q;
	CHECK_EQ_INT(shake(&p, key, "node1", nonce_a, nonce_b), 0);
	CHECK_EQ_INT(shake(&q, key, "node1", nonce_a, nonce_c), 0);
	CHECK(memcmp(p.c.tx_key, q.c.tx_key, 32) != 0);
}

static void test_wrong_cluster_key_is_rejected_by_both_sides(void)
{
	uint8_t other[SKY_KEY_BYTES] = {9};
	struct pair p;
	/* The client notices first: the server's MAC does not verify. */
	CHECK_EQ_INT(shake(&p, other, "node1", nonce_a, nonce_b),
		     -EKEYREJECTED);
	/* A client without the key cannot forge AUTH either. */
	struct replicd_hs s;
	uint8_t out[REPLICD_HS_MAX],
		auth[6 + REPLICD_MAC] = {'S', 'K', 'R', '1', REPLICD_HS_VERSION,
					 3};
	replicd_hs_init(&s, false, key, "demo", "app", "node2", "node1",
			nonce_b);
	CHECK(replicd_hs_server_reply(&s, p.m1, (size_t)p.n1, out,
				      sizeof(out)) > 0);
	CHECK_EQ_INT(replicd_hs_server_finish(&s, auth, sizeof(auth)),
		     -EKEYREJECTED);
}

static void test_unknown_node_and_other_cluster_are_rejected(void)
{
	struct pair p;
	CHECK_EQ_INT(shake(&p, key, "node3", nonce_a, nonce_b), -ESRCH);
	CHECK_EQ_INT(shake(&p, key, "node2", nonce_a, nonce_b), -ESRCH);
	struct replicd_hs c, s;
	uint8_t m1[REPLICD_HS_MAX], m2[REPLICD_HS_MAX];
	replicd_hs_init(&c, true, key, "other", "app", "node1", "node2",
			nonce_a);
	replicd_hs_init(&s, false, key, "demo", "app", "node2", "node1",
			nonce_b);
	int n = replicd_hs_client_hello(&c, m1, sizeof(m1));
	CHECK_EQ_INT(replicd_hs_server_reply(&s, m1, (size_t)n, m2, sizeof(m2)),
		     -EXDEV);
}

static void test_replayed_handshake_does_not_authenticate(void)
{
	struct pair rec;
	CHECK_EQ_INT(shake(&rec, key, "node1", nonce_a, nonce_b), 0);
	/* An attacker replays the recorded HELLO and AUTH to a server that
	 * picks a fresh nonce: the AUTH MAC covers the old one. */
	struct replicd_hs s;
	uint8_t out[REPLICD_HS_MAX];
	replicd_hs_init(&s, false, key, "demo", "app", "node2", "node1",
			nonce_c);
	CHECK(replicd_hs_server_reply(&s, rec.m1, (size_t)rec.n1, out,
				      sizeof(out)) > 0);
	CHECK_EQ_INT(replicd_hs_server_finish(&s, rec.m3, (size_t)rec.n3),
		     -EKEYREJECTED);
	/* A replayed server HELLO to a client with a fresh nonce. */
	struct replicd_hs c;
	uint8_t m1[REPLICD_HS_MAX], m3[REPLICD_HS_MAX];
	replicd_hs_init(&c, true, key, "demo", "app", "node1", "node2",
			nonce_c);
	CHECK(replicd_hs_client_hello(&c, m1, sizeof(m1)) > 0);
	CHECK_EQ_INT(replicd_hs_client_finish(&c, rec.m2, (size_t)rec.n2, m3,
					      sizeof(m3)),
		     -EKEYREJECTED);
}

static void test_malformed_handshake_messages_are_rejected(void)
{
	struct pair p;
	CHECK_EQ_INT(shake(&p, key, "node1", nonce_a, nonce_b), 0);
	for (int len = 0; len < p.n1; len++) {
		struct replicd_hs s;
		uint8_t out[REPLICD_HS_MAX];
		replicd_hs_init(&s, false, key, "demo", "app", "node2", "node1",
				nonce_b);
		CHECK(replicd_hs_server_reply(&s, p.m1, (size_t)len, out,
					      sizeof(out)) < 0);
	}
	struct replicd_hs s;
	uint8_t out[REPLICD_HS_MAX], bad[REPLICD_HS_MAX];
	memcpy(bad, p.m1, (size_t)p.n1);
	bad[4] = REPLICD_HS_VERSION + 1; /* version */
	replicd_hs_init(&s, false, key, "demo", "app", "node2", "node1",
			nonce_b);
	CHECK_EQ_INT(replicd_hs_server_reply(&s, bad, (size_t)p.n1, out,
					     sizeof(out)),
		     -EBADMSG);
	/* Out of order: AUTH before HELLO. */
	CHECK_EQ_INT(replicd_hs_server_finish(&s, p.m3, (size_t)p.n3),
		     -EBADMSG);
}

static void streams(struct replicd_stream *tx, struct replicd_stream *rx)
{
	uint8_t k[32] = {42}, header[REPLICD_STREAM_HEADER];
	memset(tx, 0, sizeof(*tx));
	memset(rx, 0, sizeof(*rx));
	CHECK_EQ_INT(replicd_stream_tx_init(tx, k, header), 0);
	CHECK_EQ_INT(replicd_stream_rx_init(rx, k, header, sizeof(header)), 0);
}

static void streams_free(struct replicd_stream *tx, struct replicd_stream *rx)
{
	replicd_stream_free(tx);
	replicd_stream_free(rx);
}

static void test_sealed_frames_open_in_order(void)
{
	struct replicd_stream tx, rx;
	uint8_t ct[64], pt[64];
	streams(&tx, &rx);
	for (int i = 0; i < 3; i++) {
		uint8_t msg[8] = {(uint8_t)i};
		int n = replicd_stream_seal(&tx, msg, sizeof(msg), ct,
					    sizeof(ct));
		CHECK_EQ_INT(n, sizeof(msg) + REPLICD_STREAM_ABYTES);
		CHECK_EQ_INT(
			replicd_stream_open(&rx, ct, (size_t)n, pt, sizeof(pt)),
			sizeof(msg));
		CHECK_EQ_INT(pt[0], i);
	}
	streams_free(&tx, &rx);
}

/* Both sides change keys at the same message; the old key's frames and
 * a frame sealed under a key the receiver has not reached do not open. */
static void test_stream_rekeys_in_step_on_both_sides(void)
{
	struct replicd_stream tx, rx;
	uint8_t ct[64], pt[64], msg[32] = "thirty-two bytes of operation..";
	uint8_t first[64];
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	tx.rekey_bytes = rx.rekey_bytes = 100; /* every 4th message */
	uint8_t k[32] = {7}, header[REPLICD_STREAM_HEADER];
	CHECK_EQ_INT(replicd_stream_tx_init(&tx, k, header), 0);
	CHECK_EQ_INT(replicd_stream_rx_init(&rx, k, header, sizeof(header)), 0);
	uint8_t key0[32];
	memcpy(key0, tx.tx.key, sizeof(key0));
	int n0 = 0;
	for (int i = 0; i < 10; i++) {
		msg[0] = (uint8_t)i;
		int n = replicd_stream_seal(&tx, msg, sizeof(msg), ct,
					    sizeof(ct));
		CHECK_EQ_INT(n, sizeof(msg) + REPLICD_STREAM_ABYTES);
		if (i == 0) {
			memcpy(first, ct, (size_t)n);
			n0 = n;
		}
		CHECK_EQ_INT(
			replicd_stream_open(&rx, ct, (size_t)n, pt, sizeof(pt)),
			sizeof(msg));
		CHECK_EQ_INT(pt[0], i);
	}
	/* 10 messages of 32 bytes: keys changed after the 4th and 8th. */
	CHECK(memcmp(key0, tx.tx.key, sizeof(key0)) != 0);
	CHECK(memcmp(tx.tx.key, rx.rx.key, sizeof(key0)) == 0);
	CHECK_EQ_INT((int)tx.tx.counter, 2);
	CHECK_EQ_INT((int)rx.rx.counter, 2);
	/* The first frame had counter 0 under the first key: now the key
	 * differs, so its replay at counter... 2 fails, as does counter 0. */
	CHECK_EQ_INT(
		replicd_stream_open(&rx, first, (size_t)n0, pt, sizeof(pt)),
		-EBADMSG);
	streams_free(&tx, &rx);
}

static void test_forged_replayed_reordered_truncated_frames_do_not_open(void)
{
	struct replicd_stream tx, rx;
	uint8_t a[64], b[64], pt[64], msg[16] = "operation bytes";
	streams(&tx, &rx);
	int na = replicd_stream_seal(&tx, msg, sizeof(msg), a, sizeof(a));
	int nb = replicd_stream_seal(&tx, msg, sizeof(msg), b, sizeof(b));
	/* Reordered: b before a. */
	CHECK_EQ_INT(replicd_stream_open(&rx, b, (size_t)nb, pt, sizeof(pt)),
		     -EBADMSG);
	/* Forged: one bit flipped. */
	a[3] ^= 1;
	CHECK_EQ_INT(replicd_stream_open(&rx, a, (size_t)na, pt, sizeof(pt)),
		     -EBADMSG);
	a[3] ^= 1;
	/* Truncated. */
	CHECK_EQ_INT(
		replicd_stream_open(&rx, a, (size_t)na - 1, pt, sizeof(pt)),
		-EBADMSG);
	CHECK_EQ_INT(replicd_stream_open(&rx, a, 3, pt, sizeof(pt)), -EBADMSG);
	/* The genuine one still opens (failures left the state alone)... */
	CHECK_EQ_INT(replicd_stream_open(&rx, a, (size_t)na, pt, sizeof(pt)),
		     sizeof(msg));
	/* ...but not twice: a replay. */
	CHECK_EQ_INT(replicd_stream_open(&rx, a, (size_t)na, pt, sizeof(pt)),
		     -EBADMSG);
	CHECK_EQ_INT(replicd_stream_open(&rx, b, (size_t)nb, pt, sizeof(pt)),
		     sizeof(msg));
	streams_free(&tx, &rx);
}

static void test_frame_from_another_session_does_not_open(void)
{
	struct replicd_stream tx1, rx1, tx2, rx2;
	uint8_t ct[64], pt[64], msg[4] = "abc";
	streams(&tx1, &rx1);
	streams(&tx2, &rx2); /* same key, new random header */
	int n = replicd_stream_seal(&tx1, msg, sizeof(msg), ct, sizeof(ct));
	CHECK_EQ_INT(replicd_stream_open(&rx2, ct, (size_t)n, pt, sizeof(pt)),
		     -EBADMSG);
	streams_free(&tx1, &rx1);
	streams_free(&tx2, &rx2);
}

static void shake_init(struct pair *p)
{
	replicd_hs_init(&p->c, true, key, "demo", "app", "node1", "node2",
			NULL);
	replicd_hs_init(&p->s, false, key, "demo", "app", "node2", "node1",
			NULL);
}

/* The three messages between two initialised sides; tamper_at flips a bit
 * that many bytes from the end of the client's HELLO (0: none). */
static int shake_run(struct pair *p, int tamper_at)
{
	p->n1 = replicd_hs_client_hello(&p->c, p->m1, sizeof(p->m1));
	if (p->n1 < 0)
		return p->n1;
	if (tamper_at)
		p->m1[p->n1 - tamper_at] ^= 0x2; /* in the nonce's tail */
	p->n2 = replicd_hs_server_reply(&p->s, p->m1, (size_t)p->n1, p->m2,
					sizeof(p->m2));
	if (p->n2 < 0)
		return p->n2;
	p->n3 = replicd_hs_client_finish(&p->c, p->m2, (size_t)p->n2, p->m3,
					 sizeof(p->m3));
	if (p->n3 < 0)
		return p->n3;
	return replicd_hs_server_finish(&p->s, p->m3, (size_t)p->n3);
}

/* A handshake where each side offers caps (0: an older replicd's HELLO). */
static int shake_caps(struct pair *p, uint16_t ccaps, uint16_t scaps,
		      int tamper_at)
{
	shake_init(p);
	p->c.caps = ccaps;
	p->s.caps = scaps;
	return shake_run(p, tamper_at);
}

static void test_capabilities_are_seen_by_the_peer_when_both_offer(void)
{
	struct pair p;
	CHECK_EQ_INT(shake_caps(&p, REPLICD_CAP_ZSTD, REPLICD_CAP_ZSTD, 0), 0);
	CHECK_EQ_INT(p.c.peer_caps, REPLICD_CAP_ZSTD);
	CHECK_EQ_INT(p.s.peer_caps, REPLICD_CAP_ZSTD);
	CHECK(memcmp(p.c.tx_key, p.s.rx_key, 32) == 0);
	/* The marker sits in the nonce's tail, after 24 random bytes. */
	CHECK(memcmp(p.m1 + p.n1 - 8, REPLICD_CAP_MAGIC, 6) == 0);
}

static void test_a_peer_without_capabilities_still_completes_the_handshake(void)
{
	struct pair p;
	/* The server is an older replicd: a nonce without the marker. */
	CHECK_EQ_INT(shake_caps(&p, REPLICD_CAP_ZSTD, 0, 0), 0);
	CHECK_EQ_INT(p.c.peer_caps, 0);
	CHECK_EQ_INT(p.s.peer_caps, REPLICD_CAP_ZSTD);
	CHECK(memcmp(p.c.tx_key, p.s.rx_key, 32) == 0);
	/* And the other way round. */
	CHECK_EQ_INT(shake_caps(&p, 0, REPLICD_CAP_ZSTD, 0), 0);
	CHECK_EQ_INT(p.c.peer_caps, REPLICD_CAP_ZSTD);
	CHECK_EQ_INT(p.s.peer_caps, 0);
	/* The fixed-nonce HELLOs of an older build offer nothing. */
	CHECK_EQ_INT(shake(&p, key, "node1", nonce_a, nonce_b), 0);
	CHECK_EQ_INT(p.c.peer_caps, 0);
	CHECK_EQ_INT(p.s.peer_caps, 0);
}

static void test_capabilities_changed_in_flight_fail_the_handshake(void)
{
	struct pair p;
	/* The last byte of the client's HELLO is its caps' low byte. */
	int r = shake_caps(&p, REPLICD_CAP_ZSTD, REPLICD_CAP_ZSTD, 1);
	CHECK_EQ_INT(r, -EKEYREJECTED);
	CHECK(!(p.c.done && p.s.done));
}

/* A handshake where each side offers REPLICD_CAP_DIRS with its list (n 0:
 * not offered, as an older replicd). */
static int shake_dirs(struct pair *p, const char (*cdirs)[PATH_MAX], size_t cn,
		      const char (*sdirs)[PATH_MAX], size_t sn)
{
	shake_init(p);
	p->c.caps = p->s.caps = REPLICD_CAP_EPOCH;
	if (cn)
		replicd_hs_set_dirs(&p->c, cdirs, cn);
	if (sn)
		replicd_hs_set_dirs(&p->s, sdirs, sn);
	return shake_run(p, 0);
}

static const char dirs_ab[2][PATH_MAX] = {"/srv/app/data", "/srv/app/extra"};
static const char dirs_ba[2][PATH_MAX] = {"/srv/app/extra", "/srv/app/data"};

static void test_the_same_directories_pair(void)
{
	struct pair p;
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 2, dirs_ab, 2), 0);
	CHECK(!p.c.dirs_differ && !p.s.dirs_differ);
	CHECK(p.c.done && p.s.done);
	CHECK(p.c.peer_caps & REPLICD_CAP_DIRS);
	/* The digest leaves 16 random bytes at the nonce's head. */
	struct pair q;
	CHECK_EQ_INT(shake_dirs(&q, dirs_ab, 2, dirs_ab, 2), 0);
	CHECK(memcmp(p.c.nonce, q.c.nonce, 16) != 0);
	CHECK(memcmp(p.c.nonce + REPLICD_DIRS_AT, q.c.nonce + REPLICD_DIRS_AT,
		     8) == 0);
}

static void test_directories_in_another_order_or_number_are_refused(void)
{
	struct pair p;
	/* Another order: the client sends its AUTH (dirs_differ set) and the
	 * server, having verified it, refuses; no session on either side. */
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 2, dirs_ba, 2), -ENOTDIR);
	CHECK(p.c.dirs_differ && p.s.dirs_differ);
	CHECK(p.n3 > 0);
	CHECK(!p.s.done);
	/* One directory more on one side. */
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 1, dirs_ab, 2), -ENOTDIR);
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 2, dirs_ab, 1), -ENOTDIR);
	/* "a" + "pp" is not "app": each name ends with its NUL. */
	static const char split[2][PATH_MAX] = {"/srv/a", "/srv/pp"};
	static const char whole[1][PATH_MAX] = {"/srv/app"};
	CHECK_EQ_INT(shake_dirs(&p, split, 2, whole, 1), -ENOTDIR);
	/* Another last component in the same place. */
	static const char other[2][PATH_MAX] = {"/srv/app/data",
						"/srv/app/etc"};
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 2, other, 2), -ENOTDIR);
}

static void test_directories_under_another_parent_pair(void)
{
	struct pair p;
	/* Two nodes in one mount namespace, as in the lab. */
	static const char n1[1][PATH_MAX] = {"/tmp/lab/node1/data"};
	static const char n2[1][PATH_MAX] = {"/tmp/lab/node2/data"};
	CHECK_EQ_INT(shake_dirs(&p, n1, 1, n2, 1), 0);
	CHECK(p.c.done && p.s.done);
}

static void test_a_peer_that_does_not_offer_its_directories_still_pairs(void)
{
	struct pair p;
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 2, dirs_ba, 0), 0);
	CHECK(!p.c.dirs_differ && !p.s.dirs_differ);
	CHECK_EQ_INT(shake_dirs(&p, dirs_ab, 0, dirs_ba, 2), 0);
	CHECK(p.c.done && p.s.done);
}

TEST_MAIN(TEST(test_handshake_between_configured_peers_agrees_on_keys),
	  TEST(test_the_same_directories_pair),
	  TEST(test_directories_in_another_order_or_number_are_refused),
	  TEST(test_directories_under_another_parent_pair),
	  TEST(test_a_peer_that_does_not_offer_its_directories_still_pairs),
	  TEST(test_capabilities_are_seen_by_the_peer_when_both_offer),
	  TEST(test_a_peer_without_capabilities_still_completes_the_handshake),
	  TEST(test_capabilities_changed_in_flight_fail_the_handshake),
	  TEST(test_fresh_nonces_give_fresh_session_keys),
	  TEST(test_wrong_cluster_key_is_rejected_by_both_sides),
	  TEST(test_unknown_node_and_other_cluster_are_rejected),
	  TEST(test_replayed_handshake_does_not_authenticate),
	  TEST(test_stream_rekeys_in_step_on_both_sides),
	  TEST(test_malformed_handshake_messages_are_rejected),
	  TEST(test_sealed_frames_open_in_order),
	  TEST(test_forged_replayed_reordered_truncated_frames_do_not_open),
	  TEST(test_frame_from_another_session_does_not_open))
