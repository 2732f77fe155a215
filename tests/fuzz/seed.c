/*
 * seed.c - the fuzzers' seed corpus, made by the real encoders
 * (`make fuzz-seed`; build/asan/fuzz_seed DIR writes DIR/<target>/seed-*).
 *
 * Binary formats come from the daemons' own encoders (packet_encode,
 * replicd_op_encode, the handshake and the stream of chan.c, the ARP
 * builders, the state files as replicd and heartbeatd save them). Text and
 * JSON inputs (configuration, bus messages, cloud replies) are written
 * here as the daemons or the clouds send them, and each is kept only if
 * the real parser accepts it, so every seed reaches the deep end.
 * The output is the same on every run: fixed keys, nonces and clocks, and
 * libsodium's random bytes (the stream header's IV) from a fixed sequence.
 */
#include "actual.h"
#include "alone.h"
#include "aws.h"
#include "azure.h"
#include "bus.h"
#include "cfg.h"
#include "chan.h"
#include "changes.h"
#include "config.h"
#include "control.h"
#include "desired.h"
#include "etcd_json.h"
#include "frames.h"
#include "hold.h"
#include "manifest.h"
#include "op.h"
#include "pack.h"
#include "packet.h"
#include "persist.h"
#include "probe.h"
#include "settings.h"
#include "snapshot.h"
#include "track.h"
#include "tree.h"
#include "util.h"
#include "vipcfg.h"
#include "xml.h"
#include "zframe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *top;
static char tmp[64];
static int failures;

/* The fuzz targets' fixed keys and nonces (packet_fuzz.c, conn_fuzz.c). */
static const uint8_t pkt_key[PKT_KEY_BYTES] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";
static const uint8_t conn_key[SKY_KEY_BYTES] =
	"fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";
static const uint8_t conn_nonce[2][REPLICD_NONCE] = {{0xc}, {0x5}};
/* The peer's nonce in the recorded sessions. */
static const uint8_t peer_nonce[REPLICD_NONCE] = {0x7};

static void put(const char *target, const char *name, const void *p, size_t len)
{
	char dir[512], path[600];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", top, target);
	sky_mkdir_p(dir, 0755);
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "seed: cannot write %s\n", path);
		exit(1);
	}
}

static void refused(const char *target, const char *name)
{
	fprintf(stderr, "seed: %s/%s: the real parser refuses it\n", target,
		name);
	failures++;
}

static void put_text(const char *target, const char *name, const char *s)
{
	put(target, name, s, strlen(s));
}

/* ---- heartbeat and witness packets ---- */

static struct packet header(uint8_t type, const char *node)
{
	struct packet p = {0};

	p.hdr.type = type;
	sky_strlcpy(p.hdr.cluster, "demo", sizeof(p.hdr.cluster));
	sky_strlcpy(p.hdr.module, "app", sizeof(p.hdr.module));
	sky_strlcpy(p.hdr.node, node, sizeof(p.hdr.node));
	p.hdr.incarnation = 3;
	p.hdr.sequence = 41;
	return p;
}

static void packets(void)
{
	struct packet hb = header(PKT_HEARTBEAT, "node2");
	struct packet req = header(PKT_LEASE_REQUEST, "node1");
	struct packet rep = header(PKT_LEASE_REPLY, "node1");
	const struct packet *all[] = {&hb, &req, &rep};
	const char *names[] = {"heartbeat", "lease-request", "lease-reply"};
	uint8_t buf[8 + PKT_MAX];

	hb.hb.role = SKY_ROLE_PRIM;
	hb.hb.epoch = 9;
	hb.hb.generation = 12;
	hb.hb.data = SKY_DATA_UPTODATE;
	hb.hb.flags = HB_FLAG_HANDOVER;
	req.req.request_id = 77;
	req.req.generation = 12;
	req.req.flags = LEASE_FLAG_NEW_GENERATION;
	rep.reply.request_id = 77;
	rep.reply.answer = LEASE_HELD_BY_OTHER;
	rep.reply.lease_ms = 3000;
	rep.reply.generation = 12;
	sky_strlcpy(rep.reply.holder, "node2", sizeof(rep.reply.holder));
	for (size_t i = 0; i < 3; i++) {
		int n = packet_encode(all[i], pkt_key, buf, PKT_MAX);
		if (n < 0) {
			refused("packet", names[i]);
			continue;
		}
		put("packet", names[i], buf, (size_t)n);
		/* witness: the clock (ms, big-endian) first. */
		memmove(buf + 8, buf, (size_t)n);
		memset(buf, 0, 8);
		buf[6] = 0x13;
		buf[7] = 0x89; /* 5001 ms: a request sent, answered */
		if (i > 0)
			put("witness", names[i], buf, (size_t)n + 8);
	}
}

/* ---- replication operations ---- */

