/*
 * node_open.c - a node's start and end: the config and this node's place
 * in it, the state file (loaded, its incarnation bumped and saved before
 * anything is sent), the state machine, the UDP and ZeroMQ sockets, the
 * dependencies, etcd's worker and the watchdog; and node_close, which
 * gives all of it back. Every failure is logged here, once, with what the
 * operator should fix.
 */
#include "node.h"
#include "notify.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static int open_bus(struct node *n)
{
	char ep[PATH_MAX + 16], dir[PATH_MAX + 64];
	int r, fd;

	snprintf(dir, sizeof(dir), "%s/%s", n->run_dir, n->cfg.module);
	r = sky_mkdir_p(dir, 0755);
	if (r < 0) {
		log_error("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	const struct {
		const char *name;
		int type;
		void **sock;
	} eps[] = {
		{SKY_EP_DESIRED, ZMQ_XPUB, &n->pub},
		{SKY_EP_ACTUAL, ZMQ_SUB, &n->sub},
		{SKY_EP_CTL, ZMQ_ROUTER, &n->ctl},
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(eps); i++) {
		r = sky_bus_endpoint(ep, sizeof(ep), n->run_dir, n->cfg.module,
				     eps[i].name);
		if (r < 0)
			return r;
		bool ctl = eps[i].sock == &n->ctl;
		fd = ctl ? sky_listen_fd("ctl") : -ENOENT;
		/* A socket file left by a killed daemon would refuse the
		 * bind; nothing else may own our run dir. */
		if (fd < 0)
			unlink(ep + strlen("ipc://"));
		r = ctl ? sky_ctl_listen(ep, fd, eps[i].sock)
			: sky_bus_open(eps[i].type, ep, true, eps[i].sock);
		if (r < 0) {
			log_error("cannot bind %s: %s", ep, zmq_strerror(-r));
			return r;
		}
	}
	return 0;
}

int node_open(struct node *n, const struct sky_config *cfg, const char *self,
	      const char *run_dir, const char *state_dir)
{
	char dir[PATH_MAX], err[512];
	struct sm_config smc = {0};
	int r;

	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	for (size_t i = 0; i < SKY_MAX_NETWORKS; i++)
		n->hb_fd[i] = -1;
	n->witness_fd4 = n->witness_fd6 = -1;
	n->self = sky_config_node(&n->cfg, self);
	if (!n->self) {
		log_error("%s: this node '%s' is not in nodes (use --node)",
			  cfg->path, self);
		return -ENOENT;
	}
	n->farm_mode = cfg->type != SKY_MODULE_MIRROR;
	/* A farm has no one peer (and a light module none): peer_node is
	 * the mirror's only. */
	n->peer_node = n->farm_mode ? NULL : sky_config_peer(&n->cfg, n->self);
	sky_strlcpy(n->run_dir, run_dir, sizeof(n->run_dir));
	if (n->peer_node)
		sky_log_set_peer(n->peer_node->name);

	snprintf(dir, sizeof(dir), "%s/%s", state_dir, cfg->module);
	r = sky_mkdir_p(dir, 0700);
	if (r < 0) {
		log_error("cannot create state directory %s: %s", dir,
			  strerror(-r));
		return r;
	}
	snprintf(n->backup_dir, sizeof(n->backup_dir), "%s/backup", dir);
	r = snprintf(n->state_path, sizeof(n->state_path), "%s/node.state",
		     dir);
	if (r < 0 || (size_t)r >= sizeof(n->state_path))
		return -ENAMETOOLONG;
	r = node_state_load(n->state_path, &n->persisted, err, sizeof(err));
	if (r < 0) {
		log_error(
			"cannot load state: %s (fix or remove the file; "
			"removing it makes this node's data count as unknown)",
			err);
		return r;
	}
	n->persisted.incarnation++;
	r = node_state_save(n->state_path, &n->persisted);
	if (r < 0) {
		log_error("cannot save %s: %s", n->state_path, strerror(-r));
		return r;
	}

	sky_strlcpy(smc.self, n->self->name, sizeof(smc.self));
	if (n->peer_node)
		sky_strlcpy(smc.peer, n->peer_node->name, sizeof(smc.peer));
	smc.self_is_default_primary =
		strcmp(cfg->default_primary, smc.self) == 0;
	smc.peer_is_default_primary =
		strcmp(cfg->default_primary, smc.peer) == 0;
	/* The state machine knows one lease: the witness's or etcd's. */
	smc.witness_quorum = cfg->quorum_witness || cfg->quorum_etcd;
	smc.lease_required = cfg->quorum_etcd;
	smc.peer_lost_after_ms = cfg->peer_lost_after_ms;
	smc.lease_ms = cfg->lease_ms;
	smc.failed_transition_holddown_ms = 10000;
	smc.swap_request_expires_ms = 10000;
	for (size_t i = 0; i < cfg->order_count; i++)
		if (cfg->order[i] == SKY_ACT_REPLICD)
			smc.replica_gated = true;
	int64_t now = sky_now_ms();
	sm_init(&n->sm, &smc, now, n->persisted.epoch, n->persisted.generation,
		n->persisted.data, n->persisted.stopped);
	witness_set_init(&n->witnesses, cfg->witness_host_count,
			 cfg->interval_ms);
	if (n->farm_mode)
		farm_init(&n->farm, &n->cfg, n->self, cfg->rejoin_after_ms);
	orch_init(&n->orch, cfg->order, cfg->order_count, cfg->step_timeout_ms);
	n->orch.silent_ms = cfg->actuator_silent_ms;

	for (size_t i = 0; i < cfg->network_count; i++) {
		r = net_udp_bind(&n->self->addrs[i], &n->hb_fd[i]);
		if (r < 0) {
			log_error("cannot bind heartbeat socket %s port %u: %s",
				  n->self->addrs[i].text, cfg->heartbeat_port,
				  strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < cfg->witness_addr_count; i++) {
		int family = cfg->witness_addrs[i].sa.ss_family;
		int *fd = family == AF_INET ? &n->witness_fd4 : &n->witness_fd6;
		if (*fd < 0 && (r = net_udp_client(family, fd)) < 0) {
			log_error("cannot open a witness socket: %s",
				  strerror(-r));
			return r;
		}
	}
	r = open_bus(n);
	if (r < 0)
		return r;
	r = depend_open(&n->depend, cfg, run_dir);
	if (r < 0)
		return r;
	/* A farm's nodes keep a lease each and never lead (want stays 0). */
	if (cfg->quorum_etcd) {
		r = etcd_client_start(&n->etcd, &n->cfg, n->self->name);
		if (r < 0)
			return r;
	}
	hb_watchdog_init(
		&n->watchdog, n->cfg.etcd.watchdog,
		hb_watchdog_timeout_s(n->cfg.lease_ms, n->cfg.interval_ms));
	/* Opened only to serve (opening arms it): say now if it cannot be. */
	if (n->watchdog.path[0] && access(n->watchdog.path, W_OK) < 0)
		log_warning("etcd.watchdog %s: %s: this node cannot serve "
			    "until it can be opened",
			    n->watchdog.path, strerror(errno));
	n->started_wall_ms = n->changed_wall_ms = sky_wall_ms();
	return 0;
}

void node_close(struct node *n)
{
	etcd_client_stop(&n->etcd);
	for (size_t i = 0; i < SKY_ACT_COUNT; i++) {
		json_decref(n->actuator_detail[i]);
		n->actuator_detail[i] = NULL;
	}
	json_decref(n->replica.resync);
	json_decref(n->replica.verify);
	n->replica.resync = NULL;
	json_decref(n->replica.counters);
	json_decref(n->replica.pipeline);
	json_decref(n->replica.alone);
	json_decref(n->replica.peer_alone);
	n->replica.alone = n->replica.peer_alone = NULL;
	n->replica.counters = NULL;
	sky_bus_close(&n->pub);
	sky_bus_close(&n->sub);
	depend_close(&n->depend);
	json_decref(n->backups);
	n->backups = NULL;
	sky_bus_close(&n->ctl);
	for (size_t i = 0; i < SKY_MAX_NETWORKS; i++)
		if (n->hb_fd[i] >= 0)
			close(n->hb_fd[i]);
	if (n->witness_fd4 >= 0)
		close(n->witness_fd4);
	if (n->witness_fd6 >= 0)
		close(n->witness_fd6);
	sky_bus_shutdown();
}
