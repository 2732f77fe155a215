/*
 * daemon.h - replicd's main thread: one zmq_poll loop over the bus, the
 * listening socket, the peer connection and the FUSE threads' eventfd.
 *
 * It owns the role (from heartbeatd's desired state, or --standalone),
 * the peer connection and its in-flight list, the secondary's open
 * handles, and the published actual state. The secondary's writes go to
 * the applier thread (applier.h). FUSE threads reach it only
 * through struct replicd_repl (repl.h).
 */
#ifndef REPLICD_DAEMON_H
#define REPLICD_DAEMON_H

#include "ackbatch.h"
#include "alone.h"
#include "applier.h"
#include "backup.h"
#include "config.h"
#include "epoch.h"
#include "log.h"
#include "manifest.h"
#include "mount.h"
#include "peer.h"
#include "repl.h"
#include "resync.h"
#include "settings.h"
#include "track.h"
#include "verify.h"
#include "zframe.h"

#include "ratecap.h"

/* The main loop wakes at least this often (zmq_poll's timeout). */
#define REPLICD_TICK_MS 50

enum replicd_target {
	RT_NONE = 0, /* nothing heard yet: read-only, like stopped */
	RT_PRIMARY,
	RT_SECONDARY,
	RT_STOPPED,
};

struct replicd_handle {
	struct replicd_handle *next;
	uint64_t id;
	uint8_t dir;
	int fd;
};

#define REPLICD_HANDLE_BUCKETS 1024

/* The primary's view of the peer's copy, per session. */
enum replicd_peer_sync {
	PS_NONE = 0, /* no session */
	PS_EXCHANGE, /* session up: waiting for the peer's record */
	PS_MANIFEST, /* no usable record: receiving the peer's hashes */
	PS_RESYNC,   /* sending the plan */
	PS_FLUSH,    /* plan sent: waiting for the peer's durable flush */
	PS_INSYNC,   /* the peer has every change */
	PS_DIVERGED, /* both sides changed alone: the operator decides */
};

/* Resync figures, published as "resync" (bus.h). */
struct replicd_resync_info {
	bool active;
	bool full;
	bool hash; /* compared with the peer's manifest */
	int64_t started_ms, ended_ms;
	uint64_t bytes_total, bytes_done;
	uint64_t data_bytes_sent; /* file bytes sent */
	uint64_t wire_start, wire_bytes;
	uint64_t zones;
	uint64_t done_before, zones_before, total_before; /* earlier passes */
	int passes;
	/* Over a WAN (docs/replication.md): the resync's operations as
	 * encoded (after compression: what the cap counts), file bytes sent
	 * compressed and what they took, writes tried and sent raw, and the
	 * time the pump waited for the cap. */
	uint64_t op_bytes;
	uint64_t z_frames, z_in, z_out, z_raw;
	uint64_t throttled_ms;
	int64_t throttled_since; /* 0: not waiting */
	bool compress;		 /* zstd this session (both offered it) */
};

/* A bound on the peer's record we accept (hostile input). */
#define REPLICD_PEER_RECORD_MAX (4u << 20)

struct replicd {
	const struct sky_config *cfg;
	const struct replicd_settings *set;
	const struct sky_node *self, *peer;
	char run_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct replicd_track *track;
	struct replicd_track *backup; /* changes since the last backup */
	struct replicd_alone alone;   /* what this node did without the peer */
	/* what the peer did without us, as it said (diverged sessions) */
	struct replicd_alone_stats peer_alone;
	enum sky_replica data; /* this copy, as published */
	char sync[16];	       /* SKY_SYNC_* */
	/* primary: the peer's copy */
	enum replicd_peer_sync psync;
	struct changerec_entry *peer_rec;
	size_t peer_rec_n, peer_rec_cap;
	bool peer_rec_overflow;
	struct replicd_resync *rs;
	struct replicd_manifest *mf; /* the peer's, in hash mode */
	bool mf_overflow;
	uint64_t rs_track_count; /* our record's entries when planned */
	uint64_t flush_seq, flush_len, flush_seen_len;
	bool flush_pending;
	int64_t next_flush_ms, next_progress_ms, hold_connect_until_ms;
	struct replicd_resync_info rsi;
	struct sky_ratecap rs_cap; /* resync_max_bytes_per_s */
	/* zstd contexts (zframe.h): the primary's packing, the secondary's
	 * unpacking; made at the first use. */
	struct replicd_zstd *zstd;
	/*
	 * Data generations (docs/replication.md, "Generations"). desired:
	 * heartbeatd's generation and its word that changes the peer lacks
	 * may be acknowledged (ack_alone). primary: generation_sent, the
	 * newest generation the peer may have been told its copy is complete
	 * at; nothing is acked without the peer unless heartbeatd's
	 * generation is newer. secondary: synced_generation, the generation
	 * the primary said this copy is complete at (0: not complete).
	 */
	uint64_t generation;
	bool have_generation;
	bool ack_alone;
	uint64_t generation_sent;
	uint64_t synced_generation;
	/* secondary: what the primary said */
	bool discard_local; /* desired: drop our alone changes */
	uint64_t sec_total, sec_done;
	bool sec_resyncing;
	bool diverged;	    /* the primary refused: both changed alone */
	bool primary_final; /* it stopped cleanly: nothing missed since */
	struct replicd_manifest_walk *walk; /* describing our copy */
	struct replicd_verify *verify;	    /* skyctl verify (verify.h) */
	int64_t last_primary_rx_ms;
	struct replicd_repl repl;
	struct replicd_fence fence; /* heartbeatd's word (fence.h) */
	struct replicd_mount mounts[REPLICD_MAX_DIRS];
	size_t mount_count;
	void *sub, *pub;
	int listen_fd;
	struct replicd_conn *conn;    /* the session (or the attempt) */
	struct replicd_conn *pending; /* server: a newer one, in handshake */
	enum replicd_target target;
	bool standalone;
	uint64_t epoch;
	char state[16];
	char reason[384];
	bool changed;
	int64_t next_connect_ms, next_publish_ms, next_ping_ms;
	/* primary: sent, not yet acked (main thread only) */
	struct replicd_item *inflight, *inflight_tail;
	size_t inflight_count;
	/* pipelining figures (published as "pipeline") */
	uint64_t ops_sent, acks_received, inflight_max;
	/* secondary */
	bool have_seq;
	uint64_t last_seq;
	uint64_t ack_due;	      /* seq to ack (a ping's), 0: none */
	struct replicd_ackbatch acks; /* when to ack (ackbatch.h) */
	struct replicd_handle *handles[REPLICD_HANDLE_BUCKETS];
	struct replicd_applier applier; /* writes, in their own thread */
	uint64_t applied, apply_errors, apply_errors_resync;
	/* counters */
	uint64_t bytes_sent_done; /* of closed connections */
	uint64_t rejected_frames, rejected_handshakes;
	/* secondary: the session's epoch (epoch.h), sessions refused for an
	 * older epoch, and unfenced sessions (an older primary) */
	struct replicd_epoch_gate epoch_gate;
	uint64_t epoch_refused, epoch_unfenced;
	/* secondary: write-z frames taken, their bytes, and those refused */
	uint64_t z_frames_in, z_bytes_in, z_bytes_out, z_rejected;
	char last_disconnect[160];
	struct sky_ratelimit rl_apply, rl_reject, rl_connect, rl_epoch, rl_dirs;
	/* the last handshake was refused: the peer's replicd.directories
	 * differ from ours (chan.h, REPLICD_CAP_DIRS); until a session */
	bool dirs_refused;
	/* the secondary's copy held still for a backup (backup.h) */
	struct replicd_backup bk;
};

