/*
 * model_test.c - every sequence of faults, up to a depth, against the real
 * state machine: a serving node always holds every acknowledged write.
 *
 * Two nodes run the real heartbeatd state machine (state.c), lease client
 * (lease.c) and witness policy (witness.c) on a fake clock, as
 * state_test.c does, with replicd in the transitions (replica_gated). What
 * replicd does is modelled here, rule for rule as replicd/daemon.c and
 * repl.c do it (docs/replication.md, "Generations"): what each copy holds
 * (one bit per write), the session between the two replicds (none,
 * resyncing, in sync, diverged), the generation a secondary's copy is
 * complete at, what the primary told the peer, writers that wait because
 * the peer lacks their change, and the change record's "alone" marker.
 *
 * A depth-first search applies every event to every state, lets the cluster
 * settle for a few seconds of fake time, and checks at every 20 ms step:
 *  - never two nodes serving;
 *  - a serving node's copy holds every acknowledged write (after an
 *    operator's `prim --force` made a node serve, what only the other copy
 *    held is no longer owed: the operator chose).
 * States already explored with as many events left are skipped. A
 * violation prints the sequence of events that led to it.
 *
 * Events: power cut and return of each node, restart of each node's
 * daemons, a write (append + fsync) on each node, `skyctl swap` and
 * `skyctl prim --force` on each node, the replication link cut and healed,
 * the heartbeat link cut and healed, the end of a running resync.
 */
#include "lease.h"
#include "state.h"
#include "test.h"
#include "witness.h"

#include <stdint.h>
#include <stdlib.h>

#define STEP	     20
#define INTERVAL     200
#define TIMEOUT	     1000
#define LEASE	     1000
#define REPL_TIMEOUT 1000 /* replicd.timeout_ms */
#define SETTLE_MS    3000
#define MAX_WRITES   12

enum session { SS_NONE, SS_RESYNC, SS_INSYNC, SS_DIVERGED };
enum target { T_STOPPED, T_PRIMARY, T_SECONDARY };

/* replicd and the node's disk. */
struct rnode {
	uint16_t copy;	   /* bit w: write w is on this disk */
	bool record_alone; /* acked changes the peer never got (track.h) */
	/* the replicd process (lost at a restart) */
	enum sky_replica data;
	uint64_t synced_generation; /* secondary */
	bool have_generation;	    /* primary: generation_sent is known */
	uint64_t generation_sent;
	int64_t session_lost_at; /* secondary: for REPL_TIMEOUT */
	int pending;		 /* a write waiting for its ack, or -1 */
	uint64_t pending_link_gen;
};

struct mnode {
	struct sm sm;
	struct sm_witness wv;
	struct lease_client lc;
	bool alive;
	bool ever;
	int64_t last_rx;
	struct pkt_heartbeat last;
	int64_t next_hb;
	/* the state file */
	uint64_t p_epoch, p_generation;
	enum sky_data p_data;
	bool p_stopped;
	struct rnode r;
};

struct world {
	struct mnode n[2];
	struct witness w;
	int64_t now;
	bool link_hb, link_repl;
	enum session ss;
	int prim; /* the session's primary, or -1 */
	uint64_t link_gen, insync_gen;
	uint16_t acked;
	int next_write;
	bool violated;
	char why[256];
};

static struct sm_config node_config(int i)
{
	struct sm_config c = {0};
	sky_strlcpy(c.self, i == 0 ? "node1" : "node2", sizeof(c.self));
	sky_strlcpy(c.peer, i == 0 ? "node2" : "node1", sizeof(c.peer));
	c.self_is_default_primary = i == 0;
	c.peer_is_default_primary = i != 0;
	c.witness_quorum = true;
	c.peer_lost_after_ms = TIMEOUT;
	c.lease_ms = LEASE;
	c.failed_transition_holddown_ms = 10000;
	c.swap_request_expires_ms = 10000;
	c.replica_gated = true;
	return c;
}

static void rnode_restart(struct rnode *r)
{
	r->data = SKY_REPLICA_UNKNOWN;
	r->synced_generation = 0;
	r->have_generation = false;
	r->generation_sent = 0;
	r->session_lost_at = 0;
	r->pending = -1;
}

