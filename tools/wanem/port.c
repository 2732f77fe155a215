/*
 * port.c - see port.h.
 */
#include "port.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BLOCK_SIZE (1u << 16)
#define FRAME_SIZE 2048u
#define BATCH_MAX  64

static int setopt(int fd, int level, int name, const void *v, socklen_t len)
{
	return setsockopt(fd, level, name, v, len) < 0 ? -errno : 0;
}

int wanem_port_open(struct wanem_port *p, const char *ifname,
		    unsigned ring_frames)
{
	struct tpacket_req req;
	struct packet_mreq mr;
	struct sockaddr_ll sll;
	int version = TPACKET_V2, one = 1, sndbuf = 4 << 20, r;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (sky_strlcpy(p->name, ifname, sizeof(p->name)) < 0)
		return -ENAMETOOLONG;
	p->ifindex = (int)if_nametoindex(ifname);
	if (p->ifindex == 0)
		return -ENODEV;
	/* protocol 0: nothing is received before the ring is in place */
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	r = setopt(p->fd, SOL_PACKET, PACKET_VERSION, &version,
		   sizeof(version));
	if (r == 0)
		r = setopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
			   sizeof(one));
	if (r == 0)
		r = setopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			   sizeof(one));
	if (r == 0)
		(void)setsockopt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
				 sizeof(sndbuf));
	if (r < 0)
		goto fail;
	if (ring_frames < BLOCK_SIZE / FRAME_SIZE)
		ring_frames = BLOCK_SIZE / FRAME_SIZE;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = BLOCK_SIZE;
	req.tp_frame_size = FRAME_SIZE;
	req.tp_block_nr = ring_frames / (BLOCK_SIZE / FRAME_SIZE);
	req.tp_frame_nr = req.tp_block_nr * (BLOCK_SIZE / FRAME_SIZE);
	r = setopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req));
	if (r < 0)
		goto fail;
	p->frame_size = req.tp_frame_size;
	p->frame_nr = req.tp_frame_nr;
	p->ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
	p->ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		r = -errno;
		goto fail;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		r = -errno;
		goto fail;
	}
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = p->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	r = setopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
	if (r < 0)
		goto fail;
	return 0;
fail:
	wanem_port_close(p);
	return r;
}

void wanem_port_close(struct wanem_port *p)
{
	if (p->ring)
		munmap(p->ring, p->ring_len);
	p->ring = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

int wanem_port_next(struct wanem_port *p, struct wanem_rx *rx)
{
	struct tpacket2_hdr *h =
		(void *)(p->ring + (size_t)p->next * p->frame_size);
	uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

	if (!(status & TP_STATUS_USER))
		return 0;
	memset(rx, 0, sizeof(*rx));
	rx->hdr = h;
	rx->len = h->tp_snaplen;
	rx->wire_len = h->tp_len;
	/* the kernel's offsets, bounded by our frame all the same */
	if (h->tp_mac > p->frame_size || rx->len > p->frame_size - h->tp_mac)
		rx->len = 0;
	rx->data = (const uint8_t *)h + h->tp_mac;
	rx->csum_pending = !!(status & TP_STATUS_CSUMNOTREADY);
	if (status & TP_STATUS_VLAN_VALID) {
		rx->vlan = 1;
		rx->vlan_tci = h->tp_vlan_tci;
		rx->vlan_tpid = (status & TP_STATUS_VLAN_TPID_VALID)
					? h->tp_vlan_tpid
					: ETH_P_8021Q;
	}
	return 1;
}

void wanem_port_release(struct wanem_port *p, struct wanem_rx *rx)
{
	__atomic_store_n(&rx->hdr->tp_status, TP_STATUS_KERNEL,
			 __ATOMIC_RELEASE);
	if (++p->next == p->frame_nr)
		p->next = 0;
}

int wanem_port_send(struct wanem_port *p, struct iovec *iov, unsigned n)
{
	struct mmsghdr msgs[BATCH_MAX];
	int r;

	if (n > BATCH_MAX)
		n = BATCH_MAX;
	memset(msgs, 0, sizeof(msgs[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(p->fd, msgs, n, MSG_DONTWAIT);
	return r < 0 ? -errno : r;
}

void wanem_port_poll_stats(struct wanem_port *p)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	/* reading the statistics resets them in the kernel */
	if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		p->ring_drops += st.tp_drops;
}
