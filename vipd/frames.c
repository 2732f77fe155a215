/*
 * frames.c - see frames.h.
 */
#include "frames.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const uint8_t vipd_mac_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t vipd_mac_all_nodes[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};

#define ARPHRD_ETHER_	  1
#define ETH_P_IP_	  0x0800
#define ARP_REQUEST	  1
#define ARP_REPLY	  2
#define ICMPV6_NS	  135
#define ICMPV6_NA	  136
#define ND_OPT_SLLA	  1
#define ND_OPT_TLLA	  2
#define NA_FLAG_SOLICITED 0x40 /* high byte of the 32-bit flags word */
#define NA_FLAG_OVERRIDE  0x20

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static size_t arp_build(uint8_t out[VIPD_ARP_LEN], const uint8_t sha[6],
			const void *spa, const void *tpa)
{
	uint8_t *p = out;
	p = put16(p, ARPHRD_ETHER_);
	p = put16(p, ETH_P_IP_);
	*p++ = 6;
	*p++ = 4;
	p = put16(p, ARP_REQUEST);
	memcpy(p, sha, 6);
	p += 6;
	memcpy(p, spa, 4);
	p += 4;
	memset(p, 0, 6); /* target MAC: unknown, ignored (RFC 5227) */
	p += 6;
	memcpy(p, tpa, 4);
	p += 4;
	return (size_t)(p - out);
}

size_t vipd_arp_announce(uint8_t out[VIPD_ARP_LEN], const uint8_t mac[6],
			 struct in_addr vip)
{
	return arp_build(out, mac, &vip.s_addr, &vip.s_addr);
}

size_t vipd_arp_probe(uint8_t out[VIPD_ARP_LEN], const uint8_t mac[6],
		      struct in_addr vip)
{
	static const uint8_t zero[4];
	return arp_build(out, mac, zero, &vip.s_addr);
}

size_t vipd_arp_reply(uint8_t out[VIPD_ARP_LEN], const uint8_t sha[6],
		      struct in_addr spa, const uint8_t tha[6],
		      struct in_addr tpa)
{
	size_t n = arp_build(out, sha, &spa.s_addr, &tpa.s_addr);
	put16(out + 6, ARP_REPLY);
	memcpy(out + 18, tha, 6);
	return n;
}

