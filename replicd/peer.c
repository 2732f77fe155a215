/*
 * peer.c - buffers and frames of one connection (see peer.h).
 */
#include "peer.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int new_conn(struct replicd_conn **out, int fd, bool client)
{
	struct replicd_conn *c = calloc(1, sizeof(*c));
	int one = 1;
	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->client = client;
	c->stage = client ? RC_CONNECTING : RC_HANDSHAKE;
	c->started_ms = c->last_rx_ms = sky_now_ms();
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = c;
	return 0;
}

int replicd_conn_connect(struct replicd_conn **out, const struct sockaddr *src,
			 socklen_t src_len, const struct sockaddr *dst,
			 socklen_t dst_len)
{
	int fd = socket(dst->sa_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (src && bind(fd, src, src_len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (connect(fd, dst, dst_len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = new_conn(out, fd, true);
	if (r < 0)
		close(fd);
	return r;
}

int replicd_conn_adopt(struct replicd_conn **out, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return new_conn(out, fd, false);
}

void replicd_conn_free(struct replicd_conn **cp)
{
	struct replicd_conn *c = *cp;
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	replicd_hs_wipe(&c->hs);
	replicd_stream_free(&c->st);
	free(c);
	*cp = NULL;
}

int replicd_conn_connected(struct replicd_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (c->stage != RC_CONNECTING)
		return 1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err == EINPROGRESS || err == EALREADY)
		return 0;
	if (err)
		return -err;
	/* Writable and no error: but only POLLOUT tells us it finished. */
	struct sockaddr_storage ss;
	len = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return errno == ENOTCONN ? 0 : -errno;
	c->stage = RC_HANDSHAKE;
	return 1;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	uint8_t *p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/*
 * Drop the bytes already sent, but only once they are at least as many as
 * those still queued: an async backlog can hold tens of MiB, and moving all
 * of it for every frame queued made queueing quadratic in the backlog.
 * Each byte is now moved at most about once; the buffer is at most twice
 * the backlog.
 */
/* A frame's u32 big-endian length prefix. */
static size_t frame_len(const uint8_t *h)
{
	return (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 |
	       h[3];
}

static void put_frame_len(uint8_t *w, size_t n)
{
	w[0] = (uint8_t)(n >> 24);
	w[1] = (uint8_t)(n >> 16);
	w[2] = (uint8_t)(n >> 8);
	w[3] = (uint8_t)n;
}

static void compact_out(struct replicd_conn *c)
{
	if (c->out_off == 0 || c->out_off < c->out_len - c->out_off)
		return;
	memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
	c->out_len -= c->out_off;
	c->out_off = 0;
}

int replicd_conn_put(struct replicd_conn *c, const uint8_t *p, size_t len)
{
	if (len > REPLICD_FRAME_MAX)
		return -EMSGSIZE;
	compact_out(c);
	int r = reserve(&c->out, &c->out_cap, c->out_len + 4 + len);
	if (r < 0)
		return r;
	uint8_t *w = c->out + c->out_len;
	put_frame_len(w, len);
	memcpy(w + 4, p, len);
	c->out_len += 4 + len;
	return 0;
}

int replicd_conn_put_sealed(struct replicd_conn *c, const uint8_t *p,
			    size_t len)
{
	size_t n = len + REPLICD_STREAM_ABYTES;
	compact_out(c);
	int r = reserve(&c->out, &c->out_cap, c->out_len + 4 + n);
	if (r < 0)
		return r;
	uint8_t *w = c->out + c->out_len;
	r = replicd_stream_seal(&c->st, p, len, w + 4, n);
	if (r < 0)
		return r;
	put_frame_len(w, n);
	c->out_len += 4 + n;
	return 0;
}

bool replicd_conn_wants_write(const struct replicd_conn *c)
{
	return c->stage == RC_CONNECTING || c->out_off < c->out_len;
}

int replicd_conn_flush(struct replicd_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
		c->bytes_sent += (uint64_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

bool replicd_conn_frame_ready(const struct replicd_conn *c)
{
	const uint8_t *h = c->in + c->in_off;
	size_t have = c->in_len - c->in_off;
	return have >= 4 && have - 4 >= frame_len(h);
}

int replicd_conn_fill(struct replicd_conn *c, int64_t now)
{
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (int rounds = 0; rounds < 16; rounds++) {
		int r = reserve(&c->in, &c->in_cap, c->in_len + 65536);
		if (r < 0)
			return r;
		ssize_t n = recv(c->fd, c->in + c->in_len,
				 c->in_cap - c->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		c->in_len += (size_t)n;
		c->last_rx_ms = now;
		/* A whole frame is here: handle it before reading on, so
		 * that opening it overlaps the peer's sending of the next. */
		if (replicd_conn_frame_ready(c))
			return 0;
		/* Never buffer more than one maximal frame ahead. */
		if (c->in_len > 2 * (REPLICD_FRAME_MAX + 4))
			return 0;
	}
	return 0;
}

int replicd_conn_frame(struct replicd_conn *c, size_t max, const uint8_t **p,
		       size_t *len)
{
	const uint8_t *h = c->in + c->in_off;
	size_t have = c->in_len - c->in_off;
	if (have < 4)
		return 0;
	size_t n = frame_len(h);
	if (n > max)
		return -EMSGSIZE;
	if (have - 4 < n)
		return 0;
	*p = h + 4;
	*len = n;
	return 1;
}

bool replicd_conn_next_ready(const struct replicd_conn *c)
{
	const uint8_t *h = c->in + c->in_off;
	size_t have = c->in_len - c->in_off;
	if (!replicd_conn_frame_ready(c))
		return false;
	have -= 4 + frame_len(h);
	h += 4 + frame_len(h);
	return have >= 4 && have - 4 >= frame_len(h);
}

void replicd_conn_consume(struct replicd_conn *c)
{
	const uint8_t *h = c->in + c->in_off;
	size_t n = frame_len(h);
	c->in_off += 4 + n;
}

/* Both sides: our keys are ready, send our stream header. */
static int send_header(struct replicd_conn *c)
{
	uint8_t header[REPLICD_STREAM_HEADER];
	int r = replicd_stream_tx_init(&c->st, c->hs.tx_key, header);
	if (r < 0)
		return r;
	c->stage = RC_WAIT_HEADER;
	return replicd_conn_put(c, header, sizeof(header));
}

int replicd_conn_on_hs_frame(struct replicd_conn *c, const uint8_t *p,
			     size_t len)
{
	uint8_t buf[REPLICD_HS_MAX];
	int r;

	if (c->stage == RC_WAIT_HEADER) {
		r = replicd_stream_rx_init(&c->st, c->hs.rx_key, p, len);
		if (r == 0)
			c->stage = RC_UP;
		return r;
	}
	if (c->client) {
		r = replicd_hs_client_finish(&c->hs, p, len, buf, sizeof(buf));
		if (r < 0)
			return r;
		r = replicd_conn_put(c, buf, (size_t)r);
		if (r == 0 && c->hs.dirs_differ) {
			/* Our AUTH lets the server verify and refuse too. */
			(void)replicd_conn_flush(c);
			return -ENOTDIR;
		}
		return r < 0 ? r : send_header(c);
	}
	if (c->hs.step == 0) {
		r = replicd_hs_server_reply(&c->hs, p, len, buf, sizeof(buf));
		return r < 0 ? r : replicd_conn_put(c, buf, (size_t)r);
	}
	r = replicd_hs_server_finish(&c->hs, p, len);
	return r < 0 ? r : send_header(c);
}
