/*
 * nft.c - `nft -f -` from vipd's own process (see nft.h).
 */
#include "nft.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void first_line(const char *out, char *err, size_t err_size)
{
	const char *p = out;
	/* nft's message is the "Error:" line; fall back to the first. */
	const char *e = strstr(out, "Error:");
	if (e)
		p = e;
	size_t n = strcspn(p, "\n");
	if (n >= err_size)
		n = err_size - 1;
	for (size_t i = 0; i < n; i++)
		err[i] = (unsigned char)p[i] < ' ' ? '?' : p[i];
	err[n] = '\0';
}

/* Feed the script, gather the output until EOF, within deadline_ms. */
static int talk(int *in_fdp, int out_fd, const char *script, char *out,
		size_t out_size, int64_t deadline_ms)
{
	size_t len = strlen(script), sent = 0, got = 0;
	bool out_open = true;
	int in_fd = *in_fdp;

	while (out_open || in_fd >= 0) {
		int64_t left = deadline_ms - sky_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {
			{.fd = out_open ? out_fd : -1, .events = POLLIN},
			{.fd = in_fd, .events = POLLOUT}};
		int r = poll(p, 2, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (in_fd >= 0 && (p[1].revents & (POLLOUT | POLLERR))) {
			ssize_t n = write(in_fd, script + sent, len - sent);
			/* EPIPE: nft stopped reading; its exit status and
			 * output say why. */
			bool gone = n < 0 && errno == EPIPE;
			if (n < 0 && !gone && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n > 0)
				sent += (size_t)n;
			if (sent == len || gone) {
				close(in_fd);
				in_fd = *in_fdp = -1;
			}
		}
		if (out_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char buf[512];
			ssize_t n = read(out_fd, buf, sizeof(buf));
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n == 0)
				out_open = false;
			for (ssize_t i = 0; i < n && got + 1 < out_size; i++)
				out[got++] = buf[i];
			out[got] = '\0';
		}
	}
	return 0;
}

int vipd_nft_run(const char *script, char *err, size_t err_size)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	char output[2048] = "";
	const char *nft = getenv("SKYHA_NFT");
	char *const argv[] = {(char *)(nft && nft[0] ? nft : "nft"), "-f", "-",
			      NULL};
	char path_env[512];
	const char *path = getenv("PATH");
	pid_t pid;
	int r, status;

	err[0] = '\0';
	snprintf(path_env, sizeof(path_env), "PATH=%s",
		 path && path[0] ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	char *const envp[] = {path_env, NULL};
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, err_size, "pipe: %s", strerror(-r));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	r = -posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (r < 0) {
		snprintf(err, err_size, "cannot run %s: %s", argv[0],
			 strerror(-r));
		goto done;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	/* An nft that dies before reading everything must be EPIPE here,
	 * not a SIGPIPE for vipd, whatever its disposition: blocked while we
	 * write, and a pending one taken away after. talk() closes in[1]
	 * once the script is written. */
	sigset_t pipe_set, old_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	bool pipe_was_pending = false;
	sigset_t pending;
	if (sigpending(&pending) == 0)
		pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	r = talk(&in[1], out[0], script, output, sizeof(output),
		 sky_now_ms() + VIPD_NFT_TIMEOUT_MS);
	if (!pipe_was_pending) {
		const struct timespec zero = {0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		snprintf(err, err_size, "%s did not finish within %d ms",
			 argv[0], VIPD_NFT_TIMEOUT_MS);
	} else if (r < 0) {
		kill(pid, SIGKILL);
		snprintf(err, err_size, "talking to %s: %s", argv[0],
			 strerror(-r));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		r = -EPROTO;
		if (output[0])
			first_line(output, err, err_size);
		else
			snprintf(err, err_size, "%s failed (status %d)",
				 argv[0], status);
	}
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return r;
}

static int on_table(const struct nlmsghdr *nlh, void *data)
{
	if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWTABLE)
		*(bool *)data = true;
	return MNL_CB_OK;
}

int vipd_nft_table_exists(int family, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct timeval tv = {.tv_sec = 1};
	bool found = false;
	int r = 0;

	struct mnl_socket *nl =
		mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) < 0) {
		r = -errno;
		goto out;
	}
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(nl);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		int c = mnl_cb_run(buf, (size_t)n, seq, portid, on_table,
				   &found);
		if (c == MNL_CB_STOP) {
			r = found;
			break;
		}
		if (c < 0) {
			r = errno == ENOENT ? 0 : -errno;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}
