/*
 * daemon.c - vipd's event loop (see daemon.h).
 *
 * One zmq_poll over the desired-state SUB socket and the ARP socket, asleep
 * at most until the next probe, announcement or publication (20 ms cap).
 * Each turn: read heartbeatd's wish, converge on it (take or release),
 * advance the probe, send the announcements due, check the addresses once
 * a second (someone may have removed or added one by hand), publish.
 *
 * Decisions about a conflict (an ARP probe answered by another MAC): by
 * default (probe.on_conflict: report) it is logged, counted and given as
 * the reason, and the address is taken anyway, without waiting for the
 * probe window: heartbeatd alone decides who serves, with quorum, so the
 * likeliest owner of a foreign answer is the old primary whose kernel
 * still answers while its user space is dead - exactly when the failover
 * must go on, and the announcements then move the neighbours. With
 * on_conflict: fail, vipd waits the window out before taking, and an
 * answer fails the promotion (for networks where the address may be
 * misconfigured on a third host and two owners are worse than none).
 */
#include "daemon.h"
#include "cli.h"
#include "desired.h"
#include "frames.h"
#include "nft.h"
#include "notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define VIPD_LOOP_MAX_MS 20

const char *vipd_state_name(enum vipd_state s)
{
	switch (s) {
	case VIPD_DOWN:
		return "down";
	case VIPD_STARTING:
		return "starting";
	case VIPD_UP:
		return "up";
	case VIPD_FAILED:
		return "failed";
	}
	return "?";
}

__attribute__((format(printf, 3, 4))) void
vipd_set_reason(struct vipd *d, int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	sky_log(priority, "%s", d->reason);
	d->publish_now = true;
}

/* --- the interfaces and the addresses ----------------------------------- */

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Find the interface of each address again: it may have been recreated. */
static int resolve(struct vipd *d, struct vipd_held *h, char *why, size_t size)
{
	h->ifindex = (int)if_nametoindex(h->cfg->ifname);
	if (!h->ifindex) {
		snprintf(why, size, "interface %s of %s does not exist",
			 h->cfg->ifname, h->cfg->text);
		return -ENODEV;
	}
	int r = vipd_if_mac(h->cfg->ifname, h->mac);
	h->mac_ok = r >= 0;
	if (r < 0)
		sky_log_ratelimited(&d->rl_send, LOG_WARNING,
				    "%s has no Ethernet address (%s): %s will "
				    "not be announced nor probed",
				    h->cfg->ifname, strerror(-r), h->cfg->text);
	return 0;
}

static void on_dumped(void *data, const struct vipd_nl_addr *a)
{
	struct vipd *d = data;
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		struct vipd_held *h = &d->held[i];
		if (a->family == h->cfg->family && a->ifindex == h->ifindex &&
		    memcmp(a->addr, h->cfg->addr.bytes, addr_len(a->family)) ==
			    0) {
			h->present = true;
			h->present_prefix = a->prefix;
		}
	}
}

/* Which addresses are on their interfaces now. */
static int look(struct vipd *d)
{
	char why[128];
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		d->held[i].present = false;
		if (resolve(d, &d->held[i], why, sizeof(why)) < 0)
			d->held[i].ifindex = 0;
	}
	int r = vipd_nl_addr_dump(&d->nl, on_dumped, d);
	if (r < 0) {
		d->n.netlink_errors++;
		sky_log_ratelimited(&d->rl_nl, LOG_WARNING,
				    "cannot list the addresses: %s",
				    strerror(-r));
	}
	return r;
}

