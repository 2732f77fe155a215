/*
 * packet.h - the UDP wire format between nodes and the witness.
 *
 * Pure encode/decode, no I/O, so unit tests and fuzzers call it directly.
 * Fields are encoded one by one (never a struct copy), big-endian, with a
 * length byte before each name, and an HMAC-SHA-256 over the whole packet
 * keyed with the cluster key. docs/protocol.md is the reference.
 */
#ifndef SKYHA_PACKET_H
#define SKYHA_PACKET_H

#include "bus.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

#define PKT_MAGIC     "SKH1"
#define PKT_VERSION   1
#define PKT_MAX	      512
#define PKT_MAC_BYTES 32
#define PKT_KEY_BYTES 32

enum pkt_type {
	PKT_HEARTBEAT = 1,
	PKT_LEASE_REQUEST = 2,
	PKT_LEASE_REPLY = 3,
};

/* Heartbeat flags. */
#define HB_FLAG_SWAP_REQUEST  0x01 /* this SECOND asks the primary to swap */
#define HB_FLAG_HANDOVER      0x02 /* this node hands the primary role over */
#define HB_FLAG_PREFER_SECOND 0x04 /* operator said `second` */
#define HB_FLAG_PREFER_PRIM   0x08 /* operator said `prim` */
#define HB_FLAG_FORCED	      0x10 /* operator said `prim --force` */
/* This node's copy holds changes made without the peer (replicd's record
 * says so): two such copies diverged, and neither is elected. */
#define HB_FLAG_ALONE_CHANGES 0x20
/* With HANDOVER: this node's actuators have left the primary role (the
 * application stopped, replicd secondary): the peer may take over now, and
 * no write of the stopping application is left behind. */
#define HB_FLAG_HANDOVER_DONE 0x40

/* Lease request flags. */
#define LEASE_FLAG_NEW_GENERATION 0x01
#define LEASE_FLAG_FORCE	  0x02
#define LEASE_FLAG_RELEASE	  0x04

enum lease_answer {
	LEASE_GRANTED = 0,
	LEASE_HELD_BY_OTHER = 1,
	LEASE_OUTDATED = 2,
	LEASE_RELEASED = 3,
	LEASE_ANSWER_COUNT,
};
const char *lease_answer_name(enum lease_answer a);

struct pkt_header {
	uint8_t type;
	char cluster[SKY_NAME_MAX + 1];
	char module[SKY_NAME_MAX + 1];
	char node[SKY_NAME_MAX + 1];
	uint64_t incarnation;
	uint64_t sequence;
};

struct pkt_heartbeat {
	uint8_t network;
	uint8_t role; /* enum sky_role */
	uint64_t epoch;
	uint64_t generation;
	uint8_t data; /* enum sky_data */
	uint8_t flags;
};

struct pkt_lease_request {
	uint64_t request_id;
	uint64_t generation;
	uint8_t flags;
};

struct pkt_lease_reply {
	uint64_t request_id;
	uint8_t answer; /* enum lease_answer */
	uint32_t lease_ms;
	uint64_t generation;
	char holder[SKY_NAME_MAX + 1]; /* may be empty */
};

struct packet {
	struct pkt_header hdr;
	union {
		struct pkt_heartbeat hb;
		struct pkt_lease_request req;
		struct pkt_lease_reply reply;
	};
};

/* Why a packet was rejected; each has a counter. */
enum pkt_error {
	PKT_OK = 0,
	PKT_ERR_MALFORMED, /* truncated, bad magic/version/type, bad field */
	PKT_ERR_OVERSIZED, /* longer than PKT_MAX */
	PKT_ERR_BAD_MAC,   /* MAC does not verify with the cluster key */
	PKT_ERR_COUNT,
};

/* Encode into buf (at least PKT_MAX bytes); returns the length or -errno. */
int packet_encode(const struct packet *p, const uint8_t key[PKT_KEY_BYTES],
		  uint8_t *buf, size_t size);

/*
 * Decode and authenticate. The MAC is verified before any field is trusted.
 * Returns PKT_OK or the reason for rejection; *out is filled only on PKT_OK.
 */
enum pkt_error packet_decode(const uint8_t *buf, size_t len,
			     const uint8_t key[PKT_KEY_BYTES],
			     struct packet *out);

/* Replay protection: the highest (incarnation, sequence) accepted so far. */
struct replay_guard {
	uint64_t incarnation;
	uint64_t sequence;
	bool seen;
};
/* True (and the guard advances) if (incarnation, sequence) is new. */
bool replay_guard_accept(struct replay_guard *g, uint64_t incarnation,
			 uint64_t sequence);

#endif
