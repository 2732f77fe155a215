/*
 * epoch.h - the secondary's fence against a primary of an older epoch.
 *
 * heartbeatd's epoch rises at every promotion (with quorum: etcd it is at
 * least the leader key's revision: docs/architecture.md, "Quorum on
 * etcd"). A primary that froze and wakes up still holds the epoch it was
 * promoted in; its peer, meanwhile promoted or following the new primary,
 * knows a newer one. So the primary says its epoch in the stream
 * (operation 31 `epoch`, first in the session and again whenever it rises),
 * and the secondary refuses the session - closes it, before applying
 * anything - when the epoch it knows from its own heartbeatd (the desired
 * state) is newer, then or later in the session.
 *
 * Only with a primary that offered REPLICD_CAP_EPOCH in the handshake (an
 * older replicd sends no epoch: its sessions go unfenced, as before, and
 * say so once). With one that did, nothing but the epoch may come first.
 *
 * Pure: the session's gate, the epoch this node knows, the frame's type in;
 * a verdict out. Unit tests drive it (tests/unit/replicd_epoch_test.c).
 */
#ifndef REPLICD_EPOCH_H
#define REPLICD_EPOCH_H

#include <stdbool.h>
#include <stdint.h>

/* One session's state, reset when it starts. */
struct replicd_epoch_gate {
	bool fenced;	/* the primary offered REPLICD_CAP_EPOCH */
	bool have;	/* its epoch op came */
	uint64_t epoch; /* the last epoch it said */
};

/* A session starts; fenced: the primary offered the capability. */
void replicd_epoch_gate_start(struct replicd_epoch_gate *g, bool fenced);

/*
 * A frame of the primary's, of type `type`, while this node knows epoch
 * `known` (0: none heard yet). For an `epoch` frame, `said` is its epoch.
 * Returns 0 (go on), -ESTALE (the session's epoch is older than known:
 * refuse it), -EPERM (another frame before the epoch op), or -EPROTO (an
 * epoch that goes backwards, or an epoch op from a primary that did not
 * offer the capability).
 */
int replicd_epoch_check(struct replicd_epoch_gate *g, uint64_t known,
			uint8_t type, uint64_t said);

/* This node's epoch rose to known: is the session now older than it? */
bool replicd_epoch_stale(const struct replicd_epoch_gate *g, uint64_t known);

#endif