static void ops(void)
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
			refused("op", name);
			continue;
		}
		put("op", name, buf, (size_t)n);
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
static void session(int target_client)
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
		refused("conn", "handshake");
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
		refused("conn", "stream");
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
			refused("conn", "seal");
			break;
		}
		frame(peer_bytes, &len, sealed, (size_t)s);
	}
	replicd_stream_free(&st);
	put("conn", target_client ? "session-as-client" : "session-as-server",
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
static void zframes(void)
{
	static uint8_t text[64 << 10], buf[REPLICD_OP_MAX];
	static const char line[] = "00001234 resync zone write azure aws\n";
	struct replicd_zstd *z = NULL;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)line[i % (sizeof(line) - 1)];
	if (replicd_zstd_new(&z, 3) < 0) {
		refused("zframe", "context");
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
		refused("zframe", "write-z");
	} else {
		put("zframe", "seed-write-z", buf, (size_t)n);
		buf[0] = (uint8_t)(op.length >> 24);
		buf[1] = (uint8_t)(op.length >> 16);
		buf[2] = (uint8_t)(op.length >> 8);
		buf[3] = (uint8_t)op.length;
		memcpy(buf + 4, op.data, op.data_len);
		put("zframe", "seed-bare", buf, 4 + op.data_len);
	}
	replicd_zstd_free(&z);
}

static void resync(void)
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
			refused("resync", "record");
	put("resync", "record", rec.buf, rec.len);

	/* The secondary's copy: like the fuzz target's, a little off. */
	snprintf(path, sizeof(path), "%s/copy/d", tmp);
	sky_mkdir_p(path, 0755);
	memset(big, 'a', sizeof(big));
	big[70000] = 'b';
	snprintf(path, sizeof(path), "%s/copy/a", tmp);
	sky_write_file_atomic(path, big, sizeof(big), 0644);
	snprintf(path, sizeof(path), "%s/copy/d/small", tmp);
	sky_write_file_atomic(path, "sssssssss", 9, 0644);
	snprintf(path, sizeof(path), "%s/copy/only-here", tmp);
	sky_write_file_atomic(path, "x", 1, 0600);
	snprintf(path, sizeof(path), "%s/copy/link", tmp);
	if (symlink("d/small", path) < 0)
		refused("resync", "symlink");
	snprintf(path, sizeof(path), "%s/copy", tmp);
	root = open(path, O_RDONLY | O_DIRECTORY);
	if (root < 0 || replicd_manifest_walk_new(&w, &root, 1) < 0) {
		refused("resync", "manifest");
	} else {
		while ((r = replicd_manifest_walk_step(w, 65536, append_op,
						       &man)) == 1) {
		}
		if (r < 0)
			refused("resync", "manifest");
		else
			put("resync", "manifest", man.buf, man.len);
	}
	replicd_manifest_walk_free(&w);
	if (root >= 0)
		close(root);
}

/* ---- bus messages ---- */

static void json_seed(const char *target, const char *name, const char *topic,
		      json_t *o, int accepted)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t tl = topic ? strlen(topic) + 1 : 0;
	char *buf;

	json_decref(o);
	if (!s || !accepted) {
		refused(target, name);
		free(s);
		return;
	}
	buf = malloc(tl + strlen(s));
	if (!buf)
		exit(1);
	if (topic)
		memcpy(buf, topic, tl);
	memcpy(buf + tl, s, strlen(s));
	put(target, name, buf, tl + strlen(s));
	free(buf);
	free(s);
}

static void bus(void)
{
	static const char *const roles[] = {"PRIM", "SECOND", "ALONE", "WAIT"};
	static const char *const daemons[] = {"replicd", "vipd", "checkd"};
	char why[160], name[64];
	struct sky_desired d;
	enum sky_actuator which;

	/* heartbeatd/publish.c desired_json(), field by field. */
	for (size_t i = 0; i < 4; i++) {
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:I,s:I,s:{s:s,s:s,s:s},s:b,s:I}",
			"module", "app", "node", "node1", "role", roles[i],
			"epoch", (json_int_t)7, "generation", (json_int_t)12,
			"targets", "replicd", i == 1 ? "secondary" : "primary",
			"vipd", i < 3 && i != 1 ? "up" : "down", "checkd",
			i < 3 && i != 1 ? "up" : "down", "ack_alone", i == 2,
			"valid_ms", (json_int_t)600);
		snprintf(name, sizeof(name), "desired-%s", roles[i]);
		json_seed("desired", name, NULL, json_incref(o),
			  sky_desired_parse(o, "app", "node1", SKY_ACT_VIPD, &d,
					    why, sizeof(why)) == 0);
		json_decref(o);
	}
	/* Each actuator's actual state (replicd/actual.c, vipd, checkd). */
	for (size_t i = 0; i < 3; i++) {
		char topic[64];
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:I,s:s,s:s}", "module", "app", "daemon",
			daemons[i], "node", "node1", "epoch", (json_int_t)7,
			"state", i == 0 ? "secondary" : "up", "reason", "");
		if (i == 0) {
			json_object_set_new(o, "data", json_string("uptodate"));
			json_object_set_new(o, "sync", json_string("insync"));
			json_object_set_new(o, "peer_connected", json_true());
			json_object_set_new(o, "mode", json_string("sync"));
			json_object_set_new(o, "in_sync", json_true());
			json_object_set_new(o, "generation", json_integer(12));
			json_object_set_new(
				o, "resync",
				json_pack("{s:b,s:I,s:I,s:I}", "active", 0,
					  "bytes_total", (json_int_t)5,
					  "bytes_done", (json_int_t)5,
					  "bytes_left", (json_int_t)0));
		}
		snprintf(topic, sizeof(topic), "app.%s.actual", daemons[i]);
		snprintf(name, sizeof(name), "actual-%s", daemons[i]);
		json_seed("actual", name, topic, json_incref(o),
			  actual_check(topic, o, "app", "node1", &which, why,
				       sizeof(why)) == 0);
		json_decref(o);
	}
	/* heartbeatd's status, as healthd reads it. */
	json_seed("actual", "status", "app.heartbeatd.status",
		  json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:b},s:{s:s,s:s,s:s,s:s},"
			    "s:I}",
			    "cluster", "demo", "module", "app", "type",
			    "mirror", "node", "name", "node1", "role", "PRIM",
			    "serving", 1, "transition", "from", "SECOND", "to",
			    "PRIM", "reason", "peer lost", "at",
			    "2026-11-23T12:03:55Z", "epoch", (json_int_t)7),
		  1);
	json_seed("desired", "status", NULL,
		  json_pack("{s:s,s:{s:s,s:I},s:{s:{s:s,s:I}}}", "module",
			    "app", "node", "role", "PRIM", "epoch",
			    (json_int_t)7, "actuators", "checkd", "state", "up",
			    "epoch", (json_int_t)7),
		  1);
}

