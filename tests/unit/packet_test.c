/*
 * packet_test.c - the wire format: round trips, and every way a hostile
 * packet can be wrong is rejected without crashing (a small deterministic
 * fuzzer mutates valid packets too).
 */
#include "packet.h"
#include "test.h"

#include <sodium.h>

static const uint8_t key[PKT_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static struct packet sample_heartbeat(void)
{
	struct packet p = {0};
	p.hdr.type = PKT_HEARTBEAT;
	sky_strlcpy(p.hdr.cluster, "demo", sizeof(p.hdr.cluster));
	sky_strlcpy(p.hdr.module, "app", sizeof(p.hdr.module));
	sky_strlcpy(p.hdr.node, "node1", sizeof(p.hdr.node));
	p.hdr.incarnation = 7;
	p.hdr.sequence = 0x0102030405060708ull;
	p.hb.network = 1;
	p.hb.role = SKY_ROLE_PRIM;
	p.hb.epoch = 42;
	p.hb.generation = 1ull << 40;
	p.hb.data = SKY_DATA_UPTODATE;
	p.hb.flags = HB_FLAG_SWAP_REQUEST;
	return p;
}

static void test_heartbeat_round_trip_keeps_every_field(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX];
	int len = packet_encode(&p, key, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK_EQ_INT(packet_decode(buf, (size_t)len, key, &q), PKT_OK);
	CHECK(strcmp(q.hdr.node, "node1") == 0);
	CHECK(strcmp(q.hdr.cluster, "demo") == 0);
	CHECK_EQ_INT(q.hdr.sequence, p.hdr.sequence);
	CHECK_EQ_INT(q.hb.generation, p.hb.generation);
	CHECK_EQ_INT(q.hb.role, SKY_ROLE_PRIM);
	CHECK_EQ_INT(q.hb.flags, HB_FLAG_SWAP_REQUEST);
}

static void test_lease_reply_round_trip_with_empty_holder(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX];
	p.hdr.type = PKT_LEASE_REPLY;
	memset(&p.reply, 0, sizeof(p.reply));
	p.reply.request_id = 99;
	p.reply.answer = LEASE_OUTDATED;
	p.reply.lease_ms = 1000;
	p.reply.generation = 5;
	int len = packet_encode(&p, key, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK_EQ_INT(packet_decode(buf, (size_t)len, key, &q), PKT_OK);
	CHECK_EQ_INT(q.reply.answer, LEASE_OUTDATED);
	CHECK_EQ_INT(q.reply.request_id, 99);
	CHECK(q.reply.holder[0] == '\0');
}

static void test_encoder_refuses_names_a_receiver_would_reject(void)
{
	struct packet p = sample_heartbeat();
	uint8_t buf[PKT_MAX];
	sky_strlcpy(p.hdr.node, "../etc", sizeof(p.hdr.node));
	CHECK(packet_encode(&p, key, buf, sizeof(buf)) < 0);
}

static void test_wrong_key_is_a_bad_mac(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX], other[PKT_KEY_BYTES] = {9};
	int len = packet_encode(&p, key, buf, sizeof(buf));
	CHECK_EQ_INT(packet_decode(buf, (size_t)len, other, &q),
		     PKT_ERR_BAD_MAC);
}

static void test_every_truncation_is_rejected(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX];
	int len = packet_encode(&p, key, buf, sizeof(buf));
	for (int n = 0; n < len; n++)
		CHECK(packet_decode(buf, (size_t)n, key, &q) != PKT_OK);
}

static void test_oversized_packet_is_rejected_before_the_mac(void)
{
	uint8_t big[PKT_MAX + 100] = "SKH1";
	struct packet q;
	CHECK_EQ_INT(packet_decode(big, sizeof(big), key, &q),
		     PKT_ERR_OVERSIZED);
}

/* A validly signed packet whose fields are wrong is still rejected. */
static void sign_raw(uint8_t *buf, size_t body_len)
{
	crypto_auth_hmacsha256(buf + body_len, buf, body_len, key);
}