static void node_boot(struct world *w, int i)
{
	struct mnode *n = &w->n[i];
	struct sm_config c = node_config(i);
	sm_init(&n->sm, &c, w->now, n->p_epoch, n->p_generation, n->p_data,
		n->p_stopped);
	memset(&n->wv, 0, sizeof(n->wv));
	lease_client_init(&n->lc, INTERVAL);
	n->alive = true;
	n->ever = false;
	n->next_hb = w->now;
	rnode_restart(&n->r);
}

static enum target target_of(const struct mnode *n)
{
	if (!n->alive)
		return T_STOPPED;
	if (sky_role_serves(n->sm.role))
		return T_PRIMARY;
	return n->sm.role == SKY_ROLE_SECOND ? T_SECONDARY : T_STOPPED;
}

static void peer_input(const struct world *w, int i, struct sm_peer *p)
{
	const struct mnode *n = &w->n[i];
	memset(p, 0, sizeof(*p));
	p->role = SKY_ROLE_UNKNOWN;
	if (!n->ever)
		return;
	p->visible = w->now - n->last_rx < TIMEOUT;
	p->visible_for_quorum = w->now - n->last_rx < TIMEOUT - 2 * INTERVAL;
	p->role = (enum sky_role)n->last.role;
	p->epoch = n->last.epoch;
	p->generation = n->last.generation;
	p->data = (enum sky_data)n->last.data;
	p->flags = n->last.flags;
}

static bool receiving(const struct world *w, int i)
{
	return w->prim == i && (w->ss == SS_RESYNC || w->ss == SS_INSYNC);
}

/* What node.c's node_replica_inputs gives the state machine. */
static void replica_inputs(const struct world *w, int i, struct sm *sm)
{
	const struct mnode *n = &w->n[i];
	enum target t = target_of(n);
	bool uptodate = t == T_SECONDARY && n->r.data == SKY_REPLICA_UPTODATE;
	sm->replica_uptodate = uptodate;
	sm->replica_generation = uptodate ? n->r.synced_generation : 0;
	sm->replica_heard = n->alive;
	sm->replica_alone_changes = n->r.record_alone;
	sm->replica_link_down = t != T_PRIMARY || !receiving(w, i);
	sm->replica_writers_waiting = t == T_PRIMARY && n->r.pending >= 0;
	sm->replica_generation_sent =
		t == T_PRIMARY ? n->r.generation_sent : UINT64_MAX;
	sm->replica_peer_unsynced =
		!(t == T_PRIMARY && w->prim == i && w->ss == SS_INSYNC);
}

/* replicd's update_alone_ok */
static bool alone_ok(const struct world *w, int i)
{
	const struct mnode *n = &w->n[i];
	return target_of(n) == T_PRIMARY && n->sm.ack_alone &&
	       n->r.have_generation && n->sm.generation > n->r.generation_sent;
}

static void end_session(struct world *w)
{
	if (w->prim < 0)
		return;
	struct mnode *sec = &w->n[1 - w->prim];
	sec->r.session_lost_at = w->now;
	w->link_gen++;
	w->prim = -1;
	w->ss = SS_NONE;
}

/* The primary's peer_in_sync + send_generation, and the secondary's
 * handling of INSYNC and the generation message. */
static void reach_insync(struct world *w)
{
	struct mnode *p = &w->n[w->prim], *s = &w->n[1 - w->prim];
	w->ss = SS_INSYNC;
	s->r.copy = p->r.copy;
	s->r.data = SKY_REPLICA_UPTODATE;
	s->r.record_alone = false; /* its record is emptied */
	p->r.record_alone = false; /* the flush: the peer has it all */
	w->insync_gen = w->link_gen + 1;
	if (p->r.have_generation) {
		s->r.synced_generation = p->sm.generation;
		if (p->sm.generation > p->r.generation_sent)
			p->r.generation_sent = p->sm.generation;
	}
}

