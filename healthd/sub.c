/*
 * sub.c - module discovery and subscriptions (see sub.h).
 *
 * Connection events are read before messages in every round, and a status
 * that arrives while the connection is down is dropped (modules.c), so a
 * status heartbeatd sent just before it died can never make the module OK
 * again once healthd has seen it die.
 */
#include "sub.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define SCAN_ENTRIES_MAX 4096 /* a run directory is small; stop if not */
#define DRAIN_MAX	 64   /* messages per module per round */

void healthd_bus_init(struct healthd_bus *b, struct healthd_table *table,
		      const char *run_dir, bool scan)
{
	memset(b, 0, sizeof(*b));
	b->table = table;
	b->scan = scan;
	sky_strlcpy(b->run_dir, run_dir, sizeof(b->run_dir));
}

static void close_module(struct healthd_module *m)
{
	if (m->sub)
		zmq_socket_monitor(m->sub, NULL, 0);
	sky_bus_close(&m->monitor);
	sky_bus_close(&m->sub);
}

static int open_module(struct healthd_bus *b, struct healthd_module *m)
{
	char endpoint[PATH_MAX + 32], topic[SKY_TOPIC_MAX], mon[64];
	int64_t max = SKY_BUS_MSG_MAX + SKY_TOPIC_MAX;
	int linger = 0, r;
	void *ctx = sky_bus_context();

	r = sky_bus_endpoint(endpoint, sizeof(endpoint), b->run_dir, m->name,
			     SKY_EP_DESIRED);
	if (r < 0)
		return r;
	r = sky_bus_topic(topic, sizeof(topic), m->name, "heartbeatd",
			  SKY_KIND_STATUS);
	if (r < 0)
		return r;
	if (!ctx)
		return -errno;
	m->sub = zmq_socket(ctx, ZMQ_SUB);
	if (!m->sub)
		return -errno;
	zmq_setsockopt(m->sub, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(m->sub, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	zmq_setsockopt(m->sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
	/* The monitor must exist before connect() to see the first event. */
	snprintf(mon, sizeof(mon), "inproc://healthd-monitor-%u",
		 ++b->monitor_serial);
	if (zmq_socket_monitor(m->sub, mon,
			       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) <
	    0) {
		r = -errno;
		goto fail;
	}
	r = sky_bus_open(ZMQ_PAIR, mon, false, &m->monitor);
	if (r < 0)
		goto fail;
	if (zmq_connect(m->sub, endpoint) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	close_module(m);
	return r;
}

int healthd_bus_follow(struct healthd_bus *b, const char *name,
		       bool explicit_module)
{
	struct healthd_module *m;
	int r = healthd_table_add(b->table, name, &m);

	if (r == -EEXIST) {
		m->explicit_module |= explicit_module;
		return 0;
	}
	if (r < 0)
		return r;
	m->explicit_module = explicit_module;
	r = open_module(b, m);
	if (r < 0) {
		healthd_table_remove(b->table, m);
		return r;
	}
	log_info("following module %s (%s/%s/%s)", name, b->run_dir, name,
		 SKY_EP_DESIRED);
	return 0;
}

static bool has_desired_socket(int dirfd, const char *name)
{
	char path[SKY_NAME_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", name, SKY_EP_DESIRED);
	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISSOCK(st.st_mode);
}

void healthd_bus_scan(struct healthd_bus *b, int64_t now_ms, bool force)
{
	DIR *d;
	struct dirent *e;
	size_t seen = 0;

	if (!b->scan || (!force && now_ms < b->next_scan_ms))
		return;
	b->next_scan_ms = now_ms + HEALTHD_SCAN_MS;
	d = opendir(b->run_dir);
	if (!d) {
		sky_log_ratelimited(&b->rl_scan, LOG_DEBUG,
				    "cannot read run directory %s: %s",
				    b->run_dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL && seen++ < SCAN_ENTRIES_MAX) {
		size_t len = strnlen(e->d_name, sizeof(e->d_name));
		if (!sky_name_valid(e->d_name, len) ||
		    healthd_table_find(b->table, e->d_name) ||
		    !has_desired_socket(dirfd(d), e->d_name))
			continue;
		int r = healthd_bus_follow(b, e->d_name, false);
		if (r < 0)
			sky_log_ratelimited(&b->rl_scan, LOG_WARNING,
					    "cannot follow module %s: %s",
					    e->d_name,
					    r == -ENOSPC ? "too many modules"
							 : strerror(-r));
	}
	/* Forget discovered modules whose directory is gone. */
	for (size_t i = b->table->count; i-- > 0;) {
		struct healthd_module *m = b->table->mods[i];
		struct stat st;
		if (m->explicit_module ||
		    fstatat(dirfd(d), m->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		log_info("module %s is gone (%s/%s removed)", m->name,
			 b->run_dir, m->name);
		close_module(m);
		healthd_table_remove(b->table, m);
	}
	closedir(d);
}

size_t healthd_bus_poll_items(const struct healthd_bus *b,
			      zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < b->table->count && n + 2 <= max; i++) {
		items[n++] =
			(zmq_pollitem_t){.socket = b->table->mods[i]->monitor,
					 .events = ZMQ_POLLIN};
		items[n++] = (zmq_pollitem_t){.socket = b->table->mods[i]->sub,
					      .events = ZMQ_POLLIN};
	}
	return n;
}

/* One monitor event: frame 1 = u16 event + u32 value, frame 2 = address. */
static int read_event(void *monitor, uint16_t *event)
{
	zmq_msg_t msg;
	int r = 0, more = 0;
	size_t len = sizeof(more);

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, monitor, ZMQ_DONTWAIT) < 0) {
		r = -errno;
		zmq_msg_close(&msg);
		return r;
	}
	if (zmq_msg_size(&msg) >= sizeof(*event))
		memcpy(event, zmq_msg_data(&msg), sizeof(*event));
	else
		r = -EBADMSG;
	zmq_msg_close(&msg);
	while (zmq_getsockopt(monitor, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_init(&msg);
		zmq_msg_recv(&msg, monitor, ZMQ_DONTWAIT);
		zmq_msg_close(&msg);
	}
	return r;
}

static void drain_module(struct healthd_bus *b, struct healthd_module *m,
			 int64_t now_ms)
{
	uint16_t event = 0;
	char topic[SKY_TOPIC_MAX];
	int r;

	while ((r = read_event(m->monitor, &event)) != -EAGAIN) {
		if (r == -EBADMSG)
			continue;
		if (r < 0)
			break;
		if (event == ZMQ_EVENT_CONNECTED) {
			log_info("module %s: connected to heartbeatd", m->name);
			healthd_module_connected(m);
		} else if (event == ZMQ_EVENT_DISCONNECTED) {
			if (m->connected)
				log_warning("module %s: heartbeatd went away: "
					    "NOK until it is back",
					    m->name);
			healthd_module_disconnected(m);
		}
	}
	for (int i = 0; i < DRAIN_MAX; i++) {
		json_t *obj = NULL;
		r = sky_bus_recv(m->sub, topic, sizeof(topic), SKY_BUS_MSG_MAX,
				 &obj);
		if (r == -EAGAIN)
			break;
		if (r == -EBADMSG) {
			m->bad_messages++;
			sky_log_ratelimited(&b->rl_bad, LOG_WARNING,
					    "module %s: dropped a malformed "
					    "bus message",
					    m->name);
			continue;
		}
		if (r < 0)
			break;
		uint64_t bad_fields = m->bad_fields;
		r = healthd_module_on_message(m, topic, &obj, now_ms);
		if (r == 0 && m->bad_fields != bad_fields)
			sky_log_ratelimited(
				&b->rl_field, LOG_WARNING,
				"module %s: dropped %llu field%s "
				"of a status with a wrong type: "
				"%s must be %s",
				m->name,
				(unsigned long long)(m->bad_fields -
						     bad_fields),
				m->bad_fields - bad_fields == 1 ? "" : "s",
				m->bad_field,
				m->bad_field_want ? m->bad_field_want : "?");
		if (r == -EBADMSG)
			sky_log_ratelimited(&b->rl_bad, LOG_WARNING,
					    "module %s: dropped a status with "
					    "a wrong topic or module, or a "
					    "wrong module, type, node.role or "
					    "node.serving field",
					    m->name);
	}
}

void healthd_bus_drain(struct healthd_bus *b, int64_t now_ms)
{
	for (size_t i = 0; i < b->table->count; i++)
		drain_module(b, b->table->mods[i], now_ms);
}

void healthd_bus_close(struct healthd_bus *b)
{
	for (size_t i = 0; i < b->table->count; i++)
		close_module(b->table->mods[i]);
	healthd_table_clear(b->table);
}