/* ---- skyctl: heartbeatd's status (docs/protocol.md) ---- */

static void skyctl(void)
{
	static const char status[] =
		"{\"cluster\":\"demo\",\"module\":\"app\",\"type\":\"mirror\","
		"\"node\":{\"name\":\"node1\",\"role\":\"PRIM\",\"epoch\":7,"
		"\"generation\":12,\"data\":\"uptodate\",\"serving\":true,"
		"\"role_for_ms\":5230},"
		"\"peer\":{\"name\":\"node2\",\"visible\":true,\"role\":"
		"\"SECOND\","
		"\"epoch\":7,\"generation\":12,\"data\":\"uptodate\","
		"\"last_seen_ms\":120,\"networks\":[{\"index\":0,\"local\":"
		"\"198.18.0.1\",\"peer\":\"198.18.0.2\",\"up\":true,"
		"\"last_seen_ms\":120},{\"index\":1,\"local\":\"198.18.1.1\","
		"\"peer\":\"198.18.1.2\",\"up\":false,\"last_seen_ms\":3400}]},"
		"\"quorum\":{\"mode\":\"witness\",\"have\":true,\"via\":"
		"\"peer+witness\"},"
		"\"witness\":{\"addresses\":[\"198.18.0.10\"],\"lease\":"
		"\"held\","
		"\"expires_in_ms\":840,\"last_answer\":\"granted\",\"holder\":"
		"\"node1\"},"
		"\"transition\":{\"from\":\"SECOND\",\"to\":\"ALONE\","
		"\"reason\":"
		"\"peer node2 lost on all networks\",\"at\":"
		"\"2026-11-23T12:03:55Z\",\"ago_ms\":2300,\"pending\":\"\"},"
		"\"actuators\":{\"replicd\":{\"state\":\"primary\",\"epoch\":7,"
		"\"age_ms\":300}},"
		"\"counters\":{\"tx\":100,\"tx_errors\":0,\"rx\":98,\"bad_"
		"mac\":0,"
		"\"replay\":0,\"malformed\":0,\"wrong_cluster\":0,"
		"\"unknown_node\":0,\"ctl_bad_requests\":0,"
		"\"bus_bad_messages\":0},"
		"\"timing\":{\"interval_ms\":200,\"timeout_ms\":1000}}";
	json_t *o;

	if (sky_bus_parse_body((const uint8_t *)status, strlen(status),
			       SKY_BUS_MSG_MAX, &o) < 0) {
		refused("skyctl", "status");
		return;
	}
	json_decref(o);
	put_text("skyctl", "status", status);
}

/* ---- control requests ---- */

static void ctl(void)
{
	static const char *const reqs[] = {
		"{\"command\":\"status\"}",
		"{\"command\":\"swap\",\"reason\":\"maintenance\"}",
		"{\"command\":\"prim\",\"force\":true,\"reason\":\"x\"}",
		"{\"command\":\"second\"}",
		"{\"command\":\"stop\"}",
		"{\"command\":\"start\"}",
		"{\"command\":\"failover\"}",
		"{\"command\":\"resync\",\"discard_local\":true}",
	};
	struct ctl_request r;
	char err[256], name[32];

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		snprintf(name, sizeof(name), "request-%zu", i);
		if (ctl_request_parse((const uint8_t *)reqs[i], strlen(reqs[i]),
				      &r, err, sizeof(err)) < 0)
			refused("ctl", name);
		else
			put_text("ctl", name, reqs[i]);
	}
}

/* ---- configuration ---- */

