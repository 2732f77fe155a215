/*
 * net.c - see net.h.
 */
#include "net.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

int net_udp_bind(const struct sky_addr *addr, int *out_fd)
{
	int one = 1, fd, r;

	fd = socket(addr->sa.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->sa.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*out_fd = fd;
	return 0;
}

int net_udp_client(int family, int *out_fd)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}

int net_send(int fd, const struct sky_addr *to, const uint8_t *buf, size_t len)
{
	ssize_t n = sendto(fd, buf, len, 0, (const struct sockaddr *)&to->sa,
			   to->len);
	if (n < 0)
		return -errno;
	return 0;
}

int net_recv(int fd, uint8_t *buf, size_t size, size_t *len,
	     struct sockaddr_storage *from)
{
	socklen_t from_len = sizeof(*from);
	ssize_t n = recvfrom(fd, buf, size, MSG_TRUNC, (struct sockaddr *)from,
			     &from_len);
	if (n < 0)
		return -errno;
	if ((size_t)n > size)
		return -EMSGSIZE;
	*len = (size_t)n;
	return 0;
}

static const char *const drop_names[NET_DROP_KINDS] = {
	[NET_DROP_BAD_MAC] = "bad_mac",
	[NET_DROP_REPLAY] = "replay",
	[NET_DROP_MALFORMED] = "malformed",
	[NET_DROP_OVERSIZED] = "oversized",
	[NET_DROP_WRONG_CLUSTER] = "wrong_cluster",
	[NET_DROP_UNKNOWN_NODE] = "unknown_node",
};

const char *net_drop_name(enum net_drop k)
{
	return (unsigned)k < NET_DROP_KINDS ? drop_names[k] : "unknown";
}

enum net_drop net_drop_of(enum pkt_error e)
{
	switch (e) {
	case PKT_ERR_BAD_MAC:
		return NET_DROP_BAD_MAC;
	case PKT_ERR_OVERSIZED:
		return NET_DROP_OVERSIZED;
	case PKT_ERR_MALFORMED:
	default:
		return NET_DROP_MALFORMED;
	}
}

static void count_drop(struct net_counters *c, enum net_drop k)
{
	uint64_t *counter[NET_DROP_KINDS] = {
		[NET_DROP_BAD_MAC] = &c->bad_mac,
		[NET_DROP_REPLAY] = &c->replay,
		[NET_DROP_MALFORMED] = &c->malformed,
		[NET_DROP_OVERSIZED] = &c->oversized,
		[NET_DROP_WRONG_CLUSTER] = &c->wrong_cluster,
		[NET_DROP_UNKNOWN_NODE] = &c->unknown_node,
	};
	(*counter[k])++;
}

/* The kind's line for its pending drops; the second starts again. */
static void drop_line(struct net_drops *d, enum net_drop k, int64_t now)
{
	struct net_drop_kind *dk = &d->kind[k];

	if (dk->pending == 1)
		log_warning("dropped 1 %s packet: %s", drop_names[k], dk->last);
	else
		log_warning("dropped %llu %s packets in %.1f s, the last: %s",
			    (unsigned long long)dk->pending, drop_names[k],
			    (double)(now - dk->logged_ms) / 1000.0, dk->last);
	dk->logged_ms = now;
	dk->pending = 0;
}

void net_drop(struct net_counters *c, struct net_drops *d, enum net_drop k,
	      int64_t now, const char *fmt, ...)
{
	struct net_drop_kind *dk;
	va_list ap;

	if ((unsigned)k >= NET_DROP_KINDS)
		k = NET_DROP_MALFORMED;
	dk = &d->kind[k];
	if (c)
		count_drop(c, k);
	dk->pending++;
	va_start(ap, fmt);
	vsnprintf(dk->last, sizeof(dk->last), fmt, ap);
	va_end(ap);
	if (!dk->logged_ms || now - dk->logged_ms >= 1000)
		drop_line(d, k, now);
}

void net_drops_flush(struct net_drops *d, int64_t now)
{
	for (int k = 0; k < NET_DROP_KINDS; k++)
		if (d->kind[k].pending && now - d->kind[k].logged_ms >= 1000)
			drop_line(d, (enum net_drop)k, now);
}

void net_addr_text(const struct sockaddr_storage *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, size, "an unknown address");
	}
}
