/*
 * witness_server.c - `heartbeatd --witness`: the lease service loop.
 *
 * Listens on witness.addresses, authenticates each request with the
 * cluster key, drops replays, lets witness_decide() answer, and persists
 * the newest data generation before the answer that depends on it leaves.
 */
#include "witness_server.h"
#include "cli.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "persist.h"
#include "witness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

struct witness_server {
	const struct sky_config *cfg;
	char state_path[PATH_MAX];
	struct witness_state persisted;
	struct witness w;
	struct replay_guard guards[SKY_MAX_NODES];
	struct net_counters counters;
	struct net_drops drops; /* dropped packets' log lines, per kind */
	struct sky_ratelimit rl;
	uint64_t sequence;
	char last_holder[SKY_NAME_MAX + 1];
};

static int node_index(const struct sky_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->node_count; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void handle(struct witness_server *s, int fd, const uint8_t *buf,
		   size_t len, const struct sockaddr_storage *from,
		   socklen_t from_len, int64_t now)
{
	struct packet req, rep = {0};
	uint8_t out[PKT_MAX];
	enum pkt_error e = packet_decode(buf, len, s->cfg->key, &req);
	int idx;
	char src[64];

	net_addr_text(from, src, sizeof(src));
	if (e != PKT_OK) {
		net_drop(&s->counters, &s->drops, net_drop_of(e), now,
			 "%s, %zu bytes, from %s",
			 e == PKT_ERR_BAD_MAC	  ? "wrong key or forged"
			 : e == PKT_ERR_OVERSIZED ? "longer than 512 bytes"
						  : "truncated or malformed",
			 len, src);
		return;
	}
	if (strcmp(req.hdr.cluster, s->cfg->cluster) ||
	    strcmp(req.hdr.module, s->cfg->module) ||
	    req.hdr.type != PKT_LEASE_REQUEST) {
		net_drop(&s->counters, &s->drops, NET_DROP_WRONG_CLUSTER, now,
			 "type %u for cluster %s module %s from %s",
			 req.hdr.type, req.hdr.cluster, req.hdr.module, src);
		return;
	}
	idx = node_index(s->cfg, req.hdr.node);
	if (idx < 0) {
		net_drop(&s->counters, &s->drops, NET_DROP_UNKNOWN_NODE, now,
			 "lease request from node '%s' from %s", req.hdr.node,
			 src);
		return;
	}
	if (!replay_guard_accept(&s->guards[idx], req.hdr.incarnation,
				 req.hdr.sequence)) {
		net_drop(&s->counters, &s->drops, NET_DROP_REPLAY, now,
			 "lease request of %s (incarnation %llu sequence "
			 "%llu) from %s",
			 req.hdr.node, (unsigned long long)req.hdr.incarnation,
			 (unsigned long long)req.hdr.sequence, src);
		return;
	}
	s->counters.rx++;
	witness_decide(&s->w, now, req.hdr.node, &req.req, &rep.reply);
	if (s->w.dirty) {
		s->persisted.newest_generation = s->w.newest_generation;
		sky_strlcpy(s->persisted.newest_node, s->w.newest_node,
			    sizeof(s->persisted.newest_node));
		int r = witness_state_save(s->state_path, &s->persisted);
		if (r < 0) {
			/* Unrecorded, the grant could not be defended later. */
			log_error("cannot save %s: %s; not answering",
				  s->state_path, strerror(-r));
			return;
		}
		s->w.dirty = false;
		log_notice("newest data generation is now %llu on %s",
			   (unsigned long long)s->w.newest_generation,
			   s->w.newest_node);
	}
	if (rep.reply.answer == LEASE_GRANTED &&
	    strcmp(s->last_holder, req.hdr.node) != 0) {
		log_notice("lease granted to %s (generation %llu)",
			   req.hdr.node,
			   (unsigned long long)rep.reply.generation);
		sky_strlcpy(s->last_holder, req.hdr.node,
			    sizeof(s->last_holder));
	} else if (rep.reply.answer == LEASE_RELEASED &&
		   strcmp(s->last_holder, req.hdr.node) == 0) {
		log_notice("lease released by %s", req.hdr.node);
		s->last_holder[0] = '\0';
	} else if (rep.reply.answer != LEASE_GRANTED &&
		   rep.reply.answer != LEASE_RELEASED) {
		sky_log_ratelimited(
			&s->rl, LOG_INFO, "lease refused to %s: %s%s%s",
			req.hdr.node, lease_answer_name(rep.reply.answer),
			rep.reply.holder[0] ? " by " : "", rep.reply.holder);
	}

	rep.hdr = req.hdr;
	rep.hdr.type = PKT_LEASE_REPLY;
	rep.hdr.incarnation = s->persisted.incarnation;
	rep.hdr.sequence = ++s->sequence;
	int n = packet_encode(&rep, s->cfg->key, out, sizeof(out));
	if (n < 0)
		return;
	if (sendto(fd, out, (size_t)n, 0, (const struct sockaddr *)from,
		   from_len) < 0)
		s->counters.tx_errors++;
	else
		s->counters.tx++;
}

int witness_run(const struct sky_config *cfg, const char *state_dir)
{
	struct witness_server s = {.cfg = cfg};
	struct pollfd fds[SKY_MAX_WITNESS_ADDRS];
	char dir[PATH_MAX], err[512];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", state_dir, cfg->module);
	r = sky_mkdir_p(dir, 0700);
	if (r < 0) {
		log_error("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	snprintf(s.state_path, sizeof(s.state_path), "%s/witness.state", dir);
	r = witness_state_load(s.state_path, &s.persisted, err, sizeof(err));
	if (r < 0) {
		log_error("cannot load state: %s", err);
		return r;
	}
	s.persisted.incarnation++;
	r = witness_state_save(s.state_path, &s.persisted);
	if (r < 0) {
		log_error("cannot save %s: %s", s.state_path, strerror(-r));
		return r;
	}
	witness_init(&s.w, cfg->lease_ms, sky_now_ms(),
		     s.persisted.newest_generation, s.persisted.newest_node);

	/* With several witnesses (witness.hosts) this one listens on the
	 * addresses this host has: the others' are not ours to bind. */
	size_t bound = 0;
	for (size_t i = 0; i < cfg->witness_addr_count; i++) {
		r = net_udp_bind(&cfg->witness_addrs[i], &fds[i].fd);
		if (r == -EADDRNOTAVAIL && cfg->witness_host_count > 1) {
			fds[i].fd = -1; /* poll() skips it */
			continue;
		}
		if (r < 0) {
			log_error("cannot bind %s port %u: %s",
				  cfg->witness_addrs[i].text, cfg->witness_port,
				  strerror(-r));
			for (size_t j = 0; j < i; j++)
				if (fds[j].fd >= 0)
					close(fds[j].fd);
			return r;
		}
		fds[i].events = POLLIN;
		bound++;
	}
	if (bound == 0) {
		log_error("none of the %zu addresses of witness.hosts is on "
			  "this host: a witness listens on its own",
			  cfg->witness_addr_count);
		return -EADDRNOTAVAIL;
	}

	sky_stop_signals_install();
	log_notice("witness for module %s of cluster %s: %zu address(es), "
		   "lease %u ms, newest generation %llu%s%s; granting nothing "
		   "for the first %u ms",
		   cfg->module, cfg->cluster, bound, cfg->lease_ms,
		   (unsigned long long)s.persisted.newest_generation,
		   s.persisted.newest_node[0] ? " on " : "",
		   s.persisted.newest_node, cfg->lease_ms);
	sky_notify_ready("witness serving leases");

	while (!sky_stop_requested()) {
		if (sky_reload_requested())
			sky_cli_reload();
		int n = poll(fds, cfg->witness_addr_count, 100);
		int64_t now = sky_now_ms();
		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		for (size_t i = 0; n > 0 && i < cfg->witness_addr_count; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			for (int budget = 64; budget > 0; budget--) {
				uint8_t buf[PKT_MAX + 1];
				struct sockaddr_storage from;
				socklen_t from_len = sizeof(from);
				ssize_t len = recvfrom(
					fds[i].fd, buf, sizeof(buf), MSG_TRUNC,
					(struct sockaddr *)&from, &from_len);
				if (len < 0)
					break;
				if ((size_t)len > PKT_MAX) {
					char src[64];
					net_addr_text(&from, src, sizeof(src));
					net_drop(&s.counters, &s.drops,
						 NET_DROP_OVERSIZED, now,
						 "longer than %d bytes from %s",
						 PKT_MAX, src);
					continue;
				}
				handle(&s, fds[i].fd, buf, (size_t)len, &from,
				       from_len, now);
			}
		}
		net_drops_flush(&s.drops, now);
		sky_notify_watchdog(now);
	}
	sky_notify_stopping();
	for (size_t i = 0; i < cfg->witness_addr_count; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	log_notice("witness stopped (served %llu requests, dropped %llu bad "
		   "MAC, %llu replayed, %llu malformed)",
		   (unsigned long long)s.counters.rx,
		   (unsigned long long)s.counters.bad_mac,
		   (unsigned long long)s.counters.replay,
		   (unsigned long long)s.counters.malformed);
	return 0;
}
