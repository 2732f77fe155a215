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

/* Count a decode error in the matching counter. */
void net_count_error(struct net_counters *c, enum pkt_error e);

#endif
