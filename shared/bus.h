/*
 * bus.h - every conversation between skyha programs, in one header.
 *
 * heartbeatd decides; the other daemons act. They talk over ZeroMQ sockets
 * under <run-dir>/<module>/ (docs/protocol.md is the reference for scripts):
 *
 *   ipc://RUN/MODULE/desired  PUB, bound by heartbeatd
 *       MODULE.heartbeatd.desired  {module,node,role,epoch,generation,
 *                                   valid_ms,targets:{replicd,vipd,checkd},
 *                                   discard_local?}: on change, with every
 *                                   heartbeat and every second; an actuator
 *                                   stops serving valid_ms after receipt
 *                                   unless a fresh one came (desired.h)
 *       MODULE.heartbeatd.status   the status object (see skyctl status --json)
 *   ipc://RUN/MODULE/actual   SUB, bound by heartbeatd; daemons PUB + connect
 *       MODULE.DAEMON.actual       {module,daemon,node,epoch,state,reason}
 *       MODULE.replicd.actual      also {data,sync,peer_connected,mode,in_sync,
 *                                   bytes_sent,ops_pending,rejected_frames,
 *                                   rejected_handshakes,resync:{...}}
 *                                   (see "replicd's actual state" below)
 *   ipc://RUN/MODULE/backup   SUB, bound by replicd; backupd's PUB connects
 *                             here as well as to the actual endpoint
 *       MODULE.backupd.actual      also {hold, completed}: hold, the id of
 *                                   the backup that wants the secondary's
 *                                   copy still (null: none); completed, the
 *                                   last backup that finished (null: none).
 *                                   An id is [A-Za-z0-9._-], 1..64 bytes.
 *                                   Both in one message: replicd decides
 *                                   on the pair (docs/protocol.md)
 *   ipc://RUN/MODULE/ctl      ROUTER, bound by heartbeatd; clients use REQ
 *                             (skyctl, scripts), so to them it is REQ/REP
 *       request  {command: status|swap|prim|second|stop|start|failover|
 *                 resync, force?: bool (prim), reason?: string,
 *                 discard_local?: true (resync)}
 *       reply    {ok: true, message?, status?} | {ok: false, error}
 *
 * Every message is two frames: topic, then one JSON object (control: one
 * JSON frame). Publishers send their whole state on change and every second:
 * nothing depends on one message arriving. Receivers bound every size and
 * treat every field as hostile.
 */
#ifndef SKYHA_BUS_H
#define SKYHA_BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Module roles, in the order of the wire encoding. */
enum sky_role {
	SKY_ROLE_STOP = 0,
	SKY_ROLE_WAIT = 1,
	SKY_ROLE_SECOND = 2,
	SKY_ROLE_ALONE = 3,
	SKY_ROLE_PRIM = 4,
	SKY_ROLE_UP = 5, /* farm and light modules: the application runs here */
	SKY_ROLE_COUNT,
	SKY_ROLE_UNKNOWN = 255, /* a peer never heard from */
};
const char *sky_role_name(enum sky_role role);
int sky_role_parse(const char *name, enum sky_role *out);
static inline bool sky_role_serves(enum sky_role role)
{
	return role == SKY_ROLE_PRIM || role == SKY_ROLE_ALONE ||
	       role == SKY_ROLE_UP;
}

/* Is this node's data the newest it can know of? */
enum sky_data {
	SKY_DATA_UNKNOWN = 0,
	SKY_DATA_UPTODATE = 1, /* may serve without the peer */
	SKY_DATA_OUTDATED = 2, /* must not serve without the peer */
	SKY_DATA_COUNT,
};
const char *sky_data_name(enum sky_data data);

/*
 * replicd's view of its copy of the data (the field "data" of
 * MODULE.replicd.actual). heartbeatd counts a SECOND as in sync, and so
 * promotable, only while its replicd says UPTODATE for the current epoch.
 */
enum sky_replica {
	SKY_REPLICA_UNKNOWN = 0,  /* just started: cannot know what it missed */
	SKY_REPLICA_UPTODATE = 1, /* has every change the primary acked (a
					 secondary keeps it after the session
					 ends: true as of the last contact) */
	SKY_REPLICA_OUTDATED = 2, /* a consistent copy that misses changes */
	SKY_REPLICA_INCONSISTENT = 3, /* mid-resync or an apply failed: a mix */
	SKY_REPLICA_COUNT,
};
const char *sky_replica_name(enum sky_replica r);
int sky_replica_parse(const char *name, enum sky_replica *out);