/* Remove every address; 0 or the first error (why filled). */
static int release_all(struct vipd *d, char *why, size_t size)
{
	int first = 0;
	look(d);
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		struct vipd_held *h = &d->held[i];
		if (!h->ifindex || !h->present)
			continue;
		int r = vipd_nl_addr_set(&d->nl, false, h->cfg->family,
					 h->ifindex, h->cfg->addr.bytes,
					 h->present_prefix);
		if (r < 0) {
			d->n.netlink_errors++;
			if (!first)
				snprintf(why, size,
					 "cannot remove %s from %s: %s",
					 h->cfg->text, h->cfg->ifname,
					 strerror(-r));
			first = first ? first : r;
			continue;
		}
		h->present = false;
		if (!d->ever_taken) {
			d->n.leftovers_removed++;
			log_notice("removed %s from %s: this node does not "
				   "serve (left by an earlier run)",
				   h->cfg->text, h->cfg->ifname);
		} else {
			log_info("released %s on %s", h->cfg->text,
				 h->cfg->ifname);
		}
	}
	return first;
}

static int add_all(struct vipd *d, char *why, size_t size)
{
	/* From here on, what is found was ours, not an earlier run's. */
	d->ever_taken = true;
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		struct vipd_held *h = &d->held[i];
		int r = resolve(d, h, why, size);
		if (r < 0)
			return r;
		r = vipd_nl_addr_set(&d->nl, true, h->cfg->family, h->ifindex,
				     h->cfg->addr.bytes, h->cfg->prefix);
		if (r < 0) {
			d->n.netlink_errors++;
			snprintf(why, size, "cannot add %s on %s: %s",
				 h->cfg->text, h->cfg->ifname, strerror(-r));
			return r;
		}
		h->present = true;
		h->present_prefix = h->cfg->prefix;
		log_info("took %s on %s", h->cfg->text, h->cfg->ifname);
	}
	return 0;
}

/* --- packets ------------------------------------------------------------ */

int vipd_send_frame(struct vipd *d, const struct vipd_held *h,
		    uint16_t ethertype, const uint8_t dst[6],
		    const uint8_t *buf, size_t len)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ethertype),
		.sll_ifindex = h->ifindex,
		.sll_halen = 6,
	};
	memcpy(to.sll_addr, dst, 6);
	ssize_t n = sendto(d->pkt_fd, buf, len, 0, (struct sockaddr *)&to,
			   sizeof(to));
	if (n < 0 || (size_t)n != len) {
		int r = n < 0 ? -errno : -EIO;
		d->n.send_errors++;
		sky_log_ratelimited(&d->rl_send, LOG_WARNING,
				    "cannot send on %s for %s: %s",
				    h->cfg->ifname, h->cfg->text, strerror(-r));
		return r;
	}
	d->n.packets_sent++;
	return 0;
}

static void announce_round(struct vipd *d)
{
	uint8_t buf[VIPD_NA_LEN];
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		const struct vipd_held *h = &d->held[i];
		if (!h->present || !h->mac_ok)
			continue;
		if (h->cfg->family == AF_INET) {
			/* buckets: the virtual MAC, which switches flood */
			size_t len = vipd_arp_announce(
				buf, d->bk.on ? d->bk.vmac : h->mac,
				h->cfg->addr.v4);
			vipd_send_frame(d, h, ETH_P_ARP, vipd_mac_broadcast,
					buf, len);
		} else {
			size_t len = vipd_na_unsolicited(
				buf, d->bk.on ? d->bk.vmac : h->mac,
				&h->cfg->addr.v6);
			vipd_send_frame(d, h, ETH_P_IPV6, vipd_mac_all_nodes,
					buf, len);
		}
	}
	d->n.announce_rounds++;
}

static void probe_round(struct vipd *d)
{
	uint8_t buf[VIPD_ARP_LEN];
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		const struct vipd_held *h = &d->held[i];
		if (h->cfg->family != AF_INET || !h->ifindex || !h->mac_ok)
			continue;
		size_t len = vipd_arp_probe(buf, h->mac, h->cfg->addr.v4);
		if (vipd_send_frame(d, h, ETH_P_ARP, vipd_mac_broadcast, buf,
				    len) >= 0)
			d->n.probes_sent++;
	}
}

