/*
 * listen.c - listening sockets (see listen.h).
 */
#include "listen.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static int parse_port(const char *s, uint16_t *port)
{
	int64_t v;
	/* Digits only: no sign, no spaces, nothing strtoll would forgive. */
	if (!s[0] || strspn(s, "0123456789") != strlen(s) ||
	    sky_parse_i64(s, 1, 65535, &v) < 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int healthd_listen_parse(const char *spec, struct healthd_listen *out,
			 char *err, size_t err_size)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port_text;
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (!spec || !spec[0] || strlen(spec) >= HEALTHD_LISTEN_TEXT) {
		snprintf(err, err_size, "--listen: empty or too long");
		return -EINVAL;
	}
	const char *colon = strrchr(spec, ':');
	if (!colon) {
		host[0] = '*';
		host[1] = '\0';
		port_text = spec;
	} else {
		size_t hlen = (size_t)(colon - spec);
		if (hlen >= sizeof(host)) {
			snprintf(err, err_size, "--listen '%s': bad address",
				 spec);
			return -EINVAL;
		}
		memcpy(host, spec, hlen);
		host[hlen] = '\0';
		port_text = colon + 1;
	}
	if (parse_port(port_text, &port) < 0) {
		snprintf(err, err_size,
			 "--listen '%s': the port must be 1..65535", spec);
		return -EINVAL;
	}
	if (strcmp(host, "*") == 0 || host[0] == '\0') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->sa;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_any;
		a->sin6_port = htons(port);
		out->len = sizeof(*a);
		out->any = true;
	} else if (host[0] == '[') {
		size_t hlen = strlen(host);
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->sa;
		if (hlen < 3 || host[hlen - 1] != ']') {
			snprintf(err, err_size,
				 "--listen '%s': an IPv6 address goes in "
				 "brackets: [::1]:9010",
				 spec);
			return -EINVAL;
		}
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) {
			snprintf(err, err_size,
				 "--listen '%s': not an IPv6 address", spec);
			return -EINVAL;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		out->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->sa;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, err_size,
				 "--listen '%s': not an IPv4 address (IPv6 "
				 "goes in brackets)",
				 spec);
			return -EINVAL;
		}
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		out->len = sizeof(*a);
	}
	sky_strlcpy(out->text, spec, sizeof(out->text));
	return 0;
}

static int open_one(const struct sockaddr *sa, socklen_t len, bool dual)
{
	int one = 1, v6only = dual ? 0 : 1, fd, r;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
	if (bind(fd, sa, len) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int healthd_listen_open(const struct healthd_listen *l)
{
	int fd = open_one((const struct sockaddr *)&l->sa, l->len, l->any);

	if (fd == -EAFNOSUPPORT && l->any) {
		/* No IPv6 on this host: every IPv4 address then. */
		const struct sockaddr_in6 *a6 =
			(const struct sockaddr_in6 *)&l->sa;
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = a6->sin6_port,
					.sin_addr.s_addr = htonl(INADDR_ANY)};
		fd = open_one((const struct sockaddr *)&a, sizeof(a), false);
	}
	return fd;
}

int healthd_listen_activated(int *fds, size_t max)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), count = 0, r = 0;

	if (n <= 0)
		return n < 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names ? names[i] : NULL;
		bool unnamed = !name || strcmp(name, "unknown") == 0;
		if (!(name && strcmp(name, "http") == 0) &&
		    !(unnamed && n == 1))
			continue;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
		    (size_t)count >= max) {
			r = -EINVAL;
			break;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fds[count++] = fd;
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	if (r == 0 && count == 0)
		r = -EINVAL;
	return r < 0 ? r : count;
}

bool healthd_listen_is_loopback(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return false;
	if (sa.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr) >>
			24) == 127;
	if (sa.ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((struct sockaddr_in6 *)&sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}
