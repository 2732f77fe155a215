/*
 * seed_replicd.c - seeds for replicd's inputs: replication operations from
 * replicd_op_encode(), whole sessions (handshake, then the encrypted
 * stream) recorded with the conn target's fixed key and nonces, compressed
 * resync writes, and the secondary's change record and manifest as replicd
 * writes them. The stream's IV comes from libsodium's fixed sequence
 * (seed.c), so a session is the same bytes on every run.
 */
#include "chan.h"
#include "manifest.h"
#include "seed.h"
#include "zframe.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The fuzz targets' fixed keys and nonces (conn_fuzz.c). */
static const uint8_t conn_key[SKY_KEY_BYTES] =
	"fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";
static const uint8_t conn_nonce[2][REPLICD_NONCE] = {{0xc}, {0x5}};
/* The peer's nonce in the recorded sessions. */
static const uint8_t peer_nonce[REPLICD_NONCE] = {0x7};

/* ---- replication operations ---- */

void seed_ops(void)
{
	static uint8_t buf[4096];
	static const uint8_t data[] = "hello, secondary";
	struct replicd_op_store st;

	for (uint8_t t = 1; t <= ROP_TYPE_MAX; t++) {
		struct replicd_op op = {
			.type = t,
			.seq = 1000 + t,
			.dir = 1,
			.handle = t >= ROP_CHMOD && t <= ROP_RELEASE ? 5 : 0,
			.path = "dir/file",
			.path2 = "dir/other",
			.name = "user.note",
			.target = "../target",
			.data = data,
			.data_len = sizeof(data) - 1,
			.offset = 65536,
			.length = 4096,
			.mode = S_IFREG | 0644,
			.uid = 1000,
			.gid = 1000,
			.atime = {1, 2},
			.mtime = {3, 4},
		};
		struct replicd_op back;
		char name[32];
		int n = replicd_op_encode(&op, buf, sizeof(buf));

		snprintf(name, sizeof(name), "%s", replicd_op_name(t));
		if (n < 0 ||
		    replicd_op_decode(buf, (size_t)n, &back, &st) < 0) {
			seed_refused("op", name);
			continue;
		}
		seed_put("op", name, buf, (size_t)n);
	}
}

/* ---- the replication connection: a recorded session ---- */

static void frame(uint8_t *out, size_t *len, const uint8_t *p, size_t n)
{
	out[*len] = (uint8_t)(n >> 24);
	out[*len + 1] = (uint8_t)(n >> 16);
	out[*len + 2] = (uint8_t)(n >> 8);
	out[*len + 3] = (uint8_t)n;
	memcpy(out + *len + 4, p, n);
	*len += 4 + n;
}

/*
 * What the peer sends to the fuzz target's side (1: the target is the
 * client, node1). Both handshakes run here; the target's own messages
 * are the same when it runs, its nonce being the same.
 */
void seed_session(int target_client)
{
	static uint8_t peer_bytes[8192];
	static struct replicd_hs me, peer;
	struct replicd_stream st = {0};
	uint8_t a[REPLICD_HS_MAX], b[REPLICD_HS_MAX], c[REPLICD_HS_MAX];
	uint8_t hdr[REPLICD_STREAM_HEADER], sealed[512], enc[256];
	size_t len = 1;
	int na, nb, nc;

	peer_bytes[0] = (uint8_t)target_client;
	replicd_hs_init(&me, target_client, conn_key, "demo", "app",
			target_client ? "node1" : "node2",
			target_client ? "node2" : "node1",
			conn_nonce[target_client]);
	replicd_hs_init(&peer, !target_client, conn_key, "demo", "app",
			target_client ? "node2" : "node1",
			target_client ? "node1" : "node2", peer_nonce);
	struct replicd_hs *cl = target_client ? &me : &peer;
	struct replicd_hs *sv = target_client ? &peer : &me;
	na = replicd_hs_client_hello(cl, a, sizeof(a));
	nb = na < 0 ? na
		    : replicd_hs_server_reply(sv, a, (size_t)na, b, sizeof(b));
	nc = nb < 0 ? nb
		    : replicd_hs_client_finish(cl, b, (size_t)nb, c, sizeof(c));
	if (nc < 0 || replicd_hs_server_finish(sv, c, (size_t)nc) < 0) {
		seed_refused("conn", "handshake");
		return;
	}
	if (target_client) {
		frame(peer_bytes, &len, b, (size_t)nb);
	} else {
		frame(peer_bytes, &len, a, (size_t)na);
		frame(peer_bytes, &len, c, (size_t)nc);
	}
	/* The peer's stream header, then sealed operations. */
	if (replicd_stream_tx_init(&st, peer.tx_key, hdr) < 0) {
		seed_refused("conn", "stream");
		return;
	}
	frame(peer_bytes, &len, hdr, sizeof(hdr));
	struct replicd_op ping = {.type = ROP_PING, .seq = 1};
	struct replicd_op ack = {.type = ROP_ACK, .seq = 1};
	struct replicd_op write = {.type = ROP_WRITE,
				   .seq = 2,
				   .path = "f",
				   .data = (const uint8_t *)"abc",
				   .data_len = 3};
	struct replicd_op *send[] = {target_client ? &ack : &ping, &write};
	for (size_t i = 0; i < 2; i++) {
		int n = replicd_op_encode(send[i], enc, sizeof(enc));
		int s = n < 0 ? n
			      : replicd_stream_seal(&st, enc, (size_t)n, sealed,
						    sizeof(sealed));
		if (s < 0) {
			seed_refused("conn", "seal");
			break;
		}
		frame(peer_bytes, &len, sealed, (size_t)s);
	}
	replicd_stream_free(&st);
	seed_put("conn",
		 target_client ? "session-as-client" : "session-as-server",
		 peer_bytes, len);
}