static void config(void)
{
	static const char base[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: app\n  type: mirror\n"
		"  default_primary: node1\n"
		"nodes:\n  - name: node1\n"
		"    addresses: [198.18.0.1, 198.18.1.1]\n"
		"  - name: node2\n    addresses: [198.18.0.2, 198.18.1.2]\n"
		"heartbeat: {port: 7400, interval_ms: 200, timeout_ms: 1000}\n"
		"quorum: witness\n"
		"witness:\n  addresses: [198.18.0.10]\n  port: 7401\n"
		"transitions:\n  order: [replicd, vipd, checkd]\n"
		"  step_timeout_ms: 30000\n";
	static const char replicd[] =
		"replicd:\n  directories: [/srv/a, /srv/ab]\n"
		"  port: 7402\n  resync_max_bytes_per_s: 12500000\n"
		"  resync_compress: zstd\n  resync_compress_level: 3\n";
	static const char vipd[] =
		"vipd:\n  addresses:\n"
		"    - {address: 198.18.0.100/24, interface: eth0}\n"
		"    - address: \"2001:2:0::100/64\"\n"
		"      interface: bond0.12\n"
		"  announce: {repeat: 3, interval_ms: 20, delay_ms: 2000,"
		" refresh_ms: 60000, refresh_repeat: 2}\n"
		"  probe: {wait_ms: 300, count: 3, on_conflict: fail}\n";
	static const char aws[] =
		"vipd:\n  aws:\n    region: eu-west-3\n    nodes:\n"
		"      node1: {eni: eni-1, instance: i-1}\n"
		"    private_ips: [10.0.0.10]\n"
		"    routes: [{table: rtb-1, destination: 10.1.0.0/24}]\n"
		"    target_groups: [{arn: \"arn:aws:elasticload"
		"balancing:eu-west-3:1:targetgroup/a/b\"}]\n";
	static const char azure[] =
		"vipd:\n  azure:\n    subscription: 0000-abcd\n"
		"    resource_group: rg1\n    nodes:\n"
		"      node1: {nic: nic-1, address: 10.1.0.4}\n"
		"      node2: {nic: nic-2, address: 10.1.0.5}\n"
		"    ip_configurations: [{name: vip, address: 10.1.0.10}]\n"
		"    routes: [{table: rt, route: r1, prefix: 10.2.0.0/24}]\n";
	static const char checkd[] =
		"checkd:\n  scripts:\n    start_prim: /bin/true\n"
		"    stop_prim: {path: /bin/true, timeout_ms: 2000}\n"
		"  restart: {max: 2, window_ms: 60000}\n"
		"  escalation: stop\n"
		"  environment: {APP_PORT: \"8080\"}\n"
		"  checkers:\n"
		"    - {name: p, kind: process, pidfile: app.pid}\n"
		"    - {name: t, kind: tcp, address: 127.0.0.1, port: 80}\n"
		"    - {name: h, kind: http, address: self, port: 8080, "
		"path: /health, expect_status: 204}\n"
		"    - {name: i, kind: icmp, address: \"::1\"}\n";
	static const char hex[] = "00112233445566778899aabbccddeeff"
				  "00112233445566778899aabbccddeeff\n";
	static struct sky_config cfg;
	static struct vipd_cfg vc;
	static struct checkd_cfg cc;
	static struct replicd_settings rs;
	char path[128], key[128], text[4096], err[512];
	const struct {
		const char *name, *section;
	} files[] = {{"base", ""}, {"replicd", replicd}, {"vipd", vipd},
		     {"aws", aws}, {"azure", azure},	 {"checkd", checkd}};

	snprintf(path, sizeof(path), "%s/app.yaml", tmp);
	snprintf(key, sizeof(key), "%s/cluster.key", tmp);
	sky_write_file_atomic(key, hex, strlen(hex), 0600);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n = (size_t)snprintf(text, sizeof(text), "%s%s", base,
					    files[i].section);
		int r = sky_config_parse(path, text, n, &cfg, err, sizeof(err));
		if (r == 0 && files[i].section == vipd)
			r = vipd_cfg_parse(path, text, n, &vc, err,
					   sizeof(err));
		if (r == 0 &&
		    (files[i].section == aws || files[i].section == azure))
			r = vipd_cfg_parse(path, text, n, &vc, err,
					   sizeof(err));
		if (r == 0 && files[i].section == checkd)
			r = checkd_cfg_parse(path, text, n, &cc, err,
					     sizeof(err));
		if (r == 0 && files[i].section == replicd)
			r = replicd_settings_parse(path, text, n, &rs, err,
						   sizeof(err));
		if (r < 0) {
			fprintf(stderr, "seed: config %s: %s\n", files[i].name,
				err);
			refused("config", files[i].name);
			continue;
		}
		put("config", files[i].name, text, n);
	}
	/* A farm spreading its clients (vipd.lb: buckets). */
	static const char farm[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: web\n  type: farm\n"
		"nodes:\n  - {name: node1, addresses: [198.18.0.1], weight: "
		"2}\n"
		"  - {name: node2, addresses: [198.18.0.2]}\n"
		"  - {name: node3, addresses: [198.18.0.3]}\n"
		"heartbeat: {port: 7400, interval_ms: 200, timeout_ms: 1000}\n"
		"transitions:\n  order: [vipd, checkd]\n"
		"  step_timeout_ms: 30000\n"
		"vipd:\n  addresses:\n"
		"    - {address: 198.18.0.100/24, interface: eth0}\n"
		"  lb: buckets\n"
		"  buckets: {hash: address_port, vmac: "
		"\"02:00:5e:10:00:01\"}\n";
	int r = sky_config_parse(path, farm, strlen(farm), &cfg, err,
				 sizeof(err));
	if (r == 0)
		r = vipd_cfg_parse(path, farm, strlen(farm), &vc, err,
				   sizeof(err));
	if (r < 0) {
		fprintf(stderr, "seed: config farm-buckets: %s\n", err);
		refused("config", "farm-buckets");
	} else {
		put("config", "farm-buckets", farm, strlen(farm));
	}
	/* A mirror with etcd as quorum (heartbeatd/etcd.c). */
	static const char etcd[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: app\n"
		"nodes:\n  - {name: node1, addresses: [198.18.0.1]}\n"
		"  - {name: node2, addresses: [198.18.0.2]}\n"
		"quorum: etcd\n"
		"etcd:\n  endpoints: [https://198.18.0.31:2379, "
		"\"http://[2001:2::31]:2379\"]\n"
		"  prefix: /skyha/demo/app\n  lease_ms: 2000\n"
		"  ca_file: ca.crt\n  cert_file: c.crt\n  key_file: c.key\n";
	r = sky_config_parse(path, etcd, strlen(etcd), &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "seed: config etcd: %s\n", err);
		refused("config", "etcd");
	} else {
		put("config", "etcd", etcd, strlen(etcd));
	}
}

/* ---- etcd's JSON gateway replies: the call byte, then the body ---- */

static void etcd_replies(void)
{
	static const struct {
		const char *name;
		enum etcd_call call;
		const char *body;
	} replies[] = {
		{"auth", ETCD_CALL_AUTH,
		 "{\"header\":{},\"token\":"
		 "\"abcDEF.123\"}"},
		{"grant", ETCD_CALL_GRANT,
		 "{\"header\":{\"revision\":\"7\"},\"ID\":"
		 "\"7587869145869318662\",\"TTL\":\"2\"}"},
		{"keepalive", ETCD_CALL_KEEPALIVE,
		 "{\"result\":{\"header\":{\"revision\":\"9\"},\"ID\":"
		 "\"5\",\"TTL\":\"1\"}}"},
		{"txn", ETCD_CALL_TXN,
		 "{\"header\":{\"revision\":\"12\"},\"succeeded\":true,"
		 "\"responses\":[{\"response_range\":{\"header\":{},"
		 "\"kvs\":[{\"key\":\"L2w=\",\"create_revision\":\"4\","
		 "\"mod_revision\":\"11\",\"version\":\"3\",\"value\":"
		 "\"MTIgbm9kZTE=\",\"lease\":\"99\"}],\"count\":\"1\"}},"
		 "{\"response_range\":{\"header\":{}}},{\"response_put\":"
		 "{\"header\":{}}}]}"},
		{"error", ETCD_CALL_TXN,
		 "{\"error\":\"etcdserver: invalid auth token\",\"code\":16,"
		 "\"message\":\"etcdserver: invalid auth token\"}"},
		{"stream-error", ETCD_CALL_KEEPALIVE,
		 "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
		 "\"message\":\"etcdserver: no leader\"}}"},
		{"watch-created", ETCD_CALL_WATCH,
		 "{\"result\":{\"header\":{\"revision\":\"1\"},"
		 "\"created\":true}}"},
		{"watch-events", ETCD_CALL_WATCH,
		 "{\"result\":{\"header\":{\"revision\":\"4\"},"
		 "\"events\":[{\"kv\":{\"key\":\"L2w=\",\"create_revision\":"
		 "\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":"
		 "\"bm9kZTE=\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":"
		 "\"L2w=\",\"mod_revision\":\"4\"}}]}}"},
		{"watch-canceled", ETCD_CALL_WATCH,
		 "{\"result\":{\"canceled\":true,\"cancel_reason\":"
		 "\"mvcc: required revision has been compacted\"}}"},
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		uint8_t buf[1024];
		struct etcd_reply r;
		char err[256];
		size_t bl = strlen(replies[i].body);
		int rc = etcd_reply_parse(replies[i].call,
					  (const uint8_t *)replies[i].body, bl,
					  &r, err, sizeof(err));
		if (rc != 0 && rc != -EREMOTEIO) {
			fprintf(stderr, "seed: etcd %s: %s\n", replies[i].name,
				err);
			refused("etcd", replies[i].name);
			continue;
		}
		buf[0] = (uint8_t)replies[i].call;
		memcpy(buf + 1, replies[i].body, bl);
		put("etcd", replies[i].name, buf, bl + 1);
	}
}

/* ---- healthd ---- */

static void healthd(void)
{
	static const char *const listens[] = {"*:9010", "198.18.0.1:80",
					      "[::1]:9010", "[2001:db8::1]",
					      "127.0.0.1"};
	static const char *const urls[] = {
		"/",	       "/index.html",
		"/console.js", "/console.css",
		"/status",     "/metrics",
		"/health/app", "/var/modules/app/ready.txt"};
	char name[32], buf[128];

	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		snprintf(name, sizeof(name), "listen-%zu", i);
		put_text("listen", name, listens[i]);
	}
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		int n = snprintf(buf, sizeof(buf), "%s%c%s",
				 i % 3 == 2 ? "HEAD" : "GET", '\0', urls[i]);
		snprintf(name, sizeof(name), "url-%zu", i);
		put("route", name, buf, (size_t)n);
	}
	/* method, url, Content-Length, Transfer-Encoding */
	static const char body[] = "POST\0/health/app\0"
				   "12\0chunked";
	put("route", "body", body, sizeof(body) - 1);
}

