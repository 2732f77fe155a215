/*
 * daemon.h - vipd's event loop for one module on one node: heartbeatd's
 * desired state in, the addresses taken or released through rtnetlink,
 * ARP probes before an IPv4 address is taken, announcements once it is,
 * and the actual state out.
 */
#ifndef SKYHA_VIPD_DAEMON_H
#define SKYHA_VIPD_DAEMON_H

#include "announce.h"
#include "buckets.h"
#include "bus.h"
#include "cloud.h"
#include "config.h"
#include "desired.h"
#include "log.h"
#include "reload.h"
#include "rtnl.h"
#include "vipcfg.h"

#include <jansson.h>
#include <limits.h>

/* One configured address at run time. */
struct vipd_held {
	const struct vipd_vip *cfg;
	int ifindex; /* 0: the interface does not exist (now) */
	uint8_t mac[6];
	bool mac_ok;
	bool present; /* on its interface, at the last look */
	uint8_t present_prefix;
	bool conflict; /* another MAC answered for it during this probe */
	char conflict_mac[18];
};

enum vipd_state {
	VIPD_DOWN = 0, /* not held (or not yet cleaned: see cleaned) */
	VIPD_STARTING, /* probing before taking */
	VIPD_UP,       /* held and announced */
	VIPD_FAILED,   /* could not take or release; reason says why */
};
const char *vipd_state_name(enum vipd_state s);

struct vipd_counters {
	uint64_t announce_rounds, packets_sent, send_errors;
	uint64_t probes_sent, probe_conflicts;
	uint64_t arp_seen, arp_malformed;
	uint64_t bus_bad_messages, netlink_errors;
	uint64_t readded, leftovers_removed;
};

/* lb: buckets (buckets.h): this node's share of the farm's clients. */
struct vipd_buckets {
	bool on;
	char table[80]; /* skyha_<module> */
	uint8_t vmac[6];
	uint32_t seed;
	/* heartbeatd's members, as last heard */
	char members[SKY_DESIRED_MEMBERS_MAX][SKY_NAME_MAX + 1];
	size_t member_count;
	/* what the kernel's ruleset says (applied: it is there), computed
	 * from heard[] (heartbeatd's list as it was then) */
	bool applied;
	char heard[SKY_DESIRED_MEMBERS_MAX][SKY_NAME_MAX + 1];
	size_t heard_count;
	/* heard[] less the names not in the file: owner[] indexes these */
	char applied_members[SKY_DESIRED_MEMBERS_MAX][SKY_NAME_MAX + 1];
	size_t applied_count;
	int16_t owner[VIPD_BUCKETS]; /* index in applied_members, or -1 */
	bool owned[VIPD_BUCKETS], reset[VIPD_BUCKETS];
	size_t owned_count, reset_count;
	int64_t retry_ms; /* after a failed nft, not before */
	bool reapply;	  /* the weights changed (reload): apply again */
	uint64_t changes, nft_errors, arp_replies, restored;
	uint64_t ns_seen, ns_malformed, na_replies, reloads, reload_errors;
	char script[16384];
};

struct vipd {
	struct sky_config mod;
	struct vipd_cfg cfg;
	const struct sky_node *self;
	char run_dir[PATH_MAX]; /* RUN/MODULE */
	char topic_desired[SKY_TOPIC_MAX], topic_actual[SKY_TOPIC_MAX];
	void *sub, *pub;
	struct vipd_nl nl;
	int pkt_fd; /* AF_PACKET, ETH_P_ARP: sends everything, reads ARP */
	int ns_fd;  /* buckets with IPv6: neighbour solicitations, or -1 */
	struct vipd_held held[VIPD_MAX_VIPS];

	/* heartbeatd's wish */
	bool heard_desired;
	enum sky_role role;
	uint64_t epoch;
	const char *target; /* "up", "down" or NULL (not asked yet) */
	struct sky_desired_lease word; /* until when "up" holds */
	bool silenced; /* "up" expired: released until heartbeatd speaks */

	enum vipd_state state;
	uint64_t state_epoch;
	bool cleaned;	 /* released since start (crash leftovers gone) */
	bool ever_taken; /* this process took the addresses once */
	int64_t retry_release_ms; /* after a failed release, not before */
	char reason[320];	  /* why failed, or what happened last */

	bool probing;
	int64_t probe_started_ms, probe_end_ms, next_probe_ms;
	uint32_t probes_sent;
	struct vipd_announcer ann;

	/* the cloud moves (aws.nodes lists this node), or NULL */
	struct vipd_cloud *cloud;
	bool cloud_wait; /* "up" waits for the cloud's result */

	struct vipd_buckets bk;

	struct vipd_counters n;
	int64_t next_publish_ms, next_verify_ms;
	bool publish_now;
	struct sky_ratelimit rl_bus, rl_arp, rl_send, rl_nl;
};

int vipd_open(struct vipd *d, const struct sky_config *mod,
	      const struct vipd_cfg *cfg, const char *node,
	      const char *run_dir);
int vipd_run(struct vipd *d);
void vipd_close(struct vipd *d);
json_t *vipd_actual_json(const struct vipd *d);
/* actual.c: publish the actual state and systemd's status now. */
void vipd_publish(struct vipd *d, int64_t now);

/* How often the addresses (and bucket tables) are checked, and a failed
 * release or nft run tried again. */
#define VIPD_VERIFY_PERIOD_MS 1000

/* daemon.c, for lb.c: the reason shown and logged; one frame out. */
__attribute__((format(printf, 3, 4))) void
vipd_set_reason(struct vipd *d, int priority, const char *fmt, ...);
int vipd_send_frame(struct vipd *d, const struct vipd_held *h,
		    uint16_t ethertype, const uint8_t dst[6],
		    const uint8_t *buf, size_t len);

/* lb.c: bucket mode. Apply this node's buckets among heartbeatd's members
 * (replacing the tables), or remove the tables; 0 or -errno with why. */
int vipd_lb_apply(struct vipd *d, int64_t now, char *why, size_t size);
int vipd_lb_remove(struct vipd *d, char *why, size_t size);
/* An ARP request for a VIP: answer with the virtual MAC. */
struct vipd_arp;
void vipd_lb_answer(struct vipd *d, const struct vipd_arp *a, int ifindex);
/* IPv6 VIPs: open d->ns_fd (0 or -errno); answer what it has. */
int vipd_lb_open_ns(struct vipd *d);
void vipd_lb_on_ns(struct vipd *d);
/* Once a second: the tables are still there (put back if not). */
void vipd_lb_verify(struct vipd *d, int64_t now);
/* Every turn while up: follow the members. */
void vipd_lb_follow(struct vipd *d, int64_t now);

/* Read the module file again; apply a change of weights alone. */
void vipd_reload(struct vipd *d);

#endif
