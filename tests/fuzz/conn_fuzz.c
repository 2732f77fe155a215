/*
 * conn_fuzz.c - the replication connection as the peer's bytes reach it:
 * replicd/peer.c frames them (replicd_conn_fill, _frame), chan.c runs the
 * handshake (replicd_conn_on_hs_frame: HELLO/AUTH, then the stream
 * headers), then each sealed frame is opened (replicd_stream_open) and
 * decoded (replicd_op_decode), as replicd/daemon.c does. Anyone who can
 * reach replicd's port gets this far.
 *
 * The first byte says which side we are (bit 0: the client, "node1";
 * else the server, "node2"); the rest is what the peer sends, written
 * into a socketpair. Our nonce is fixed, so the seeds (a real session
 * recorded by seed_replicd.c with the same nonce) get through the handshake.
 */
#include "chan.h"
#include "fuzz.h"
#include "op.h"
#include "peer.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static const uint8_t fuzz_conn_key[SKY_KEY_BYTES] =
	"fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";
static const uint8_t fuzz_conn_nonce[2][REPLICD_NONCE] = {{0xc}, {0x5}};

/* Every complete frame; -1 once the connection must end. */
static int frames(struct replicd_conn *c)
{
	static uint8_t plain[REPLICD_OP_MAX];
	static struct replicd_op_store st;
	struct replicd_op op;
	const uint8_t *p;
	size_t len;
	int r, n;

	for (;;) {
		bool hs = c->stage != RC_UP;
		r = replicd_conn_frame(
			c, hs ? REPLICD_FRAME_HS_MAX : REPLICD_FRAME_MAX, &p,
			&len);
		if (r <= 0)
			return r < 0 ? -1 : 0;
		if (hs) {
			if (replicd_conn_on_hs_frame(c, p, len) < 0)
				return -1;
		} else {
			n = replicd_stream_open(&c->st, p, len, plain,
						sizeof(plain));
			if (n < 0)
				return -1;
			(void)replicd_op_decode(plain, (size_t)n, &op, &st);
		}
		replicd_conn_consume(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replicd_conn *c = NULL;
	uint8_t hello[REPLICD_HS_MAX];
	size_t off = 1;
	bool client, eof = false;
	int sv[2], r;

	if (size < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	client = data[0] & 1;
	FUZZ_ASSERT(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	FUZZ_ASSERT(replicd_conn_adopt(&c, sv[0]) == 0);
	c->client = client;
	replicd_hs_init(&c->hs, client, fuzz_conn_key, "demo", "app",
			client ? "node1" : "node2", client ? "node2" : "node1",
			fuzz_conn_nonce[client]);
	if (client) {
		r = replicd_hs_client_hello(&c->hs, hello, sizeof(hello));
		FUZZ_ASSERT(r > 0 &&
			    replicd_conn_put(c, hello, (size_t)r) == 0);
	}
	for (;;) {
		if (off < size) {
			ssize_t w = write(sv[1], data + off, size - off);
			if (w > 0)
				off += (size_t)w;
		}
		if (off == size && !eof) {
			shutdown(sv[1], SHUT_WR);
			eof = true;
		}
		r = replicd_conn_fill(c, 0);
		if (frames(c) < 0 || r < 0)
			break;
	}
	replicd_conn_free(&c);
	close(sv[1]);
	return 0;
}
