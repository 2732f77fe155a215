/*
 * seed_heartbeatd.c - seeds for what heartbeatd reads off the network:
 * heartbeat, lease request and lease reply packets made by packet_encode()
 * under the packet target's fixed key, and etcd's JSON gateway replies as
 * etcd sends them, each kept only if etcd_json.c's parser accepts it.
 */
#include "etcd_json.h"
#include "packet.h"
#include "seed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The fuzz target's fixed key (packet_fuzz.c). */
static const uint8_t pkt_key[PKT_KEY_BYTES] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";

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

void seed_packets(void)
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
			seed_refused("packet", names[i]);
			continue;
		}
		seed_put("packet", names[i], buf, (size_t)n);
		/* witness: the clock (ms, big-endian) first. */
		memmove(buf + 8, buf, (size_t)n);
		memset(buf, 0, 8);
		buf[6] = 0x13;
		buf[7] = 0x89; /* 5001 ms: a request sent, answered */
		if (i > 0)
			seed_put("witness", names[i], buf, (size_t)n + 8);
	}
}

/* ---- etcd's JSON gateway replies: the call byte, then the body ---- */

void seed_etcd_replies(void)
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
			seed_refused("etcd", replies[i].name);
			continue;
		}
		buf[0] = (uint8_t)replies[i].call;
		memcpy(buf + 1, replies[i].body, bl);
		seed_put("etcd", replies[i].name, buf, bl + 1);
	}
}
