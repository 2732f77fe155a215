/*
 * node.h - one heartbeatd serving one module on one node: the sockets, the
 * peer as the heartbeats show it, and the state it feeds to the machine.
 */
#ifndef SKYHA_NODE_H
#define SKYHA_NODE_H

#include "config.h"
#include "lease.h"
#include "log.h"
#include "net.h"
#include "orchestrate.h"
#include "persist.h"
#include "state.h"

#include <limits.h>

struct peer_network {
	int64_t last_rx_ms; /* 0: never */
	struct replay_guard guard;
};

struct peer_view {
	bool ever_seen;
	int64_t last_rx_ms;
	struct pkt_heartbeat last;
	uint64_t incarnation;
	struct peer_network nets[SKY_MAX_NETWORKS];
};

struct node {
	struct sky_config cfg;
	const struct sky_node *self;
	const struct sky_node *peer_node;
	char run_dir[PATH_MAX];
	char state_path[PATH_MAX];

	struct sm sm;
	struct sm_witness witness_view;
	struct lease_client lease;
	struct orch orch;
	/* Each actuator's last actual message minus the common fields (its
	 * checkers, replication lag...), shown in the status; owned. */
	json_t *actuator_detail[SKY_ACT_COUNT];
	struct node_state persisted;
	struct peer_view peer;
	struct net_counters counters;
	uint64_t ctl_bad_requests, bus_bad_messages;
	struct sky_ratelimit rl_packets, rl_bus, rl_ctl, rl_send;

	uint64_t sequence;
	int hb_fd[SKY_MAX_NETWORKS];
	int witness_fd4, witness_fd6;
	void *pub, *sub, *ctl;

	int64_t next_heartbeat_ms;
	int64_t next_publish_ms;
	int64_t started_wall_ms, changed_wall_ms;
	bool net_up[SKY_MAX_NETWORKS]; /* as last logged */
	bool peer_visible;	       /* as last logged */
	bool publish_now;
	bool orch_failure_handled;
};

/* Set up sockets and state; logs and returns -errno on failure. */
int node_open(struct node *n, const struct sky_config *cfg, const char *self,
	      const char *run_dir, const char *state_dir);
/* Run until SIGTERM/SIGINT; 0 on a clean stop. */
int node_run(struct node *n);
void node_close(struct node *n);

/* The peer as the state machine sees it at time now. */
void node_peer_input(const struct node *n, int64_t now, struct sm_peer *out);

/* Control socket (control.c). */
json_t *node_status_json(const struct node *n, int64_t now);
json_t *node_handle_request(struct node *n, int64_t now, const json_t *req);

#endif
