/*
 * packet_fuzz.c - heartbeatd/packet.c packet_decode(): every UDP datagram a
 * node receives on a heartbeat network goes through it first, from anyone.
 *
 * The input is decoded twice: as it is (the MAC check rejects almost all
 * of it, as it does a stranger's packet) and with a valid MAC over its
 * bytes put in place of the last 32, so the fuzzer reaches the field
 * parser behind the MAC (a peer holding the key, or a bug in it). A packet
 * that decodes must encode back to the same bytes, and then goes to the
 * replay guard as node.c does.
 */
#include "fuzz.h"
#include "packet.h"

#include <sodium.h>

static const uint8_t key[PKT_KEY_BYTES] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replay_guard guard;
	uint8_t buf[PKT_MAX], again[PKT_MAX];
	struct packet p;
	int len;

	(void)packet_decode(data, size, key, &p);
	if (size < PKT_MAC_BYTES || size > PKT_MAX)
		return 0;
	memcpy(buf, data, size);
	crypto_auth_hmacsha256(buf + size - PKT_MAC_BYTES, buf,
			       size - PKT_MAC_BYTES, key);
	if (packet_decode(buf, size, key, &p) != PKT_OK)
		return 0;
	len = packet_encode(&p, key, again, sizeof(again));
	FUZZ_ASSERT(len == (int)size && memcmp(again, buf, size) == 0);
	(void)replay_guard_accept(&guard, p.hdr.incarnation, p.hdr.sequence);
	(void)lease_answer_name((enum lease_answer)p.reply.answer);
	return 0;
}
