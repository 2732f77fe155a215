/*
 * lb.c - vipd's bucket mode (vipd.lb: buckets): the VIP on every UP node of a
 * farm, each accepting the clients of the buckets it owns among heartbeatd's
 * members (docs/config.md, "vipd.lb"). The assignment is shared/rendezvous.c,
 * the rulesets buckets.c, running nft nft.c; here, when to apply them, the ARP
 * answers with the virtual MAC, and the check that the tables are still there.
 */
#include "daemon.h"
#include "frames.h"
#include "nft.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <net/ethernet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool same_members(char (*a)[SKY_NAME_MAX + 1], size_t na,
			 char (*b)[SKY_NAME_MAX + 1], size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/*
 * Replace the module's tables with this node's buckets among heartbeatd's
 * members. A bucket this node gains from a member that left resets the
 * TCP segments of flows nobody knows any more (the client reconnects at
 * once); one gained from a live member leaves them to it.
 */
int vipd_lb_apply(struct vipd *d, int64_t now, char *why, size_t size)
{
	struct vipd_buckets *b = &d->bk;
	struct sky_bucket_member m[SKY_DESIRED_MEMBERS_MAX];
	static struct vipd_ruleset rs;
	int16_t owner[VIPD_BUCKETS];
	size_t n = 0;
	int16_t self = -1;

	for (size_t i = 0; i < b->member_count; i++) {
		const struct sky_node *node =
			sky_config_node(&d->mod, b->members[i]);
		if (!node)
			continue; /* not in the file: owns nothing here */
		if (node == d->self)
			self = (int16_t)n;
		m[n].name = b->members[i];
		m[n++].weight = node->weight;
	}
	int r = sky_buckets_assign(m, n, owner);
	if (r < 0) {
		snprintf(why, size, "buckets: cannot assign: %s", strerror(-r));
		return r;
	}
	memset(&rs, 0, sizeof(rs));
	rs.table = b->table;
	memcpy(rs.vmac, b->vmac, 6);
	rs.seed = b->seed;
	rs.address_port = d->cfg.buckets.hash == VIPD_HASH_ADDRESS_PORT;
	for (size_t i = 0; i < d->cfg.vip_count && i < VIPD_RULESET_VIPS; i++) {
		const struct vipd_held *h = &d->held[i];
		struct vipd_ruleset_vip *v = &rs.vips[i];
		v->family = h->cfg->family;
		memcpy(&v->addr, h->cfg->addr.bytes,
		       v->family == AF_INET ? 4 : 16);
		v->ifname = h->cfg->ifname;
		memcpy(v->ifmac, h->mac, 6);
		v->ifmac_ok = h->mac_ok;
		if (v->family == AF_INET6 && !h->mac_ok)
			log_warning("buckets: %s has no Ethernet address: "
				    "the solicitations this node sends from "
				    "%s are not rewritten to the virtual MAC",
				    h->cfg->ifname, h->cfg->text);
	}
	rs.vip_count = d->cfg.vip_count;
	/* Owners by name, before (the ruleset in place, if any) and now. */
	const char *before[VIPD_BUCKETS], *after[VIPD_BUCKETS];
	const char *names[SKY_DESIRED_MEMBERS_MAX];
	for (size_t i = 0; i < b->member_count; i++)
		names[i] = b->members[i];
	for (unsigned k = 0; k < VIPD_BUCKETS; k++) {
		before[k] = b->owner[k] >= 0 ? b->applied_members[b->owner[k]]
					     : NULL;
		after[k] = owner[k] >= 0 ? m[owner[k]].name : NULL;
		rs.owned[k] = self >= 0 && owner[k] == self;
	}
	vipd_buckets_resets(d->self->name, b->applied ? before : NULL, b->reset,
			    after, names, b->member_count, rs.reset);
	r = vipd_buckets_ruleset(&rs, b->script, sizeof(b->script));
	if (r < 0) {
		snprintf(why, size, "buckets: cannot write the ruleset: %s",
			 strerror(-r));
		return r;
	}
	char err[240];
	r = vipd_nft_run(b->script, err, sizeof(err));
	if (r < 0) {
		b->nft_errors++;
		b->retry_ms = now + VIPD_VERIFY_PERIOD_MS;
		snprintf(why, size, "buckets: nft: %s", err);
		return r;
	}
	size_t owned = 0, reset = 0;
	for (unsigned k = 0; k < VIPD_BUCKETS; k++) {
		b->owned[k] = rs.owned[k];
		b->reset[k] = rs.reset[k];
		owned += rs.owned[k];
		reset += rs.reset[k];
		/* owner indexes are into m, which follows b->members minus
		 * names not in the file: keep them into applied_members */
		b->owner[k] = owner[k];
	}
	for (size_t i = 0; i < n; i++)
		sky_strlcpy(b->applied_members[i], m[i].name,
			    sizeof(b->applied_members[i]));
	b->applied_count = n;
	memcpy(b->heard, b->members, sizeof(b->heard));
	b->heard_count = b->member_count;
	if (!b->applied || owned != b->owned_count || reset != b->reset_count)
		log_notice("buckets: this node owns %zu of %d (%zu member%s, "
			   "%zu taken over from a node that left)",
			   owned, VIPD_BUCKETS, n, n == 1 ? "" : "s", reset);
	b->owned_count = owned;
	b->reset_count = reset;
	b->applied = true;
	b->changes++;
	b->reapply = false;
	d->publish_now = true;
	return 0;
}

