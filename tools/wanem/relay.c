/*
 * relay.c - see relay.h.
 */
#include "relay.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#define RX_BUDGET   256 /* frames taken from one ring before looking around */
#define RING_FRAMES 4096
#define TX_BATCH    64

static volatile sig_atomic_t got_stop, got_hup, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

void wanem_relay_signals_install(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (int s = 0, sigs[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT}; s < 4;
	     s++) {
		sigaction(sigs[s], &sa, NULL);
		sigaddset(&set, sigs[s]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int wanem_relay_open(struct wanem_relay *r, const char *if_a, const char *if_b,
		     uint32_t limit)
{
	const char *names[2] = {if_a, if_b};
	int rc;

	for (int i = 0; i < 2; i++) {
		r->port[i].fd = -1;
		r->port[i].ring = NULL;
	}
	for (int i = 0; i < 2; i++) {
		rc = wanem_port_open(&r->port[i], names[i], RING_FRAMES);
		if (rc < 0) {
			log_error("interface %s: cannot open an AF_PACKET "
				  "ring on it: %s",
				  names[i], strerror(-rc));
			goto fail;
		}
		/* each direction its own stream of draws, from one seed */
		rc = wanem_line_init(&r->line[i], limit,
				     r->params.seed * 2 + (uint64_t)i);
		if (rc < 0) {
			log_error("a queue of %" PRIu32 " frames: %s", limit,
				  strerror(-rc));
			goto fail;
		}
	}
	return 0;
fail:
	wanem_relay_close(r);
	return rc;
}

void wanem_relay_close(struct wanem_relay *r)
{
	for (int i = 0; i < 2; i++) {
		wanem_port_close(&r->port[i]);
		wanem_line_free(&r->line[i]);
	}
}

int wanem_relay_reload(struct wanem_relay *r)
{
	_cleanup_free_ char *text = NULL;
	struct wanem_params next = r->base;
	unsigned line, column;
	char err[200], desc[200];
	size_t len;
	int rc;

	if (!r->control_path)
		return 0;
	rc = sky_read_file(r->control_path, WANEM_CONTROL_MAX, &text, &len);
	if (rc == -ENOENT) {
		len = 0; /* no file: the command line's link */
	} else if (rc < 0) {
		log_error("%s: cannot read it (%s): the link is unchanged",
			  r->control_path, strerror(-rc));
		return rc;
	}
	rc = wanem_params_parse(text ? text : "", len, &next, &line, &column,
				err, sizeof(err));
	if (rc < 0) {
		log_error("%s:%u:%u: %s: the link is unchanged",
			  r->control_path, line, column, err);
		return rc;
	}
	if (next.seed_given)
		for (int i = 0; i < 2; i++)
			wanem_line_reseed(&r->line[i],
					  next.seed * 2 + (uint64_t)i);
	r->params = next;
	r->generation++;
	wanem_params_format(&r->params, desc, sizeof(desc));
	log_notice("%s applied (generation %u): %s", r->control_path,
		   r->generation, desc);
	return 0;
}

static const char *dir_name(struct wanem_relay *r, int d, char *buf,
			    size_t size)
{
	snprintf(buf, size, "%s>%s", r->port[d].name, r->port[1 - d].name);
	return buf;
}

void wanem_relay_print_counters(struct wanem_relay *r, FILE *out)
{
	char name[2 * IF_NAMESIZE + 2];

	for (int d = 0; d < 2; d++) {
		const struct wanem_counters *c = &r->line[d].c;

		wanem_port_poll_stats(&r->port[d]);
		fprintf(out,
			"wanem: counters %s rx_frames=%" PRIu64
			" rx_bytes=%" PRIu64 " tx_frames=%" PRIu64
			" tx_bytes=%" PRIu64 " lost=%" PRIu64
			" queue_full=%" PRIu64 " oversize=%" PRIu64
			" reordered=%" PRIu64 " send_errors=%" PRIu64
			" csum_pending=%" PRIu64 " ring_drops=%" PRIu64
			" queued=%" PRIu32 " queued_max=%" PRIu32 "\n",
			dir_name(r, d, name, sizeof(name)), c->rx_frames,
			c->rx_bytes, c->tx_frames, c->tx_bytes, c->lost,
			c->queue_full, c->oversize, c->reordered,
			c->send_errors, c->csum_pending, r->port[d].ring_drops,
			r->line[d].count, c->queued_max);
	}
	fflush(out);
}

/* Send one frame at once (reordered); a failure is counted, not retried. */
static void send_now(struct wanem_relay *r, int d, const uint8_t *data,
		     size_t len)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct wanem_counters *c = &r->line[d].c;

	if (wanem_port_send(&r->port[1 - d], &iov, 1) == 1) {
		c->tx_frames++;
		c->tx_bytes += len;
	} else {
		c->send_errors++;
	}
}

static struct sky_ratelimit oversize_rl, csum_rl, send_rl;

/* Take up to RX_BUDGET frames from port[d]; 1 if frames may remain. */
static int receive(struct wanem_relay *r, int d, int64_t now)
{
	struct wanem_port *p = &r->port[d];
	struct wanem_line *l = &r->line[d];
	uint8_t tagged[WANEM_FRAME_MAX + 4];
	struct wanem_rx rx;

	for (int n = 0; n < RX_BUDGET; n++) {
		const uint8_t *data;
		size_t len;

		if (!wanem_port_next(p, &rx))
			return 0;
		data = rx.data;
		len = rx.len;
		if (rx.wire_len != rx.len || len < ETH_HLEN) {
			/* truncated by the ring: a GSO frame, or garbage */
			l->c.rx_frames++;
			l->c.rx_bytes += rx.wire_len;
			l->c.oversize++;
			sky_log_ratelimited(&oversize_rl, LOG_WARNING,
					    "%s: dropped a %zu-byte frame "
					    "(at most %d carried): turn "
					    "segmentation offloads off on the "
					    "senders (ethtool -K DEV tso off "
					    "gso off gro off)",
					    p->name, rx.wire_len,
					    WANEM_FRAME_MAX);
			wanem_port_release(p, &rx);
			continue;
		}
		if (rx.vlan && len + 4 <= sizeof(tagged)) {
			/* put back the tag the kernel took out */
			memcpy(tagged, data, 12);
			tagged[12] = (uint8_t)(rx.vlan_tpid >> 8);
			tagged[13] = (uint8_t)rx.vlan_tpid;
			tagged[14] = (uint8_t)(rx.vlan_tci >> 8);
			tagged[15] = (uint8_t)rx.vlan_tci;
			memcpy(tagged + 16, data + 12, len - 12);
			data = tagged;
			len += 4;
		}
		if (rx.csum_pending) {
			l->c.csum_pending++;
			sky_log_ratelimited(&csum_rl, LOG_WARNING,
					    "%s: a frame arrived with its "
					    "checksum left to the hardware: "
					    "the receiver will drop it; turn "
					    "checksum offload off on the "
					    "sender (ethtool -K DEV tx off)",
					    p->name);
		}
		switch (wanem_line_admit(l, &r->params, now, data, len)) {
		case WANEM_SEND_NOW:
			send_now(r, d, data, len);
			break;
		case WANEM_QUEUED:
		case WANEM_DROPPED:
			break;
		}
		wanem_port_release(p, &rx);
	}
	return 1;
}

/* Send the frames of line d due at now, in batches. */
static void transmit(struct wanem_relay *r, int d, int64_t now)
{
	struct wanem_line *l = &r->line[d];
	struct wanem_port *out = &r->port[1 - d];
	struct iovec iov[TX_BATCH];

	r->blocked[1 - d] = false;
	while (l->count) {
		unsigned n = 0;
		int sent;

		while (n < TX_BATCH && n < l->count) {
			struct wanem_frame *f = wanem_line_at(l, n);

			if (f->due_ns > now)
				break;
			iov[n].iov_base = f->data;
			iov[n].iov_len = f->len;
			n++;
		}
		if (n == 0)
			return;
		sent = wanem_port_send(out, iov, n);
		if (sent == -EAGAIN) {
			r->blocked[1 - d] = true; /* wait for POLLOUT */
			return;
		}
		if (sent <= 0) {
			/* the first frame was refused: count it, go on */
			l->c.send_errors++;
			sky_log_ratelimited(&send_rl, LOG_WARNING,
					    "%s: send: %s", out->name,
					    strerror(sent < 0 ? -sent : EIO));
			wanem_line_pop(l, 1);
			continue;
		}
		for (int i = 0; i < sent; i++) {
			l->c.tx_frames++;
			l->c.tx_bytes += iov[i].iov_len;
		}
		wanem_line_pop(l, (uint32_t)sent);
	}
}

/* The interface went down (a cut cable): say so, clear it, keep going. */
static void socket_error(struct wanem_port *p)
{
	static struct sky_ratelimit rl;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	sky_log_ratelimited(&rl, LOG_WARNING, "interface %s: %s", p->name,
			    strerror(err ? err : EIO));
}

int wanem_relay_run(struct wanem_relay *r)
{
	sigset_t during_wait;

	sigemptyset(&during_wait);
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!got_stop) {
		struct pollfd pfd[2];
		struct timespec ts, *tsp = NULL;
		int64_t now, next = INT64_MAX;
		int more = 0;

		if (got_hup) {
			got_hup = 0;
			(void)wanem_relay_reload(r);
		}
		if (got_usr1) {
			got_usr1 = 0;
			wanem_relay_print_counters(r, stdout);
		}
		now = now_ns();
		more |= receive(r, 0, now);
		more |= receive(r, 1, now);
		now = now_ns();
		for (int d = 0; d < 2; d++) {
			struct wanem_frame *f;

			transmit(r, d, now);
			f = wanem_line_head(&r->line[d]);
			if (f && !r->blocked[1 - d] && f->due_ns < next)
				next = f->due_ns;
		}
		if (more)
			continue;
		for (int i = 0; i < 2; i++) {
			pfd[i].fd = r->port[i].fd;
			pfd[i].events = POLLIN | (r->blocked[i] ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (next != INT64_MAX) {
			int64_t wait = next - now_ns();

			if (wait < 0)
				wait = 0;
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
			tsp = &ts;
		}
		if (ppoll(pfd, 2, tsp, &during_wait) < 0 && errno != EINTR) {
			int rc = -errno;

			log_error("ppoll: %s", strerror(-rc));
			return rc;
		}
		for (int i = 0; i < 2; i++)
			if (pfd[i].revents & POLLERR)
				socket_error(&r->port[i]);
	}
	return 0;
}
