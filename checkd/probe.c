/*
 * probe.c - see probe.h.
 */
#include "probe.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void checkd_probe_init(struct checkd_probe *p,
		       const struct checkd_checker_cfg *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->fd = -1;
	p->pidfd = -1;
	checkd_proc_init(&p->proc);
	p->echo_id = (uint16_t)(getpid() ^ (uintptr_t)cfg);
}

void checkd_probe_forget_pid(struct checkd_probe *p)
{
	closefd(&p->pidfd);
	p->pid = 0;
}

void checkd_probe_cancel(struct checkd_probe *p)
{
	closefd(&p->fd);
	if (p->proc.pid > 0)
		checkd_proc_abort(&p->proc);
	p->running = false;
}

void checkd_probe_close(struct checkd_probe *p)
{
	checkd_probe_cancel(p);
	checkd_probe_forget_pid(p);
}

__attribute__((format(printf, 3, 4))) static bool
finish(struct checkd_probe *p, bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->ok = ok;
	p->running = false;
	closefd(&p->fd);
	return true;
}

/* --- process -------------------------------------------------------------- */

int checkd_pid_parse(const char *buf, size_t len, pid_t *out)
{
	char text[CHECKD_PIDFILE_MAX + 1];
	int64_t v;

	if (len > CHECKD_PIDFILE_MAX)
		return -EBADMSG;
	memcpy(text, buf, len);
	text[len] = '\0';
	char *s = text;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	if (sky_parse_i64(s, 2, INT32_MAX, &v) < 0)
		return -EBADMSG;
	*out = (pid_t)v;
	return 0;
}

static int read_pidfile(const char *path, pid_t *out)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, CHECKD_PIDFILE_MAX, &text, &len);
	if (r < 0)
		return r;
	return checkd_pid_parse(text, len, out);
}

/* 'Z' or 'X' in /proc/PID/stat: gone, though not yet reaped. */
static bool pid_is_zombie(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sky_read_file(path, 4096, &text, NULL) < 0)
		return true;
	const char *paren = strrchr(text, ')');
	return !paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X';
}

static pid_t find_exe(const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	int64_t v;
	if (!d)
		return 0;
	/* Bounded: a machine has far fewer than this many processes. */
	for (int budget = 1 << 16; budget > 0 && (de = readdir(d)); budget--) {
		char path[300];
		_cleanup_free_ char *text = NULL;
		if (sky_parse_i64(de->d_name, 1, INT32_MAX, &v) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (sky_read_file(path, 64, &text, NULL) < 0)
			continue;
		text[strcspn(text, "\n")] = '\0';
		if (strcmp(text, comm) == 0 && !pid_is_zombie((pid_t)v)) {
			found = (pid_t)v;
			break;
		}
	}
	closedir(d);
	return found;
}

static bool run_process(struct checkd_probe *p,
			const struct checkd_probe_ctx *ctx)
{
	const struct checkd_checker_cfg *c = p->cfg;
	char path[PATH_MAX + 64];
	pid_t pid = 0;
	int r;

	switch (c->pid_source) {
	case CHECKD_PID_FILE:
		if (c->pidfile[0] == '/')
			snprintf(path, sizeof(path), "%s", c->pidfile);
		else
			snprintf(path, sizeof(path), "%s/%s", ctx->run_dir,
				 c->pidfile);
		r = read_pidfile(path, &pid);
		if (r < 0) {
			checkd_probe_forget_pid(p);
			return finish(p, false, "pidfile %.100s: %s", path,
				      r == -EBADMSG ? "holds no pid"
						    : strerror(-r));
		}
		break;
	case CHECKD_PID_START:
		pid = ctx->start_pid;
		if (pid <= 0)
			return finish(
				p, false,
				"start_prim reported no SKYHA_PID=N line");
		break;
	case CHECKD_PID_EXE:
		pid = find_exe(c->exe);
		if (pid <= 0) {
			checkd_probe_forget_pid(p);
			return finish(p, false, "no process named %s", c->exe);
		}
		break;
	}
	if (pid != p->pid) {
		checkd_probe_forget_pid(p);
		p->pid = pid;
		p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (p->pidfd < 0 && errno != ENOSYS && errno != ESRCH)
			log_debug("checker %s: pidfd_open(%d): %s", c->name,
				  (int)pid, strerror(errno));
		if (p->pidfd >= 0)
			fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
	}
	bool alive;
	if (p->pidfd >= 0) {
		struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
		alive = poll(&pfd, 1, 0) == 0;
	} else {
		alive = kill(pid, 0) == 0 || errno == EPERM;
		alive = alive && !pid_is_zombie(pid);
	}
	if (!alive) {
		checkd_probe_forget_pid(p);
		return finish(p, false, "process %d is not running", (int)pid);
	}
	return finish(p, true, "process %d running", (int)pid);
}

/* --- tcp and http --------------------------------------------------------- */

int checkd_http_status(const char *buf, size_t len, int *status)
{
	/* "HTTP/1.1 200 OK" - digits at 9..11, then space or CR. */
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)buf[7]) || buf[8] != ' ')
		return -EBADMSG;
	int v = 0;
	for (int i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)buf[i]))
			return -EBADMSG;
		v = v * 10 + (buf[i] - '0');
	}
	if (len > 12 && buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
		return -EBADMSG;
	if (v < 100 || v > 599)
		return -EBADMSG;
	*status = v;
	return 0;
}

