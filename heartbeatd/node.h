/*
 * node.h - one heartbeatd serving one module on one node: the sockets, the
 * peer as the heartbeats show it, and the state it feeds to the machine.
 */
#ifndef SKYHA_NODE_H
#define SKYHA_NODE_H

#include "backups.h"
#include "config.h"
#include "control.h"
#include "depend.h"
#include "etcd.h"
#include "farm.h"
#include "lease.h"
#include "log.h"
#include "net.h"
#include "orchestrate.h"
#include "persist.h"
#include "state.h"
#include "watchdog.h"
#include "witnesses.h"

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

/* What replicd last said about the copy (MODULE.replicd.actual). */
struct node_replica {
	bool heard;
	int64_t heard_at_ms;
	char state[16]; /* primary|secondary|stopped */
	uint64_t epoch;
	enum sky_replica data;
	char sync[16];
	bool peer_connected;
	bool peer_receiving;	    /* primary: changes reach the peer live */
	uint64_t generation;	    /* secondary: its copy is complete at */
	uint64_t generation_sent;   /* primary: the peer may have been told */
	uint64_t writers_waiting;   /* primary: writers the peer lacks */
	uint64_t alone_count;	    /* changes this copy made alone */
	json_t *alone, *peer_alone; /* {count, first, last} or NULL; owned */
	json_t *resync;		    /* the validated "resync" object, or NULL */
	json_t *counters; /* validated counters (rejected_frames...) */
	json_t *pipeline; /* validated "pipeline" counters, or NULL */
	json_t *verify;	  /* "verify" (skyctl verify), bounded, or NULL */
};

/* replicd's word older than this counts as unknown (it publishes every
 * second; a dead replicd must not keep a secondary promotable). */
#define NODE_REPLICA_STALE_MS 3000
/* How long the desired state carries "discard_local" after the command. */
#define NODE_DISCARD_LOCAL_MS 30000
/* How long it carries "verify" and "resync_full" (replicd acts once). */
#define NODE_VERIFY_REQUEST_MS 10000

struct node {
	struct sky_config cfg;
	const struct sky_node *self;
	const struct sky_node *peer_node;
	char run_dir[PATH_MAX];
	char state_path[PATH_MAX];
	/* backupd's results (backups.h): the folder, the last reading. */
	char backup_dir[PATH_MAX];
	json_t *backups;
	int64_t backups_read_ms;

	struct sm sm;
	struct sm_witness witness_view;
	struct witness_set witnesses; /* quorum: witness: one or several */
	struct depend depend;	      /* module.depends_on */
	/* quorum: etcd: the worker, its last view, and the answers already
	 * handed to the state machine. */
	struct etcd_client *etcd;
	struct etcd_view etcd_view;
	uint64_t etcd_answer_seq, etcd_grant_seq;
	bool etcd_answered_ever;
	/* etcd.watchdog: armed while this node serves (watchdog.h). */
	struct hb_watchdog watchdog;
	struct orch orch;
	/* Each actuator's last actual message minus the common fields (its
	 * checkers, replication lag...), shown in the status; owned. */
	json_t *actuator_detail[SKY_ACT_COUNT];
	struct node_replica replica;
	int64_t discard_local_until_ms; /* skyctl resync --discard-local */
	int64_t app_restart_id; /* the last restart asked (0: none): checkd
				 * restarts the application when it changes */
	bool checkers_off;	/* checkers off: checkd only starts/stops */
	/* skyctl verify, resync --full: the request id (wall ms) carried by
	 * the desired state until then */
	uint64_t verify_id, resync_full_id;
	int64_t verify_until_ms, resync_full_until_ms;
	struct node_state persisted;
	struct peer_view peer;
	/* A farm or light module (node_farm.c): every other node, by its
	 * index in the config (peers[self] unused). */
	bool farm_mode;
	struct farm farm;
	struct peer_view peers[SKY_MAX_NODES];
	bool farm_seen[SKY_MAX_NODES]; /* as last logged */
	struct net_counters counters;
	uint64_t ctl_bad_requests, bus_bad_messages;
	struct net_drops drops; /* dropped packets' log lines, per kind */
	struct sky_ratelimit rl_bus, rl_ctl, rl_send, rl_watchdog;

	uint64_t sequence;
	int hb_fd[SKY_MAX_NETWORKS];
	int witness_fd4, witness_fd6;
	void *pub, *sub, *ctl;