static void replicd_step(struct world *w)
{
	for (int i = 0; i < 2; i++) {
		struct mnode *n = &w->n[i];
		if (!n->alive)
			continue;
		/* on_generation: the first desired state after a start */
		if (target_of(n) != T_STOPPED && !n->r.have_generation) {
			n->r.have_generation = true;
			n->r.generation_sent = n->sm.generation;
		}
		if (target_of(n) != T_PRIMARY && n->r.pending >= 0)
			n->r.pending = -1; /* demoted: never acknowledged */
	}
	/* The session ends with a node, the link or the roles. */
	if (w->prim >= 0) {
		int p = w->prim;
		if (!w->link_repl || target_of(&w->n[p]) != T_PRIMARY ||
		    target_of(&w->n[1 - p]) != T_SECONDARY)
			end_session(w);
	}
	if (w->prim < 0 && w->link_repl) {
		for (int p = 0; p < 2; p++) {
			struct mnode *pn = &w->n[p], *sn = &w->n[1 - p];
			if (target_of(pn) != T_PRIMARY ||
			    target_of(sn) != T_SECONDARY)
				continue;
			w->prim = p;
			if (sn->r.data == SKY_REPLICA_UPTODATE)
				sn->r.data = SKY_REPLICA_OUTDATED;
			if (sn->r.record_alone) {
				w->ss = SS_DIVERGED;
				sn->r.synced_generation = 0;
			} else if (sn->r.copy == pn->r.copy) {
				reach_insync(w);
			} else {
				w->ss = SS_RESYNC;
				sn->r.data = SKY_REPLICA_INCONSISTENT;
				sn->r.synced_generation = 0;
			}
		}
	}
	if (w->ss == SS_INSYNC) {
		/* send_generation while in sync */
		struct mnode *p = &w->n[w->prim], *s = &w->n[1 - w->prim];
		if (p->r.have_generation &&
		    s->r.synced_generation != p->sm.generation) {
			s->r.synced_generation = p->sm.generation;
			if (p->sm.generation > p->r.generation_sent)
				p->r.generation_sent = p->sm.generation;
		}
	}
	for (int i = 0; i < 2; i++) {
		struct mnode *n = &w->n[i];
		if (!n->alive)
			continue;
		if (target_of(n) == T_SECONDARY && w->prim != 1 - i &&
		    n->r.data == SKY_REPLICA_UPTODATE &&
		    w->now - n->r.session_lost_at > REPL_TIMEOUT)
			n->r.data = SKY_REPLICA_OUTDATED;
		if (n->r.pending < 0)
			continue;
		uint16_t bit = (uint16_t)(1u << n->r.pending);
		if (w->insync_gen > n->r.pending_link_gen) {
			w->acked |= bit; /* on the peer too, by the resync */
			n->r.pending = -1;
		} else if (alone_ok(w, i)) {
			w->acked |= bit;
			n->r.record_alone = true;
			n->r.pending = -1;
		}
	}
}

static void check(struct world *w)
{
	bool s0 = w->n[0].alive && sky_role_serves(w->n[0].sm.role);
	bool s1 = w->n[1].alive && sky_role_serves(w->n[1].sm.role);
	if (w->violated)
		return;
	if (s0 && s1) {
		w->violated = true;
		snprintf(w->why, sizeof(w->why), "both nodes serve");
		return;
	}
	for (int i = 0; i < 2; i++) {
		const struct mnode *n = &w->n[i];
		if (!(i ? s1 : s0))
			continue;
		uint16_t missing = w->acked & (uint16_t)~n->r.copy;
		if (missing) {
			w->violated = true;
			snprintf(w->why, sizeof(w->why),
				 "%s serves (%s, generation %llu) without "
				 "acknowledged writes 0x%x",
				 n->sm.cfg.self, sky_role_name(n->sm.role),
				 (unsigned long long)n->sm.generation,
				 (unsigned)missing);
		}
	}
}

