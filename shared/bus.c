/*
 * bus.c - ZeroMQ plumbing and the names of the schema in bus.h.
 *
 * libzmq reports errors as -1 + errno; this file turns them into -errno once
 * so daemon code sees only 0 / -errno.
 */
#include "bus.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

static const char *const role_names[SKY_ROLE_COUNT] = {
	[SKY_ROLE_STOP] = "STOP",     [SKY_ROLE_WAIT] = "WAIT",
	[SKY_ROLE_SECOND] = "SECOND", [SKY_ROLE_ALONE] = "ALONE",
	[SKY_ROLE_PRIM] = "PRIM",     [SKY_ROLE_UP] = "UP",
};

const char *sky_role_name(enum sky_role role)
{
	if ((unsigned)role < SKY_ROLE_COUNT)
		return role_names[role];
	return "UNKNOWN";
}

int sky_role_parse(const char *name, enum sky_role *out)
{
	for (unsigned i = 0; i < SKY_ROLE_COUNT; i++)
		if (strcasecmp(name, role_names[i]) == 0) {
			*out = (enum sky_role)i;
			return 0;
		}
	return -EINVAL;
}

const char *sky_data_name(enum sky_data data)
{
	switch (data) {
	case SKY_DATA_UPTODATE:
		return "uptodate";
	case SKY_DATA_OUTDATED:
		return "outdated";
	default:
		return "unknown";
	}
}

static const char *const replica_names[SKY_REPLICA_COUNT] = {
	"unknown", "uptodate", "outdated", "inconsistent"};

const char *sky_replica_name(enum sky_replica r)
{
	return (unsigned)r < SKY_REPLICA_COUNT ? replica_names[r] : "unknown";
}

