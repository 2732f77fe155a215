/*
 * bus_ctl_test.c - the control socket's server helpers (shared/bus.c):
 * sky_ctl_recv() splits a ROUTER message into the sender's envelope and
 * its body, and sky_ctl_reply() echoes the envelope so that a REQ client
 * (skyctl, a pyzmq script) gets its answer as it would from a REP.
 * Real ZeroMQ sockets over inproc://.
 */
#include "bus.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

/* One endpoint per test: ZeroMQ releases an inproc name asynchronously. */
static char ep_name[64];

static void *server(void)
{
	static int count;
	void *s = NULL;
	snprintf(ep_name, sizeof(ep_name), "inproc://bus-ctl-test-%d", ++count);
	CHECK_EQ_INT(sky_ctl_listen(ep_name, -1, &s), 0);
	return s;
}

static void *client(int type)
{
	void *c = zmq_socket(sky_bus_context(), type);
	int linger = 0;
	zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof(linger));
	CHECK(c != NULL && zmq_connect(c, ep_name) == 0);
	return c;
}

/* Wait up to 2 s for a request on the server. */
static int recv_request(void *srv, uint8_t *body, size_t size,
			struct sky_ctl_received *rx)
{
	zmq_pollitem_t item = {.socket = srv, .events = ZMQ_POLLIN};
	if (zmq_poll(&item, 1, 2000) != 1)
		return -ETIMEDOUT;
	return sky_ctl_recv(srv, body, size, rx);
}

static void send_frames(void *c, const char *const *frames, size_t count)
{
	for (size_t i = 0; i < count; i++)
		CHECK(zmq_send(c, frames[i], strlen(frames[i]),
			       i + 1 < count ? ZMQ_SNDMORE : 0) >= 0);
}

static void reply_ok(void *srv, const struct sky_ctl_peer *peer)
{
	json_t *reply = json_pack("{s:b}", "ok", 1);
	CHECK_EQ_INT(sky_ctl_reply(srv, peer, reply), 0);
	json_decref(reply);
}

