/*
 * frames.h - the packets vipd sends and the ARP packets it reads, built and
 * parsed without I/O (unit tests check them byte by byte).
 *
 * Sent through an AF_PACKET SOCK_DGRAM socket: the kernel adds the Ethernet
 * header (source: the interface's MAC; destination: the address given to
 * sendto), vipd builds everything after it.
 *
 *   ARP announcement (RFC 5227 2.3, "gratuitous ARP"): a request with
 *     sender = target = the VIP, sender MAC = ours, to ff:ff:ff:ff:ff:ff.
 *     Neighbours that know the VIP replace its MAC with ours (Linux treats
 *     a request whose sender and target addresses match as a gratuitous
 *     ARP and overrides its entry even within locktime).
 *   ARP probe (RFC 5227 2.1.1): sender address 0.0.0.0, target the VIP: a
 *     host that already uses the VIP answers, and nobody's cache changes.
 *   Unsolicited neighbour advertisement (RFC 4861 4.4, 7.2.6): IPv6 header
 *     (source the VIP, destination ff02::1, hop limit 255) + ICMPv6 type
 *     136 with the Override flag, target the VIP, and the target
 *     link-layer address option; to 33:33:00:00:00:01.
 */
#ifndef SKYHA_VIPD_FRAMES_H
#define SKYHA_VIPD_FRAMES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIPD_ARP_LEN 28 /* Ethernet/IPv4 ARP payload */
#define VIPD_NA_LEN  72 /* IPv6 header 40 + NA 24 + option 8 */

extern const uint8_t vipd_mac_broadcast[6];
extern const uint8_t vipd_mac_all_nodes[6]; /* 33:33:00:00:00:01 */

size_t vipd_arp_announce(uint8_t out[VIPD_ARP_LEN], const uint8_t mac[6],
			 struct in_addr vip);
size_t vipd_arp_probe(uint8_t out[VIPD_ARP_LEN], const uint8_t mac[6],
		      struct in_addr vip);
/* An ARP reply: "spa is at sha", to the asker (tha, tpa). */
size_t vipd_arp_reply(uint8_t out[VIPD_ARP_LEN], const uint8_t sha[6],
		      struct in_addr spa, const uint8_t tha[6],
		      struct in_addr tpa);
size_t vipd_na_unsolicited(uint8_t out[VIPD_NA_LEN], const uint8_t mac[6],
			   const struct in6_addr *vip);
/*
 * The answer to a neighbour solicitation for vip (RFC 4861 7.2.4): from
 * the VIP to the asker (dst), Solicited and Override, the target
 * link-layer address option mac. An asker doing duplicate address
 * detection (dst ::) gets it at ff02::1, without the Solicited flag.
 */
size_t vipd_na_reply(uint8_t out[VIPD_NA_LEN], const uint8_t mac[6],
		     const struct in6_addr *vip, const struct in6_addr *dst);

#define VIPD_NS_MIN_LEN 64 /* IPv6 header 40 + NS 24 */

struct vipd_ns {
	struct in6_addr src, dst, target;
};

/*
 * Parse an IPv6 packet (what AF_PACKET SOCK_DGRAM returns for ETH_P_IPV6)
 * that should be a neighbour solicitation as RFC 4861 7.1.1 validates it:
 * ICMPv6 right after the IPv6 header, hop limit 255, code 0, a correct
 * checksum, at least 24 bytes, options each of a non-zero length within
 * the packet, a target that is no multicast address, and from :: only to
 * a solicited-node multicast address without a source link-layer option.
 * 0, or -EBADMSG.
 */
int vipd_ns_parse(const uint8_t *buf, size_t len, struct vipd_ns *out);

struct vipd_arp {
	uint16_t op; /* 1 request, 2 reply */
	uint8_t sha[6], tha[6];
	struct in_addr spa, tpa;
};

/*
 * Parse an Ethernet/IPv4 ARP payload (what AF_PACKET SOCK_DGRAM returns).
 * 0, or -EBADMSG for anything short, of another hardware or protocol type,
 * other address lengths, or an operation other than request and reply.
 */
int vipd_arp_parse(const uint8_t *buf, size_t len, struct vipd_arp *out);

/*
 * Does this ARP packet say another host uses vip? Its sender address is the
 * VIP and its sender MAC is not ours (a reply to our probe, or that host's
 * own announcement).
 */
bool vipd_arp_conflicts(const struct vipd_arp *a, const uint8_t own_mac[6],
			struct in_addr vip);

/* "02:00:00:00:00:01" */
void vipd_mac_text(const uint8_t mac[6], char out[18]);

#endif