static void on_arp(struct vipd *d)
{
	uint8_t buf[256];
	for (int budget = 256; budget > 0; budget--) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(d->pkt_fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		d->n.arp_seen++;
		/* Our own packets come back on a packet socket. */
		if (fromlen < sizeof(from) ||
		    from.sll_pkttype == PACKET_OUTGOING)
			continue;
		struct vipd_arp a;
		if (vipd_arp_parse(buf, (size_t)n, &a) < 0) {
			d->n.arp_malformed++;
			continue;
		}
		if (d->bk.on)
			vipd_lb_answer(d, &a, from.sll_ifindex);
		if (!d->probing)
			continue;
		for (size_t i = 0; i < d->cfg.vip_count; i++) {
			struct vipd_held *h = &d->held[i];
			if (h->cfg->family != AF_INET || h->conflict ||
			    h->ifindex != from.sll_ifindex || !h->mac_ok ||
			    !vipd_arp_conflicts(&a, h->mac, h->cfg->addr.v4))
				continue;
			h->conflict = true;
			vipd_mac_text(a.sha, h->conflict_mac);
			d->n.probe_conflicts++;
			vipd_set_reason(
				d, LOG_WARNING,
				"address conflict: %s is already used by "
				"%s on %s (ARP probe answered)%s",
				h->cfg->text, h->conflict_mac, h->cfg->ifname,
				d->cfg.probe.on_conflict == VIPD_CONFLICT_FAIL
					? "; probe.on_conflict: fail"
					: "; taken anyway (probe."
					  "on_conflict: report)");
		}
	}
}

static void fail(struct vipd *d, const char *why);

static void on_cloud(struct vipd *d, int64_t now)
{
	struct vipd_cloud_result res;
	(void)now;
	if (!d->cloud || !vipd_cloud_take(d->cloud, &res))
		return;
	d->publish_now = true;
	if (!res.up) {
		if (res.r < 0)
			log_warning("cloud moves for down: %s", res.why);
		return;
	}
	/* Only the answer to the promotion under way counts. */
	if (!d->cloud_wait || d->state != VIPD_STARTING ||
	    res.epoch != d->state_epoch)
		return;
	d->cloud_wait = false;
	if (res.r < 0) {
		char why[360];
		snprintf(why, sizeof(why), "cloud: %s", res.why);
		fail(d, why);
		return;
	}
	d->state = VIPD_UP;
	log_notice("up for epoch %llu: %zu address%s held and the cloud "
		   "moves done",
		   (unsigned long long)d->epoch, d->cfg.vip_count,
		   d->cfg.vip_count == 1 ? "" : "es");
}

/* --- converging on heartbeatd's wish ------------------------------------- */

static bool any_conflict(const struct vipd *d, const struct vipd_held **which)
{
	for (size_t i = 0; i < d->cfg.vip_count; i++)
		if (d->held[i].conflict) {
			*which = &d->held[i];
			return true;
		}
	return false;
}

static void fail(struct vipd *d, const char *why)
{
	char rel[300] = "";
	vipd_announcer_stop(&d->ann);
	d->probing = false;
	if (d->cloud && d->cloud_wait)
		vipd_cloud_submit(d->cloud, false, d->epoch);
	d->cloud_wait = false;
	/* Never half taken: what was added goes (heartbeatd then demotes). */
	release_all(d, rel, sizeof(rel));
	if (d->bk.on)
		vipd_lb_remove(d, rel, sizeof(rel));
	d->state = VIPD_FAILED;
	d->state_epoch = d->epoch;
	vipd_set_reason(d, LOG_ERR, "%s", why);
}

