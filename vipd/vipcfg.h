/*
 * vipcfg.h - vipd's section of the module file (docs/config.md, `vipd:`).
 *
 * The virtual addresses of the module (IPv4 and IPv6, each with its prefix
 * and interface), how they are announced once taken (keepalived's
 * garp_master_repeat / garp_interval / garp_master_delay /
 * garp_master_refresh / garp_master_refresh_repeat) and the ARP probe made
 * before an IPv4 address is taken. vipd_cfg_parse() validates everything
 * before filling *out; errors read "file:line:col: vipd.field: why". Pure:
 * whether an interface exists is checked when the address is taken (the
 * file may be checked on another host).
 */
#ifndef SKYHA_VIPD_VIPCFG_H
#define SKYHA_VIPD_VIPCFG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIPD_MAX_VIPS 16
#define VIPD_TEXT_MAX 64 /* "ffff:...:ffff/128" fits */
#define VIPD_FILE_MAX (256 * 1024)

struct vipd_vip {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	} addr;
	uint8_t prefix;
	char ifname[IFNAMSIZ];
	char text[VIPD_TEXT_MAX]; /* "198.18.0.100/24" as written, normalised */
};

/* When a probe finds the address already answered by another MAC. */
enum vipd_conflict {
	VIPD_CONFLICT_REPORT = 0, /* log, count, say so, take it anyway */
	VIPD_CONFLICT_FAIL,	  /* refuse: the promotion fails */
};
const char *vipd_conflict_name(enum vipd_conflict c);

struct vipd_announce_cfg {
	uint32_t repeat;	 /* packets per address in the first burst */
	uint32_t interval_ms;	 /* between the packets of a burst */
	uint32_t delay_ms;	 /* second burst after this; 0: none */
	uint32_t refresh_ms;	 /* then a burst every refresh_ms; 0: never */
	uint32_t refresh_repeat; /* packets per address in a refresh burst */
};

struct vipd_probe_cfg {
	uint32_t wait_ms; /* listen this long for an answer; 0: no probe */
	uint32_t count;	  /* probes sent, spread over wait_ms */
	enum vipd_conflict on_conflict;
};

#define VIPD_AWS_MAX	 16
#define VIPD_AWS_ID_MAX	 128 /* eni-..., i-..., rtb-..., region */
#define VIPD_AWS_ARN_MAX 512
#define VIPD_URL_MAX	 512

/* One node's own resources in AWS. */
struct vipd_aws_node {
	char name[33];
	char eni[VIPD_AWS_ID_MAX];
	char instance[VIPD_AWS_ID_MAX];
};

struct vipd_aws_route {
	char table[VIPD_AWS_ID_MAX];
	char destination[VIPD_TEXT_MAX]; /* CIDR, as written */
};

struct vipd_aws_target_group {
	char arn[VIPD_AWS_ARN_MAX];
	uint32_t port; /* 0: the target group's own port */
};

enum vipd_aws_creds_source { VIPD_AWS_CREDS_IMDS = 0, VIPD_AWS_CREDS_ENV };

/*
 * vipd.aws: the moves made through the AWS APIs when the node serves.
 * Only nodes listed under aws.nodes make them (a pair may have one node in
 * AWS and one elsewhere).
 */
struct vipd_aws_cfg {
	bool set;
	char region[VIPD_AWS_ID_MAX];
	enum vipd_aws_creds_source creds;
	char imds_endpoint[VIPD_URL_MAX];
	char ec2_endpoint[VIPD_URL_MAX];
	char elb_endpoint[VIPD_URL_MAX];
	uint32_t timeout_ms;
	uint32_t attempts;
	uint32_t backoff_ms;
	struct vipd_aws_node nodes[VIPD_AWS_MAX]; /* a farm: up to 16 */
	size_t node_count;
	char private_ips[VIPD_AWS_MAX][INET6_ADDRSTRLEN];
	size_t private_ip_count;
	struct vipd_aws_route routes[VIPD_AWS_MAX];
	size_t route_count;
	struct vipd_aws_target_group target_groups[VIPD_AWS_MAX];
	size_t target_group_count;
};

