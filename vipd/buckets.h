/*
 * buckets.h - a farm's load spread without a load balancer (vipd.lb:
 * buckets): which of the 256 buckets each member owns, and the nftables
 * ruleset that makes this node accept only its own buckets.
 *
 * Every UP node holds the VIP. ARP (IPv6: neighbour solicitation) for it
 * is answered with a virtual
 * unicast MAC that no node ever uses as a source address, so switches
 * (a Linux bridge) flood the clients' frames to every node. Each node
 * accepts frames to that MAC (netdev ingress: pkttype set host) and, in
 * prerouting, drops the packets whose bucket - jhash of the client's
 * address (or address and port) mod 256, with a seed all nodes share - it
 * does not own. Flows conntrack already knows stay where they are, so a
 * rebalance does not break live TCP connections.
 *
 * Ownership is weighted rendezvous hashing (shared/rendezvous.h, which
 * skyctl uses too): a member leaving moves only its own buckets, and
 * coming back takes back only those.
 *
 * Everything here is pure (no I/O): unit tests drive it directly.
 */
#ifndef SKYHA_VIPD_BUCKETS_H
#define SKYHA_VIPD_BUCKETS_H

#include "rendezvous.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIPD_BUCKETS	       256
#define VIPD_BUCKET_WEIGHT_MAX 100

/*
 * Which buckets `self` owns now that were taken over from a member that
 * left: reset[b] for b owned by self in now[] whose owner in before[] is
 * another node no longer among members (mid-flow TCP segments there get a
 * reset, buckets.h), or that self kept and was already resetting
 * (reset_before). A bucket from a live member, or with no owner before
 * (before == NULL: this node's first ruleset), is not reset. Owners are
 * names (NULL: none).
 */
void vipd_buckets_resets(const char *self,
			 const char *const before[VIPD_BUCKETS],
			 const bool reset_before[VIPD_BUCKETS],
			 const char *const now[VIPD_BUCKETS],
			 const char *const *members, size_t member_count,
			 bool reset[VIPD_BUCKETS]);

/*
 * The default virtual MAC of a module: locally administered, unicast
 * (02:xx:xx:xx:xx:xx), from the cluster and module names.
 */
void vipd_buckets_default_vmac(const char *cluster, const char *module,
			       uint8_t mac[6]);

/* The jhash seed every node of the module uses. */
uint32_t vipd_buckets_seed(const char *cluster, const char *module);

/* "skyha_<module>", with any character nft would not take as '_'. */
void vipd_buckets_table(const char *module, char *out, size_t size);

#define VIPD_RULESET_VIPS 16

struct vipd_ruleset_vip {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	const char *ifname;
	/* IPv6: this node's own MAC on ifname (ifmac_ok), which the kernel
	 * puts in the neighbour solicitations it sends from the VIP; the
	 * ruleset rewrites it to the virtual MAC (see buckets.c). */
	uint8_t ifmac[6];
	bool ifmac_ok;
};

struct vipd_ruleset {
	const char *table; /* vipd_buckets_table() */
	uint8_t vmac[6];
	uint32_t seed;
	bool address_port; /* hash the source port too (TCP, UDP) */
	struct vipd_ruleset_vip vips[VIPD_RULESET_VIPS];
	size_t vip_count;
	bool owned[VIPD_BUCKETS];
	/* Buckets gained from a member that left: mid-flow TCP packets of
	 * flows this node does not know get a reset (the client reconnects
	 * at once); elsewhere they are dropped (their owner still has them). */
	bool reset[VIPD_BUCKETS];
};

/*
 * The script for `nft -f -` that replaces the module's three tables (inet,
 * netdev, arp) in one transaction. IPv4 and IPv6 VIPs take the same bucket
 * decision (the same set, seed and hash fields, on ip or ip6 saddr). 0, or -ENOSPC when out is too small
 * (16 KiB is always enough), -EINVAL for no VIP or a bad name.
 */
int vipd_buckets_ruleset(const struct vipd_ruleset *rs, char *out, size_t size);

/*
 * The 16-bit word that, written in the Reserved field of a neighbour
 * solicitation whose source link-layer option goes from own to vmac, keeps
 * its ICMPv6 checksum right (one's complement own - vmac; buckets.c).
 */
uint16_t vipd_buckets_ns_fixup(const uint8_t own[6], const uint8_t vmac[6]);

/* The script that deletes the three tables (whether they exist or not). */
int vipd_buckets_teardown(const char *table, char *out, size_t size);

#endif
