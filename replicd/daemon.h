/*
 * daemon.h - replicd's main thread: one zmq_poll loop over the bus, the
 * listening socket, the peer connection and the FUSE threads' eventfd.
 *
 * It owns the role (from heartbeatd's desired state, or --standalone),
 * the peer connection and its in-flight list, the secondary's open
 * handles, and the published actual state. FUSE threads reach it only
 * through struct replicd_repl (repl.h).
 */
#ifndef REPLICD_DAEMON_H
#define REPLICD_DAEMON_H

#include "config.h"
#include "log.h"
#include "mount.h"
#include "peer.h"
#include "repl.h"
#include "settings.h"

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

struct replicd {
	const struct sky_config *cfg;
	const struct replicd_settings *set;
	const struct sky_node *self, *peer;
	char run_dir[PATH_MAX];
	struct replicd_repl repl;
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
	char reason[256];
	bool changed;
	int64_t next_connect_ms, next_publish_ms, next_ping_ms;
	/* primary: sent, not yet acked (main thread only) */
	struct replicd_item *inflight, *inflight_tail;
	size_t inflight_count;
	/* secondary */
	bool have_seq;
	uint64_t last_seq;
	uint64_t ack_due; /* seq to ack, 0: none */
	struct replicd_handle *handles[REPLICD_HANDLE_BUCKETS];
	uint64_t applied, apply_errors;
	/* counters */
	uint64_t bytes_sent_done; /* of closed connections */
	uint64_t rejected_frames, rejected_handshakes;
	char last_disconnect[160];
	struct sky_ratelimit rl_apply, rl_reject, rl_connect;
};

int replicd_open(struct replicd *d, const struct sky_config *cfg,
		 const struct replicd_settings *set, const char *node,
		 const char *run_dir, enum replicd_target standalone);
int replicd_run(struct replicd *d);
void replicd_close(struct replicd *d);

#endif