static void node_step(struct world *w, int i)
{
	struct mnode *n = &w->n[i], *other = &w->n[1 - i];
	struct sm_peer p;
	struct pkt_lease_request req;

	if (!n->alive)
		return;
	n->wv.lease_valid = lease_client_valid(&n->lc, w->now);
	peer_input(w, i, &p);
	replica_inputs(w, i, &n->sm);
	bool forced = n->sm.forced, served = sky_role_serves(n->sm.role);
	sm_step(&n->sm, w->now, &p, &n->wv);
	if (forced && !served && sky_role_serves(n->sm.role))
		/* The operator chose this copy: what only the other one
		 * held is knowingly dropped. */
		w->acked &= n->r.copy;
	if (n->sm.dirty) {
		n->p_epoch = n->sm.epoch;
		n->p_generation = n->sm.generation;
		n->p_data = n->sm.data;
		n->p_stopped = n->sm.stopped;
	}
	n->sm.changed = n->sm.dirty = n->sm.note_changed = false;
	if (lease_client_poll(&n->lc, w->now, &n->sm, &req)) {
		struct pkt_lease_reply rep;
		witness_decide(&w->w, w->now, n->sm.cfg.self, &req, &rep);
		w->w.dirty = false;
		lease_client_on_reply(&n->lc, w->now, &rep, &n->wv);
	}
	if (w->now >= n->next_hb) {
		n->next_hb = w->now + INTERVAL;
		if (other->alive && w->link_hb) {
			other->ever = true;
			other->last_rx = w->now;
			other->last = (struct pkt_heartbeat){
				.role = (uint8_t)n->sm.role,
				.epoch = n->sm.epoch,
				.generation = n->sm.generation,
				.data = (uint8_t)sm_advertised_data(&n->sm),
				.flags = sm_heartbeat_flags(&n->sm, w->now),
			};
		}
	}
}

static void settle(struct world *w, int64_t ms)
{
	for (int64_t t = 0; t < ms && !w->violated; t += STEP) {
		w->now += STEP;
		node_step(w, 0);
		node_step(w, 1);
		replicd_step(w);
		check(w);
	}
}

/* --- events ------------------------------------------------------------ */

enum event {
	EV_POWER_CUT,
	EV_POWER_ON,
	EV_RESTART,
	EV_WRITE,
	EV_SWAP,
	EV_FORCE,
	EV_PER_NODE,
	EV_REPL_LINK = 2 * EV_PER_NODE,
	EV_HB_LINK,
	EV_RESYNC_END,
	EV_COUNT,
};

static const char *const event_names[] = {
	"power cut", "power on", "restart", "write", "swap", "prim --force",
};

static void event_name(int e, char *buf, size_t size)
{
	if (e < EV_REPL_LINK)
		snprintf(buf, size, "%s node%d", event_names[e % EV_PER_NODE],
			 e / EV_PER_NODE + 1);
	else
		snprintf(buf, size, "%s",
			 e == EV_REPL_LINK ? "replication link cut/heal"
			 : e == EV_HB_LINK ? "heartbeat link cut/heal"
					   : "resync ends");
}

static void power_cut(struct world *w, int i)
{
	if (w->prim >= 0)
		end_session(w);
	w->n[i].alive = false;
	w->n[i].r.pending = -1;
}

/* Apply event e; false if it does not apply in this state. */
static bool apply(struct world *w, int e)
{
	char msg[256];
	struct sm_peer p;

	if (e >= EV_REPL_LINK) {
		if (e == EV_REPL_LINK) {
			w->link_repl = !w->link_repl;
		} else if (e == EV_HB_LINK) {
			w->link_hb = !w->link_hb;
		} else {
			if (w->ss != SS_RESYNC)
				return false;
			reach_insync(w);
		}
		return true;
	}
	int i = e / EV_PER_NODE;
	struct mnode *n = &w->n[i];
	switch (e % EV_PER_NODE) {
	case EV_POWER_CUT:
		if (!n->alive)
			return false;
		power_cut(w, i);
		return true;
	case EV_POWER_ON:
		if (n->alive)
			return false;
		node_boot(w, i);
		return true;
	case EV_RESTART:
		if (!n->alive)
			return false;
		power_cut(w, i);
		node_boot(w, i);
		return true;
	case EV_WRITE: {
		if (target_of(n) != T_PRIMARY || n->r.pending >= 0 ||
		    w->next_write >= MAX_WRITES)
			return false;
		int id = w->next_write++;
		uint16_t bit = (uint16_t)(1u << id);
		n->r.copy |= bit; /* applied here first */
		if (receiving(w, i)) {
			w->n[1 - i].r.copy |= bit;
			w->acked |= bit;
		} else if (alone_ok(w, i)) {
			w->acked |= bit;
			n->r.record_alone = true;
		} else {
			n->r.pending = id;
			n->r.pending_link_gen = w->link_gen;
		}
		return true;
	}
	case EV_SWAP:
	case EV_FORCE:
		if (!n->alive)
			return false;
		peer_input(w, i, &p);
		if (sm_command(&n->sm, w->now,
			       e % EV_PER_NODE == EV_SWAP ? SM_CMD_SWAP
							  : SM_CMD_PRIM,
			       e % EV_PER_NODE == EV_FORCE, &p, msg,
			       sizeof(msg)) < 0)
			return false;
		return true;
	}
	return false;
}