/*
 * replicd's replication state (the field "sync"): "insync" (connected, the
 * peer has everything), "resyncing" (sending or receiving recorded or
 * differing zones), "degraded" (primary: no peer session, changes are
 * recorded for resync), "waiting" (secondary: no session), "diverged"
 * (both sides changed: the operator must pick one, see skyctl resync),
 * "stopped".
 */
#define SKY_SYNC_INSYNC	   "insync"
#define SKY_SYNC_RESYNCING "resyncing"
#define SKY_SYNC_DEGRADED  "degraded"
#define SKY_SYNC_WAITING   "waiting"
#define SKY_SYNC_DIVERGED  "diverged"
#define SKY_SYNC_STOPPED   "stopped"

/*
 * "resync" of MODULE.replicd.actual. Primary, during a resync and with the
 * totals of the last one after: {active, mode ("record": the recorded
 * changes of both nodes | "hash": no usable record, the zones whose hashes
 * differ | "full": everything, the peer's manifest was too large),
 * bytes_total (estimated), bytes_done, bytes_left, rate_bps, eta_s,
 * passes, data_bytes_sent (file bytes the resync sent), wire_bytes (every
 * byte on the connection during the resync), zones, seconds,
 * max_bytes_per_s (replicd.resync_max_bytes_per_s, 0: none), throttled_ms
 * (time the resync waited for that cap), compress ("zstd" when both nodes
 * offered it, else "none"), op_bytes (the resync's operations as encoded,
 * what the cap counts), compressed_frames, compressed_file_bytes (file
 * bytes sent compressed), compressed_bytes (what they took), raw_frames
 * (writes that did not shrink and went raw)}; under a cap, rate_bps and
 * eta_s use the rate the cap allows when it is the lower. Secondary:
 * {active, bytes_total, bytes_done, bytes_left} as the primary reports,
 * and compressed_frames, compressed_file_bytes, compressed_bytes,
 * compressed_rejected (bad compressed frames: each ended the connection).
 */

/* Daemons that act on heartbeatd's desired state, in default order. */
enum sky_actuator {
	SKY_ACT_REPLICD = 0,
	SKY_ACT_VIPD = 1,
	SKY_ACT_CHECKD = 2,
	SKY_ACT_COUNT,
};
const char *sky_actuator_name(enum sky_actuator a);
int sky_actuator_parse(const char *name, enum sky_actuator *out);
/*
 * The state an actuator is asked to reach for a role: replicd primary
 * (PRIM/ALONE), secondary (SECOND) or stopped; vipd and checkd up or down.
 */
const char *sky_actuator_target(enum sky_actuator a, enum sky_role role);

#define SKY_EP_DESIRED	 "desired"
#define SKY_EP_ACTUAL	 "actual"
#define SKY_EP_CTL	 "ctl"
#define SKY_EP_BACKUP	 "backup"
#define SKY_KIND_DESIRED "desired"
#define SKY_KIND_STATUS	 "status"
#define SKY_KIND_ACTUAL	 "actual"

#define SKY_BUS_MSG_MAX (64 * 1024) /* a bus JSON object */
#define SKY_CTL_MSG_MAX 4096	    /* a control request */
/* The largest frame the control socket reads, so that a request over
 * SKY_CTL_MSG_MAX still gets its "too large" answer; ZeroMQ closes the
 * connection of a peer that sends a larger one, unanswered. */
#define SKY_CTL_WIRE_MAX (16 * 1024 * 1024)
#define SKY_TOPIC_MAX	 128
/* An actuator's detail kept in heartbeatd's status: SKY_ACT_COUNT of them
 * and the rest of the status must fit one SKY_BUS_MSG_MAX message. */
#define SKY_ACTUATOR_DETAIL_MAX (8 * 1024)
#define SKY_PUBLISH_PERIOD_MS	1000

/* "ipc://RUN/MODULE/NAME"; -ENAMETOOLONG if it does not fit. */
int sky_bus_endpoint(char *buf, size_t size, const char *run_dir,
		     const char *module, const char *name);
/* "MODULE.DAEMON.KIND" */
int sky_bus_topic(char *buf, size_t size, const char *module,
		  const char *daemon, const char *kind);

/* The process's ZeroMQ context (created on first use). */
void *sky_bus_context(void);
void sky_bus_shutdown(void);

/* Open a socket of ZMQ type and bind or connect it. Returns 0 / -errno. */
int sky_bus_open(int type, const char *endpoint, bool bind, void **out);
void sky_bus_close(void **sock);
/*
 * Bind on a listening fd handed over by systemd socket activation
 * (ZMQ_USE_FD); the endpoint must name the same socket path.
 */
