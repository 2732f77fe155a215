/*
 * peer.h - one TCP connection to the peer replicd: buffers and frames.
 *
 * Owned by the main thread only. Non-blocking socket; outgoing bytes are
 * appended to a buffer and written when the socket is writable; incoming
 * bytes are split into frames (u32 big-endian length + payload), each
 * bounded before it is buffered: a frame longer than the current limit
 * ends the connection. The handshake and the sealing live in chan.c; what
 * the frames mean lives in daemon.c.
 */
#ifndef REPLICD_PEER_H
#define REPLICD_PEER_H

#include "chan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Frame limits: during the handshake, then once sealed. */
#define REPLICD_FRAME_HS_MAX REPLICD_HS_MAX
#define REPLICD_FRAME_MAX    (REPLICD_OP_MAX + REPLICD_STREAM_ABYTES)

enum replicd_conn_stage {
	RC_CONNECTING,	/* client: non-blocking connect in progress */
	RC_HANDSHAKE,	/* HELLO/AUTH exchange */
	RC_WAIT_HEADER, /* our keys are ready: waiting for the peer's stream */
	RC_UP,		/* sealed frames both ways */
};

struct replicd_conn {
	int fd;
	bool client;
	enum replicd_conn_stage stage;
	struct replicd_hs hs;
	struct replicd_stream st;
	uint8_t *in;
	size_t in_off, in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	int64_t started_ms, last_rx_ms;
	uint64_t bytes_sent;
};

/* Start a non-blocking connect from src (may be NULL) to dst. */
int replicd_conn_connect(struct replicd_conn **out, const struct sockaddr *src,
			 socklen_t src_len, const struct sockaddr *dst,
			 socklen_t dst_len);
/* Adopt an accepted socket. */
int replicd_conn_adopt(struct replicd_conn **out, int fd);
void replicd_conn_free(struct replicd_conn **c);

/* Did the connect finish? 1 yes, 0 still going, -errno failed. */
int replicd_conn_connected(struct replicd_conn *c);
/* Queue one frame (plain during the handshake). */
int replicd_conn_put(struct replicd_conn *c, const uint8_t *p, size_t len);
/* Seal and queue one frame (stage RC_UP, or our header sent). */
int replicd_conn_put_sealed(struct replicd_conn *c, const uint8_t *p,
			    size_t len);
bool replicd_conn_wants_write(const struct replicd_conn *c);
/* Write what the socket takes; 0 or -errno. */
int replicd_conn_flush(struct replicd_conn *c);
/* Read what is there, or up to the first complete frame; 0, -ECONNRESET
 * at EOF, or -errno. */
int replicd_conn_fill(struct replicd_conn *c, int64_t now);
/* Is the current frame complete in the buffer? */
bool replicd_conn_frame_ready(const struct replicd_conn *c);
/*
 * The next complete frame, if any: 1 and (*p, *len) valid until the next
 * replicd_conn_consume; 0 when incomplete; -EMSGSIZE when its length is
 * over max (the connection must end).
 */
int replicd_conn_frame(struct replicd_conn *c, size_t max, const uint8_t **p,
		       size_t *len);
void replicd_conn_consume(struct replicd_conn *c);
/* Is another complete frame buffered after the current one? (Its length
 * is not checked: that is replicd_conn_frame's job once it is current.) */
bool replicd_conn_next_ready(const struct replicd_conn *c);

/*
 * One frame of the handshake stage (c->hs initialised): the HELLO/AUTH
 * exchange of chan.c, then our stream header, then the peer's (stage
 * RC_UP once both are there). Replies are queued on c. 0 or the -errno of
 * chan.c (the connection must end). Moved out of daemon.c so the fuzzer
 * drives the stream open on a real connection.
 */
int replicd_conn_on_hs_frame(struct replicd_conn *c, const uint8_t *p,
			     size_t len);

#endif
