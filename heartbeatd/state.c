/*
 * state.c - the mirror module state machine (see state.h for the rules).
 *
 * sm_step() is evaluated on every tick and after every packet; it must be
 * idempotent: the same inputs give the same role. Each transition records
 * a reason in words an operator reads at 3 a.m.
 */
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sm_init(struct sm *sm, const struct sm_config *cfg, int64_t now,
	     uint64_t epoch, uint64_t generation, enum sky_data data,
	     bool stopped)
{
	memset(sm, 0, sizeof(*sm));
	sm->cfg = *cfg;
	sm->epoch = epoch;
	sm->generation = generation;
	sm->data = data;
	sm->stopped = stopped;
	sm->role = stopped ? SKY_ROLE_STOP : SKY_ROLE_WAIT;
	sm->prev_role = sm->role;
	sm->role_since_ms = now;
	sm->lease_seen_in_role = false;
	sm->changed_at_ms = now;
	snprintf(sm->reason, sizeof(sm->reason), "%s",
		 stopped ? "stopped by the operator before the restart"
			 : "starting");
}

bool sm_set_role(struct sm *sm, int64_t now, enum sky_role role,
		 const char *fmt, va_list ap)
{
	if (sm->role == role)
		return false;
	/* A new serving stint (a swap back to a node that served before)
	 * has not seen the lease yet; ALONE <-> PRIM goes on with it. */
	if (!sky_role_serves(sm->role))
		sm->lease_seen_in_role = false;
	sm->prev_role = sm->role;
	sm->role = role;
	sm->role_since_ms = now;
	sm->changed_at_ms = now;
	sm->changed = true;
	sm->dirty = true;
	sm->waiting_for[0] = '\0';
	vsnprintf(sm->reason, sizeof(sm->reason), fmt, ap);
	return true;
}

__attribute__((format(printf, 4, 5))) static void
enter(struct sm *sm, int64_t now, enum sky_role role, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bool changed = sm_set_role(sm, now, role, fmt, ap);
	va_end(ap);
	if (!changed)
		return;

	/* What a role implies for the persisted data state. */
	if (sky_role_serves(role))
		sm->data = SKY_DATA_UPTODATE;
	else if (role == SKY_ROLE_SECOND)
		/* A secondary that crashes cannot know what it missed. */
		sm->data = SKY_DATA_OUTDATED;
	if (role != SKY_ROLE_SECOND)
		sm->in_sync = false;
	sm->primary_stopped_since_ms = 0;
	if (sky_role_serves(role))
		sm->forced_service =
			sm->forced ||
			(sm->forced_service && sky_role_serves(sm->prev_role));
	else
		sm->forced_service = false;
	if (sky_role_serves(role) || role == SKY_ROLE_STOP) {
		sm->preference = SM_PREFER_NONE;
		sm->forced = false;
	}
	sm->swap_requested = false;
	sm->want_new_generation = false;
	sm->takeover_since_ms = 0;
}

__attribute__((format(printf, 2, 3))) static void waiting(struct sm *sm,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sm->waiting_for, sizeof(sm->waiting_for), fmt, ap);
	va_end(ap);
}

bool sm_quorum(const struct sm *sm, const struct sm_peer *peer,
	       const struct sm_witness *w, const char **via)
{
	bool by_peer = peer->visible_for_quorum;
	bool by_witness = sm->cfg.witness_quorum && w->lease_valid;
	const char *v;

	bool etcd = sm->cfg.lease_required;
	if (!sm->cfg.witness_quorum)
		v = "disabled";
	else if (by_peer && by_witness)
		v = etcd ? "peer+etcd" : "peer+witness";
	else if (by_peer)
		v = "peer";
	else if (by_witness)
		v = etcd ? "etcd" : "witness";
	else
		v = "none";
	if (via)
		*via = v;
	return !sm->cfg.witness_quorum || by_peer || by_witness;
}

enum sky_data sm_advertised_data(const struct sm *sm)
{
	if (sky_role_serves(sm->role))
		return SKY_DATA_UPTODATE;
	if (sm->role == SKY_ROLE_SECOND)
		return sm->in_sync ? SKY_DATA_UPTODATE : SKY_DATA_OUTDATED;
	return sm->data;
}

static bool holding_down(const struct sm *sm, int64_t now)
{
	return sm->no_primary_until_ms && now < sm->no_primary_until_ms;
}

