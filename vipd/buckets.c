/*
 * buckets.c - bucket ownership and the nftables ruleset (see buckets.h).
 */
#include "buckets.h"
#include "rendezvous.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

void vipd_buckets_resets(const char *self,
			 const char *const before[VIPD_BUCKETS],
			 const bool reset_before[VIPD_BUCKETS],
			 const char *const now[VIPD_BUCKETS],
			 const char *const *members, size_t member_count,
			 bool reset[VIPD_BUCKETS])
{
	for (unsigned b = 0; b < VIPD_BUCKETS; b++) {
		reset[b] = false;
		if (!before || !same(now[b], self) || !before[b])
			continue;
		if (same(before[b], self)) {
			reset[b] = reset_before && reset_before[b];
			continue;
		}
		bool alive = false;
		for (size_t i = 0; i < member_count && !alive; i++)
			alive = same(members[i], before[b]);
		reset[b] = !alive;
	}
}

static uint64_t module_hash(const char *cluster, const char *module)
{
	uint64_t h = sky_fnv1a64("skyha-buckets", 0xcbf29ce484222325ULL);
	h = sky_fnv1a64(cluster, h);
	h = sky_fnv1a64("/", h);
	return sky_mix64(sky_fnv1a64(module, h));
}

void vipd_buckets_default_vmac(const char *cluster, const char *module,
			       uint8_t mac[6])
{
	uint64_t h = module_hash(cluster, module);
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

uint32_t vipd_buckets_seed(const char *cluster, const char *module)
{
	return (uint32_t)(module_hash(cluster, module) >> 32);
}

void vipd_buckets_table(const char *module, char *out, size_t size)
{
	int n = snprintf(out, size, "skyha_%s", module);
	if (n < 0)
		return;
	for (char *p = out + 6; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

/* --- the script ----------------------------------------------------------- */

struct buf {
	char *p;
	size_t size, len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b,
						      const char *fmt, ...)
{
	va_list ap;
	if (b->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

static bool table_ok(const char *t)
{
	if (!t || strncmp(t, "skyha_", 6) != 0 || strlen(t) > 64)
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Interface names go inside quotes: only what never needs escaping. */
static bool ifname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.' || c == '@'))
			return false;
	}
	return true;
}

static size_t count_family(const struct vipd_ruleset *rs, int family)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->vip_count; i++)
		n += rs->vips[i].family == family;
	return n;
}

/* "{ a, b }": the VIPs of one family (ifname: only those on it). */
static void put_vips(struct buf *b, const struct vipd_ruleset *rs, int family,
		     const char *ifname)
{
	char ip[INET6_ADDRSTRLEN];
	size_t n = 0;
	put(b, "{ ");
	for (size_t i = 0; i < rs->vip_count; i++) {
		const struct vipd_ruleset_vip *v = &rs->vips[i];
		if (v->family != family ||
		    (ifname && strcmp(v->ifname, ifname) != 0))
			continue;
		inet_ntop(family, &v->addr, ip, sizeof(ip));
		put(b, "%s%s", n++ ? ", " : "", ip);
	}
	put(b, " }");
}

static size_t put_set(struct buf *b, const bool set[VIPD_BUCKETS])
{
	size_t n = 0;
	put(b, "{ ");
	for (unsigned i = 0; i < VIPD_BUCKETS; i++)
		if (set[i])
			put(b, "%s%u", n++ ? ", " : "", i);
	put(b, " }");
	return n;
}

static bool any(const bool set[VIPD_BUCKETS])
{
	for (unsigned i = 0; i < VIPD_BUCKETS; i++)
		if (set[i])
			return true;
	return false;
}

/* "<match> jhash ... mod 256 seed S { set } <verdict>" for each hash;
 * saddr is "ip saddr" or "ip6 saddr". */
static void put_bucket_rules(struct buf *b, const struct vipd_ruleset *rs,
			     const char *saddr, const bool set[VIPD_BUCKETS],
			     const char *verdict)
{
	if (rs->address_port) {
		put(b,
		    "\t\tmeta l4proto { tcp, udp } jhash %s . th sport "
		    "mod %u seed 0x%08x ",
		    saddr, VIPD_BUCKETS, rs->seed);
		put_set(b, set);
		put(b, " %s\n", verdict);
		put(b,
		    "\t\tmeta l4proto != { tcp, udp } jhash %s mod %u "
		    "seed 0x%08x ",
		    saddr, VIPD_BUCKETS, rs->seed);
	} else {
		put(b, "\t\tjhash %s mod %u seed 0x%08x ", saddr, VIPD_BUCKETS,
		    rs->seed);
	}
	put_set(b, set);
	put(b, " %s\n", verdict);
}

static void put_delete(struct buf *b, const char *table)
{
	static const char *const families[] = {"inet", "netdev", "arp"};
	/* Declaring an existing table is no error: then it goes. */
	for (size_t i = 0; i < 3; i++)
		put(b, "table %s %s\ndelete table %s %s\n", families[i], table,
		    families[i], table);
}

/*
 * The chain that picks the clients of this node's buckets among the
 * packets to the VIPs of one family (vip: ip, vip6: ip6), and the one that
 * handles mid-flow TCP segments in the input hook.
 */
static void put_family_chains(struct buf *b, const struct vipd_ruleset *rs,
			      int family)
{
	const char *sfx = family == AF_INET ? "" : "6";
	const char *saddr = family == AF_INET ? "ip saddr" : "ip6 saddr";
	put(b, "\tchain vip%s {\n", sfx);
	/* Neighbour discovery is no client traffic: an advertisement to the
	 * VIP answers the solicitation of whichever node asked (the kernel
	 * drops what it did not ask for), and a unicast solicitation (NUD)
	 * is answered by every node with the same virtual MAC, as ARP. */
	if (family == AF_INET6)
		put(b, "\t\ticmpv6 type { nd-neighbor-solicit, "
		       "nd-neighbor-advert } accept\n");
	put(b, "\t\tct state related accept\n"
	       /* UDP datagrams always follow their bucket; connections
		* conntrack knows stay where they are. */
	       "\t\tmeta l4proto != udp ct state established accept\n");
	if (any(rs->owned))
		put_bucket_rules(b, rs, saddr, rs->owned, "accept");
	put(b, "\t\tcounter drop\n\t}\n");
	put(b, "\tchain midflow%s {\n", sfx);
	if (any(rs->reset)) {
		put(b, "\t\tjhash %s%s mod %u seed 0x%08x ", saddr,
		    rs->address_port ? " . tcp sport" : "", VIPD_BUCKETS,
		    rs->seed);
		put_set(b, rs->reset);
		put(b, " counter reject with tcp reset\n");
	}
	put(b, "\t\tcounter drop\n\t}\n");
}

/* One's complement sum of 16-bit words, folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t vipd_buckets_ns_fixup(const uint8_t own[6], const uint8_t vmac[6])
{
	/* own - vmac in one's complement: add the complement of vmac's sum */
	uint32_t sum = csum_add(0, own, 6);
	sum += (~csum_add(0, vmac, 6)) & 0xffff;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * IPv6, output: the kernel must never tell a client that a VIP is at this
 * node's own MAC, or the client would send all its traffic for the VIP to
 * this node alone. It does so twice, and ARP's arp table has no say on
 * either (neighbour discovery is ICMPv6, which the inet hooks see):
 * - it answers solicitations for the VIP (an address on its interface)
 *   with an advertisement from the VIP carrying its own MAC: dropped here,
 *   vipd answers instead with the virtual MAC (lb.c). Dropping the answer
 *   rather than the solicitation leaves the kernel its neighbour cache
 *   update from the asker, which the replies need.
 * - when it replies to a client from the VIP, it asks for the client's MAC
 *   from the VIP, with its own MAC in the source link-layer address
 *   option, which the client caches for the VIP (RFC 4861 7.2.3): the
 *   option's MAC is rewritten to the virtual one. The raw payload write
 *   does not fix the ICMPv6 checksum, so the same rule also writes the
 *   first 16 bits of the Reserved field (ignored by receivers, RFC 4861
 *   4.3) with the one's complement difference of the two MACs: the sum,
 *   hence the checksum the kernel computed, stays right (for a reserved
 *   field the kernel sent as zero).
 * Layout of the solicitation after the ICMPv6 header (bit offsets from
 * @th): reserved 32..63, target 64..191, option type 192..199, length
 * 200..207 (1: 8 bytes), MAC 208..255. The kernel puts the source
 * link-layer option first; the rule checks its type and length.
 * The alternative - the VIP as a /128 on lo, where the kernel neither
 * answers for it on the interface nor picks it as the source of its
 * solicitations - would move the address off the interface the file names
 * and need an on-link route to the clients' prefix that vipd would then
 * own; the rules keep the IPv6 path the same as IPv4's (the address on its
 * interface, nftables keeping the kernel from naming this node's MAC).
 */
static void put_nd_output(struct buf *b, const struct vipd_ruleset *rs,
			  const char *mac_hex)
{
	put(b, "\tchain output {\n"
	       "\t\ttype filter hook output priority 0; policy accept;\n"
	       "\t\tip6 saddr ");
	put_vips(b, rs, AF_INET6, NULL);
	put(b, " icmpv6 type nd-neighbor-advert counter drop\n");
	for (size_t i = 0; i < rs->vip_count; i++) {
		const struct vipd_ruleset_vip *v = &rs->vips[i];
		bool seen = false;
		if (v->family != AF_INET6 || !v->ifmac_ok)
			continue;
		for (size_t k = 0; k < i; k++)
			seen |= rs->vips[k].family == AF_INET6 &&
				rs->vips[k].ifmac_ok &&
				strcmp(rs->vips[k].ifname, v->ifname) == 0;
		if (seen)
			continue;
		put(b, "\t\toifname \"%s\" ip6 saddr ", v->ifname);
		put_vips(b, rs, AF_INET6, v->ifname);
		put(b,
		    " icmpv6 type nd-neighbor-solicit @th,192,16 0x0101 "
		    "counter "
		    "@th,208,48 set 0x%s @th,32,16 set 0x%04x\n",
		    mac_hex, vipd_buckets_ns_fixup(v->ifmac, rs->vmac));
	}
	put(b, "\t}\n");
}

int vipd_buckets_ruleset(const struct vipd_ruleset *rs, char *out, size_t size)
{
	struct buf b = {.p = out, .size = size};
	char mac[18], mac_hex[13];

	if (!size)
		return -ENOSPC;
	out[0] = '\0';
	if (!table_ok(rs->table) || rs->vip_count == 0 ||
	    rs->vip_count > VIPD_RULESET_VIPS)
		return -EINVAL;
	for (size_t i = 0; i < rs->vip_count; i++)
		if (!ifname_ok(rs->vips[i].ifname) ||
		    (rs->vips[i].family != AF_INET &&
		     rs->vips[i].family != AF_INET6))
			return -EINVAL;
	size_t v4 = count_family(rs, AF_INET), v6 = count_family(rs, AF_INET6);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", rs->vmac[0],
		 rs->vmac[1], rs->vmac[2], rs->vmac[3], rs->vmac[4],
		 rs->vmac[5]);
	snprintf(mac_hex, sizeof(mac_hex), "%02x%02x%02x%02x%02x%02x",
		 rs->vmac[0], rs->vmac[1], rs->vmac[2], rs->vmac[3],
		 rs->vmac[4], rs->vmac[5]);

	put_delete(&b, rs->table);

	/* Frames to the virtual MAC are for this host (one chain per
	 * interface, each interface once), whatever they carry. */
	put(&b, "table netdev %s {\n", rs->table);
	for (size_t i = 0; i < rs->vip_count; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= strcmp(rs->vips[k].ifname,
				       rs->vips[i].ifname) == 0;
		if (seen)
			continue;
		put(&b,
		    "\tchain in%zu {\n"
		    "\t\ttype filter hook ingress device \"%s\" priority "
		    "-500; policy accept;\n"
		    "\t\tether daddr %s meta pkttype set host\n"
		    "\t}\n",
		    i, rs->vips[i].ifname, mac);
	}
	put(&b, "}\n");

	/* vipd answers ARP for the VIPs with the virtual MAC; the kernel,
	 * which would answer with the node's own, must not. (Replies to
	 * what this node asked pass: they are no requests.) The table is
	 * there with IPv6 VIPs only too: vipd checks that all three are. */
	put(&b, "table arp %s {\n", rs->table);
	if (v4) {
		put(&b, "\tchain input {\n"
			"\t\ttype filter hook input priority 0; policy "
			"accept;\n"
			"\t\tarp operation request arp daddr ip ");
		put_vips(&b, rs, AF_INET, NULL);
		put(&b, " drop\n\t}\n");
		/* When the kernel asks for a client's MAC from the VIP, the
		 * client learns the VIP's sender MAC: the virtual one, never
		 * this node's. */
		put(&b, "\tchain output {\n"
			"\t\ttype filter hook output priority 0; policy "
			"accept;\n"
			"\t\tarp saddr ip ");
		put_vips(&b, rs, AF_INET, NULL);
		put(&b, " arp saddr ether set %s\n\t}\n", mac);
	}
	put(&b, "}\n");

	put(&b,
	    "table inet %s {\n"
	    "\tchain prerouting {\n"
	    "\t\ttype filter hook prerouting priority -150; policy accept;\n",
	    rs->table);
	if (v4) {
		put(&b, "\t\tip daddr ");
		put_vips(&b, rs, AF_INET, NULL);
		put(&b, " jump vip\n");
	}
	if (v6) {
		put(&b, "\t\tip6 daddr ");
		put_vips(&b, rs, AF_INET6, NULL);
		put(&b, " jump vip6\n");
	}
	put(&b, "\t}\n");
	if (v4)
		put_family_chains(&b, rs, AF_INET);
	if (v6)
		put_family_chains(&b, rs, AF_INET6);

	/* A TCP segment that opens nothing, of a flow this node does not
	 * know, in a bucket it owns: the flow is another node's (which keeps
	 * it), or was a node's that left (reset: the client reconnects). */
	put(&b, "\tchain input {\n"
		"\t\ttype filter hook input priority 0; policy accept;\n");
	if (v4) {
		put(&b, "\t\tip daddr ");
		put_vips(&b, rs, AF_INET, NULL);
		put(&b, " meta l4proto tcp ct state new tcp flags & (syn | "
			"ack) != syn jump midflow\n");
	}
	if (v6) {
		put(&b, "\t\tip6 daddr ");
		put_vips(&b, rs, AF_INET6, NULL);
		put(&b, " meta l4proto tcp ct state new tcp flags & (syn | "
			"ack) != syn jump midflow6\n");
	}
	put(&b, "\t}\n");
	if (v6)
		put_nd_output(&b, rs, mac_hex);
	put(&b, "}\n");
	return b.full ? -ENOSPC : 0;
}

int vipd_buckets_teardown(const char *table, char *out, size_t size)
{
	struct buf b = {.p = out, .size = size};
	if (!size)
		return -ENOSPC;
	out[0] = '\0';
	if (!table_ok(table))
		return -EINVAL;
	put_delete(&b, table);
	return b.full ? -ENOSPC : 0;
}