/* --- the search -------------------------------------------------------- */

struct visited {
	uint64_t *keys;
	uint8_t *left; /* events left when the state was explored */
	size_t cap, count;
};

static void mix(uint64_t *h, uint64_t v)
{
	for (int b = 0; b < 8; b++) {
		*h ^= (v >> (8 * b)) & 0xff;
		*h *= 1099511628211ull;
	}
}

/* Everything the future depends on, but the clock (with races, the
 * timers a quick event can land inside, in steps). */
static uint64_t abstract_key(const struct world *w, bool races)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 2; i++) {
		const struct mnode *n = &w->n[i];
		mix(&h, n->alive);
		mix(&h, n->p_epoch);
		mix(&h, n->p_generation);
		mix(&h, n->p_data);
		mix(&h, n->p_stopped);
		mix(&h, n->r.copy);
		mix(&h, n->r.record_alone);
		if (!n->alive)
			continue;
		mix(&h, n->sm.role);
		mix(&h, n->sm.generation);
		mix(&h, n->sm.data);
		mix(&h, n->sm.in_sync);
		mix(&h, n->sm.forced);
		mix(&h, n->sm.preference);
		mix(&h, n->sm.swap_requested);
		mix(&h, n->sm.handover);
		mix(&h, n->sm.no_primary_until_ms > w->now);
		mix(&h, n->r.data);
		mix(&h, n->r.synced_generation);
		mix(&h, n->r.generation_sent);
		mix(&h, (uint64_t)(int64_t)n->r.pending);
		if (!races)
			continue;
		mix(&h, (uint64_t)((w->now - n->r.session_lost_at) / STEP));
		mix(&h, (uint64_t)((w->now - n->last_rx) / STEP));
		mix(&h, (uint64_t)((w->now - n->sm.role_since_ms) / STEP));
	}
	mix(&h, w->link_hb);
	mix(&h, w->link_repl);
	mix(&h, w->ss);
	mix(&h, (uint64_t)(int64_t)w->prim);
	mix(&h, w->acked);
	mix(&h, (uint64_t)w->next_write);
	mix(&h, w->w.newest_generation);
	mix(&h, (uint64_t)w->w.newest_node[4]);
	return h ? h : 1;
}

/* true: explore (first time, or with more events left than before). */
static bool visit(struct visited *v, uint64_t key, int left)
{
	if (v->count * 2 >= v->cap) {
		size_t cap = v->cap ? v->cap * 2 : (1u << 16);
		uint64_t *k = calloc(cap, sizeof(*k));
		uint8_t *l = calloc(cap, 1);
		if (!k || !l)
			abort();
		for (size_t i = 0; i < v->cap; i++) {
			if (!v->keys[i])
				continue;
			size_t j = v->keys[i] & (cap - 1);
			while (k[j])
				j = (j + 1) & (cap - 1);
			k[j] = v->keys[i];
			l[j] = v->left[i];
		}
		free(v->keys);
		free(v->left);
		v->keys = k;
		v->left = l;
		v->cap = cap;
	}
	size_t j = key & (v->cap - 1);
	while (v->keys[j] && v->keys[j] != key)
		j = (j + 1) & (v->cap - 1);
	if (v->keys[j]) {
		if (v->left[j] >= left)
			return false;
		v->left[j] = (uint8_t)left;
		return true;
	}
	v->keys[j] = key;
	v->left[j] = (uint8_t)left;
	v->count++;
	return true;
}

struct search {
	struct visited seen;
	bool races;
	int trail[16];
	long explored, violations;
};

static void print_trail(const struct search *s, int depth, const char *why)
{
	char name[64];
	fprintf(stderr, "  violation: %s\n  after:", why);
	for (int d = 0; d < depth; d++) {
		event_name(s->trail[d] % EV_COUNT, name, sizeof(name));
		fprintf(stderr, "%s %s%s", d ? "," : "", name,
			s->trail[d] >= EV_COUNT ? " (at once)" : "");
	}
	fprintf(stderr, "\n");
}