uint8_t sm_heartbeat_flags(const struct sm *sm, int64_t now)
{
	uint8_t f = 0;
	if (sm->swap_requested)
		f |= HB_FLAG_SWAP_REQUEST;
	if (sm->handover) {
		f |= HB_FLAG_HANDOVER;
		if (!sm->demoting)
			f |= HB_FLAG_HANDOVER_DONE;
	}
	/* Blocked by a module it depends on: the peer should be primary, as
	 * if the operator had said `second` here. */
	if (sm->preference == SM_PREFER_SECOND || holding_down(sm, now) ||
	    sm->dependency_blocked)
		f |= HB_FLAG_PREFER_SECOND;
	else if (sm->preference == SM_PREFER_PRIM)
		f |= HB_FLAG_PREFER_PRIM;
	if (sm->forced)
		f |= HB_FLAG_FORCED;
	if (sm->replica_alone_changes)
		f |= HB_FLAG_ALONE_CHANGES;
	return f;
}

static bool diverged(const struct sm *sm, const struct sm_peer *p)
{
	return sm->replica_alone_changes && (p->flags & HB_FLAG_ALONE_CHANGES);
}

static int preference_rank(uint8_t flags)
{
	if (flags & HB_FLAG_PREFER_PRIM)
		return 2;
	if (flags & HB_FLAG_PREFER_SECOND)
		return 0;
	return 1;
}

/*
 * Both nodes up and neither serving: who becomes primary? Both nodes run
 * this with the same inputs (mirrored) and so agree. Data first: only an
 * operator's force beats a newer generation.
 */
static bool wins_election(const struct sm *sm, int64_t now,
			  const struct sm_peer *p, const char **why)
{
	bool my_force = sm->forced, peer_force = p->flags & HB_FLAG_FORCED;
	int my_pref = preference_rank(sm_heartbeat_flags(sm, now));
	int peer_pref = preference_rank(p->flags);

	bool my_uptodate = sm->data == SKY_DATA_UPTODATE;
	bool peer_uptodate = p->data == SKY_DATA_UPTODATE;

	/* Each copy holds changes the other lacks: no automatic choice. */
	if (diverged(sm, p) && !my_force && !peer_force) {
		*why = "the copies diverged: both hold changes made without "
		       "the other; choose one (skyctl status, docs/"
		       "operations.md)";
		return false;
	}

	/* A newer generation holds changes the other lacks: not even a
	 * force beats it (stop that node first to discard them). */
	if (sm->generation != p->generation) {
		*why = "newest data generation";
		return sm->generation > p->generation;
	}
	if (my_force != peer_force) {
		*why = "forced by the operator";
		return my_force;
	}
	/* Same generation: a copy that may miss changes (a secondary that
	 * went down, one that was resyncing) yields to one that cannot. */
	if (my_uptodate != peer_uptodate) {
		*why = "up-to-date data";
		return my_uptodate;
	}
	if (my_pref != peer_pref) {
		*why = "operator preference";
		return my_pref > peer_pref;
	}
	if (sm->cfg.self_is_default_primary !=
	    sm->cfg.peer_is_default_primary) {
		*why = "default primary";
		return sm->cfg.self_is_default_primary;
	}
	*why = "equal data, lower node name";
	return strcmp(sm->cfg.self, sm->cfg.peer) < 0;
}

