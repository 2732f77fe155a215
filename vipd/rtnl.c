/*
 * rtnl.c - see rtnl.h.
 */
#include "rtnl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VIPD_NL_BUF (32 * 1024)

int vipd_nl_open(struct vipd_nl *nl)
{
	struct timeval tv = {.tv_sec = 1};
	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(VIPD_NL_BUF);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		int r = -errno;
		vipd_nl_close(nl);
		return r;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)) < 0) {
		int r = -errno;
		vipd_nl_close(nl);
		return r;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void vipd_nl_close(struct vipd_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
	free(nl->buf);
	nl->buf = NULL;
}

/* Send nlh and run the replies through cb until the ACK or the dump's end. */
static int transact(struct vipd_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		    void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, VIPD_NL_BUF);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		/* mnl_cb_run checks every length, the port id and sequence;
		 * an error message carries the kernel's errno. */
		int r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb,
				   data);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0) {
			if (errno == ESRCH || errno == EPROTO)
				nl->bad_replies++;
			return -errno;
		}
	}
}

int vipd_nl_addr_set(struct vipd_nl *nl, bool add, int family, int ifindex,
		     const uint8_t *addr, uint8_t prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	size_t alen = family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (add)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = ++nl->seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	if (add && family == AF_INET6) {
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	int r = transact(nl, nlh, NULL, NULL);
	/* Already gone: what was wanted. */
	if (!add && (r == -EADDRNOTAVAIL || r == -ENOENT || r == -ESRCH))
		return 0;
	return r;
}

struct dump_ctx {
	vipd_nl_addr_fn fn;
	void *data;
	unsigned *bad;
};

static int addr_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK; /* newer than us: ignore */
	tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	struct vipd_nl_addr a = {0};

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg)) {
		(*ctx->bad)++;
		return MNL_CB_OK;
	}
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb) < 0) {
		(*ctx->bad)++;
		return MNL_CB_OK;
	}
	size_t alen;
	if (ifa->ifa_family == AF_INET)
		alen = 4;
	else if (ifa->ifa_family == AF_INET6)
		alen = 16;
	else
		return MNL_CB_OK;
	/* IPv4: IFA_LOCAL is the address (IFA_ADDRESS the peer on p2p);
	 * IPv6: only IFA_ADDRESS is sent. */
	const struct nlattr *at =
		tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != alen) {
		(*ctx->bad)++;
		return MNL_CB_OK;
	}
	a.family = ifa->ifa_family;
	a.ifindex = (int)ifa->ifa_index;
	a.prefix = ifa->ifa_prefixlen;
	memcpy(a.addr, mnl_attr_get_payload(at), alen);
	ctx->fn(ctx->data, &a);
	return MNL_CB_OK;
}

int vipd_nl_addr_dump(struct vipd_nl *nl, vipd_nl_addr_fn fn, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct dump_ctx ctx = {fn, data, &nl->bad_replies};

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nl->seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return transact(nl, nlh, addr_msg, &ctx);
}

int vipd_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	size_t n = strlen(ifname);
	if (n >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memcpy(ifr.ifr_name, ifname, n + 1);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -EPROTONOSUPPORT;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}