static bool start_connect(struct checkd_probe *p)
{
	const struct checkd_checker_cfg *c = p->cfg;
	p->fd = socket(c->addr.sa.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return finish(p, false, "socket: %s", strerror(errno));
	if (connect(p->fd, (const struct sockaddr *)&c->addr.sa, c->addr.len) ==
	    0) {
		p->phase = 1;
		p->events = POLLOUT;
		return false;
	}
	if (errno != EINPROGRESS)
		return finish(p, false, "connect %s:%u: %s", c->addr.text,
			      c->port, strerror(errno));
	p->phase = 0;
	p->events = POLLOUT;
	return false;
}

static bool step_tcp(struct checkd_probe *p, short revents)
{
	const struct checkd_checker_cfg *c = p->cfg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (p->phase == 0) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return false;
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			return finish(p, false, "connect %s:%u: %s",
				      c->addr.text, c->port, strerror(err));
		if (c->kind == CHECKD_KIND_TCP)
			return finish(p, true, "connected to %s:%u",
				      c->addr.text, c->port);
		p->phase = 1;
		int n = snprintf(p->buf, sizeof(p->buf),
				 "GET %s HTTP/1.0\r\nHost: %s%s%s:%u\r\n"
				 "User-Agent: skyha-checkd\r\n"
				 "Connection: close\r\n\r\n",
				 c->http_path,
				 c->addr.sa.ss_family == AF_INET6 ? "[" : "",
				 c->addr.text,
				 c->addr.sa.ss_family == AF_INET6 ? "]" : "",
				 c->port);
		if (n < 0 || (size_t)n >= sizeof(p->buf))
			return finish(p, false, "request too long");
		p->len = (size_t)n;
		p->sent = 0;
	}
	if (p->phase == 1) {
		while (p->sent < p->len) {
			ssize_t n = send(p->fd, p->buf + p->sent,
					 p->len - p->sent, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN)
				return false;
			if (n < 0)
				return finish(p, false, "send to %s:%u: %s",
					      c->addr.text, c->port,
					      strerror(errno));
			p->sent += (size_t)n;
		}
		p->phase = 2;
		p->len = 0;
		p->events = POLLIN;
		return false;
	}
	/* phase 2: the status line, at most sizeof(buf) - 1 bytes. */
	for (;;) {
		ssize_t n = recv(p->fd, p->buf + p->len,
				 sizeof(p->buf) - 1 - p->len, 0);
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0)
			return finish(p, false, "receive from %s:%u: %s",
				      c->addr.text, c->port, strerror(errno));
		p->len += (size_t)n;
		bool full = p->len == sizeof(p->buf) - 1;
		if (n > 0 && !memchr(p->buf, '\n', p->len) && !full)
			continue;
		int status;
		if (checkd_http_status(p->buf, p->len, &status) < 0)
			return finish(p, false,
				      "%s:%u%s: not an HTTP/1.x reply",
				      c->addr.text, c->port, c->http_path);
		bool good = c->expect_status ? status == (int)c->expect_status
					     : status >= 200 && status < 400;
		return finish(p, good, "GET %s: HTTP %d%s", c->http_path,
			      status,
			      good		 ? ""
			      : c->expect_status ? " (unexpected)"
						 : " (not 2xx/3xx)");
	}
}