/* Every node drops the tables of the module (whether there or not). */
int vipd_lb_remove(struct vipd *d, char *why, size_t size)
{
	struct vipd_buckets *b = &d->bk;
	char err[240];
	int r = vipd_buckets_teardown(b->table, b->script, sizeof(b->script));
	if (r >= 0)
		r = vipd_nft_run(b->script, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-r));
	if (r < 0) {
		b->nft_errors++;
		snprintf(why, size, "buckets: cannot remove the tables: %s",
			 err);
		return r;
	}
	if (b->applied)
		log_info("buckets: tables %s removed", b->table);
	b->applied = false;
	b->owned_count = b->reset_count = 0;
	memset(b->owned, 0, sizeof(b->owned));
	memset(b->reset, 0, sizeof(b->reset));
	return 0;
}

/* buckets: "the VIP is at the virtual MAC", from every UP node. */
void vipd_lb_answer(struct vipd *d, const struct vipd_arp *a, int ifindex)
{
	uint8_t out[VIPD_ARP_LEN];
	if (a->op != 1 || !d->bk.applied ||
	    (d->state != VIPD_UP && d->state != VIPD_STARTING))
		return;
	/* The asker's MAC is where the reply goes: never to a multicast
	 * or all-zero address, never to the virtual MAC itself. */
	static const uint8_t zero[6];
	if ((a->sha[0] & 1) || memcmp(a->sha, zero, 6) == 0 ||
	    memcmp(a->sha, d->bk.vmac, 6) == 0)
		return;
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		const struct vipd_held *h = &d->held[i];
		if (h->cfg->family != AF_INET || !h->present ||
		    h->ifindex != ifindex ||
		    h->cfg->addr.v4.s_addr != a->tpa.s_addr)
			continue;
		size_t len = vipd_arp_reply(out, d->bk.vmac, h->cfg->addr.v4,
					    a->sha, a->spa);
		if (vipd_send_frame(d, h, ETH_P_ARP, a->sha, out, len) >= 0)
			d->bk.arp_replies++;
		return;
	}
}

/*
 * buckets with an IPv6 VIP: a packet socket for the neighbour solicitations
 * (ICMPv6 type 135 right after the IPv6 header; a classic BPF filter keeps
 * the rest of the IPv6 traffic out of vipd). Protocol sockets see frames
 * after the netdev ingress hook, so unicast solicitations to the virtual
 * MAC arrive too (pkttype set host).
 */
int vipd_lb_open_ns(struct vipd *d)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6), /* next header */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40), /* ICMPv6 type */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 256),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {.len = SKY_ARRAY_SIZE(code), .filter = code};
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			htons(ETH_P_IPV6));
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) <
	    0) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* What arrived before the filter: not necessarily solicitations. */
	uint8_t buf[256];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	d->ns_fd = fd;
	return 0;
}

