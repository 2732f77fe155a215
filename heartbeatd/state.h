/*
 * state.h - the mirror module state machine, as a pure function of inputs.
 *
 * No I/O and no clock: the caller passes the time, what the heartbeats say
 * about the peer, and what the witness answered; sm_step() decides the role.
 * Unit tests drive it with a fake clock (tests/unit/state_test.c).
 *
 * The rules (docs/architecture.md explains them at length):
 *  - Serve (PRIM/ALONE) only with quorum: the peer is seen, or this node
 *    holds the witness lease (or quorum: none was configured).
 *  - Serve without the peer only with the newest data: as the primary that
 *    lost its peer, as an in-sync secondary whose primary vanished, or as a
 *    node whose persisted data says so (it was primary last). The witness
 *    records the newest generation and refuses older ones. The operator can
 *    override the data rule with `prim --force`, never the quorum rule.
 *  - Serving alone starts a new data generation first (granted by the
 *    witness), so a node that missed it can never claim to be newest.
 *  - With both nodes up, one deterministic election (forced, generation,
 *    data state, operator preference, default primary, name) picks the
 *    primary; a forced node never beats a visible peer with newer data.
 *  - Generations order copies (docs/architecture.md, "Data generations"):
 *    a node that acknowledges a change its peer lacks holds a newer
 *    generation first (ALONE, or PRIM with the replication link down),
 *    and a SECOND adopts the primary's generation only once its replicd
 *    says its copy is complete at exactly that generation.
 */
#ifndef SKYHA_STATE_H
#define SKYHA_STATE_H

#include "bus.h"
#include "packet.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum sm_preference { SM_PREFER_NONE = 0, SM_PREFER_PRIM, SM_PREFER_SECOND };

struct sm_config {
	char self[SKY_NAME_MAX + 1];
	char peer[SKY_NAME_MAX + 1];
	bool self_is_default_primary;
	bool peer_is_default_primary;
	bool witness_quorum; /* false: quorum: none */
	/* quorum: etcd: serving always needs the lease, even with the peer
	 * seen (Patroni's rule): a primary that loses the leader key steps
	 * down and is not elected again for the hold-down, so the peer,
	 * which may reach etcd, takes over; and no election goes ahead on
	 * a silent etcd. */
	bool lease_required;
	int64_t peer_lost_after_ms; /* heartbeat.timeout_ms */
	int64_t lease_ms;	    /* witness.lease_ms */
	int64_t failed_transition_holddown_ms;
	int64_t swap_request_expires_ms;
	/* replicd is orchestrated: a SECOND is in sync only while replicd
	 * says its copy is up to date (sm->replica_uptodate). */
	bool replica_gated;
};

/* What the heartbeats say about the peer. */
struct sm_peer {
	bool visible;		 /* a valid heartbeat within the timeout */
	bool visible_for_quorum; /* within the (shorter) quorum window */
	enum sky_role role;
	uint64_t epoch;
	uint64_t generation;
	enum sky_data data;
	uint8_t flags; /* HB_FLAG_* */
};

/* What the witness client knows; sm_step consumes generation grants. */
struct sm_witness {
	bool lease_valid;
	bool answered; /* at least one answer since want_new_generation */
	enum lease_answer last_answer;
	char holder[SKY_NAME_MAX + 1];
	uint64_t newest_generation;
	bool generation_granted; /* a NEW_GENERATION request was granted */
	uint64_t granted_generation;
	/* Bumped each time the state machine clears `answered` (a new round
	 * of requests) or `generation_granted` (taken, or a new round): with
	 * several witnesses (witnesses.h) the same is done to each one's. */
	uint32_t answers_cleared, grants_cleared;
	/* quorum: etcd: the leader key's create revision while we hold it;
	 * a promotion with the lease takes an epoch at least that (0: the
	 * witness, no floor). */
	uint64_t epoch_floor;
};

struct sm {
	struct sm_config cfg;

	/* Persisted (the caller saves them when `dirty`). */
	enum sky_role role;
	uint64_t epoch;
	uint64_t generation;
	enum sky_data data; /* may this node serve without its peer? */
	bool stopped;	    /* operator stop survives a restart */
	bool dirty;

