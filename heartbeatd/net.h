/*
 * net.h - UDP sockets for heartbeats and the witness, and the counters of
 * what arrived and what was thrown away.
 */
#ifndef SKYHA_NET_H
#define SKYHA_NET_H

#include "config.h"
#include "packet.h"

#include <stdint.h>

struct net_counters {
	uint64_t tx, tx_errors, rx;
	uint64_t bad_mac, replay, malformed, oversized;
	uint64_t wrong_cluster, unknown_node;
};

/* The kinds of dropped packet: each has its counter (named alike). */
enum net_drop {
	NET_DROP_BAD_MAC,
	NET_DROP_REPLAY,
	NET_DROP_MALFORMED, /* truncated, bad field, wrong network index */
	NET_DROP_OVERSIZED,
	NET_DROP_WRONG_CLUSTER, /* another cluster's or module's packet */
	NET_DROP_UNKNOWN_NODE,	/* not the peer, or not a heartbeat */
	NET_DROP_KINDS,
};

/*
 * The drop log: every kind logs at most one line a second, and each line
 * says how many packets of that kind were dropped since the kind's
 * previous line, and what the newest of them was:
 *
 *   dropped 1 bad_mac packet: ...                    (the first at once)
 *   dropped 412 bad_mac packets in 1.0 s, the last: ...
 *
 * A kind never silences another. Drops that came within the second are
 * written by net_drops_flush() once the second is over, even when no
 * further packet arrives, so no count is ever lost in the log.
 */
struct net_drops {
	struct net_drop_kind {
		int64_t logged_ms; /* this kind's last line; 0: none yet */
		uint64_t pending;  /* dropped since that line */
		char last[160];	   /* what the newest of those was */
	} kind[NET_DROP_KINDS];
};

/* The counter's name of a kind: "bad_mac", "replay"... */
const char *net_drop_name(enum net_drop k);
/* The kind of a packet_decode() rejection. */
enum net_drop net_drop_of(enum pkt_error e);
/*
 * Count one dropped packet in c (NULL: no counter) and the drop log d;
 * the printf-style detail says what it was and where from.
 */
void net_drop(struct net_counters *c, struct net_drops *d, enum net_drop k,
	      int64_t now, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Write the line of every kind whose second is over with drops pending. */
void net_drops_flush(struct net_drops *d, int64_t now);
/* "198.18.0.2:40000" or "[fd00::2]:40000" for a log line. */
void net_addr_text(const struct sockaddr_storage *sa, char *buf, size_t size);

/*
 * A UDP socket bound to addr (its port included). IP_FREEBIND lets it bind
 * before the address is configured, so a late interface is not fatal.
 */
int net_udp_bind(const struct sky_addr *addr, int *out_fd);
/* An unbound UDP socket of the address's family, for client traffic. */
int net_udp_client(int family, int *out_fd);

int net_send(int fd, const struct sky_addr *to, const uint8_t *buf, size_t len);

/* Receive one datagram (truncation detected: oversized returns -EMSGSIZE). */
int net_recv(int fd, uint8_t *buf, size_t size, size_t *len,
	     struct sockaddr_storage *from);

#endif