#define VIPD_AZ_NAME_MAX 81 /* Azure resource names: 1..80 */

struct vipd_azure_node {
	char name[33];
	char nic[VIPD_AZ_NAME_MAX];
	char address[INET6_ADDRSTRLEN]; /* next hop for routes */
};

struct vipd_azure_ipconf {
	char name[VIPD_AZ_NAME_MAX];
	char address[INET6_ADDRSTRLEN];
};

struct vipd_azure_route {
	char table[VIPD_AZ_NAME_MAX];
	char route[VIPD_AZ_NAME_MAX];
	char prefix[VIPD_TEXT_MAX];
};

/* A load balancer's backend pool this node's NIC joins while it serves. */
struct vipd_azure_pool {
	char load_balancer[VIPD_AZ_NAME_MAX];
	char pool[VIPD_AZ_NAME_MAX];
};

/*
 * vipd.azure: the moves made through Azure Resource Manager when the node
 * serves. Only nodes listed under azure.nodes make them.
 */
struct vipd_azure_cfg {
	bool set;
	char subscription[VIPD_AZ_NAME_MAX];
	char resource_group[VIPD_AZ_NAME_MAX];
	char client_id[VIPD_AZ_NAME_MAX]; /* user-assigned identity, or "" */
	char imds_endpoint[VIPD_URL_MAX];
	char arm_endpoint[VIPD_URL_MAX];
	char resource[VIPD_URL_MAX]; /* the token's audience */
	uint32_t timeout_ms, attempts, backoff_ms, operation_timeout_ms;
	struct vipd_azure_node nodes[VIPD_AWS_MAX]; /* a farm: up to 16 */
	size_t node_count;
	struct vipd_azure_ipconf ipconfs[VIPD_AWS_MAX];
	size_t ipconf_count;
	struct vipd_azure_route routes[VIPD_AWS_MAX];
	size_t route_count;
	struct vipd_azure_pool pools[VIPD_AWS_MAX]; /* backend_pools */
	size_t pool_count;
};

const struct vipd_azure_node *vipd_azure_node(const struct vipd_azure_cfg *az,
					      const char *node);

/* This node's entry under aws.nodes, or NULL. */
const struct vipd_aws_node *vipd_aws_node(const struct vipd_aws_cfg *aws,
					  const char *node);

/* vipd.lb: how a farm's clients are spread (none: the mirror's VIP). */
enum vipd_lb {
	VIPD_LB_NONE = 0, /* the VIP where the module serves, as a mirror */
	VIPD_LB_BUCKETS,  /* on every UP node, 256 buckets (buckets.h) */
};
const char *vipd_lb_name(enum vipd_lb lb);

/* vipd.buckets.hash: what picks a client's bucket. */
enum vipd_hash {
	VIPD_HASH_ADDRESS = 0,	/* the client's address */
	VIPD_HASH_ADDRESS_PORT, /* its address and source port (TCP, UDP) */
};
const char *vipd_hash_name(enum vipd_hash h);

struct vipd_buckets_cfg {
	enum vipd_hash hash;
	bool vmac_set; /* false: derived from the cluster and module names */
	uint8_t vmac[6];
};

struct vipd_cfg {
	enum vipd_lb lb;
	struct vipd_buckets_cfg buckets;
	struct vipd_vip vips[VIPD_MAX_VIPS];
	size_t vip_count;
	struct vipd_aws_cfg aws;
	struct vipd_azure_cfg azure;
	struct vipd_announce_cfg announce;
	struct vipd_probe_cfg probe;
};

/* Parse "198.18.0.100/24" or "2001:db8::1/64" (no prefix: /32, /128). */
int vipd_vip_parse(const char *text, struct vipd_vip *out);

/* Parse the `vipd:` section of a module file held in memory. */
int vipd_cfg_parse(const char *path, const char *text, size_t len,
		   struct vipd_cfg *out, char *err, size_t err_size);
int vipd_cfg_load(const char *path, struct vipd_cfg *out, char *err,
		  size_t err_size);

#endif