static void finish_take(struct vipd *d, int64_t now)
{
	char why[300];
	if (d->bk.on) {
		/* The filter first: the address never answers for buckets
		 * that are not ours. */
		if (vipd_lb_apply(d, now, why, sizeof(why)) < 0) {
			fail(d, why);
			return;
		}
	}
	if (add_all(d, why, sizeof(why)) < 0) {
		fail(d, why);
		return;
	}
	d->ever_taken = true;
	d->state_epoch = d->epoch;
	vipd_announcer_start(&d->ann, &d->cfg.announce, now);
	const struct vipd_held *c;
	if (!any_conflict(d, &c))
		d->reason[0] = '\0';
	if (d->cloud) {
		/* The local addresses are held and announced; "up" once the
		 * cloud has moved too (the worker answers on its fd). */
		d->state = VIPD_STARTING;
		d->cloud_wait = true;
		vipd_cloud_submit(d->cloud, true, d->epoch);
		log_info("addresses held, waiting for the cloud moves (epoch "
			 "%llu)",
			 (unsigned long long)d->epoch);
		d->publish_now = true;
		return;
	}
	d->state = VIPD_UP;
	log_notice("up for epoch %llu: %zu address%s held, announcing",
		   (unsigned long long)d->epoch, d->cfg.vip_count,
		   d->cfg.vip_count == 1 ? "" : "es");
	d->publish_now = true;
}

static void begin_take(struct vipd *d, int64_t now)
{
	char why[256];
	bool any_v4 = false;
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		struct vipd_held *h = &d->held[i];
		h->conflict = false;
		h->conflict_mac[0] = '\0';
		if (resolve(d, h, why, sizeof(why)) < 0) {
			fail(d, why);
			return;
		}
		any_v4 |= h->cfg->family == AF_INET;
	}
	d->reason[0] = '\0';
	d->state = VIPD_STARTING;
	d->state_epoch = d->epoch;
	d->publish_now = true;
	/* buckets: the other UP nodes answer for the VIP (with the virtual
	 * MAC): nothing to probe for. */
	if (any_v4 && d->cfg.probe.wait_ms && !d->bk.on) {
		d->probing = true;
		d->probe_started_ms = now;
		d->probe_end_ms = now + d->cfg.probe.wait_ms;
		d->next_probe_ms = now;
		d->probes_sent = 0;
		probe_round(d);
		d->probes_sent = 1;
		d->next_probe_ms =
			now + d->cfg.probe.wait_ms / d->cfg.probe.count;
		if (d->cfg.probe.on_conflict == VIPD_CONFLICT_FAIL)
			return; /* take once the window passed quietly */
	}
	finish_take(d, now);
}

static void probe_step(struct vipd *d, int64_t now)
{
	if (!d->probing)
		return;
	if (d->probes_sent < d->cfg.probe.count && now >= d->next_probe_ms) {
		probe_round(d);
		d->probes_sent++;
		d->next_probe_ms =
			d->probe_started_ms + (int64_t)d->probes_sent *
						      d->cfg.probe.wait_ms /
						      d->cfg.probe.count;
	}
	if (now < d->probe_end_ms)
		return;
	d->probing = false;
	/* Only with on_conflict: fail does the probe gate the take; with
	 * report the addresses were taken at once (and may be waiting for
	 * the cloud moves: never take twice). */
	if (d->state != VIPD_STARTING || d->cloud_wait)
		return;
	const struct vipd_held *c;
	if (any_conflict(d, &c)) {
		char why[256];
		snprintf(why, sizeof(why),
			 "%s is already used by %s on %s (ARP probe "
			 "answered; probe.on_conflict: fail)",
			 c->cfg->text, c->conflict_mac, c->cfg->ifname);
		fail(d, why);
		return;
	}
	finish_take(d, now);
}