/* ---- persisted records ---- */

static void records(void)
{
	struct replicd_track *t = NULL;
	struct replicd_alone a;
	struct node_state ns = {.epoch = 7,
				.generation = 12,
				.data = SKY_DATA_UPTODATE,
				.incarnation = 3,
				.peer_incarnation = 2};
	struct witness_state ws = {.incarnation = 4, .newest_generation = 12};
	char path[128], *buf;
	size_t len;

	if (replicd_track_open(tmp, "track.rec", "", &t) < 0 ||
	    replicd_track_mark(t, 0, "dir/file", TRK_ZONES, 1, 3, false) < 0 ||
	    replicd_track_mark(t, 1, "a/b", TRK_META | TRK_ENTRY, 0, 0, false) <
		    0 ||
	    replicd_track_mark(t, 0, "", TRK_TREE, 0, 0, false) < 0 ||
	    replicd_track_mark_alone(t) < 0) {
		refused("track", "record");
	} else {
		snprintf(path, sizeof(path), "%s/track.rec", tmp);
		if (sky_read_file(path, 1 << 20, &buf, &len) < 0) {
			refused("track", "record");
		} else {
			put("track", "record", buf, len);
			/* backupd reads the same format (backup-<id>.rec) */
			put("backup_record", "record", buf, len);
			free(buf);
		}
	}
	replicd_track_free(&t);

	/* A hold journal: a write, a rename, a chmod. */
	struct replicd_hold_journal j;
	static const uint8_t bytes[] = "held";
	struct replicd_op ops[] = {
		{.type = ROP_WRITE,
		 .seq = 5,
		 .path = "db/f",
		 .offset = 65536,
		 .data = bytes,
		 .data_len = sizeof(bytes)},
		{.type = ROP_RENAME,
		 .seq = 6,
		 .dir = 1,
		 .path = "a",
		 .path2 = "b"},
		{.type = ROP_CHMOD, .seq = 7, .path = "b", .mode = 0100640}};
	bool ok = replicd_hold_journal_create(&j, tmp, "2026-12-07.1") == 0;
	for (size_t i = 0; ok && i < SKY_ARRAY_SIZE(ops); i++)
		ok = replicd_hold_journal_append(&j, &ops[i], 1 << 20) == 0;
	ok = ok && replicd_hold_journal_sync(&j) == 0;
	replicd_hold_journal_close(&j);
	snprintf(path, sizeof(path), "%s/hold.journal", tmp);
	if (!ok || sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		refused("hold", "journal");
	} else {
		put("hold", "journal", buf, len);
		free(buf);
	}

	if (replicd_alone_open(&a, tmp) < 0) {
		refused("alone", "stats");
	} else {
		replicd_alone_note(&a, 1796112000000);
		replicd_alone_note(&a, 1796112060000);
		snprintf(path, sizeof(path), "%s/alone.stats", tmp);
		if (replicd_alone_sync(&a, true) < 0 ||
		    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
			refused("alone", "stats");
		} else {
			put("alone", "stats", buf, len);
			free(buf);
		}
		replicd_alone_close(&a);
	}

	sky_strlcpy(ws.newest_node, "node1", sizeof(ws.newest_node));
	snprintf(path, sizeof(path), "%s/node.state", tmp);
	if (node_state_save(path, &ns) < 0 ||
	    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		refused("persist", "node");
	} else {
		put("persist", "node", buf, len);
		free(buf);
	}
	snprintf(path, sizeof(path), "%s/witness.state", tmp);
	if (witness_state_save(path, &ws) < 0 ||
	    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		refused("persist", "witness");
	} else {
		put("persist", "witness", buf, len);
		free(buf);
	}
}