/* The client's next frame, within 2 s, as text; "" on a timeout. */
static const char *client_recv(void *c, char *buf, size_t size)
{
	int timeout = 2000;
	zmq_setsockopt(c, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	int n = zmq_recv(c, buf, size - 1, 0);
	buf[n < 0 ? 0 : (size_t)n < size ? n : (int)size - 1] = '\0';
	return buf;
}

static void test_req_client_gets_the_answer_to_its_request(void)
{
	void *srv = server(), *c = client(ZMQ_REQ);
	uint8_t body[64];
	struct sky_ctl_received rx;
	char got[64];

	CHECK(zmq_send(c, "{\"command\":\"status\"}", 20, 0) == 20);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 1);
	CHECK_EQ_INT(rx.len, 20);
	CHECK_EQ_INT(rx.copied, 20);
	CHECK(memcmp(body, "{\"command\":\"status\"}", 20) == 0);
	CHECK_EQ_INT(rx.peer.count, 2); /* routing id, empty delimiter */
	CHECK_EQ_INT(rx.peer.len[1], 0);
	reply_ok(srv, &rx.peer);
	CHECK(strcmp(client_recv(c, got, sizeof(got)), "{\"ok\":true}") == 0);
	/* Nothing else is waiting. */
	CHECK_EQ_INT(sky_ctl_recv(srv, body, sizeof(body), &rx), -EAGAIN);
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_correlated_req_gets_its_request_id_back(void)
{
	void *srv = server(), *c = client(ZMQ_REQ);
	int one = 1;
	uint8_t body[64];
	struct sky_ctl_received rx;
	char got[64];

	zmq_setsockopt(c, ZMQ_REQ_CORRELATE, &one, sizeof(one));
	zmq_setsockopt(c, ZMQ_REQ_RELAXED, &one, sizeof(one));
	CHECK(zmq_send(c, "{}", 2, 0) == 2);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 1);
	CHECK_EQ_INT(rx.peer.count, 3); /* id, request id, delimiter */
	reply_ok(srv, &rx.peer);
	CHECK(strcmp(client_recv(c, got, sizeof(got)), "{\"ok\":true}") == 0);
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_dealer_without_envelope_is_answered_the_same_way(void)
{
	void *srv = server(), *c = client(ZMQ_DEALER);
	uint8_t body[64];
	struct sky_ctl_received rx;
	char got[64];

	CHECK(zmq_send(c, "{}", 2, 0) == 2);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 1);
	CHECK_EQ_INT(rx.peer.count, 1);
	reply_ok(srv, &rx.peer);
	CHECK(strcmp(client_recv(c, got, sizeof(got)), "{\"ok\":true}") == 0);
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_several_body_frames_are_counted_for_an_error(void)
{
	void *srv = server(), *c = client(ZMQ_DEALER);
	uint8_t body[64];
	struct sky_ctl_received rx;
	char got[64];
	static const char *const two_after_delimiter[] = {"", "{}", "{}"};
	static const char *const no_delimiter[] = {"a", "b", "c"};

	send_frames(c, two_after_delimiter, 3);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 2);
	CHECK_EQ_INT(rx.peer.count, 2);
	reply_ok(srv, &rx.peer);
	CHECK(strcmp(client_recv(c, got, sizeof(got)), "") == 0); /* delim */
	CHECK(strcmp(client_recv(c, got, sizeof(got)), "{\"ok\":true}") == 0);

	send_frames(c, no_delimiter, 3);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 3);
	CHECK_EQ_INT(rx.peer.count, 1);
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_an_envelope_too_long_to_echo_still_gets_an_answer(void)
{
	void *srv = server(), *c = client(ZMQ_DEALER);
	uint8_t body[64];
	struct sky_ctl_received rx;
	const char *frames[SKY_CTL_ENVELOPE_MAX + 3];
	size_t n = 0;

	for (; n < SKY_CTL_ENVELOPE_MAX + 1; n++)
		frames[n] = "label";
	frames[n++] = "";
	frames[n++] = "{}";
	send_frames(c, frames, n);
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK(rx.body_frames > 1); /* refused, not served */
	CHECK_EQ_INT(rx.peer.count, 2);
	CHECK_EQ_INT(rx.peer.len[1], 0);
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_body_larger_than_the_buffer_reports_its_real_length(void)
{
	void *srv = server(), *c = client(ZMQ_REQ);
	static char big[200 * 1024];
	uint8_t body[SKY_CTL_MSG_MAX];
	struct sky_ctl_received rx;

	memset(big, 'x', sizeof(big));
	CHECK(zmq_send(c, big, sizeof(big), 0) == (int)sizeof(big));
	CHECK_EQ_INT(recv_request(srv, body, sizeof(body), &rx), 0);
	CHECK_EQ_INT(rx.body_frames, 1);
	CHECK_EQ_INT(rx.len, sizeof(big));
	CHECK_EQ_INT(rx.copied, sizeof(body));
	zmq_close(c);
	sky_bus_close(&srv);
}

static void test_probe_tells_no_socket_from_a_refused_one(void)
{
	char dir[] = "/tmp/bus-ctl-test-XXXXXX", ep[128];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(ep, sizeof(ep), "ipc://%s/ctl", dir);
	CHECK_EQ_INT(sky_ctl_probe(ep), -ENOENT);
	void *s = NULL;
	CHECK_EQ_INT(sky_ctl_listen(ep, -1, &s), 0);
	CHECK_EQ_INT(sky_ctl_probe(ep), 0);
	sky_bus_close(&s);
	/* ZeroMQ closes the listener in its I/O thread, and may or may not
	 * remove the socket file. */
	int r = 0;
	for (int i = 0; i < 100 && r == 0; i++) {
		r = sky_ctl_probe(ep);
		usleep(10000);
	}
	CHECK(r == -ENOENT || r == -ECONNREFUSED);
	snprintf(ep, sizeof(ep), "%s/ctl", dir);
	unlink(ep);
	rmdir(dir);
}

static void test_bus_frames_checked_before_use(void)
{
	char topic[8];
	json_t *o = NULL;
	CHECK_EQ_INT(sky_bus_parse_topic((const uint8_t *)"app.x", 5, topic,
					 sizeof(topic)),
		     0);
	CHECK(strcmp(topic, "app.x") == 0);
	CHECK_EQ_INT(sky_bus_parse_topic((const uint8_t *)"a\0b", 3, topic,
					 sizeof(topic)),
		     -EBADMSG);
	CHECK_EQ_INT(sky_bus_parse_topic((const uint8_t *)"12345678", 8, topic,
					 sizeof(topic)),
		     -EBADMSG);
	CHECK_EQ_INT(sky_bus_parse_topic((const uint8_t *)"", 0, topic,
					 sizeof(topic)),
		     -EBADMSG);
	CHECK_EQ_INT(
		sky_bus_parse_body((const uint8_t *)"{\"a\":1}", 7, 64, &o), 0);
	CHECK(json_is_object(o));
	json_decref(o);
	CHECK_EQ_INT(sky_bus_parse_body((const uint8_t *)"{\"a\":1}", 7, 6, &o),
		     -EBADMSG);
	CHECK_EQ_INT(sky_bus_parse_body((const uint8_t *)"[1]", 3, 64, &o),
		     -EBADMSG);
	CHECK_EQ_INT(sky_bus_parse_body((const uint8_t *)"{\"a\":1,\"a\":2}",
					13, 64, &o),
		     -EBADMSG);
}

TEST_MAIN(TEST(test_req_client_gets_the_answer_to_its_request),
	  TEST(test_correlated_req_gets_its_request_id_back),
	  TEST(test_dealer_without_envelope_is_answered_the_same_way),
	  TEST(test_several_body_frames_are_counted_for_an_error),
	  TEST(test_an_envelope_too_long_to_echo_still_gets_an_answer),
	  TEST(test_body_larger_than_the_buffer_reports_its_real_length),
	  TEST(test_probe_tells_no_socket_from_a_refused_one),
	  TEST(test_bus_frames_checked_before_use))