/*
 * With `races`, each event is also tried QUICK_MS after the one before
 * instead of once the cluster settled: the next fault lands mid-takeover,
 * while a replicd still calls its copy up to date, during a lease.
 */
#define QUICK_MS 200

static void dfs(struct search *s, const struct world *w, int depth, int max)
{
	if (depth == max || s->violations)
		return;
	for (int e = 0; e < EV_COUNT * (s->races ? 2 : 1) && !s->violations;
	     e++) {
		struct world next = *w;
		if (!apply(&next, e % EV_COUNT))
			continue;
		s->trail[depth] = e;
		settle(&next, e >= EV_COUNT ? QUICK_MS : SETTLE_MS);
		s->explored++;
		if (next.violated) {
			s->violations++;
			print_trail(s, depth + 1, next.why);
			for (int i = 0; i < 2; i++)
				fprintf(stderr,
					"  %s: %s gen %llu data %s lease %d: "
					"%s / %s\n",
					next.n[i].sm.cfg.self,
					sky_role_name(next.n[i].sm.role),
					(unsigned long long)next.n[i]
						.sm.generation,
					sky_data_name(next.n[i].sm.data),
					lease_client_valid(&next.n[i].lc,
							   next.now),
					next.n[i].sm.reason,
					next.n[i].sm.waiting_for);
			return;
		}
		if (visit(&s->seen, abstract_key(&next, s->races),
			  max - depth - 1))
			dfs(s, &next, depth + 1, max);
	}
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->now = 100000;
	w->link_hb = w->link_repl = true;
	w->prim = -1;
	witness_init(&w->w, LEASE, w->now - LEASE, 0, "");
	node_boot(w, 0);
	node_boot(w, 1);
	settle(w, 4000);
}

static int search_depth(const char *var, int otherwise)
{
	const char *d = getenv(var);
	int64_t v;
	if (!d || sky_parse_i64(d, 1, 16, &v) < 0)
		return otherwise;
	return (int)v;
}

static void test_the_start_is_prim_and_an_in_sync_second(void)
{
	struct world w;
	world_init(&w);
	CHECK_EQ_INT(w.n[0].sm.role, SKY_ROLE_PRIM);
	CHECK_EQ_INT(w.n[1].sm.role, SKY_ROLE_SECOND);
	CHECK_EQ_INT(w.ss, SS_INSYNC);
	CHECK(w.n[1].sm.in_sync);
}

/* The checker must be able to fail: a write acknowledged as the old rule
 * did (the link down, no new generation), then a power cut of the
 * primary: the secondary's replicd still calls its copy up to date for
 * REPL_TIMEOUT, it takes over, and the checker catches it. */
static void test_the_checker_catches_an_acknowledged_write_a_server_lacks(void)
{
	struct world w;
	world_init(&w);
	w.link_repl = false;
	settle(&w, 100);
	CHECK(!w.violated);
	w.n[0].r.copy |= 1;
	w.acked |= 1; /* acked without the peer and without a generation */
	power_cut(&w, 0);
	settle(&w, SETTLE_MS);
	CHECK(w.violated);
	CHECK_STR_CONTAINS(w.why, "node2 serves");
}

static void explore(bool races, int depth)
{
	struct search s = {.races = races};
	struct world w;
	world_init(&w);
	dfs(&s, &w, 0, depth);
	printf("  depth %d%s: %ld event applications, %zu distinct states\n",
	       depth, races ? " with races" : "", s.explored, s.seen.count);
	CHECK_EQ_INT(s.violations, 0);
	CHECK(s.seen.count > 1000); /* the search went somewhere */
	free(s.seen.keys);
	free(s.seen.left);
}

static void test_every_sequence_of_faults_keeps_every_acknowledged_write(void)
{
	explore(false, search_depth("SKYHA_MODEL_DEPTH", 8));
}

static void test_faults_in_quick_succession_keep_every_acknowledged_write(void)
{
	explore(true, search_depth("SKYHA_MODEL_RACE_DEPTH", 5));
}

TEST_MAIN(TEST(test_the_start_is_prim_and_an_in_sync_second),
	  TEST(test_the_checker_catches_an_acknowledged_write_a_server_lacks),
	  TEST(test_every_sequence_of_faults_keeps_every_acknowledged_write),
	  TEST(test_faults_in_quick_succession_keep_every_acknowledged_write))