static void release(struct vipd *d)
{
	char why[300];
	vipd_announcer_stop(&d->ann);
	d->probing = false;
	/* The cloud side of "down" (deregistering from target groups) runs
	 * in the background: a demotion never waits for an API. */
	if (d->cloud && (d->state != VIPD_DOWN || !d->cleaned))
		vipd_cloud_submit(d->cloud, false, d->epoch);
	d->cloud_wait = false;
	int r = release_all(d, why, sizeof(why));
	if (d->bk.on) {
		char bwhy[300];
		int rb = vipd_lb_remove(d, bwhy, sizeof(bwhy));
		if (rb < 0 && r >= 0) {
			r = rb;
			sky_strlcpy(why, bwhy, sizeof(why));
		}
	}
	d->cleaned = true;
	if (r < 0) {
		d->retry_release_ms = sky_now_ms() + VIPD_VERIFY_PERIOD_MS;
		if (d->state != VIPD_FAILED || strcmp(d->reason, why) != 0) {
			d->state = VIPD_FAILED;
			vipd_set_reason(d, LOG_ERR, "%s", why);
		}
		return;
	}
	if (d->state != VIPD_DOWN)
		log_notice("down: %zu address%s released", d->cfg.vip_count,
			   d->cfg.vip_count == 1 ? "" : "es");
	d->state = VIPD_DOWN;
	d->state_epoch = d->epoch;
	d->publish_now = true;
}

static void converge(struct vipd *d, int64_t now)
{
	if (!d->heard_desired)
		return;
	bool up = d->target && strcmp(d->target, "up") == 0;
	bool down = d->target && strcmp(d->target, "down") == 0;
	/* Not asked yet (heartbeatd orders the actuators): keep what we do,
	 * except that a node which does not serve drops crash leftovers at
	 * once. */
	if (!d->target && !sky_role_serves(d->role) && !d->cleaned)
		down = true;
	/* heartbeatd's word is too old to serve on (desired.h). */
	bool silent = up && sky_desired_lease_expired(&d->word, now);
	if (silent && !d->silenced) {
		char why[160];
		sky_desired_lease_why(&d->word, now, why, sizeof(why));
		vipd_set_reason(d, LOG_WARNING,
				"%s: releasing the VIP until it speaks again",
				why);
		d->publish_now = true;
	} else if (!silent && d->silenced && up) {
		log_notice("heartbeatd speaks again: taking the VIP");
	}
	d->silenced = silent;
	if (silent) {
		up = false;
		down = true;
	}
	if (up) {
		switch (d->state) {
		case VIPD_DOWN:
			begin_take(d, now);
			break;
		case VIPD_FAILED:
			if (d->state_epoch != d->epoch)
				begin_take(d, now);
			break;
		case VIPD_UP:
			if (d->state_epoch != d->epoch) {
				d->state_epoch = d->epoch;
				d->publish_now = true;
			}
			break;
		case VIPD_STARTING:
			break;
		}
	} else if (down) {
		if ((d->state != VIPD_DOWN || !d->cleaned) &&
		    now >= d->retry_release_ms)
			release(d);
		else if (d->state_epoch != d->epoch) {
			d->state_epoch = d->epoch;
			d->publish_now = true;
		}
	}
}

/* Once a second: the addresses are where the state says. */
static void verify(struct vipd *d, int64_t now)
{
	d->next_verify_ms = now + VIPD_VERIFY_PERIOD_MS;
	vipd_lb_verify(d, now);
	if (d->state == VIPD_UP) {
		if (look(d) < 0)
			return;
		bool missing = false;
		for (size_t i = 0; i < d->cfg.vip_count; i++)
			if (!d->held[i].present) {
				missing = true;
				log_warning("%s disappeared from %s while up: "
					    "adding it again",
					    d->held[i].cfg->text,
					    d->held[i].cfg->ifname);
				d->n.readded++;
			}
		if (!missing)
			return;
		char why[256];
		if (add_all(d, why, sizeof(why)) < 0) {
			fail(d, why);
			return;
		}
		vipd_announcer_start(&d->ann, &d->cfg.announce, now);
	} else if ((d->state == VIPD_DOWN && d->cleaned) ||
		   d->state == VIPD_FAILED) {
		if (look(d) < 0)
			return;
		for (size_t i = 0; i < d->cfg.vip_count; i++)
			if (d->held[i].present) {
				log_warning("%s appeared on %s while this node "
					    "does not serve: removing it",
					    d->held[i].cfg->text,
					    d->held[i].cfg->ifname);
				release(d);
				return;
			}
	}
}