	/* Runtime. */
	int64_t role_since_ms;
	bool in_sync; /* as SECOND: same generation as primary, and (when
			 gated) replicd says the copy is up to date */
	bool replica_uptodate; /* input: replicd's word, set before sm_step */
	/* input: a module of module.depends_on does not serve on this node
	 * (depend.h): no promotion here, hand over or stop when serving. */
	bool dependency_blocked;
	char dependency_why[128];
	/*
	 * Inputs from this node's replicd, set before sm_step (all false/0
	 * when not gated). As secondary: the generation its copy is complete
	 * at (0: none); a SECOND adopts the primary's generation only when
	 * they match. As primary: the link to the peer's replicd is down, and
	 * writers wait because the peer lacks their change; generation_sent
	 * is the newest generation the peer may have been told it holds.
	 */
	uint64_t replica_generation;
	bool replica_heard;	    /* replicd reported, recently */
	bool replica_alone_changes; /* its record: changes made alone */
	bool replica_link_down;
	bool replica_writers_waiting;
	uint64_t replica_generation_sent;
	/* As primary: this node's replicd has not said, as primary of this
	 * epoch, that the peer's copy is in sync (no session yet, comparing,
	 * resyncing). The peer's heartbeat may still carry the "uptodate" of
	 * the epoch before (its replicd's), so a handover waits for this
	 * word from our side of the link too. */
	bool replica_peer_unsynced;
	/*
	 * Output: replicd may acknowledge changes the peer lacks: ALONE, or
	 * PRIM holding a generation newer than any the peer can hold (a
	 * witness granted it, or the peer's heartbeat shows it knows it is
	 * behind). Published in the desired state as "ack_alone".
	 */
	bool ack_alone;
	enum sm_preference preference;
	bool forced;
	bool forced_service; /* serving since an operator's force */
	bool swap_requested;
	int64_t swap_requested_at_ms;
	bool handover;	 /* handing the primary role to the peer */
	bool demoting;	 /* input: actuators still leaving the primary role */
	bool want_lease; /* witness client keeps a lease */
	bool want_new_generation; /* ... and asks for a new generation */
	bool want_election_lease; /* ... won an election: lease first */
	bool want_election_lease_was;
	bool lease_seen_in_role; /* lease_required: held since the role began */
	int64_t election_lease_since_ms;
	int64_t takeover_since_ms;   /* first try of the current takeover */
	int64_t no_primary_until_ms; /* hold-down after a failed transition */
	/* As SECOND: when the primary, still in view, was first seen not
	 * serving (0: it serves). */
	int64_t primary_stopped_since_ms;

	/* Last transition, for logs and status. */
	bool changed; /* set by sm_step when the role changed; caller clears */
	enum sky_role prev_role;
	char reason[192];
	int64_t changed_at_ms;
	/* A non-transition condition worth showing (why still WAIT). */
	char waiting_for[192];
	/* A decision that is no role change (a new generation while PRIM),
	 * for the log; note_changed is set by sm_step, the caller clears. */
	char note[192];
	bool note_changed;
};

/* Start in WAIT (or STOP if the operator had stopped it). */
void sm_init(struct sm *sm, const struct sm_config *cfg, int64_t now,
	     uint64_t epoch, uint64_t generation, enum sky_data data,
	     bool stopped);

void sm_step(struct sm *sm, int64_t now, const struct sm_peer *peer,
	     struct sm_witness *witness);

/* The flags this node puts in its heartbeats. */
uint8_t sm_heartbeat_flags(const struct sm *sm, int64_t now);
/* The data state this node advertises. */
enum sky_data sm_advertised_data(const struct sm *sm);
/* Is quorum held, and how ("peer", "witness", "peer+witness", "none"). */
bool sm_quorum(const struct sm *sm, const struct sm_peer *peer,
	       const struct sm_witness *w, const char **via);

enum sm_command {
	SM_CMD_SWAP,
	SM_CMD_PRIM,
	SM_CMD_SECOND,
	SM_CMD_STOP,
	SM_CMD_START,
	SM_CMD_FAILOVER, /* from checkd: the application cannot run here */
};
/*
 * Operator commands. Returns 0 and a message for the reply, or -errno and
 * an explanation of why the command cannot be done now.
 */
int sm_command(struct sm *sm, int64_t now, enum sm_command cmd, bool force,
	       const struct sm_peer *peer, char *msg, size_t msg_size);

/* A role change as every module type records it (role, since, reason,
 * changed, dirty); false when the role was already that. The mirror's
 * own consequences (data state, preferences) are state.c's. */
bool sm_set_role(struct sm *sm, int64_t now, enum sky_role role,
		 const char *fmt, va_list ap);

/* A promotion step failed (actuator timeout/failure, persist error). */
void sm_fail(struct sm *sm, int64_t now, const char *reason);

#endif