static void test_signed_garbage_fields_are_malformed(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX];
	int len = packet_encode(&p, key, buf, sizeof(buf));
	size_t body = (size_t)len - PKT_MAC_BYTES;

	uint8_t bad_role[PKT_MAX];
	memcpy(bad_role, buf, (size_t)len);
	/* role is the 2nd byte of the heartbeat body: after 38 header bytes */
	size_t role_at = 4 + 1 + 1 + (1 + 4) + (1 + 3) + (1 + 5) + 8 + 8 + 1;
	bad_role[role_at] = 77;
	sign_raw(bad_role, body);
	CHECK_EQ_INT(packet_decode(bad_role, (size_t)len, key, &q),
		     PKT_ERR_MALFORMED);

	uint8_t bad_name[PKT_MAX];
	memcpy(bad_name, buf, (size_t)len);
	bad_name[7] = '/'; /* a byte of the cluster name */
	sign_raw(bad_name, body);
	CHECK_EQ_INT(packet_decode(bad_name, (size_t)len, key, &q),
		     PKT_ERR_MALFORMED);

	uint8_t trailing[PKT_MAX];
	memcpy(trailing, buf, body);
	trailing[body] = 0;
	sign_raw(trailing, body + 1);
	CHECK_EQ_INT(packet_decode(trailing, body + 1 + PKT_MAC_BYTES, key, &q),
		     PKT_ERR_MALFORMED);

	uint8_t bad_type[PKT_MAX];
	memcpy(bad_type, buf, (size_t)len);
	bad_type[5] = 9;
	sign_raw(bad_type, body);
	CHECK_EQ_INT(packet_decode(bad_type, (size_t)len, key, &q),
		     PKT_ERR_MALFORMED);
}

static void test_mutated_packets_never_crash_and_rarely_pass(void)
{
	struct packet p = sample_heartbeat(), q;
	uint8_t buf[PKT_MAX], m[PKT_MAX];
	int len = packet_encode(&p, key, buf, sizeof(buf));
	uint32_t x = 1;
	int accepted = 0;
	for (int i = 0; i < 20000; i++) {
		memcpy(m, buf, (size_t)len);
		for (int k = 0; k < 1 + i % 4; k++) {
			x = x * 1664525u + 1013904223u;
			m[(x >> 8) % (uint32_t)len] ^= (uint8_t)(x >> 24 | 1);
		}
		x = x * 1664525u + 1013904223u;
		size_t n = (x >> 4) % (uint32_t)(len + 1);
		if (packet_decode(m, n, key, &q) == PKT_OK)
			accepted++;
	}
	CHECK_EQ_INT(accepted, 0);
}

static void test_replay_guard_accepts_only_newer(void)
{
	struct replay_guard g = {0};
	CHECK(replay_guard_accept(&g, 3, 10));
	CHECK(!replay_guard_accept(&g, 3, 10));
	CHECK(!replay_guard_accept(&g, 3, 9));
	CHECK(replay_guard_accept(&g, 3, 11));
	CHECK(!replay_guard_accept(&g, 2, 1000)); /* an older incarnation */
	CHECK(replay_guard_accept(&g, 4, 1));	  /* the peer restarted */
}

TEST_MAIN(TEST(test_heartbeat_round_trip_keeps_every_field),
	  TEST(test_lease_reply_round_trip_with_empty_holder),
	  TEST(test_encoder_refuses_names_a_receiver_would_reject),
	  TEST(test_wrong_key_is_a_bad_mac),
	  TEST(test_every_truncation_is_rejected),
	  TEST(test_oversized_packet_is_rejected_before_the_mac),
	  TEST(test_signed_garbage_fields_are_malformed),
	  TEST(test_mutated_packets_never_crash_and_rarely_pass),
	  TEST(test_replay_guard_accepts_only_newer))