	int64_t next_heartbeat_ms;
	int64_t next_publish_ms;
	/* The desired state's validity (publish.c): the last
	 * turn of the loop, and after a stall of heartbeatd itself, until
	 * when a serving desired state is held back. */
	int64_t last_tick_ms, hold_serving_until_ms;
	int64_t started_wall_ms, changed_wall_ms;
	bool net_up[SKY_MAX_NETWORKS]; /* as last logged */
	bool peer_visible;	       /* as last logged */
	bool publish_now;
	bool orch_failure_handled;
};

/* Set up sockets and state (node_open.c); logs and returns -errno on
 * failure. */
int node_open(struct node *n, const struct sky_config *cfg, const char *self,
	      const char *run_dir, const char *state_dir);
/* Run until SIGTERM/SIGINT; 0 on a clean stop. */
int node_run(struct node *n);
void node_close(struct node *n);

/* Record what replicd's actual state says about the copy (node_replica.c;
 * hostile input: every field is checked; a bad one is ignored). */
void node_replica_update(struct node_replica *r, const json_t *msg,
			 int64_t now);
/* Does replicd say this node's copy is complete, for this epoch? */
/* The sm's replica_* inputs (state.h) from replicd's last word. */
void node_replica_inputs(const struct node_replica *r, uint64_t epoch,
			 int64_t now, struct sm *sm);
bool node_replica_uptodate(const struct node_replica *r, uint64_t epoch,
			   int64_t now);

/* The peer as the state machine sees it at time now. */
void node_peer_input(const struct node *n, int64_t now, struct sm_peer *out);

/* The desired state (publish.c): publish it now, unless heartbeatd's view
 * cannot be trusted to serve on; note_stall at the start of every turn. */
void node_publish_desired(struct node *n, int64_t now);
void node_note_stall(struct node *n, int64_t now);

/* Shared by the mirror's turn (node.c) and the farm's (node_farm.c). */
void node_save_state(struct node *n);
void node_publish(struct node *n, int64_t now);
/* A heartbeat's header (this node, this incarnation); the caller fills
 * the body. Then one per network to `to`, each its own sequence. */
void node_heartbeat_init(const struct node *n, struct packet *p);
void node_heartbeat_send(struct node *n, struct packet *p,
			 const struct sky_node *to);
/* The end of every turn: heartbeats when due, the desired state and the
 * status, the watchdog. */
void node_end_of_turn(struct node *n, int64_t now);
/* What the mirror sends (node_send.c): its heartbeats to the peer, and
 * each witness's lease request when due (releases, when stopping). */
void node_send_heartbeats(struct node *n, int64_t now);
void node_poll_witnesses(struct node *n, int64_t now);

/* quorum: etcd (node_etcd.c): the worker's news into witness_view before
 * sm_step, and the state machine's wish to it after. */
void node_etcd_inputs(struct node *n, int64_t now);
void node_etcd_tell_want(struct node *n);
/* etcd.watchdog, after sm_step: armed and petted while serving on a valid
 * lease, disarmed ('V') when this node stops serving. */
void node_watchdog_turn(struct node *n, int64_t now);
/* A farm with quorum: etcd: may this node serve (its lease alive)? */
void node_etcd_farm_inputs(struct node *n, int64_t now);

/* A farm's turn, heartbeats and status (node_farm.c). */
void node_farm_tick(struct node *n, int64_t now);
void node_farm_send_heartbeats(struct node *n, int64_t now);
void node_farm_update_systemd_status(const struct node *n);
/* The view of another node by name (index set), or NULL: not a node of
 * this farm, or this node itself. */
struct peer_view *node_farm_peer(struct node *n, const char *name,
				 size_t *index);
void node_farm_inputs(const struct node *n, int64_t now,
		      struct farm_node_input *in);
json_t *node_farm_members_json(const struct node *n);
/* SIGHUP: in a farm, a change of the nodes' weights alone is applied (the
 * status's shares follow vipd's buckets); anything else is logged as
 * needing a restart, as every daemon does. */
void node_reload(struct node *n);
/* The status object of a farm node; takes ownership of the parts. */
json_t *node_farm_status_json(const struct node *n, int64_t now, json_t *self,
			      json_t *transition, json_t *actuators,
			      json_t *counters);

/* Control socket (control.c). */
json_t *node_status_json(const struct node *n, int64_t now);
/* Carry out a request ctl_request_parse() accepted; the reply to send. */
json_t *node_handle_request(struct node *n, int64_t now,
			    const struct ctl_request *req);
/* Answer every request waiting on the control socket. */
void node_ctl_serve(struct node *n, int64_t now);

#endif
