/*
 * net.c - see net.h.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

void net_count_error(struct net_counters *c, enum pkt_error e)
{
	switch (e) {
	case PKT_ERR_BAD_MAC:
		c->bad_mac++;
		break;
	case PKT_ERR_OVERSIZED:
		c->oversized++;
		break;
	case PKT_ERR_MALFORMED:
	default:
		c->malformed++;
		break;
	}
}
