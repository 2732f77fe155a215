/*
 * witness_fuzz.c - the witness packets: lease requests as the witness
 * (heartbeatd/witness_server.c -> witness.c witness_decide) and lease
 * replies as a node (heartbeatd/node.c -> lease.c lease_client_on_reply).
 * Both come over UDP from the network.
 *
 * Like packet_fuzz, the input gets a valid MAC so its fields are parsed;
 * the first 8 bytes are the clock (ms) so that leases run out and renew.
 * The witness and the lease client keep their state across inputs; when
 * the client has just sent a request (low bit of the clock), a reply
 * answers that request, as a real witness echoes the random id.
 */
#include "fuzz.h"
#include "lease.h"
#include "packet.h"
#include "state.h"
#include "witness.h"

#include <sodium.h>

static const uint8_t key[PKT_KEY_BYTES] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct witness w;
	static struct lease_client lc;
	static struct sm_witness view;
	static bool ready;
	uint8_t buf[PKT_MAX];
	struct packet p;
	struct pkt_lease_reply reply;
	struct pkt_lease_request req;
	struct sm sm = {0};
	bool sent;
	uint64_t now = 0;

	if (!ready) {
		witness_init(&w, 3000, 0, 5, "node1");
		lease_client_init(&lc, 200);
		ready = true;
	}
	if (size < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		now = now << 8 | data[i];
	now &= (1ull << 40) - 1;
	data += 8;
	size -= 8;
	if (size < PKT_MAC_BYTES || size > PKT_MAX)
		return 0;
	memcpy(buf, data, size);
	crypto_auth_hmacsha256(buf + size - PKT_MAC_BYTES, buf,
			       size - PKT_MAC_BYTES, key);
	if (packet_decode(buf, size, key, &p) != PKT_OK)
		return 0;
	if (p.hdr.type == PKT_LEASE_REQUEST) {
		witness_decide(&w, (int64_t)now, p.hdr.node, &p.req, &reply);
		FUZZ_ASSERT(reply.answer < LEASE_ANSWER_COUNT);
	} else if (p.hdr.type == PKT_LEASE_REPLY) {
		sm.want_lease = now & 1;
		sm.want_new_generation = now & 2;
		sm.forced = now & 4;
		sent = lease_client_poll(&lc, (int64_t)now, &sm, &req);
		if (sent && (now & 8))
			p.reply.request_id = req.request_id;
		(void)lease_client_on_reply(&lc, (int64_t)now, &p.reply, &view);
	}
	return 0;
}