/* The Internet checksum over the IPv6 pseudo-header and the ICMPv6 message. */
static uint16_t icmp6_checksum(const uint8_t src[16], const uint8_t dst[16],
			       const uint8_t *msg, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < 16; i += 2) {
		sum += (uint32_t)(src[i] << 8 | src[i + 1]);
		sum += (uint32_t)(dst[i] << 8 | dst[i + 1]);
	}
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	sum += 58; /* next header: ICMPv6 */
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(msg[i] << 8 | msg[i + 1]);
	if (len & 1)
		sum += (uint32_t)(msg[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An advertisement from vip to dst_ip with the flags (high byte). */
static size_t na_build(uint8_t out[VIPD_NA_LEN], const uint8_t mac[6],
		       const struct in6_addr *vip, const uint8_t dst_ip[16],
		       uint8_t flags)
{
	uint8_t *ip = out, *icmp = out + 40;
	const size_t icmp_len = VIPD_NA_LEN - 40;

	memset(out, 0, VIPD_NA_LEN);
	ip[0] = 0x60; /* version 6, traffic class 0, flow label 0 */
	put16(ip + 4, (uint16_t)icmp_len);
	ip[6] = 58;  /* ICMPv6 */
	ip[7] = 255; /* required: receivers drop NAs that crossed a router */
	memcpy(ip + 8, vip->s6_addr, 16);
	memcpy(ip + 24, dst_ip, 16);

	icmp[0] = ICMPV6_NA;
	icmp[1] = 0;
	icmp[4] = flags;
	memcpy(icmp + 8, vip->s6_addr, 16);
	icmp[24] = ND_OPT_TLLA;
	icmp[25] = 1; /* in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);
	put16(icmp + 2, icmp6_checksum(ip + 8, ip + 24, icmp, icmp_len));
	return VIPD_NA_LEN;
}

static const uint8_t all_nodes_ip[16] = {0xff, 0x02, [15] = 0x01};

size_t vipd_na_unsolicited(uint8_t out[VIPD_NA_LEN], const uint8_t mac[6],
			   const struct in6_addr *vip)
{
	/* Not Router, not Solicited, Override: replace cached MACs. */
	return na_build(out, mac, vip, all_nodes_ip, NA_FLAG_OVERRIDE);
}

size_t vipd_na_reply(uint8_t out[VIPD_NA_LEN], const uint8_t mac[6],
		     const struct in6_addr *vip, const struct in6_addr *dst)
{
	/* Override: every node answers with the same virtual MAC, which
	 * must replace whatever the asker had (RFC 4861 7.2.4). */
	if (IN6_IS_ADDR_UNSPECIFIED(dst))
		return na_build(out, mac, vip, all_nodes_ip, NA_FLAG_OVERRIDE);
	return na_build(out, mac, vip, dst->s6_addr,
			NA_FLAG_OVERRIDE | NA_FLAG_SOLICITED);
}

int vipd_ns_parse(const uint8_t *buf, size_t len, struct vipd_ns *out)
{
	if (!buf || len < VIPD_NS_MIN_LEN || (buf[0] >> 4) != 6)
		return -EBADMSG;
	size_t plen = (size_t)(buf[4] << 8 | buf[5]);
	/* Longer is fine (Ethernet padding); the payload is what counts. */
	if (plen < VIPD_NS_MIN_LEN - 40 || 40 + plen > len)
		return -EBADMSG;
	const uint8_t *icmp = buf + 40;
	if (buf[6] != 58 || buf[7] != 255 || icmp[0] != ICMPV6_NS ||
	    icmp[1] != 0)
		return -EBADMSG;
	if (icmp6_checksum(buf + 8, buf + 24, icmp, plen) != 0)
		return -EBADMSG;
	memcpy(out->src.s6_addr, buf + 8, 16);
	memcpy(out->dst.s6_addr, buf + 24, 16);
	memcpy(out->target.s6_addr, icmp + 8, 16);
	if (IN6_IS_ADDR_MULTICAST(&out->target))
		return -EBADMSG;
	bool slla = false;
	for (size_t off = 24; off < plen;) {
		if (plen - off < 2 || icmp[off + 1] == 0 ||
		    (size_t)icmp[off + 1] * 8 > plen - off)
			return -EBADMSG;
		slla |= icmp[off] == ND_OPT_SLLA;
		off += (size_t)icmp[off + 1] * 8;
	}
	/* Duplicate address detection: to the solicited-node group. */
	static const uint8_t snm[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
	if (IN6_IS_ADDR_UNSPECIFIED(&out->src) &&
	    (slla || memcmp(out->dst.s6_addr, snm, 13) != 0))
		return -EBADMSG;
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int vipd_arp_parse(const uint8_t *buf, size_t len, struct vipd_arp *out)
{
	/* Longer is fine (Ethernet padding); shorter is not. */
	if (!buf || len < VIPD_ARP_LEN)
		return -EBADMSG;
	if (get16(buf) != ARPHRD_ETHER_ || get16(buf + 2) != ETH_P_IP_ ||
	    buf[4] != 6 || buf[5] != 4)
		return -EBADMSG;
	out->op = get16(buf + 6);
	if (out->op != ARP_REQUEST && out->op != ARP_REPLY)
		return -EBADMSG;
	memcpy(out->sha, buf + 8, 6);
	memcpy(&out->spa.s_addr, buf + 14, 4);
	memcpy(out->tha, buf + 18, 6);
	memcpy(&out->tpa.s_addr, buf + 24, 4);
	return 0;
}

bool vipd_arp_conflicts(const struct vipd_arp *a, const uint8_t own_mac[6],
			struct in_addr vip)
{
	return a->spa.s_addr == vip.s_addr && memcmp(a->sha, own_mac, 6) != 0;
}

void vipd_mac_text(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}
