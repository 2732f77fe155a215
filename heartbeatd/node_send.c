/*
 * node_send.c - what a node sends on its UDP sockets: its heartbeat on
 * every network to the peer (each packet with its own sequence, for the
 * peer's replay guard), and each witness's lease request, renewal or
 * release when it is due. Encoding and the MAC are packet.c's; a send
 * that fails is counted and logged at a limited rate, never fatal.
 */
#include "node.h"

#include <string.h>

void node_heartbeat_init(const struct node *n, struct packet *p)
{
	memset(p, 0, sizeof(*p));
	p->hdr.type = PKT_HEARTBEAT;
	sky_strlcpy(p->hdr.cluster, n->cfg.cluster, sizeof(p->hdr.cluster));
	sky_strlcpy(p->hdr.module, n->cfg.module, sizeof(p->hdr.module));
	sky_strlcpy(p->hdr.node, n->self->name, sizeof(p->hdr.node));
	p->hdr.incarnation = n->persisted.incarnation;
}

void node_heartbeat_send(struct node *n, struct packet *p,
			 const struct sky_node *to)
{
	uint8_t buf[PKT_MAX];

	for (size_t i = 0; i < n->cfg.network_count; i++) {
		p->hb.network = (uint8_t)i;
		p->hdr.sequence = ++n->sequence;
		int len = packet_encode(p, n->cfg.key, buf, sizeof(buf));
		if (len < 0)
			continue;
		int r = net_send(n->hb_fd[i], &to->addrs[i], buf, (size_t)len);
		if (r < 0) {
			n->counters.tx_errors++;
			sky_log_ratelimited(&n->rl_send, LOG_WARNING,
					    "heartbeat to %s (%s) on network "
					    "%zu: %s",
					    to->name, to->addrs[i].text, i,
					    strerror(-r));
		} else {
			n->counters.tx++;
		}
	}
}

void node_send_heartbeats(struct node *n, int64_t now)
{
	struct packet p;

	node_heartbeat_init(n, &p);
	p.hb.role = (uint8_t)n->sm.role;
	p.hb.epoch = n->sm.epoch;
	p.hb.generation = n->sm.generation;
	p.hb.data = (uint8_t)sm_advertised_data(&n->sm);
	p.hb.flags = sm_heartbeat_flags(&n->sm, now);
	node_heartbeat_send(n, &p, n->peer_node);
	n->next_heartbeat_ms = now + n->cfg.interval_ms;
}

/* To every address of one witness (host: its index in witness.hosts). */
static void send_lease_request(struct node *n, size_t host,
			       const struct pkt_lease_request *req)
{
	struct packet p = {0};
	uint8_t buf[PKT_MAX];

	p.hdr.type = PKT_LEASE_REQUEST;
	sky_strlcpy(p.hdr.cluster, n->cfg.cluster, sizeof(p.hdr.cluster));
	sky_strlcpy(p.hdr.module, n->cfg.module, sizeof(p.hdr.module));
	sky_strlcpy(p.hdr.node, n->self->name, sizeof(p.hdr.node));
	p.hdr.incarnation = n->persisted.incarnation;
	p.req = *req;
	for (size_t i = 0; i < n->cfg.witness_addr_count; i++) {
		const struct sky_addr *to = &n->cfg.witness_addrs[i];
		int fd = to->sa.ss_family == AF_INET ? n->witness_fd4
						     : n->witness_fd6;
		if (n->cfg.witness_host_of[i] != host)
			continue;
		p.hdr.sequence = ++n->sequence;
		int len = packet_encode(&p, n->cfg.key, buf, sizeof(buf));
		if (len < 0 || fd < 0)
			continue;
		int r = net_send(fd, to, buf, (size_t)len);
		if (r < 0)
			sky_log_ratelimited(&n->rl_send, LOG_WARNING,
					    "lease request to witness %s: %s",
					    to->text, strerror(-r));
	}
}

/* Each witness's renewal, retry or release, when due. */
void node_poll_witnesses(struct node *n, int64_t now)
{
	struct pkt_lease_request req;

	for (size_t h = 0; h < n->witnesses.count; h++)
		if (lease_client_poll(&n->witnesses.lease[h], now, &n->sm,
				      &req))
			send_lease_request(n, h, &req);
}