/* --- the bus ------------------------------------------------------------ */

static void on_bus(struct vipd *d)
{
	char topic[SKY_TOPIC_MAX], why[160];
	json_t *msg;

	for (int budget = 64; budget > 0; budget--) {
		int r = sky_bus_recv(d->sub, topic, sizeof(topic),
				     SKY_BUS_MSG_MAX, &msg);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			d->n.bus_bad_messages++;
			sky_log_ratelimited(&d->rl_bus, LOG_WARNING,
					    "dropped a malformed bus message");
			continue;
		}
		if (strcmp(topic, d->topic_desired) != 0) {
			json_decref(msg);
			continue;
		}
		struct sky_desired des;
		r = sky_desired_parse(msg, d->mod.module, d->self->name,
				      SKY_ACT_VIPD, &des, why, sizeof(why));
		json_decref(msg);
		if (r < 0) {
			d->n.bus_bad_messages++;
			sky_log_ratelimited(&d->rl_bus, LOG_WARNING,
					    "dropped desired state: %s", why);
			continue;
		}
		if (!d->heard_desired || des.role != d->role ||
		    des.epoch != d->epoch || des.target != d->target) {
			log_info("heartbeatd: %s epoch %llu, vipd target %s",
				 sky_role_name(des.role),
				 (unsigned long long)des.epoch,
				 des.target ? des.target : "(not asked yet)");
			sky_log_set_role(sky_role_name(des.role));
			d->publish_now = true;
		}
		sky_desired_lease_renew(&d->word, SKY_ACT_VIPD, &des,
					sky_now_ms());
		d->heard_desired = true;
		if (d->bk.on) {
			d->bk.member_count = des.member_count;
			for (size_t i = 0; i < des.member_count; i++)
				sky_strlcpy(d->bk.members[i], des.members[i],
					    sizeof(d->bk.members[i]));
		}
		d->role = des.role;
		d->epoch = des.epoch;
		d->target = des.target;
	}
}

/* --- the loop ------------------------------------------------------------ */

static void tick(struct vipd *d, int64_t now)
{
	converge(d, now);
	vipd_lb_follow(d, now);
	probe_step(d, now);
	for (int rounds = 0; rounds < 100 && vipd_announcer_due(&d->ann, now);
	     rounds++) {
		announce_round(d);
		vipd_announcer_sent(&d->ann, now);
	}
	if (now >= d->next_verify_ms)
		verify(d, now);
	if (d->publish_now || now >= d->next_publish_ms)
		vipd_publish(d, now);
	sky_notify_watchdog(now);
}

static int poll_timeout(const struct vipd *d, int64_t now)
{
	int64_t next = now + VIPD_LOOP_MAX_MS;
	int64_t a = vipd_announcer_next(&d->ann);
	if (a < next)
		next = a;
	if (d->probing) {
		if (d->probe_end_ms < next)
			next = d->probe_end_ms;
		if (d->probes_sent < d->cfg.probe.count &&
		    d->next_probe_ms < next)
			next = d->next_probe_ms;
	}
	return next <= now ? 0 : (int)(next - now);
}