int sky_replica_parse(const char *name, enum sky_replica *out)
{
	for (int i = 0; i < SKY_REPLICA_COUNT; i++) {
		if (name && strcmp(name, replica_names[i]) == 0) {
			*out = (enum sky_replica)i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const actuator_names[SKY_ACT_COUNT] = {
	[SKY_ACT_REPLICD] = "replicd",
	[SKY_ACT_VIPD] = "vipd",
	[SKY_ACT_CHECKD] = "checkd",
};

const char *sky_actuator_name(enum sky_actuator a)
{
	return (unsigned)a < SKY_ACT_COUNT ? actuator_names[a] : "?";
}

int sky_actuator_parse(const char *name, enum sky_actuator *out)
{
	for (unsigned i = 0; i < SKY_ACT_COUNT; i++)
		if (strcmp(name, actuator_names[i]) == 0) {
			*out = (enum sky_actuator)i;
			return 0;
		}
	return -EINVAL;
}

const char *sky_actuator_target(enum sky_actuator a, enum sky_role role)
{
	bool serving = sky_role_serves(role);
	if (a == SKY_ACT_REPLICD)
		return serving			 ? "primary"
		       : role == SKY_ROLE_SECOND ? "secondary"
						 : "stopped";
	return serving ? "up" : "down";
}

int sky_bus_endpoint(char *buf, size_t size, const char *run_dir,
		     const char *module, const char *name)
{
	int n = snprintf(buf, size, "ipc://%s/%s/%s", run_dir, module, name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int sky_bus_topic(char *buf, size_t size, const char *module,
		  const char *daemon, const char *kind)
{
	int n = snprintf(buf, size, "%s.%s.%s", module, daemon, kind);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

static void *bus_ctx;

void *sky_bus_context(void)
{
	if (!bus_ctx)
		bus_ctx = zmq_ctx_new();
	return bus_ctx;
}

void sky_bus_shutdown(void)
{
	if (bus_ctx)
		zmq_ctx_term(bus_ctx);
	bus_ctx = NULL;
}

static int bus_open(int type, const char *endpoint, bool bind, int use_fd,
		    void **out);

int sky_bus_open(int type, const char *endpoint, bool bind, void **out)
{
	return bus_open(type, endpoint, bind, -1, out);
}

int sky_bus_open_fd(int type, const char *endpoint, int fd, void **out)
{
	return bus_open(type, endpoint, true, fd, out);
}

int sky_bus_open_actuator(const char *run_dir, const char *module,
			  bool want_status, void **sub, void **pub,
			  char *failed_ep, size_t failed_size)
{
	char ep[PATH_MAX + 16] = "", topic[SKY_TOPIC_MAX];
	int r = sky_bus_endpoint(ep, sizeof(ep), run_dir, module,
				 SKY_EP_DESIRED);
	if (r == 0)
		r = sky_bus_open(ZMQ_SUB, ep, false, sub);
	if (r < 0)
		goto fail;
	/* Only heartbeatd's words concern an actuator. */
	zmq_setsockopt(*sub, ZMQ_UNSUBSCRIBE, "", 0);
	if (sky_bus_topic(topic, sizeof(topic), module, "heartbeatd",
			  SKY_KIND_DESIRED) == 0)
		zmq_setsockopt(*sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
	if (want_status && sky_bus_topic(topic, sizeof(topic), module,
					 "heartbeatd", SKY_KIND_STATUS) == 0)
		zmq_setsockopt(*sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
	r = sky_bus_endpoint(ep, sizeof(ep), run_dir, module, SKY_EP_ACTUAL);
	if (r == 0)
		r = sky_bus_open(ZMQ_PUB, ep, false, pub);
	if (r == 0)
		return 0;
fail:
	snprintf(failed_ep, failed_size, "%s", ep);
	sky_bus_close(sub);
	return r;
}

static int bus_open(int type, const char *endpoint, bool bind, int use_fd,
		    void **out)
{
	void *ctx = sky_bus_context();
	void *sock;
	int linger = 0, r;

	if (!ctx)
		return -errno;
	sock = zmq_socket(ctx, type);
	if (!sock)
		return -errno;
	/* Never let a dead peer hold a daemon's exit hostage. */
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (type == ZMQ_SUB)
		zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
	if (type == ZMQ_SUB || type == ZMQ_REQ) {
		/* REQ: a reply is a bus-sized object, whoever sends it. */
		int64_t max = SKY_BUS_MSG_MAX + SKY_TOPIC_MAX;
		zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	}
	if (type == ZMQ_ROUTER) {
		int64_t max = SKY_CTL_WIRE_MAX;
		zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	}
	if (type == ZMQ_XPUB) {
		/* Every subscription, even a repeated one, reaches the
		 * publisher: it answers a newcomer at once. Inbound messages
		 * are subscriptions only: a flag byte and a topic. */
		int one = 1;
		int64_t max = 1 + SKY_TOPIC_MAX;
		zmq_setsockopt(sock, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
		zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	}
	if (use_fd >= 0 &&
	    zmq_setsockopt(sock, ZMQ_USE_FD, &use_fd, sizeof(use_fd)) < 0) {
		r = -errno;
		zmq_close(sock);
		return r;
	}
	r = bind ? zmq_bind(sock, endpoint) : zmq_connect(sock, endpoint);
	if (r < 0) {
		r = -errno;
		zmq_close(sock);
		return r;
	}
	*out = sock;
	return 0;
}

void sky_bus_close(void **sock)
{
	if (*sock)
		zmq_close(*sock);
	*sock = NULL;
}

static int send_text(void *sock, const char *text, int flags)
{
	if (zmq_send(sock, text, strlen(text), flags | ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

int sky_bus_send_json(void *sock, const json_t *obj)
{
	_cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	return send_text(sock, text, 0);
}

int sky_bus_publish(void *sock, const char *topic, const json_t *obj)
{
	_cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
	int r;

	if (!text)
		return -ENOMEM;
	r = send_text(sock, topic, ZMQ_SNDMORE);
	if (r < 0)
		return r;
	return send_text(sock, text, 0);
}

/* Drain the remaining frames of a message we are rejecting. */
static void drain(void *sock)
{
	int more = 1;
	size_t len = sizeof(more);
	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t part;
		zmq_msg_init(&part);
		zmq_msg_recv(&part, sock, ZMQ_DONTWAIT);
		zmq_msg_close(&part);
	}
}

static bool has_more(void *sock)
{
	int more = 0;
	size_t len = sizeof(more);
	return zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more;
}

int sky_bus_parse_topic(const uint8_t *buf, size_t len, char *topic,
			size_t topic_size)
{
	if (len == 0 || len >= topic_size || memchr(buf, '\0', len))
		return -EBADMSG;
	memcpy(topic, buf, len);
	topic[len] = '\0';
	return 0;
}

int sky_bus_parse_body(const uint8_t *buf, size_t len, size_t max, json_t **out)
{
	json_error_t jerr;
	json_t *obj;

	if (len == 0 || len > max)
		return -EBADMSG;
	obj = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		return -EBADMSG;
	if (!json_is_object(obj)) {
		json_decref(obj);
		return -EBADMSG;
	}
	*out = obj;
	return 0;
}

int sky_bus_recv(void *sock, char *topic, size_t topic_size, size_t max,
		 json_t **out)
{
	zmq_msg_t frame;
	size_t len;
	int r;

	zmq_msg_init(&frame);
	if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
		r = -errno;
		zmq_msg_close(&frame);
		return r;
	}
	if (topic) {
		if (!has_more(sock) ||
		    sky_bus_parse_topic(zmq_msg_data(&frame),
					zmq_msg_size(&frame), topic,
					topic_size) < 0) {
			zmq_msg_close(&frame);
			drain(sock);
			return -EBADMSG;
		}
		zmq_msg_close(&frame);
		zmq_msg_init(&frame);
		if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&frame);
			return -EBADMSG;
		}
	}
	len = zmq_msg_size(&frame);
	if (len == 0 || len > max || has_more(sock)) {
		zmq_msg_close(&frame);
		drain(sock);
		return -EBADMSG;
	}
	r = sky_bus_parse_body(zmq_msg_data(&frame), len, max, out);
	zmq_msg_close(&frame);
	return r;
}

int sky_ctl_listen(const char *endpoint, int fd, void **out)
{
	return bus_open(ZMQ_ROUTER, endpoint, true, fd, out);
}

/* Keep one envelope frame; false if it cannot be echoed (too many, too long). */
static bool keep_envelope(struct sky_ctl_peer *peer, zmq_msg_t *frame)
{
	size_t len = zmq_msg_size(frame);
	if (peer->count >= SKY_CTL_ENVELOPE_MAX ||
	    len > SKY_CTL_ENVELOPE_FRAME_MAX)
		return false;
	memcpy(peer->frame[peer->count], zmq_msg_data(frame), len);
	peer->len[peer->count++] = (uint8_t)len;
	return true;
}

int sky_ctl_recv(void *sock, uint8_t *body, size_t size,
		 struct sky_ctl_received *out)
{
	zmq_msg_t frame;
	size_t before_body = 0, delimiter = 0; /* 0: none (frame 0 is the id) */
	bool more, echoable;

	out->peer.count = 0;
	out->body_frames = out->len = out->copied = 0;
	zmq_msg_init(&frame);
	if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
		int r = -errno;
		zmq_msg_close(&frame);
		return r;
	}
	echoable = keep_envelope(&out->peer, &frame); /* the routing id */
	more = zmq_msg_more(&frame);
	zmq_msg_close(&frame);
	/* The rest of a message is there at once: ZeroMQ delivers whole
	 * messages. Every frame but the last is envelope or extra body. */
	while (more) {
		zmq_msg_init(&frame);
		if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&frame);
			break;
		}
		more = zmq_msg_more(&frame);
		if (!more) {
			out->len = zmq_msg_size(&frame);
			out->copied = out->len < size ? out->len : size;
			if (out->copied)
				memcpy(body, zmq_msg_data(&frame), out->copied);
			out->body_frames = 1;
		} else {
			before_body++;
			if (echoable && !keep_envelope(&out->peer, &frame))
				echoable = false;
			if (echoable && zmq_msg_size(&frame) == 0)
				delimiter = out->peer.count - 1;
		}
		zmq_msg_close(&frame);
	}
	if (!echoable) {
		/* Answer what a REQ would accept: its id and a delimiter. */
		out->peer.count = out->peer.count ? 1 : 0;
		if (out->peer.count)
			out->peer.len[out->peer.count++] = 0;
		out->body_frames += before_body ? before_body : 1;
		return 0;
	}
	/* The envelope ends at the last empty frame; anything between it and
	 * the last frame is more body, which a request may not have. */
	out->body_frames += before_body - delimiter;
	out->peer.count = delimiter + 1;
	return 0;
}

int sky_ctl_reply(void *sock, const struct sky_ctl_peer *peer,
		  const json_t *reply)
{
	_cleanup_free_ char *text = json_dumps(reply, JSON_COMPACT);
	int r = 0;

	if (!text)
		return -ENOMEM;
	/* A ROUTER drops a message for a peer that is gone or full, so these
	 * sends do not block; every part is sent even after a failure, so the
	 * socket is never left in the middle of a message. */
	for (size_t i = 0; i < peer->count; i++)
		if (zmq_send(sock, peer->frame[i], peer->len[i],
			     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 &&
		    r == 0)
			r = -errno;
	if (zmq_send(sock, text, strlen(text), ZMQ_DONTWAIT) < 0 && r == 0)
		r = -errno;
	return r;
}

int sky_ctl_probe(const char *endpoint)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = endpoint;

	if (strncmp(path, "ipc://", 6) == 0)
		path += 6;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

int sky_ctl_call(const char *endpoint, const json_t *request, int timeout_ms,
		 json_t **reply)
{
	void *sock = NULL;
	zmq_pollitem_t item;
	int r;

	r = sky_bus_open(ZMQ_REQ, endpoint, false, &sock);
	if (r < 0)
		return r;
	r = sky_bus_send_json(sock, request);
	if (r == -EAGAIN) {
		/* REQ with no connected peer yet: wait for the pipe. */
		int64_t deadline = sky_now_ms() + timeout_ms;
		while (r == -EAGAIN && sky_now_ms() < deadline) {
			usleep(10000);
			r = sky_bus_send_json(sock, request);
		}
		if (r == -EAGAIN)
			r = -ETIMEDOUT;
	}
	if (r < 0)
		goto out;
	item = (zmq_pollitem_t){.socket = sock, .events = ZMQ_POLLIN};
	r = zmq_poll(&item, 1, timeout_ms);
	if (r < 0) {
		r = -errno;
		goto out;
	}
	if (r == 0) {
		r = -ETIMEDOUT;
		goto out;
	}
	r = sky_bus_recv(sock, NULL, 0, SKY_BUS_MSG_MAX, reply);
out:
	sky_bus_close(&sock);
	return r;
}

int sky_bus_write_state_file(const char *dir, const char *name,
			     const json_t *obj)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s.json", dir, name) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.json.tmp", dir, name) >=
		    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	_cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		int r = errno ? -errno : -EIO;
		unlink(tmp);
		return r;
	}
	return 0;
}
