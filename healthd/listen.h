/*
 * listen.h - where healthd listens: --listen specifications (parsed without
 * I/O, for the unit tests), sockets handed over by systemd (socket
 * activation, FileDescriptorName=http), or sockets healthd binds itself.
 *
 *   --listen 9010            every address, IPv6 and IPv4 (one dual-stack
 *   --listen '*:9010'        socket; IPv4 only when IPv6 is unavailable)
 *   --listen 198.18.0.1:9010 one IPv4 address
 *   --listen '[::1]:9010'    one IPv6 address (IPv6 only)
 */
#ifndef HEALTHD_LISTEN_H
#define HEALTHD_LISTEN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define HEALTHD_LISTEN_MAX   4
#define HEALTHD_DEFAULT_PORT 9010
#define HEALTHD_LISTEN_TEXT  64

struct healthd_listen {
	struct sockaddr_storage sa;
	socklen_t len;
	bool any; /* "*": dual-stack [::], falling back to 0.0.0.0 */
	char text[HEALTHD_LISTEN_TEXT];
};

/* Parse one --listen value; -EINVAL with a message in err otherwise. */
int healthd_listen_parse(const char *spec, struct healthd_listen *out,
			 char *err, size_t err_size);

/* Bind and listen (non-blocking, close-on-exec). Returns the fd or -errno. */
int healthd_listen_open(const struct healthd_listen *l);

/*
 * Listening stream sockets passed by systemd: those named "http", or the
 * only one passed when it has no name. Returns how many (0 when not
 * socket-activated), or -EINVAL when something else was passed.
 */
int healthd_listen_activated(int *fds, size_t max);

/* Is the listening socket bound to a loopback address (127/8, ::1)? */
bool healthd_listen_is_loopback(int fd);

#endif