int vipd_open(struct vipd *d, const struct sky_config *mod,
	      const struct vipd_cfg *cfg, const char *node, const char *run_dir)
{
	char ep[PATH_MAX + 16];
	int r;

	memset(d, 0, sizeof(*d));
	d->pkt_fd = d->ns_fd = -1;
	d->mod = *mod;
	d->cfg = *cfg;
	d->self = sky_config_node(&d->mod, node);
	if (!d->self) {
		log_error("%s: this node '%s' is not in nodes (use --node)",
			  mod->path, node);
		return -ENOENT;
	}
	for (size_t i = 0; i < d->cfg.vip_count; i++)
		d->held[i].cfg = &d->cfg.vips[i];
	if (d->cfg.lb == VIPD_LB_BUCKETS) {
		if (d->mod.type != SKY_MODULE_FARM) {
			log_error("%s: vipd.lb: buckets needs module.type: "
				  "farm",
				  mod->path);
			return -EINVAL;
		}
		d->bk.on = true;
		vipd_buckets_table(d->mod.module, d->bk.table,
				   sizeof(d->bk.table));
		if (d->cfg.buckets.vmac_set)
			memcpy(d->bk.vmac, d->cfg.buckets.vmac, 6);
		else
			vipd_buckets_default_vmac(d->mod.cluster, d->mod.module,
						  d->bk.vmac);
		d->bk.seed = vipd_buckets_seed(d->mod.cluster, d->mod.module);
		for (unsigned k = 0; k < VIPD_BUCKETS; k++)
			d->bk.owner[k] = -1;
	}
	r = snprintf(d->run_dir, sizeof(d->run_dir), "%s/%s", run_dir,
		     mod->module);
	if (r < 0 || (size_t)r >= sizeof(d->run_dir))
		return -ENAMETOOLONG;
	r = sky_mkdir_p(d->run_dir, 0755);
	if (r < 0) {
		log_error("cannot create %s: %s", d->run_dir, strerror(-r));
		return r;
	}
	r = vipd_nl_open(&d->nl);
	if (r < 0) {
		log_error("cannot open rtnetlink: %s", strerror(-r));
		return r;
	}
	d->pkt_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   htons(ETH_P_ARP));
	if (d->pkt_fd < 0) {
		r = -errno;
		log_error("cannot open a packet socket (CAP_NET_RAW needed): "
			  "%s",
			  strerror(-r));
		return r;
	}
	bool v6 = false;
	for (size_t i = 0; i < d->cfg.vip_count; i++)
		v6 |= d->cfg.vips[i].family == AF_INET6;
	if (d->bk.on && v6) {
		r = vipd_lb_open_ns(d);
		if (r < 0) {
			log_error("cannot open a packet socket for neighbour "
				  "solicitations: %s",
				  strerror(-r));
			return r;
		}
	}
	const struct sky_node *peer = sky_config_peer(&d->mod, d->self);
	const struct vipd_aws_node *aws_node =
		vipd_aws_node(&d->cfg.aws, d->self->name);
	const struct vipd_azure_node *az_node =
		vipd_azure_node(&d->cfg.azure, d->self->name);
	if (aws_node || az_node) {
		d->cloud = calloc(1, sizeof(*d->cloud));
		r = d->cloud
			    ? vipd_cloud_start(d->cloud, &d->cfg, d->self->name,
					       peer ? peer->name : "")
			    : -ENOMEM;
		if (r < 0) {
			free(d->cloud);
			d->cloud = NULL;
			log_error("cannot start the cloud worker: %s",
				  strerror(-r));
			return r;
		}
		if (aws_node)
			log_info(
				"aws: this node is %s%s%s in %s", aws_node->eni,
				aws_node->eni[0] && aws_node->instance[0] ? ", "
									  : "",
				aws_node->instance, d->cfg.aws.region);
		if (az_node)
			log_info("azure: this node is NIC %s in %s/%s",
				 az_node->nic, d->cfg.azure.subscription,
				 d->cfg.azure.resource_group);
	}
	if (sky_bus_topic(d->topic_desired, sizeof(d->topic_desired),
			  mod->module, "heartbeatd", SKY_KIND_DESIRED) < 0 ||
	    sky_bus_topic(d->topic_actual, sizeof(d->topic_actual), mod->module,
			  "vipd", SKY_KIND_ACTUAL) < 0)
		return -ENAMETOOLONG;
	r = sky_bus_open_actuator(run_dir, mod->module, false, &d->sub, &d->pub,
				  ep, sizeof(ep));
	if (r < 0) {
		log_error("cannot connect to %s: %s", ep, zmq_strerror(-r));
		return r;
	}
	return 0;
}