/* buckets: "the VIP is at the virtual MAC", to each solicitation for an
 * IPv6 VIP, from every UP node (the kernel's own answer is dropped). */
void vipd_lb_on_ns(struct vipd *d)
{
	uint8_t buf[256], out[VIPD_NA_LEN];
	static const uint8_t zero[6];
	for (int budget = 256; budget > 0; budget--) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(d->ns_fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		if (fromlen < sizeof(from) ||
		    from.sll_pkttype == PACKET_OUTGOING || from.sll_halen != 6)
			continue;
		d->bk.ns_seen++;
		struct vipd_ns ns;
		if (vipd_ns_parse(buf, (size_t)n, &ns) < 0) {
			d->bk.ns_malformed++;
			sky_log_ratelimited(&d->rl_arp, LOG_INFO,
					    "buckets: dropped a malformed "
					    "neighbour solicitation on "
					    "ifindex %d",
					    from.sll_ifindex);
			continue;
		}
		if (!d->bk.applied ||
		    (d->state != VIPD_UP && d->state != VIPD_STARTING))
			continue;
		/* The reply goes to the asker's MAC: never a multicast or
		 * all-zero address, never the virtual MAC itself. */
		const uint8_t *asker = from.sll_addr;
		if ((asker[0] & 1) || memcmp(asker, zero, 6) == 0 ||
		    memcmp(asker, d->bk.vmac, 6) == 0)
			continue;
		for (size_t i = 0; i < d->cfg.vip_count; i++) {
			const struct vipd_held *h = &d->held[i];
			if (h->cfg->family != AF_INET6 || !h->present ||
			    h->ifindex != from.sll_ifindex ||
			    memcmp(&h->cfg->addr.v6, &ns.target, 16) != 0)
				continue;
			size_t len = vipd_na_reply(out, d->bk.vmac,
						   &h->cfg->addr.v6, &ns.src);
			const uint8_t *to = IN6_IS_ADDR_UNSPECIFIED(&ns.src)
						    ? vipd_mac_all_nodes
						    : asker;
			if (vipd_send_frame(d, h, ETH_P_IPV6, to, out, len) >=
			    0)
				d->bk.na_replies++;
			break;
		}
	}
}

/*
 * buckets, once a second while up: the three tables are there. A firewall
 * reload (`nft flush ruleset`) takes them away, and without them every node
 * would answer for the VIP with its own MAC and accept every client.
 */
void vipd_lb_verify(struct vipd *d, int64_t now)
{
	static const int families[] = {NFPROTO_INET, NFPROTO_NETDEV,
				       NFPROTO_ARP};
	struct vipd_buckets *b = &d->bk;
	if (!b->on || d->state != VIPD_UP || !b->applied || now < b->retry_ms)
		return;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(families); i++) {
		int r = vipd_nft_table_exists(families[i], b->table);
		if (r < 0) {
			sky_log_ratelimited(&d->rl_nl, LOG_WARNING,
					    "buckets: cannot look for table "
					    "%s: %s",
					    b->table, strerror(-r));
			return;
		}
		if (r == 1)
			continue;
		char why[300];
		log_warning("buckets: table %s is gone (a firewall reload?): "
			    "putting the ruleset back",
			    b->table);
		b->restored++;
		if (vipd_lb_apply(d, now, why, sizeof(why)) < 0)
			vipd_set_reason(d, LOG_ERR, "%s", why);
		return;
	}
}

/* buckets: follow heartbeatd's members while up. */
void vipd_lb_follow(struct vipd *d, int64_t now)
{
	struct vipd_buckets *b = &d->bk;
	if (!b->on || d->state != VIPD_UP || now < b->retry_ms)
		return;
	if (b->applied && !b->reapply &&
	    same_members(b->members, b->member_count, b->heard, b->heard_count))
		return;
	char why[300];
	if (vipd_lb_apply(d, now, why, sizeof(why)) < 0) {
		/* The old ruleset stays; again in a second. */
		if (strcmp(d->reason, why) != 0)
			vipd_set_reason(d, LOG_ERR, "%s", why);
		return;
	}
	if (strncmp(d->reason, "buckets:", 8) == 0)
		d->reason[0] = '\0';
}
