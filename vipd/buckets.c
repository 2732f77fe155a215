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

static void put_vips(struct buf *b, const struct vipd_ruleset *rs)
{
	char ip[INET_ADDRSTRLEN];
	put(b, "{ ");
	for (size_t i = 0; i < rs->vip_count; i++) {
		inet_ntop(AF_INET, &rs->vips[i], ip, sizeof(ip));
		put(b, "%s%s", i ? ", " : "", ip);
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

/* "<match> jhash ... mod 256 seed S { set } <verdict>" for each hash. */
static void put_bucket_rules(struct buf *b, const struct vipd_ruleset *rs,
			     const bool set[VIPD_BUCKETS], const char *verdict)
{
	if (rs->address_port) {
		put(b,
		    "\t\tmeta l4proto { tcp, udp } jhash ip saddr . th sport "
		    "mod %u seed 0x%08x ",
		    VIPD_BUCKETS, rs->seed);
		put_set(b, set);
		put(b, " %s\n", verdict);
		put(b,
		    "\t\tmeta l4proto != { tcp, udp } jhash ip saddr mod %u "
		    "seed 0x%08x ",
		    VIPD_BUCKETS, rs->seed);
	} else {
		put(b, "\t\tjhash ip saddr mod %u seed 0x%08x ", VIPD_BUCKETS,
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

int vipd_buckets_ruleset(const struct vipd_ruleset *rs, char *out, size_t size)
{
	struct buf b = {.p = out, .size = size};
	char mac[18];

	if (!size)
		return -ENOSPC;
	out[0] = '\0';
	if (!table_ok(rs->table) || rs->vip_count == 0 ||
	    rs->vip_count > VIPD_RULESET_VIPS)
		return -EINVAL;
	for (size_t i = 0; i < rs->vip_count; i++)
		if (!ifname_ok(rs->ifnames[i]))
			return -EINVAL;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", rs->vmac[0],
		 rs->vmac[1], rs->vmac[2], rs->vmac[3], rs->vmac[4],
		 rs->vmac[5]);

	put_delete(&b, rs->table);

	/* Frames to the virtual MAC are for this host (one chain per
	 * interface, each interface once). */
	put(&b, "table netdev %s {\n", rs->table);
	for (size_t i = 0; i < rs->vip_count; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= strcmp(rs->ifnames[k], rs->ifnames[i]) == 0;
		if (seen)
			continue;
		put(&b,
		    "\tchain in%zu {\n"
		    "\t\ttype filter hook ingress device \"%s\" priority "
		    "-500; policy accept;\n"
		    "\t\tether daddr %s meta pkttype set host\n"
		    "\t}\n",
		    i, rs->ifnames[i], mac);
	}
	put(&b, "}\n");

	/* vipd answers ARP for the VIPs with the virtual MAC; the kernel,
	 * which would answer with the node's own, must not. (Replies to
	 * what this node asked pass: they are no requests.) */
	put(&b,
	    "table arp %s {\n"
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority 0; policy accept;\n"
	    "\t\tarp operation request arp daddr ip ",
	    rs->table);
	put_vips(&b, rs);
	put(&b, " drop\n\t}\n");
	/* When the kernel asks for a client's MAC from the VIP, the client
	 * learns the VIP's sender MAC: the virtual one, never this node's. */
	put(&b, "\tchain output {\n"
		"\t\ttype filter hook output priority 0; policy accept;\n"
		"\t\tarp saddr ip ");
	put_vips(&b, rs);
	put(&b, " arp saddr ether set %s\n\t}\n}\n", mac);

	put(&b,
	    "table inet %s {\n"
	    "\tchain prerouting {\n"
	    "\t\ttype filter hook prerouting priority -150; policy accept;\n"
	    "\t\tip daddr ",
	    rs->table);
	put_vips(&b, rs);
	put(&b, " jump vip\n\t}\n"
		"\tchain vip {\n"
		"\t\tct state related accept\n"
		/* UDP datagrams always follow their bucket; connections
		 * conntrack knows stay where they are. */
		"\t\tmeta l4proto != udp ct state established accept\n");
	if (any(rs->owned))
		put_bucket_rules(&b, rs, rs->owned, "accept");
	put(&b, "\t\tcounter drop\n\t}\n");

	/* A TCP segment that opens nothing, of a flow this node does not
	 * know, in a bucket it owns: the flow is another node's (which keeps
	 * it), or was a node's that left (reset: the client reconnects). */
	put(&b, "\tchain input {\n"
		"\t\ttype filter hook input priority 0; policy accept;\n"
		"\t\tip daddr ");
	put_vips(&b, rs);
	put(&b, " meta l4proto tcp ct state new tcp flags & (syn | ack) != "
		"syn jump midflow\n\t}\n"
		"\tchain midflow {\n");
	if (any(rs->reset)) {
		put(&b, "\t\tjhash ip saddr%s mod %u seed 0x%08x ",
		    rs->address_port ? " . tcp sport" : "", VIPD_BUCKETS,
		    rs->seed);
		put_set(&b, rs->reset);
		put(&b, " counter reject with tcp reset\n");
	}
	put(&b, "\t\tcounter drop\n\t}\n}\n");
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