int vipd_run(struct vipd *d)
{
	sky_stop_signals_install();

	log_notice("vipd for module %s on node %s started: %zu address%s, "
		   "announce %u x every %u ms, again after %u ms, refresh "
		   "%u ms; probe %u ms (on conflict: %s)",
		   d->mod.module, d->self->name, d->cfg.vip_count,
		   d->cfg.vip_count == 1 ? "" : "es", d->cfg.announce.repeat,
		   d->cfg.announce.interval_ms, d->cfg.announce.delay_ms,
		   d->cfg.announce.refresh_ms, d->cfg.probe.wait_ms,
		   vipd_conflict_name(d->cfg.probe.on_conflict));
	if (d->bk.on) {
		char vmac[18];
		vipd_mac_text(d->bk.vmac, vmac);
		log_notice("lb: buckets: %d buckets over the members, hash %s, "
			   "virtual MAC %s, nft tables %s",
			   VIPD_BUCKETS, vipd_hash_name(d->cfg.buckets.hash),
			   vmac, d->bk.table);
	}
	look(d);
	sky_notify_ready("waiting for heartbeatd's desired state");

	while (!sky_stop_requested()) {
		if (sky_reload_requested())
			vipd_reload(d);
		zmq_pollitem_t items[4] = {
			{.socket = d->sub, .events = ZMQ_POLLIN},
			{.fd = d->pkt_fd, .events = ZMQ_POLLIN},
		};
		int count = 2, ns_at = -1;
		if (d->ns_fd >= 0) {
			ns_at = count;
			items[count++] = (zmq_pollitem_t){.fd = d->ns_fd,
							  .events = ZMQ_POLLIN};
		}
		if (d->cloud)
			items[count++] =
				(zmq_pollitem_t){.fd = vipd_cloud_fd(d->cloud),
						 .events = ZMQ_POLLIN};
		int r = zmq_poll(items, count, poll_timeout(d, sky_now_ms()));
		if (r < 0 && errno != EINTR) {
			log_error("zmq_poll: %s", zmq_strerror(errno));
			return -errno;
		}
		on_bus(d);
		if (r > 0 && (items[1].revents & ZMQ_POLLIN))
			on_arp(d);
		if (r > 0 && ns_at >= 0 && (items[ns_at].revents & ZMQ_POLLIN))
			vipd_lb_on_ns(d);
		on_cloud(d, sky_now_ms());
		tick(d, sky_now_ms());
	}
	sky_notify_stopping();
	/* A stopped vipd must not leave the addresses behind it. */
	log_notice("shutting down: releasing the addresses");
	d->ever_taken = true;
	release(d);
	vipd_publish(d, sky_now_ms());
	if (d->cloud) {
		/* Let the worker deregister this node, within the unit's stop
		 * timeout; then it is interrupted. */
		struct vipd_cloud_result res;
		int64_t until = sky_now_ms() + 8000;
		bool busy = true;
		while (busy && sky_now_ms() < until) {
			struct vipd_aws_stats st;
			char last[8];
			usleep(20000);
			vipd_cloud_describe(d->cloud, &st, &busy, last,
					    sizeof(last));
		}
		if (vipd_cloud_take(d->cloud, &res) && res.r < 0)
			log_warning("cloud moves for down: %s", res.why);
	}
	return 0;
}

void vipd_close(struct vipd *d)
{
	if (d->cloud) {
		vipd_cloud_stop(d->cloud);
		free(d->cloud);
		d->cloud = NULL;
	}
	if (d->pkt_fd >= 0)
		close(d->pkt_fd);
	if (d->ns_fd >= 0)
		close(d->ns_fd);
	d->pkt_fd = d->ns_fd = -1;
	vipd_nl_close(&d->nl);
	sky_bus_close(&d->sub);
	sky_bus_close(&d->pub);
	sky_bus_shutdown();
}