/* --- icmp ------------------------------------------------------------------ */

static uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static bool start_icmp(struct checkd_probe *p)
{
	const struct checkd_checker_cfg *c = p->cfg;
	bool v6 = c->addr.sa.ss_family == AF_INET6;
	int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	uint8_t pkt[16] = {0};

	p->icmp_raw = false;
	p->fd = socket(c->addr.sa.ss_family,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (p->fd < 0 && (errno == EACCES || errno == EPERM)) {
		p->fd = socket(c->addr.sa.ss_family,
			       SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		p->icmp_raw = true;
	}
	if (p->fd < 0)
		return finish(p, false,
			      "no ICMP socket (ping_group_range and no "
			      "CAP_NET_RAW?): %s",
			      strerror(errno));
	p->echo_seq++;
	pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	uint16_t id = htons(p->echo_id), seq = htons(p->echo_seq);
	memcpy(pkt + 4, &id, 2);
	memcpy(pkt + 6, &seq, 2);
	memcpy(pkt + 8, "skyha-ck", 8);
	if (!v6) {
		uint16_t sum = inet_csum(pkt, sizeof(pkt));
		memcpy(pkt + 2, &sum, 2);
	}
	if (sendto(p->fd, pkt, sizeof(pkt), 0,
		   (const struct sockaddr *)&c->addr.sa, c->addr.len) < 0)
		return finish(p, false, "ping %s: %s", c->addr.text,
			      strerror(errno));
	p->events = POLLIN;
	return false;
}

bool checkd_icmp_is_reply(const uint8_t *buf, size_t n, bool v6, bool raw,
			  uint16_t echo_id, uint16_t echo_seq)
{
	size_t off = 0;
	if (raw && !v6) {
		if (n < 20)
			return false;
		off = (size_t)(buf[0] & 0x0f) * 4;
	}
	if (n < off + 8)
		return false;
	const uint8_t *icmp = buf + off;
	uint8_t want = v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
	uint16_t id, seq;
	memcpy(&id, icmp + 4, 2);
	memcpy(&seq, icmp + 6, 2);
	if (icmp[0] != want || ntohs(seq) != echo_seq)
		return false;
	/* Ping sockets rewrite the id; raw ones keep ours. */
	return !raw || ntohs(id) == echo_id;
}

static bool step_icmp(struct checkd_probe *p)
{
	const struct checkd_checker_cfg *c = p->cfg;
	bool v6 = c->addr.sa.ss_family == AF_INET6;
	uint8_t buf[1500];
	struct sockaddr_storage from;

	for (int budget = 64; budget > 0; budget--) {
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &flen);
		if (n < 0)
			return errno == EAGAIN
				       ? false
				       : finish(p, false, "ping %s: %s",
						c->addr.text, strerror(errno));
		if (!checkd_icmp_is_reply(buf, (size_t)n, v6, p->icmp_raw,
					  p->echo_id, p->echo_seq))
			continue;
		return finish(p, true, "echo reply from %s", c->addr.text);
	}
	return false;
}

/* --- interface (netlink) --------------------------------------------------- */

static bool start_link(struct checkd_probe *p)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req;
	const char *name = p->cfg->ifname;
	size_t nlen = strlen(name) + 1;

	p->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       NETLINK_ROUTE);
	if (p->fd < 0)
		return finish(p, false, "netlink: %s", strerror(errno));
	memset(&req, 0, sizeof(req));
	struct rtattr *rta = (struct rtattr *)((char *)&req.ifi +
					       NLMSG_ALIGN(sizeof(req.ifi)));
	rta->rta_type = IFLA_IFNAME;
	rta->rta_len = (unsigned short)RTA_LENGTH(nlen);
	memcpy(RTA_DATA(rta), name, nlen);
	req.nh.nlmsg_len =
		NLMSG_LENGTH(sizeof(req.ifi)) + RTA_ALIGN(rta->rta_len);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = ++p->nl_seq;
	req.ifi.ifi_family = AF_UNSPEC;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(p->fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return finish(p, false, "netlink: %s", strerror(errno));
	p->events = POLLIN;
	return false;
}