/* A session with the peer is up (handshake done). */
static inline bool replicd_peer_up(const struct replicd *d)
{
	return d->conn && d->conn->stage == RC_UP;
}

/* actual.c: "primary", "secondary", "stopped" */
const char *replicd_target_name(enum replicd_target t);
/* actual.c: publish MODULE.replicd.actual if it changed, or the period
 * passed, or force. */
void replicd_publish(struct replicd *d, int64_t now, bool force);

/*
 * The main thread's parts, one file per concern (all run on the main thread).
 */

/* apply.c: the secondary applies the primary's operations. */
void replicd_handles_clear(struct replicd *d);
int replicd_apply_op(struct replicd *d, const struct replicd_op *op);
int replicd_apply_or_queue(struct replicd *d, struct replicd_write_job *job);
int replicd_applier_failed(struct replicd *d);
/* A held operation, at the end of a hold (backup.c): applied at once;
 * -errno if it failed. */
int replicd_apply_replayed(struct replicd *d, const struct replicd_op *op);

/* session.c: the session's lifecycle and control messages. */
void replicd_free_inflight(struct replicd *d);
void replicd_free_peer_record(struct replicd *d);
void replicd_end_peer_session(struct replicd *d);
void replicd_drop_conn(struct replicd *d, struct replicd_conn **cp,
		       const char *why);
void replicd_reject(struct replicd *d, struct replicd_conn **cp,
		    const char *what, int err);
void replicd_session_up(struct replicd *d, struct replicd_conn **cp);
int replicd_start_handshake(struct replicd *d, struct replicd_conn *c);
int replicd_send_op(struct replicd_conn *c, struct replicd_op *op);
int replicd_submit_locked(void *ctx, struct replicd_op *op);
void replicd_send_sync(struct replicd *d, uint32_t flags);
void replicd_update_alone_ok(struct replicd *d);
void replicd_send_generation(struct replicd *d);
void replicd_peer_in_sync(struct replicd *d);
/* Primary: say our epoch to a peer that takes it (op 31). */
void replicd_send_epoch(struct replicd *d);
/* Secondary: end the session, from a primary of an older epoch than ours
 * (counted, logged with both epochs). */
void replicd_refuse_epoch(struct replicd *d, struct replicd_conn **cp);
/* End a handshake with a peer whose replicd.directories differ from ours
 * (counted, logged with our list, shown in the status). */
void replicd_refuse_dirs(struct replicd *d, struct replicd_conn **cp);

/* resync_run.c: the session's decision and the resync's pumping. */
int replicd_dir_roots(struct replicd *d, int *roots);
void replicd_decide(struct replicd *d, uint32_t flags);
void replicd_start_hash_resync(struct replicd *d);
void replicd_resync_pump(struct replicd *d, int64_t now);
void replicd_walk_pump(struct replicd *d);

/* frames.c: reading the connection and acting on the peer's frames. */
void replicd_conn_input(struct replicd *d, struct replicd_conn **cp,
			int64_t now);
void replicd_conn_output(struct replicd *d, struct replicd_conn **cp);

int replicd_open(struct replicd *d, const struct sky_config *cfg,
		 const struct replicd_settings *set, const char *node,
		 const char *run_dir, const char *state_dir,
		 enum replicd_target standalone);
int replicd_run(struct replicd *d);
void replicd_close(struct replicd *d);

#endif