/* ---- checkd's checkers ---- */

static void checkd(void)
{
	/* An IPv4 header (raw sockets), then an echo reply, id 0x1234 seq 7. */
	static const uint8_t raw[28] = {
		0x45, [20] = 0, [24] = 0x12, [25] = 0x34, [27] = 7};
	static const uint8_t v6[8] = {129, [4] = 0x12, [5] = 0x34, [7] = 7};
	int status;
	pid_t pid;

	if (checkd_http_status("HTTP/1.1 200 OK\r\n", 17, &status) < 0 ||
	    checkd_pid_parse(" 4242\n", 6, &pid) < 0 ||
	    !checkd_icmp_is_reply(raw, sizeof(raw), false, true, 0x1234, 7) ||
	    !checkd_icmp_is_reply(v6, sizeof(v6), true, false, 0, 7)) {
		refused("checkd", "all");
		return;
	}
	put_text("checkd", "http", "HTTP/1.1 200 OK\r\n");
	put_text("checkd", "http-204", "HTTP/1.0 204 No Content\n");
	put_text("checkd", "pidfile", " 4242\n");
	put("checkd", "echo-raw", raw, sizeof(raw));
	put("checkd", "echo-v6", v6, sizeof(v6));
}

/* ---- vipd: ARP frames and cloud replies ---- */