static bool step_link(struct checkd_probe *p)
{
	const char *name = p->cfg->ifname;
	_Alignas(struct nlmsghdr) char buf[8192];
	ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EAGAIN ? false
				       : finish(p, false, "netlink: %s",
						strerror(errno));
	size_t len = (size_t)n;
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len);
	     nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_seq != p->nl_seq)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				break;
			return finish(p, false, "interface %s: %s", name,
				      e->error == -ENODEV
					      ? "no such interface"
					      : strerror(-e->error));
		}
		if (nh->nlmsg_type != RTM_NEWLINK ||
		    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
			continue;
		const struct ifinfomsg *ifi = NLMSG_DATA(nh);
		unsigned flags = ifi->ifi_flags;
		if (!(flags & IFF_UP))
			return finish(p, false,
				      "interface %s is down "
				      "(administratively)",
				      name);
		if (!(flags & IFF_LOWER_UP) || !(flags & IFF_RUNNING))
			return finish(p, false, "interface %s has no carrier",
				      name);
		return finish(p, true, "interface %s up", name);
	}
	return finish(p, false, "interface %s: unexpected netlink reply", name);
}

/* --- custom ---------------------------------------------------------------- */

static bool start_custom(struct checkd_probe *p,
			 const struct checkd_probe_ctx *ctx, int64_t now)
{
	char name[64];
	char *argv[] = {(char *)p->cfg->command, NULL};
	snprintf(name, sizeof(name), "checker %s", p->cfg->name);
	int r = checkd_proc_spawn(&p->proc, name, argv, ctx->envp, ctx->cwd,
				  p->cfg->timeout_ms, now, LOG_DEBUG);
	if (r < 0)
		return finish(p, false, "cannot run %.100s: %s",
			      p->cfg->command, strerror(-r));
	p->events = POLLIN;
	return false;
}

static bool step_custom(struct checkd_probe *p, int64_t now)
{
	char why[CHECKD_ERROR_MAX];
	if (!checkd_proc_poll(&p->proc, now))
		return false;
	if (checkd_proc_ok(&p->proc))
		return finish(p, true, "exit 0");
	checkd_proc_describe(&p->proc, why, sizeof(why));
	return finish(p, false, "%s", why);
}

/* --- dispatch -------------------------------------------------------------- */

bool checkd_probe_start(struct checkd_probe *p,
			const struct checkd_probe_ctx *ctx, int64_t now)
{
	checkd_probe_cancel(p);
	p->running = true;
	p->started_ms = now;
	p->deadline_ms = now + p->cfg->timeout_ms;
	p->events = 0;
	p->phase = 0;
	switch (p->cfg->kind) {
	case CHECKD_KIND_PROCESS:
		return run_process(p, ctx);
	case CHECKD_KIND_TCP:
	case CHECKD_KIND_HTTP:
		return start_connect(p);
	case CHECKD_KIND_ICMP:
		return start_icmp(p);
	case CHECKD_KIND_INTERFACE:
		return start_link(p);
	case CHECKD_KIND_CUSTOM:
		return start_custom(p, ctx, now);
	case CHECKD_KIND_COUNT:
		break;
	}
	return finish(p, false, "unknown checker kind");
}

int checkd_probe_fd(const struct checkd_probe *p, short *events)
{
	if (!p->running)
		return -1;
	*events = p->events;
	if (p->cfg->kind == CHECKD_KIND_CUSTOM)
		return p->proc.out_fd;
	return p->fd;
}

bool checkd_probe_step(struct checkd_probe *p, short revents, int64_t now)
{
	if (!p->running)
		return false;
	if (p->cfg->kind == CHECKD_KIND_CUSTOM)
		return step_custom(p, now); /* the proc has the deadline */
	bool done = false;
	if (revents) {
		switch (p->cfg->kind) {
		case CHECKD_KIND_TCP:
		case CHECKD_KIND_HTTP:
			done = step_tcp(p, revents);
			break;
		case CHECKD_KIND_ICMP:
			done = step_icmp(p);
			break;
		case CHECKD_KIND_INTERFACE:
			done = step_link(p);
			break;
		default:
			break;
		}
	}
	if (!done && now >= p->deadline_ms)
		return finish(p, false, "no answer within %u ms",
			      p->cfg->timeout_ms);
	return done;
}
