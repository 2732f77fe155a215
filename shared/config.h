/*
 * config.h - the module configuration (docs/config.md), loaded once.
 *
 * sky_config_load() parses the YAML file with libyaml, validates every field
 * and cross-field rule, reads the cluster key, and only then fills *out: a
 * bad file never leaves a half-configured daemon. Errors name the file,
 * line, column and field: "app.yaml:14:16: heartbeat.timeout_ms: ...".
 */
#ifndef SKYHA_CONFIG_H
#define SKYHA_CONFIG_H

#include "bus.h"
#include "util.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define SKY_MAX_NODES		       16 /* a farm; a mirror has 2 */
#define SKY_MAX_NETWORKS	       4
#define SKY_DEFAULT_PEER_LOST_AFTER_MS 1000 /* heartbeat.timeout_ms */
#define SKY_MAX_WITNESS_ADDRS	       8
#define SKY_MAX_DEPENDS		       4
#define SKY_MAX_WITNESS_HOSTS	       5 /* witness.hosts: a majority is needed */
#define SKY_KEY_BYTES		       32
#define SKY_ADDR_TEXT_MAX	       64 /* INET6_ADDRSTRLEN plus room */

struct sky_addr {
	struct sockaddr_storage sa; /* port filled in by the loader */
	socklen_t len;
	char text[SKY_ADDR_TEXT_MAX];
};

/* quorum: etcd (docs/config.md, "etcd") */
#define SKY_ETCD_ENDPOINTS_MAX 8
#define SKY_ETCD_URL_MAX       256
#define SKY_ETCD_PREFIX_MAX    200
#define SKY_ETCD_USER_MAX      64

struct sky_etcd_config {
	char endpoints[SKY_ETCD_ENDPOINTS_MAX][SKY_ETCD_URL_MAX];
	size_t endpoint_count;
	char prefix[SKY_ETCD_PREFIX_MAX +
		    1]; /* default /skyha/CLUSTER/MODULE */
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
	char user[SKY_ETCD_USER_MAX + 1];
	char password_file[PATH_MAX]; /* resolved; "" with no user */
	/* A mirror's primary pets it while its lease holds (heartbeatd/
	 * watchdog.h); "" for none (the default). */
	char watchdog[PATH_MAX];
};

struct sky_node {
	char name[SKY_NAME_MAX + 1];
	struct sky_addr addrs[SKY_MAX_NETWORKS];
	size_t addr_count;
	uint32_t weight; /* a farm's share of the load: 1..100, default 1 */
};

enum sky_module_type {
	SKY_MODULE_MIRROR = 0, /* two nodes, one primary, data replicated */
	SKY_MODULE_FARM,       /* 2..16 nodes, the application on each */
	SKY_MODULE_LIGHT,      /* one node: checkers and restarts only */
};
const char *sky_module_type_name(enum sky_module_type t);

struct sky_config {
	char path[PATH_MAX];
	char cluster[SKY_NAME_MAX + 1];
	char key_file[PATH_MAX];
	uint8_t key[SKY_KEY_BYTES];
	char module[SKY_NAME_MAX + 1];
	enum sky_module_type type;
	char default_primary[SKY_NAME_MAX + 1]; /* "" when none */
	/* module.depends_on: modules of this node this one serves with
	 * (serves only where each of them serves; a mirror). */
	char depends_on[SKY_MAX_DEPENDS][SKY_NAME_MAX + 1];
	size_t depends_count;
	struct sky_node nodes[SKY_MAX_NODES];
	size_t node_count;
	size_t network_count;
	uint16_t heartbeat_port;
	uint32_t interval_ms;
	uint32_t peer_lost_after_ms; /* heartbeat.timeout_ms */
	bool quorum_witness;	     /* false: quorum: none */
	/* Every witness address; witness_host_of[i] says which witness (one
	 * process on one host) address i reaches. witness.addresses is one
	 * witness (host count 1); witness.hosts several, and serving without
	 * the peer then needs the leases of a majority of them. */
	struct sky_addr witness_addrs[SKY_MAX_WITNESS_ADDRS];
	uint8_t witness_host_of[SKY_MAX_WITNESS_ADDRS];
	size_t witness_addr_count;
	size_t witness_host_count;
	uint16_t witness_port;
	uint32_t lease_ms; /* witness.lease_ms or etcd.lease_ms */
	bool quorum_etcd;  /* quorum: etcd (quorum_witness is false) */
	struct sky_etcd_config etcd;
	enum sky_actuator order[SKY_ACT_COUNT];
	size_t order_count;
	uint32_t step_timeout_ms;
	uint32_t actuator_silent_ms; /* transitions.actuator_silent_ms */
	/* farm, light: a node whose application failed starts it again
	 * after this (transitions.rejoin_after_ms); 0: on skyctl start. */
	uint32_t rejoin_after_ms;
	/* The file has a backup: section (backupd validates it): heartbeatd
	 * takes backup requests (skyctl/API "backup"). */
	bool has_backup;
};

/* Load and validate; on error fill err ("file:line:col: field: why"). */
int sky_config_load(const char *path, struct sky_config *out, char *err,
		    size_t err_size);

/* Parse from memory (path used for messages and relative key_file). */
int sky_config_parse(const char *path, const char *text, size_t len,
		     struct sky_config *out, char *err, size_t err_size);

/* The node entry by name, or NULL. */
const struct sky_node *sky_config_node(const struct sky_config *cfg,
				       const char *name);
/*
 * What changed between the configuration in use and the same file read
 * again (both loaded by sky_config_load into zeroed memory): nothing, the
 * nodes' weights only (what: "node1 1 -> 3, ..."), or anything else. Whole
 * structures are compared as bytes: a difference in padding can only ask
 * for a restart that was not needed, never apply too much.
 */
enum sky_config_change {
	SKY_CONFIG_SAME = 0,
	SKY_CONFIG_WEIGHTS,
	SKY_CONFIG_OTHER,
};
enum sky_config_change sky_config_compare(const struct sky_config *in_use,
					  const struct sky_config *reread,
					  char *what, size_t size);

/* The other node of a two-node module. */
const struct sky_node *sky_config_peer(const struct sky_config *cfg,
				       const struct sky_node *self);

#endif