/* ---- the secondary's record and manifest (resync_fuzz.c) ---- */

struct opseq {
	uint8_t buf[1 << 16];
	size_t len;
};

static int append_op(void *ctx, struct replicd_op *op)
{
	struct opseq *q = ctx;
	int n = replicd_op_encode(op, q->buf + q->len + 4,
				  sizeof(q->buf) - q->len - 4);

	if (n < 0)
		return n;
	q->buf[q->len] = (uint8_t)((unsigned)n >> 24);
	q->buf[q->len + 1] = (uint8_t)((unsigned)n >> 16);
	q->buf[q->len + 2] = (uint8_t)((unsigned)n >> 8);
	q->buf[q->len + 3] = (uint8_t)n;
	q->len += 4 + (size_t)n;
	return 0;
}

/* zframe: a compressed resync write as the primary sends it, and its
 * bare frame after a u32 size (the target's second form). */
void seed_zframes(void)
{
	static uint8_t text[64 << 10], buf[REPLICD_OP_MAX];
	static const char line[] = "00001234 resync zone write azure aws\n";
	struct replicd_zstd *z = NULL;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)line[i % (sizeof(line) - 1)];
	if (replicd_zstd_new(&z, 3) < 0) {
		seed_refused("zframe", "context");
		return;
	}
	struct replicd_op op = {.type = ROP_WRITE,
				.seq = 42,
				.dir = 0,
				.path = "logs/app.log",
				.offset = 1 << 20,
				.data = text,
				.data_len = sizeof(text)};
	int n = -1;
	if (replicd_zstd_pack(z, &op) == 1)
		n = replicd_op_encode(&op, buf, sizeof(buf));
	if (n < 0) {
		seed_refused("zframe", "write-z");
	} else {
		seed_put("zframe", "seed-write-z", buf, (size_t)n);
		buf[0] = (uint8_t)(op.length >> 24);
		buf[1] = (uint8_t)(op.length >> 16);
		buf[2] = (uint8_t)(op.length >> 8);
		buf[3] = (uint8_t)op.length;
		memcpy(buf + 4, op.data, op.data_len);
		seed_put("zframe", "seed-bare", buf, 4 + op.data_len);
	}
	replicd_zstd_free(&z);
}

void seed_resync(void)
{
	static struct opseq rec, man;
	struct replicd_op ops[] = {
		{.type = ROP_RECORD,
		 .path = "a",
		 .flags = TRK_ZONES,
		 .offset = 1,
		 .length = 1},
		{.type = ROP_RECORD, .path = "d", .flags = TRK_TREE},
		{.type = ROP_RECORD, .path = "gone", .flags = TRK_ENTRY},
		{.type = ROP_RECORD, .path = "link", .flags = TRK_META},
	};
	struct replicd_manifest_walk *w = NULL;
	char path[128], big[3 * 65536 / 2 + 7];
	int root, r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (append_op(&rec, &ops[i]) < 0)
			seed_refused("resync", "record");
	seed_put("resync", "record", rec.buf, rec.len);

	/* The secondary's copy: like the fuzz target's, a little off. */
	snprintf(path, sizeof(path), "%s/copy/d", seed_tmp);
	sky_mkdir_p(path, 0755);
	memset(big, 'a', sizeof(big));
	big[70000] = 'b';
	snprintf(path, sizeof(path), "%s/copy/a", seed_tmp);
	sky_write_file_atomic(path, big, sizeof(big), 0644);
	snprintf(path, sizeof(path), "%s/copy/d/small", seed_tmp);
	sky_write_file_atomic(path, "sssssssss", 9, 0644);
	snprintf(path, sizeof(path), "%s/copy/only-here", seed_tmp);
	sky_write_file_atomic(path, "x", 1, 0600);
	snprintf(path, sizeof(path), "%s/copy/link", seed_tmp);
	if (symlink("d/small", path) < 0)
		seed_refused("resync", "symlink");
	snprintf(path, sizeof(path), "%s/copy", seed_tmp);
	root = open(path, O_RDONLY | O_DIRECTORY);
	if (root < 0 || replicd_manifest_walk_new(&w, &root, 1) < 0) {
		seed_refused("resync", "manifest");
	} else {
		while ((r = replicd_manifest_walk_step(w, 65536, append_op,
						       &man)) == 1) {
		}
		if (r < 0)
			seed_refused("resync", "manifest");
		else
			seed_put("resync", "manifest", man.buf, man.len);
	}
	replicd_manifest_walk_free(&w);
	if (root >= 0)
		close(root);
}