int sky_bus_open_fd(int type, const char *endpoint, int fd, void **out);
/*
 * An actuator's two sockets for a module: *sub connected to heartbeatd's
 * publications, subscribed to heartbeatd's desired state and, with
 * want_status, its status; *pub connected to the actual endpoint. On
 * failure nothing is left open and failed_ep names the endpoint.
 */
int sky_bus_open_actuator(const char *run_dir, const char *module,
			  bool want_status, void **sub, void **pub,
			  char *failed_ep, size_t failed_size);

/*
 * DIR/NAME.json: a daemon's published object for operators and tests,
 * replaced atomically (runtime state: not fsynced). 0 or -errno.
 */
int sky_bus_write_state_file(const char *dir, const char *name,
			     const json_t *obj);

/* Send a single JSON frame, or topic + JSON frames (non-blocking). */
int sky_bus_send_json(void *sock, const json_t *obj);
int sky_bus_publish(void *sock, const char *topic, const json_t *obj);

/*
 * Receive one message without blocking. For topic messages (topic != NULL),
 * exactly two frames are accepted; otherwise exactly one. The JSON frame
 * must be an object of at most max bytes. -EAGAIN: nothing waiting;
 * -EBADMSG: a malformed message was consumed and dropped.
 */
int sky_bus_recv(void *sock, char *topic, size_t topic_size, size_t max,
		 json_t **out);

/*
 * The two checks sky_bus_recv makes on the frames' bytes (pure, so fuzzers
 * call them): a topic frame is 1..topic_size-1 bytes without NUL, copied
 * into topic with a NUL; a JSON frame is 1..max bytes of one JSON object
 * (duplicate keys refused). 0 or -EBADMSG.
 */
int sky_bus_parse_topic(const uint8_t *buf, size_t len, char *topic,
			size_t topic_size);
int sky_bus_parse_body(const uint8_t *buf, size_t len, size_t max,
		       json_t **out);

/*
 * The control socket's server side. heartbeatd binds a ROUTER rather than a
 * REP: a REP serves requests strictly in turn and keeps the routing labels
 * of the request it is on, so a peer that vanishes or garbles its envelope
 * can cost another client its reply. With a ROUTER each request carries its
 * own return address, and the fair queue only ever hands over complete
 * messages, so no client can hold another up.
 *
 * A request as received: the sender's routing id and its envelope (a REQ
 * sends an empty delimiter frame, with ZMQ_REQ_CORRELATE a request id
 * before it), echoed on the reply so a REQ accepts it; then its body frames.
 */
#define SKY_CTL_ENVELOPE_MAX	   8   /* routing id + envelope frames */
#define SKY_CTL_ENVELOPE_FRAME_MAX 255 /* ZeroMQ's longest routing id */
struct sky_ctl_peer {
	size_t count; /* envelope frames kept, routing id first */
	uint8_t len[SKY_CTL_ENVELOPE_MAX];
	uint8_t frame[SKY_CTL_ENVELOPE_MAX][SKY_CTL_ENVELOPE_FRAME_MAX];
};
struct sky_ctl_received {
	struct sky_ctl_peer peer;
	size_t body_frames; /* 1 in a well-formed request */
	size_t len;	    /* the body's length: may exceed the buffer */
	size_t copied;	    /* bytes of the body copied into the buffer */
};
/* Open the server socket (bound on fd when fd >= 0: socket activation). */
int sky_ctl_listen(const char *endpoint, int fd, void **out);
/*
 * Take one request without blocking: the envelope into out->peer, the last
 * frame's first size bytes into body. -EAGAIN: nothing waiting; 0 even for
 * a malformed request (body_frames != 1, len > size): the caller answers it.
 */
int sky_ctl_recv(void *sock, uint8_t *body, size_t size,
		 struct sky_ctl_received *out);
/* Answer the request that peer sent (never blocks; a gone peer's answer is
 * dropped). 0 / -errno. */
int sky_ctl_reply(void *sock, const struct sky_ctl_peer *peer,
		  const json_t *reply);

/*
 * Is anything listening on an ipc:// control endpoint? A plain connect(2)
 * to the socket file, as ZeroMQ would not say: 0 when it accepts,
 * -ENOENT (no socket file), -ECONNREFUSED (a file left by a stopped
 * daemon), or another -errno.
 */
int sky_ctl_probe(const char *endpoint);

/* Connect, send one request, wait up to timeout_ms for the reply. */
int sky_ctl_call(const char *endpoint, const json_t *request, int timeout_ms,
		 json_t **reply);

#endif