static void vipd(void)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
	struct in_addr vip;
	uint8_t f[VIPD_ARP_LEN];
	size_t n;

	inet_pton(AF_INET, "198.18.0.100", &vip);
	n = vipd_arp_announce(f, mac, vip);
	put("frames", "announce", f, n);
	n = vipd_arp_probe(f, mac, vip);
	put("frames", "probe", f, n);
	f[7] = 2; /* the reply a holder of the VIP sends */
	put("frames", "reply", f, n);
	/* A neighbour solicitation for an IPv6 VIP, as Linux sends it: the
	 * solicited advertisement turned into one (type, flags, option,
	 * destination), its checksum computed again. */
	struct in6_addr vip6, asker;
	uint8_t ns[VIPD_NA_LEN];
	inet_pton(AF_INET6, "fd00:198:18::100", &vip6);
	inet_pton(AF_INET6, "fd00:198:18::20", &asker);
	vipd_na_reply(ns, mac, &vip6, &asker);
	memcpy(ns + 8, &asker, 16);
	inet_pton(AF_INET6, "ff02::1:ff00:100", ns + 24);
	ns[40] = 135;
	ns[42] = ns[43] = ns[44] = 0;
	ns[64] = 1;
	uint32_t sum = 58 + (VIPD_NA_LEN - 40);
	for (size_t i = 8; i < VIPD_NA_LEN; i += 2)
		sum += (uint32_t)(ns[i] << 8 | ns[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ns[42] = (uint8_t)(~sum >> 8);
	ns[43] = (uint8_t)~sum;
	put("frames", "ns", ns, sizeof(ns));

	/* Two status bytes, then the body. */
	static const struct {
		const char *target, *name;
		uint16_t status;
		const char *body;
	} replies[] = {
		{"aws", "error", 400,
		 "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
		 "<Message>Request limit exceeded.</Message></Error></Errors>"
		 "<RequestID>1</RequestID></Response>"},
		{"aws", "ok", 200,
		 "<AssignPrivateIpAddressesResponse><requestId>r</requestId>"
		 "<return>true</return></AssignPrivateIpAddressesResponse>"},
		{"aws", "creds", 200,
		 "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAX\","
		 "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
		 "\"Expiration\":\"2026-12-01T08:00:00Z\"}"},
		{"aws", "utc", 200, "2026-12-01T08:00:00Z"},
		{"azure", "token", 200,
		 "{\"access_token\":\"eyJ0eXAi.abc\",\"expires_on\":"
		 "\"1796112000\",\"token_type\":\"Bearer\"}"},
		{"azure", "error", 429,
		 "{\"error\":{\"code\":\"TooManyRequests\",\"message\":"
		 "\"slow down\"}}"},
		{"azure", "operation", 200,
		 "{\"status\":\"Failed\",\"error\":{\"code\":\"X\","
		 "\"message\":\"no\"}}"},
		{"azure", "nic", 200,
		 "{\"etag\":\"W/"
		 "\\\"4\\\"\",\"properties\":{\"ipConfigurations\":"
		 "[{\"name\":\"ipconfig1\",\"properties\":{"
		 "\"privateIPAddress\":"
		 "\"10.1.0.4\",\"primary\":true,\"subnet\":{\"id\":\"/s/sub1\""
		 "}}}]}}"},
		{"azure", "location", 202,
		 "https://management.azure.com/subscriptions/s/providers/"
		 "Microsoft.Network/locations/x/operations/1"},
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		uint8_t buf[1024];
		size_t bl = strlen(replies[i].body);

		buf[0] = (uint8_t)(replies[i].status >> 8);
		buf[1] = (uint8_t)replies[i].status;
		memcpy(buf + 2, replies[i].body, bl);
		put(replies[i].target, replies[i].name, buf, bl + 2);
	}
}

/* ---- backupd's object stores: list pages and errors ---- */

static int count_entry(void *ctx, const char *key, uint64_t size)
{
	(void)key, (void)size;
	++*(int *)ctx;
	return 0;
}

static void object_stores(void)
{
	static const char s3_page[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
		"2006-03-01/\"><Name>skyha-bk</Name><Prefix>bk/data/</Prefix>"
		"<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
		"<IsTruncated>true</IsTruncated><Contents><Key>bk/data/aa/"
		"obj-0001</Key><LastModified>2026-12-07T03:00:00.000Z"
		"</LastModified><ETag>&quot;d41d8&quot;</ETag><Size>11</Size>"
		"<StorageClass>STANDARD</StorageClass></Contents><Contents>"
		"<Key>bk/data/a&amp;b</Key><Size>20971520</Size></Contents>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4"
		"vbOwM=</NextContinuationToken></ListBucketResult>";
	static const char blob_page[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
		"ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
		"ContainerName=\"skyha-bk\"><Prefix>bk/</Prefix><Blobs><Blob>"
		"<Name>bk/config</Name><Properties><Content-Length>77"
		"</Content-Length><BlobType>BlockBlob</BlobType></Properties>"
		"</Blob><Blob><Name>bk/keys/x</Name><Properties>"
		"<Content-Length>0</Content-Length></Properties></Blob></Blobs>"
		"<NextMarker>2!80!MDAwMDE2IWJrL2tleXMveCEwMDAwMjgh</NextMarker>"
		"</EnumerationResults>";
	static const char s3_error[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
		"SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match the signature you provided."
		"</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char upload[] =
		"<InitiateMultipartUploadResult><Bucket>skyha-bk</Bucket>"
		"<Key>bk/data/02/large</"
		"Key><UploadId>VXBsb2FkIElEIGZvciA2aWWpbm"
		"cncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
		"</InitiateMultipartUploadResult>";
	static const char blob_error[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
		"AuthorizationFailure</Code><Message>Server failed to "
		"authenticate the request.\nRequestId:e2b0094c\nTime:2026-12-"
		"07T03:00:00.000Z</Message></Error>";
	char next[256];
	int n = 0;

	if (bk_xml_s3_list(s3_page, sizeof(s3_page) - 1, count_entry, &n, next,
			   sizeof(next)) == 0 &&
	    n == 2)
		put_text("s3list", "page", s3_page);
	else
		refused("s3list", "page");
	put_text("s3list", "error", s3_error);
	put_text("s3list", "upload", upload);
	n = 0;
	if (bk_xml_blob_list(blob_page, sizeof(blob_page) - 1, count_entry, &n,
			     next, sizeof(next)) == 0 &&
	    n == 2)
		put_text("bloblist", "page", blob_page);
	else
		refused("bloblist", "page");
	put_text("bloblist", "error", blob_error);
}

/* A fixed sequence for randombytes_buf (reproducible seeds only!). */
static uint64_t rng_state = 0x5eed5eed5eed5eedull;

static uint32_t rng_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static void rng_buf(void *const buf, const size_t size)
{
	for (size_t i = 0; i < size; i++)
		((uint8_t *)buf)[i] = (uint8_t)rng_random();
}

static const char *rng_name(void)
{
	return "fuzz-seed";
}

static struct randombytes_implementation rng = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

static int remove_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* backupd: a tree, and each object backup_objects_fuzz.c routes by its
 * first byte, made by the real encoders. */
static void put_tagged(const char *name, uint8_t tag, const void *p, size_t len)
{
	uint8_t *b = malloc(len + 1);
	b[0] = tag;
	memcpy(b + 1, p, len);
	put("backup_objects", name, b, len + 1);
	free(b);
}

static void backup_objects(void)
{
	struct bk_tree t = {0};
	const char *names[] = {"dir", "file", "link"};
	const uint8_t types[] = {BK_DIR, BK_FILE, BK_SYMLINK};
	for (int i = 0; i < 3; i++) {
		struct bk_entry e = {0};
		e.name = strdup(names[i]);
		e.type = types[i];
		e.mode = 0644;
		e.mtime_ns = 1700000000000000000LL;
		if (types[i] == BK_SYMLINK)
			e.target = strdup("file");
		if (types[i] == BK_FILE) {
			e.size = 200000;
			e.chunk_count = 1;
			e.chunks = calloc(1, sizeof(*e.chunks));
			e.chunks[0].off = 4096;
			e.chunks[0].len = 65536;
			e.xattr_count = 1;
			e.xattrs = calloc(1, sizeof(*e.xattrs));
			e.xattrs[0].name = strdup("user.a");
			e.xattrs[0].value = (uint8_t *)strdup("1");
			e.xattrs[0].len = 1;
		}
		bk_tree_add(&t, &e);
	}
	uint8_t *buf;
	size_t len;
	struct bk_tree back;
	char why[200];
	if (bk_tree_encode(&t, &buf, &len) == 0 &&
	    bk_tree_parse(buf, len, &back, why, sizeof(why)) == 0) {
		put("backup_tree", "tree", buf, len);
		bk_tree_free(&back);
		free(buf);
	} else {
		refused("backup_tree", "tree");
	}
	bk_tree_free(&t);

	struct bk_pack_entry e[2] = {{BK_BLOB_DATA, {1}, 0, 1000},
				     {BK_BLOB_TREE, {2}, 1000, 300}};
	if (bk_packhdr_encode(e, 2, &buf, &len) == 0) {
		put_tagged("packhdr", 0, buf, len);
		free(buf);
	}
	struct bk_index_pack ip = {{7}, e, 2};
	if (bk_index_encode(&ip, 1, &buf, &len) == 0) {
		put_tagged("index", 1, buf, len);
		free(buf);
	}
	struct bk_snapshot s = {.time_ms = 1700000000000, .path_count = 1};
	char *json;
	snprintf(s.host, sizeof(s.host), "node1");
	snprintf(s.paths[0], sizeof(s.paths[0]), "/srv/data");
	if (bk_snapshot_encode(&s, &json) == 0) {
		put_tagged("snapshot", 2, json, strlen(json));
		free(json);
	}
	const char *lock = "{\"created\":1,\"exclusive\":false,\"expires\":121,"
			   "\"holder\":\"backup\",\"host\":\"n\",\"pid\":3}";
	put_tagged("lock", 3, lock, strlen(lock));
	const char *changes =
		"complete\n0 zones 1+2,9+1 db/file\n1 whole etc\n";
	put_tagged("changes", 4, changes, strlen(changes));
	struct bk_secret sec = {0};
	uint8_t master[32] = {1};
	memset(sec.key, 0x42, sizeof(sec.key));
	if (bk_key_wrap(&sec, master, "fuzz", &json) == 0) {
		put_tagged("key", 5, json, strlen(json));
		free(json);
	}
	struct bk_keys k;
	uint8_t id[BK_ID_LEN] = {0}, ad[BK_BLOB_AD_LEN], *sealed;
	static uint8_t text[4000];
	memset(text, 'a', sizeof(text));
	memset(k.master, 0x42, sizeof(k.master));
	bk_keys_derive(&k);
	/* sealed under the zero id the target opens with (the id check
	 * after it fails: the AEAD and zstd are what is fuzzed) */
	bk_blob_ad(BK_BLOB_DATA, id, ad);
	if (bk_seal(&k, ad, sizeof(ad), text, sizeof(text), true, &sealed,
		    &len) == 0) {
		put_tagged("blob", 6, sealed, len);
		free(sealed);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seed CORPUS_DIR\n");
		return 2;
	}
	top = argv[1];
	randombytes_set_implementation(&rng);
	snprintf(tmp, sizeof(tmp), "/tmp/skyha-fuzz-seed-%d", (int)getpid());
	sky_mkdir_p(tmp, 0700);
	packets();
	ops();
	session(0);
	session(1);
	resync();
	zframes();
	bus();
	ctl();
	skyctl();
	config();
	healthd();
	records();
	vipd();
	checkd();
	etcd_replies();
	object_stores();
	backup_objects();
	nftw(tmp, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	if (failures)
		fprintf(stderr, "seed: %d seeds refused\n", failures);
	return failures ? 1 : 0;
}