/* Both nodes serve (after a forced start or quorum: none): one yields. */
static bool keeps_primary(const struct sm *sm, const struct sm_peer *p)
{
	if (diverged(sm, p))
		return false; /* both yield: the operator chooses */
	if (sm->generation != p->generation)
		return sm->generation > p->generation;
	if (sm->epoch != p->epoch)
		return sm->epoch > p->epoch;
	if (sm->cfg.self_is_default_primary != sm->cfg.peer_is_default_primary)
		return sm->cfg.self_is_default_primary;
	return strcmp(sm->cfg.self, sm->cfg.peer) < 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/*
 * Serve without the peer: needs a new data generation, granted by the
 * witness (or simply the next one with quorum: none). Returns true once the
 * node may enter ALONE with sm->generation already updated.
 */
static bool new_generation_ready(struct sm *sm, int64_t now,
				 struct sm_witness *w)
{
	if (!sm->cfg.witness_quorum) {
		sm->generation++;
		sm->dirty = true;
		return true;
	}
	if (!sm->want_new_generation) {
		sm->want_new_generation = true;
		sm->takeover_since_ms = now;
		w->generation_granted = false;
		w->answered = false;
		w->grants_cleared++;
		w->answers_cleared++;
		return false;
	}
	if (!w->generation_granted)
		return false;
	w->generation_granted = false;
	w->grants_cleared++;
	sm->generation = max_u64(sm->generation, w->granted_generation);
	sm->dirty = true;
	return true;
}

/* Who gives the lease, for messages: "the witness" or "etcd". */
static const char *quorum_name(const struct sm *sm)
{
	return sm->cfg.lease_required ? "etcd" : "the witness";
}

static const char *witness_refusal(const struct sm *sm,
				   const struct sm_witness *w, char *buf,
				   size_t size)
{
	bool etcd = sm->cfg.lease_required;
	if (!w->answered)
		snprintf(buf, size, "no answer from %s yet", quorum_name(sm));
	else if (w->last_answer == LEASE_HELD_BY_OTHER && etcd)
		snprintf(buf, size, "etcd leader key held by %s",
			 w->holder[0] ? w->holder : "(unknown)");
	else if (w->last_answer == LEASE_HELD_BY_OTHER)
		snprintf(buf, size, "witness lease held by %s",
			 w->holder[0] ? w->holder : "(witness restarting)");
	else if (w->last_answer == LEASE_OUTDATED)
		snprintf(buf, size,
			 "%s says our data is outdated: generation %llu "
			 "is on %s, ours is %llu",
			 etcd ? "etcd" : "witness",
			 (unsigned long long)w->newest_generation,
			 w->holder[0] ? w->holder : "the peer",
			 (unsigned long long)sm->generation);
	else
		snprintf(buf, size, "%s answered %s", etcd ? "etcd" : "witness",
			 lease_answer_name(w->last_answer));
	return buf;
}

/* quorum: etcd: an epoch taken with the leader key is at least its
 * revision, so it orders with every other holder's (docs/architecture.md,
 * "Quorum on etcd"). The witness sets no floor. */
static uint64_t epoch_at_least(uint64_t epoch, const struct sm_witness *w)
{
	return w->lease_valid && w->epoch_floor > epoch ? w->epoch_floor
							: epoch;
}

/* The peer is gone (or stopped): try to serve alone. */
static void try_takeover(struct sm *sm, int64_t now, struct sm_witness *w,
			 const char *why)
{
	char refusal[160];

	if (sm->dependency_blocked) {
		sm->want_new_generation = false;
		waiting(sm, "%s; not taking over: %s", why, sm->dependency_why);
		return;
	}

	if (new_generation_ready(sm, now, w)) {
		if (sm->role != SKY_ROLE_PRIM)
			sm->epoch = epoch_at_least(sm->epoch + 1, w);
		enter(sm, now, SKY_ROLE_ALONE,
		      "%s; serving alone with data "
		      "generation %llu",
		      why, (unsigned long long)sm->generation);
		return;
	}
	witness_refusal(sm, w, refusal, sizeof(refusal));
	waiting(sm, "%s; waiting for %s: %s", why, quorum_name(sm), refusal);
	/* The witness knows newer data elsewhere: remember it, so a
	 * restart does not make us forget that we are behind. */
	if (w->answered && w->last_answer == LEASE_OUTDATED && !sm->forced &&
	    sm->data != SKY_DATA_OUTDATED) {
		sm->data = SKY_DATA_OUTDATED;
		sm->dirty = true;
	}
	/* A live primary on the other side of a partition keeps renewing
	 * its lease; a dead one's expires within lease_ms. Past that, give
	 * up rather than stand as a secondary of nobody. */
	if (sm->role == SKY_ROLE_SECOND && w->answered &&
	    w->last_answer != LEASE_GRANTED &&
	    now - sm->takeover_since_ms >
		    sm->cfg.lease_ms + sm->cfg.peer_lost_after_ms)
		enter(sm, now, SKY_ROLE_WAIT, "%s and no takeover: %s", why,
		      refusal);
	else if (w->answered && w->last_answer == LEASE_OUTDATED &&
		 sm->role == SKY_ROLE_SECOND)
		enter(sm, now, SKY_ROLE_WAIT, "%s and no takeover: %s", why,
		      refusal);
}

/* Is this secondary's copy complete at the primary's generation? Without
 * replicd in the transitions nothing else can tell, and following the
 * primary's generation is all. */
static bool replica_complete_at(const struct sm *sm, uint64_t generation)
{
	return !sm->cfg.replica_gated ||
	       (sm->replica_uptodate && sm->replica_generation == generation);
}

/*
 * As SECOND of a serving peer: follow its epoch; take its generation only
 * once the copy is complete at it (never at the start of a resync, never
 * from a heartbeat alone), so a half-resynced copy keeps its older
 * generation and loses every election to the copy it came from.
 */
static void follow_primary(struct sm *sm, const struct sm_peer *p)
{
	bool complete = replica_complete_at(sm, p->generation);
	if (p->epoch != sm->epoch) {
		sm->epoch = p->epoch;
		sm->dirty = true;
	}
	if (complete && sm->generation != p->generation) {
		sm->generation = p->generation;
		sm->dirty = true;
	}
	sm->in_sync = complete && sm->generation == p->generation;
}

/*
 * PRIM with the peer up but the replication link down: before replicd
 * acknowledges a change the peer lacks, this node must hold a newer
 * generation than any the peer can hold (its own, and any replicd may
 * have told it), persisted: then no election prefers the peer's copy.
 * Asked only while writers wait, so a short outage costs no generation.
 */
static void degraded_generation(struct sm *sm, int64_t now,
				const struct sm_peer *p, struct sm_witness *w)
{
	uint64_t need = max_u64(p->generation, sm->replica_generation_sent);

	if (!sm->cfg.replica_gated || !sm->replica_link_down ||
	    sm->generation > need || !sm->replica_writers_waiting) {
		sm->want_new_generation = false;
		return;
	}
	if (new_generation_ready(sm, now, w)) {
		/* Above what the peer may hold (a witness grant always is:
		 * it granted the peer's generation too). */
		if (sm->generation <= need)
			sm->generation = need + 1;
		snprintf(sm->note, sizeof(sm->note),
			 "replication link to %s down: data generation %llu "
			 "started; changes are acknowledged here alone",
			 sm->cfg.peer, (unsigned long long)sm->generation);
		sm->note_changed = true;
		return;
	}
	char refusal[160];
	waiting(sm,
		"replication link to %s down: writers wait for a new data "
		"generation (%s)",
		sm->cfg.peer,
		sm->cfg.witness_quorum
			? witness_refusal(sm, w, refusal, sizeof(refusal))
			: "starting it");
}

/* May replicd acknowledge a change the peer lacks? (state.h) */
static bool may_ack_alone(const struct sm *sm, const struct sm_peer *p)
{
	if (sm->role == SKY_ROLE_ALONE)
		return true;
	if (sm->role != SKY_ROLE_PRIM || !sm->cfg.replica_gated || !p->visible)
		return false;
	if (sm->generation <=
	    max_u64(p->generation, sm->replica_generation_sent))
		return false;
	/* The witness granted it (it refuses older data to the peer), or
	 * the peer's heartbeat shows it knows its copy is behind. */
	return sm->cfg.witness_quorum || p->data != SKY_DATA_UPTODATE;
}

/*
 * Serving, and the peer turns up with changes of its own that this copy
 * lacks (quorum: none after a partition): neither copy is chosen
 * automatically. A node an operator forced keeps serving: that was the
 * choice (the peer's replicd then refuses any resync: diverged).
 */
static bool step_down_diverged(struct sm *sm, int64_t now,
			       const struct sm_peer *p)
{
	if (!p->visible || p->role == SKY_ROLE_STOP || !diverged(sm, p) ||
	    sm->forced_service)
		return false;
	sm->no_primary_until_ms = now + sm->cfg.failed_transition_holddown_ms;
	enter(sm, now, SKY_ROLE_WAIT,
	      "the copies diverged: %s holds changes made without this node, "
	      "and this node without it; stepping down until an operator "
	      "chooses (skyctl status)",
	      sm->cfg.peer);
	return true;
}

static void step_prim(struct sm *sm, int64_t now, const struct sm_peer *p,
		      struct sm_witness *w)
{
	/* A module this one depends on left this node: hand over to an
	 * up-to-date secondary (below), or stop serving. */
	bool peer_ready = p->visible && p->role == SKY_ROLE_SECOND &&
			  p->data == SKY_DATA_UPTODATE &&
			  p->generation == sm->generation;
	if (sm->dependency_blocked && !peer_ready) {
		enter(sm, now, SKY_ROLE_WAIT, "%s; %s cannot take over",
		      sm->dependency_why, sm->cfg.peer);
		return;
	}
	if (!p->visible || p->role == SKY_ROLE_STOP) {
		const char *why = p->visible ? "peer stopped"
					     : "peer lost on every network";
		if (new_generation_ready(sm, now, w))
			enter(sm, now, SKY_ROLE_ALONE,
			      "%s %s; serving alone with data generation %llu",
			      sm->cfg.peer, why,
			      (unsigned long long)sm->generation);
		else
			waiting(sm,
				"%s %s: asking %s for a new data "
				"generation",
				sm->cfg.peer, why, quorum_name(sm));
		return;
	}
	if (step_down_diverged(sm, now, p))
		return;
	degraded_generation(sm, now, p, w);
	if (sky_role_serves(p->role)) {
		if (!keeps_primary(sm, p)) {
			sm->no_primary_until_ms =
				now + sm->cfg.failed_transition_holddown_ms;
			enter(sm, now, SKY_ROLE_WAIT,
			      "both nodes primary: %s %s (generation "
			      "%llu/%llu)",
			      diverged(sm, p) ? "the copies diverged, both "
						"step down; not yielding to"
					      : "yielding to",
			      sm->cfg.peer, (unsigned long long)p->generation,
			      (unsigned long long)sm->generation);
		}
		return;
	}
	bool asked = sm->swap_requested || (p->flags & HB_FLAG_SWAP_REQUEST) ||
		     sm->preference == SM_PREFER_SECOND ||
		     (p->flags & HB_FLAG_PREFER_PRIM) || sm->dependency_blocked;
	/* The peer's "uptodate" may be its replicd's of the epoch before
	 * (a swap back right after a swap): hand over once our replicd says
	 * the peer's copy is in sync in this epoch, or the peer, not in sync
	 * yet, would not take over and nobody would serve. */
	if (asked && p->role == SKY_ROLE_SECOND &&
	    p->data == SKY_DATA_UPTODATE && p->generation == sm->generation) {
		if (sm->cfg.replica_gated && sm->replica_peer_unsynced) {
			waiting(sm,
				"swap: waiting for replicd to say %s's copy "
				"is in sync in this epoch",
				sm->cfg.peer);
			return;
		}
		sm->handover = true;
		sm->preference = SM_PREFER_NONE;
		enter(sm, now, SKY_ROLE_SECOND,
		      "swap: handing the primary role to %s", sm->cfg.peer);
		sm->in_sync = true;
	}
}

static void step_alone(struct sm *sm, int64_t now, const struct sm_peer *p)
{
	if (sm->dependency_blocked &&
	    !(p->visible && p->role == SKY_ROLE_SECOND)) {
		enter(sm, now, SKY_ROLE_WAIT, "%s", sm->dependency_why);
		return;
	}
	if (!p->visible || p->role == SKY_ROLE_STOP)
		return;
	if (step_down_diverged(sm, now, p))
		return;
	if (sky_role_serves(p->role)) {
		if (!keeps_primary(sm, p)) {
			sm->no_primary_until_ms =
				now + sm->cfg.failed_transition_holddown_ms;
			enter(sm, now, SKY_ROLE_WAIT,
			      "both nodes primary: %s %s",
			      diverged(sm, p) ? "the copies diverged, both "
						"step down; not yielding to"
					      : "yielding to",
			      sm->cfg.peer);
		}
		return;
	}
	if (p->role == SKY_ROLE_SECOND)
		enter(sm, now, SKY_ROLE_PRIM, "%s is back as secondary",
		      sm->cfg.peer);
}

static void step_second(struct sm *sm, int64_t now, const struct sm_peer *p,
			struct sm_witness *w)
{
	if (!p->visible || p->role == SKY_ROLE_STOP) {
		sm->handover = false;
		if (!sm->in_sync) {
			enter(sm, now, SKY_ROLE_WAIT,
			      "primary %s %s while this node was not in sync",
			      sm->cfg.peer, p->visible ? "stopped" : "lost");
			return;
		}
		char why[96];
		snprintf(why, sizeof(why), "primary %s %s", sm->cfg.peer,
			 p->visible ? "stopped" : "lost on every network");
		/* With the primary gone this in-sync copy holds every change
		 * it acknowledged, and the file must say so before the
		 * witness hears of a takeover: a crash between the witness's
		 * grant and our saving it would otherwise leave the witness
		 * counting this copy as the newest and the file calling it
		 * outdated, and neither node would serve again. */
		if (sm->data != SKY_DATA_UPTODATE) {
			sm->data = SKY_DATA_UPTODATE;
			sm->dirty = true;
		}
		try_takeover(sm, now, w, why);
		return;
	}
	sm->want_new_generation = false;
	sm->takeover_since_ms = 0;
	if (sky_role_serves(p->role)) {
		sm->primary_stopped_since_ms = 0;
		sm->handover = false;
		/* In sync once replicd says the copy has every change at the
		 * primary's generation (not during a resync, not after a
		 * restart that lost track of what it missed). */
		follow_primary(sm, p);
		if (sm->swap_requested &&
		    now - sm->swap_requested_at_ms >
			    sm->cfg.swap_request_expires_ms)
			sm->swap_requested = false;
		return;
	}
	if (sm->handover && p->role == SKY_ROLE_SECOND)
		return; /* the peer is about to take over: wait for it */
	if (sm->handover) {
		/* It will not (it was not in sync after all, it restarted):
		 * this node still has every change it acknowledged. */
		sm->handover = false;
		sm->data = SKY_DATA_UPTODATE;
		sm->dirty = true;
		enter(sm, now, SKY_ROLE_WAIT,
		      "swap: %s did not take the primary role over (it is %s)",
		      sm->cfg.peer, sky_role_name(p->role));
		return;
	}
	/* Judge a handover on replicd's word of now: in_sync and the
	 * generation were last updated while the peer served, and replicd
	 * may have reported the copy complete since (the handover came
	 * right after). Below, a peer that is no longer primary without a
	 * handover is judged on the same. */
	follow_primary(sm, p);
	if (p->role == SKY_ROLE_SECOND && (p->flags & HB_FLAG_HANDOVER) &&
	    !(p->flags & HB_FLAG_HANDOVER_DONE))
		return; /* its application is still stopping: wait */
	if (p->role == SKY_ROLE_SECOND && (p->flags & HB_FLAG_HANDOVER) &&
	    sm->in_sync && p->generation == sm->generation &&
	    sm->dependency_blocked) {
		waiting(sm, "%s hands over, but %s", sm->cfg.peer,
			sm->dependency_why);
		return;
	}
	if (p->role == SKY_ROLE_SECOND && (p->flags & HB_FLAG_HANDOVER) &&
	    sm->in_sync && p->generation == sm->generation) {
		sm->epoch = max_u64(sm->epoch, p->epoch) + 1;
		enter(sm, now, SKY_ROLE_PRIM,
		      "swap: %s handed the primary "
		      "role over",
		      sm->cfg.peer);
		return;
	}
	/* The primary stopped serving in view: an in-sync copy has every
	 * change it acknowledged, and may say so in the next election. A
	 * primary whose promotion failed at once may leave just as this
	 * session's resync ends: give replicd's word on it a moment to come
	 * (nobody serves meanwhile either way), or this copy would stand as
	 * outdated and the failing node be elected again and again. */
	follow_primary(sm, p);
	if (!sm->in_sync) {
		if (!sm->primary_stopped_since_ms)
			sm->primary_stopped_since_ms = now;
		if (now - sm->primary_stopped_since_ms <
		    sm->cfg.peer_lost_after_ms)
			return;
	}
	if (sm->in_sync) {
		sm->data = SKY_DATA_UPTODATE;
		sm->dirty = true;
	}
	enter(sm, now, SKY_ROLE_WAIT, "%s is no longer primary (%s)",
	      sm->cfg.peer, sky_role_name(p->role));
}

/*
 * An election is decided on what each node last heard of the other: a
 * heartbeat lost at the wrong moment (an operator's force, a preference)
 * can make both think they won. With a witness, the winner takes the
 * lease before it serves, so two winners never both serve. A witness that
 * does not answer at all within lease_ms + the peer timeout leaves the
 * peer's word as the quorum, as before.
 */
static bool election_lease(struct sm *sm, int64_t now, struct sm_witness *w,
			   const char *why)
{
	if (!sm->cfg.witness_quorum)
		return true;
	if (w->lease_valid) {
		/* Granted with an older number than the witness's newest: the
		 * witness counts this copy as the newest (a generation it
		 * granted us that we crashed before saving, so never served
		 * on). Take that number, so the peer's next takeover is not
		 * refused as older than a generation nobody holds. */
		if (w->newest_generation > sm->generation) {
			sm->generation = w->newest_generation;
			sm->dirty = true;
		}
		return true;
	}
	if (!sm->want_election_lease_was) {
		sm->election_lease_since_ms = now;
		w->answered = false;
		w->answers_cleared++;
	}
	sm->want_election_lease = true;
	bool refused = w->answered && (w->last_answer == LEASE_HELD_BY_OTHER ||
				       w->last_answer == LEASE_OUTDATED);
	/* The witness counts the peer's copy as newer than ours: say so in
	 * our heartbeats, so the next election goes to the peer (at equal
	 * generations, the up-to-date copy wins) instead of both waiting. */
	if (w->answered && w->last_answer == LEASE_OUTDATED && !sm->forced &&
	    sm->data != SKY_DATA_OUTDATED) {
		sm->data = SKY_DATA_OUTDATED;
		sm->dirty = true;
	}
	if (!refused && !sm->cfg.lease_required &&
	    now - sm->election_lease_since_ms >
		    sm->cfg.lease_ms + sm->cfg.peer_lost_after_ms)
		return true;
	char refusal[160];
	waiting(sm,
		"elected primary with %s up (%s): taking the %s "
		"first (%s)",
		sm->cfg.peer, why,
		sm->cfg.lease_required ? "etcd leader key" : "witness lease",
		witness_refusal(sm, w, refusal, sizeof(refusal)));
	return false;
}

static void step_wait(struct sm *sm, int64_t now, const struct sm_peer *p,
		      struct sm_witness *w)
{
	const char *why;

	if (p->visible && sky_role_serves(p->role)) {
		sm->want_new_generation = false;
		if (p->generation < sm->generation && !sm->forced) {
			waiting(sm,
				"%s is primary with older data (generation "
				"%llu < %llu): not following it; resolve with "
				"skyctl",
				sm->cfg.peer, (unsigned long long)p->generation,
				(unsigned long long)sm->generation);
			return;
		}
		enter(sm, now, SKY_ROLE_SECOND, "%s is primary", sm->cfg.peer);
		follow_primary(sm, p);
		return;
	}
	if (p->visible && p->role != SKY_ROLE_STOP) {
		sm->want_new_generation = false;
		if (p->role == SKY_ROLE_SECOND &&
		    (p->flags & HB_FLAG_HANDOVER)) {
			waiting(sm,
				"%s hands over but this node was not its "
				"secondary",
				sm->cfg.peer);
			return;
		}
		if (sm->cfg.replica_gated && !sm->replica_heard) {
			waiting(sm, "waiting for replicd to say what this "
				    "copy holds before an election");
			return;
		}
		if (!wins_election(sm, now, p, &why)) {
			waiting(sm, "%s should become primary (%s)",
				sm->cfg.peer, why);
			return;
		}
		if (holding_down(sm, now)) {
			waiting(sm,
				"a transition failed recently: not "
				"becoming primary for %lld ms",
				(long long)(sm->no_primary_until_ms - now));
			return;
		}
		if (sm->dependency_blocked) {
			waiting(sm, "elected, but %s", sm->dependency_why);
			return;
		}
		if (!election_lease(sm, now, w, why))
			return;
		sm->epoch = epoch_at_least(max_u64(sm->epoch, p->epoch) + 1, w);
		enter(sm, now, SKY_ROLE_PRIM, "elected primary with %s up (%s)",
		      sm->cfg.peer, why);
		return;
	}

	/* Alone: first give the peer a chance to be heard. */
	if (now - sm->role_since_ms < sm->cfg.peer_lost_after_ms) {
		waiting(sm, "listening for %s", sm->cfg.peer);
		return;
	}
	if (holding_down(sm, now)) {
		waiting(sm,
			"a transition failed recently: not becoming "
			"primary for %lld ms",
			(long long)(sm->no_primary_until_ms - now));
		return;
	}
	if (sm->data != SKY_DATA_UPTODATE && !sm->forced) {
		char refusal[160];
		sm->want_new_generation = false;
		if (w->answered && w->last_answer == LEASE_OUTDATED)
			waiting(sm,
				"%s %s and the %s: waiting for it (skyctl "
				"prim --force overrides)",
				sm->cfg.peer,
				p->visible ? "is stopped" : "is not seen",
				witness_refusal(sm, w, refusal,
						sizeof(refusal)));
		else
			waiting(sm,
				"%s %s and this node's data may not be the "
				"newest: waiting for it (skyctl prim --force "
				"overrides)",
				sm->cfg.peer,
				p->visible ? "is stopped" : "is not seen");
		return;
	}
	try_takeover(sm, now, w, p->visible ? "peer stopped" : "peer not seen");
}

void sm_step(struct sm *sm, int64_t now, const struct sm_peer *peer,
	     struct sm_witness *w)
{
	const char *via;

	sm->waiting_for[0] = '\0';
	sm->want_election_lease_was = sm->want_election_lease;
	sm->want_election_lease = false;
	if (sm->role == SKY_ROLE_STOP) {
		sm->want_lease = false;
		return;
	}
	if (sky_role_serves(sm->role) && !sm_quorum(sm, peer, w, &via)) {
		enter(sm, now, SKY_ROLE_WAIT,
		      "lost quorum: %s not seen and no %s lease", sm->cfg.peer,
		      sm->cfg.lease_required ? "etcd" : "witness");
	}
	if (sky_role_serves(sm->role) && sm->cfg.lease_required) {
		if (w->lease_valid)
			sm->lease_seen_in_role = true;
		/* A swap's new primary takes the key after it entered PRIM:
		 * give it that long to get it. */
		else if (sm->lease_seen_in_role ||
			 now - sm->role_since_ms >
				 sm->cfg.lease_ms +
					 sm->cfg.peer_lost_after_ms) {
			sm->no_primary_until_ms =
				now + sm->cfg.failed_transition_holddown_ms;
			enter(sm, now, SKY_ROLE_WAIT,
			      "lost the etcd leader key (etcd unreachable, or "
			      "its lease ended): stepping down");
		}
	}
	switch (sm->role) {
	case SKY_ROLE_PRIM:
		step_prim(sm, now, peer, w);
		break;
	case SKY_ROLE_ALONE:
		step_alone(sm, now, peer);
		break;
	case SKY_ROLE_SECOND:
		step_second(sm, now, peer, w);
		break;
	case SKY_ROLE_WAIT:
		step_wait(sm, now, peer, w);
		break;
	default:
		break;
	}
	/* The primary holds the lease even with the peer up, so that after
	 * a partition it keeps serving and the secondary is refused. */
	sm->want_lease = sm->cfg.witness_quorum &&
			 (sky_role_serves(sm->role) ||
			  sm->want_new_generation || sm->want_election_lease);
	sm->ack_alone = may_ack_alone(sm, peer);
}

void sm_fail(struct sm *sm, int64_t now, const char *reason)
{
	sm->no_primary_until_ms = now + sm->cfg.failed_transition_holddown_ms;
	enter(sm, now, SKY_ROLE_WAIT, "transition failed: %s", reason);
}

int sm_command(struct sm *sm, int64_t now, enum sm_command cmd, bool force,
	       const struct sm_peer *p, char *msg, size_t size)
{
	bool peer_ready = p->visible && p->role == SKY_ROLE_SECOND &&
			  p->data == SKY_DATA_UPTODATE &&
			  p->generation == sm->generation;

	/* Stopping a stopped node is done, as starting a started one is. */
	if (sm->role == SKY_ROLE_STOP && cmd == SM_CMD_STOP) {
		sm->stopped = true;
		snprintf(msg, size, "already stopped");
		return 0;
	}
	if (sm->role == SKY_ROLE_STOP && cmd != SM_CMD_START) {
		snprintf(msg, size,
			 "the module is stopped on this node: "
			 "run `skyctl start` first");
		return -EPERM;
	}
	switch (cmd) {
	case SM_CMD_START:
		if (sm->role != SKY_ROLE_STOP) {
			snprintf(msg, size, "already started (%s)",
				 sky_role_name(sm->role));
			return 0;
		}
		sm->stopped = false;
		enter(sm, now, SKY_ROLE_WAIT, "started by the operator");
		snprintf(msg, size,
			 "started: WAIT, then whatever the rules allow");
		return 0;
	case SM_CMD_STOP:
		sm->stopped = true;
		/* The peer takes over if it can; whoever serves next is
		 * the newest, so this node must not come back alone. */
		if (sky_role_serves(sm->role) && peer_ready)
			sm->data = SKY_DATA_OUTDATED;
		enter(sm, now, SKY_ROLE_STOP, "stopped by the operator");
		snprintf(msg, size, "stopped%s",
			 peer_ready ? ": the peer takes over" : "");
		return 0;
	case SM_CMD_FAILOVER:
		if (!sky_role_serves(sm->role)) {
			snprintf(msg, size,
				 "not primary here (%s): nothing to "
				 "fail over",
				 sky_role_name(sm->role));
			return -EAGAIN;
		}
		if (!peer_ready) {
			snprintf(msg, size,
				 "%s is not an up-to-date SECOND (it "
				 "is %s): cannot fail over",
				 sm->cfg.peer,
				 p->visible ? sky_role_name(p->role)
					    : "not seen");
			return -EAGAIN;
		}
		/* Hand over, and do not take the role back soon after. */
		sm->swap_requested = true;
		sm->swap_requested_at_ms = now;
		sm->no_primary_until_ms =
			now + sm->cfg.failed_transition_holddown_ms;
		snprintf(msg, size, "failover: handing the primary role to %s",
			 sm->cfg.peer);
		return 0;
	case SM_CMD_SWAP:
	case SM_CMD_SECOND:
	case SM_CMD_PRIM:
		break;
	}

	bool to_peer = cmd == SM_CMD_SECOND ||
		       (cmd == SM_CMD_SWAP && sky_role_serves(sm->role));
	bool to_self = cmd == SM_CMD_PRIM ||
		       (cmd == SM_CMD_SWAP && sm->role == SKY_ROLE_SECOND);

	if (cmd == SM_CMD_SWAP && !to_peer && !to_self) {
		snprintf(msg, size,
			 "swap needs one node PRIM and the other "
			 "SECOND; this node is %s",
			 sky_role_name(sm->role));
		return -EAGAIN;
	}
	if (to_peer && sky_role_serves(sm->role)) {
		if (!peer_ready) {
			snprintf(msg, size,
				 "%s is not an up-to-date SECOND "
				 "(it is %s): nothing to hand over to",
				 sm->cfg.peer,
				 p->visible ? sky_role_name(p->role)
					    : "not seen");
			return -EAGAIN;
		}
		sm->swap_requested = true;
		sm->swap_requested_at_ms = now;
		snprintf(msg, size, "swap requested: %s will become primary",
			 sm->cfg.peer);
		return 0;
	}
	if (to_peer) { /* second, from WAIT or SECOND */
		sm->preference = SM_PREFER_SECOND;
		sm->forced = false;
		snprintf(msg, size,
			 "this node will stay secondary while %s "
			 "can be primary",
			 sm->cfg.peer);
		return 0;
	}
	/* to_self */
	if (sky_role_serves(sm->role)) {
		snprintf(msg, size, "already primary (%s)",
			 sky_role_name(sm->role));
		return 0;
	}
	if (sm->role == SKY_ROLE_SECOND) {
		if (!(p->visible && sky_role_serves(p->role))) {
			snprintf(msg, size, "%s is not primary: cannot swap",
				 sm->cfg.peer);
			return -EAGAIN;
		}
		if (!sm->in_sync) {
			snprintf(msg, size, "this node is not in sync yet");
			return -EAGAIN;
		}
		sm->swap_requested = true;
		sm->swap_requested_at_ms = now;
		snprintf(msg, size, "swap requested: %s will hand over",
			 sm->cfg.peer);
		return 0;
	}
	sm->preference = SM_PREFER_PRIM;
	sm->forced = force;
	snprintf(msg, size, "%s",
		 force ? "forced: this node's data is taken as the newest; it "
			 "becomes primary as soon as it has quorum"
		       : "this node will become primary if its data allows");
	return 0;
}
